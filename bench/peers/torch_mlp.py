"""PyTorch peer for bench_nn's training configurations (a) and (b), on the CPU, one thread.

What and why: issue 9 asks for neurond's training rows/s beside the same network in PyTorch:
same layers, the same init scheme as nn_net_init (He normal for ReLU layers, Glorot uniform
for the output layer, zero biases), same batch size, epochs, optimiser and learning rate, a
shuffle each epoch, torch.set_num_threads(1). The loss is the one neurond uses (binary
cross-entropy on a sigmoid, cross-entropy on a softmax). Prints RESULT lines (see common.py).
Usage: python3 bench/peers/torch_mlp.py [a|b ...]
"""
import os
import sys

# one thread everywhere: torch's intra-op pool, and the BLAS and OpenMP pools under it
for _v in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ[_v] = "1"

from common import CONFIGS, make_data, report, timed  # noqa: E402

try:
    import torch
except ImportError:
    print("torch_mlp: PyTorch missing (scripts/deps.sh bench installs python3-torch); skipped",
          file=sys.stderr)
    sys.exit(0)


def build(c):
    hid = torch.nn.Linear(c["inputs"], c["hidden"])
    out = torch.nn.Linear(c["hidden"], c["outputs"])
    torch.nn.init.kaiming_normal_(hid.weight, nonlinearity="relu")
    torch.nn.init.xavier_uniform_(out.weight)
    torch.nn.init.zeros_(hid.bias)
    torch.nn.init.zeros_(out.bias)
    return torch.nn.Sequential(hid, torch.nn.ReLU(), out)


def train(c, x, y):
    net = build(c)
    if c["opt"] == "sgd":
        opt = torch.optim.SGD(net.parameters(), lr=c["lr"])
    else:
        opt = torch.optim.Adam(net.parameters(), lr=c["lr"])
    loss_fn = (torch.nn.BCEWithLogitsLoss() if c["outputs"] == 1
               else torch.nn.CrossEntropyLoss())
    n, bs = x.shape[0], c["batch"]
    for _ in range(c["epochs"]):
        perm = torch.randperm(n)
        for i in range(0, n, bs):
            idx = perm[i:i + bs]
            xb, yb = x[idx], y[idx]
            opt.zero_grad()
            z = net(xb)
            loss = loss_fn(z[:, 0], yb) if c["outputs"] == 1 else loss_fn(z, yb)
            loss.backward()
            opt.step()


def main():
    torch.set_num_threads(1)
    torch.set_num_interop_threads(1)
    torch.manual_seed(1)
    print(f"RESULT torch_version {torch.__version__}")
    for name in sys.argv[1:] or ["a", "b"]:
        c = CONFIGS[name]
        xn, yn = make_data(c)
        x, y = torch.from_numpy(xn), torch.from_numpy(yn)
        wall, cpu = timed(lambda: train(c, x, y), c["runs"])
        report("torch", name, c, wall, cpu)


if __name__ == "__main__":
    main()
