"""scikit-learn peer for bench_nn's training configurations (a) and (b).

What and why: issue 9 asks for neurond's training rows/s beside scikit-learn's MLPClassifier
on the same network: one hidden ReLU layer, batch size, epochs (max_iter), learning rate, solver
sgd (plain: momentum 0) for (a) and adam for (b), tol=0 and n_iter_no_change past the epoch count
so that every epoch runs, alpha=0 (neurond's default has no L2). scikit-learn picks its own init
(Glorot uniform) and its output (logistic for 2 classes, softmax otherwise), as its users get.
Its products go through numpy's BLAS, which may use several threads: the figure is given as is
(wall) and in CPU time. Prints RESULT lines (see common.py).
Usage: python3 bench/peers/sklearn_mlp.py [a|b ...]
"""
import sys
import warnings

from common import CONFIGS, make_data, report, timed

try:
    import sklearn
    from sklearn.exceptions import ConvergenceWarning
    from sklearn.neural_network import MLPClassifier
except ImportError:
    print("sklearn_mlp: scikit-learn missing (scripts/deps.sh bench installs python3-sklearn); "
          "skipped", file=sys.stderr)
    sys.exit(0)


def train(c, x, y):
    m = MLPClassifier(hidden_layer_sizes=(c["hidden"],), activation="relu", solver=c["opt"],
                      learning_rate_init=c["lr"], batch_size=c["batch"], max_iter=c["epochs"],
                      tol=0.0, n_iter_no_change=c["epochs"] + 1, alpha=0.0, momentum=0.0,
                      shuffle=True, random_state=1)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        m.fit(x, y)
    return m


def main():
    print(f"RESULT sklearn_version {sklearn.__version__}")
    for name in sys.argv[1:] or ["a", "b"]:
        c = CONFIGS[name]
        x, y = make_data(c)
        wall, cpu = timed(lambda: train(c, x, y), c["runs"])
        report("sklearn", name, c, wall, cpu)


if __name__ == "__main__":
    main()
