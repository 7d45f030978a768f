"""The Python peer for the HTTP benchmark: what a Python user would deploy to serve the same model.

What and why: issue 9 compares neurond's POST /predict with a scikit-learn MLPClassifier (57 ->
64 relu -> 1 logistic, the same shape as network (a)) behind Flask, run by gunicorn with 2 sync
workers. The app speaks the same JSON as neurond (API.md): {"model": ..., "instances": [[...57
numbers...] or {name: value}]} -> {"model", "version", "predictions": [{"label", "probabilities",
"probability"}]}. The model is trained once when the module loads (gunicorn --preload) on the
CSV named by BENCH_PEER_CSV (header row, 57 numeric columns, label last), 20 epochs.
Run: BENCH_PEER_CSV=file.csv gunicorn -w 2 --preload -b 127.0.0.1:PORT --chdir bench/peers \
     flask_app:app
"""
import csv
import os
import warnings

import numpy as np
from flask import Flask, jsonify, request
from sklearn.exceptions import ConvergenceWarning
from sklearn.neural_network import MLPClassifier


def _train(path):
    with open(path, newline="") as f:
        rows = list(csv.reader(f))
    header, data = rows[0], rows[1:]
    x = np.array([[float(v) for v in r[:-1]] for r in data], dtype=np.float64)
    y = np.array([r[-1] for r in data])
    m = MLPClassifier(hidden_layer_sizes=(64,), activation="relu", solver="sgd",
                      learning_rate_init=0.01, batch_size=32, max_iter=20, momentum=0.0,
                      alpha=0.0, random_state=1)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        m.fit(x, y)
    return header[:-1], m


INPUTS, MODEL = _train(os.environ["BENCH_PEER_CSV"])
CLASSES = [str(c) for c in MODEL.classes_]
app = Flask(__name__)


@app.post("/predict")
def predict():
    body = request.get_json(force=True, silent=True)
    if not isinstance(body, dict) or not isinstance(body.get("instances"), list):
        return jsonify(error="the body must be a JSON object with 'instances'",
                       code="bad_request"), 400
    try:
        x = np.array([[float(i[n]) for n in INPUTS] if isinstance(i, dict) else
                      [float(v) for v in i] for i in body["instances"]], dtype=np.float64)
        if x.ndim != 2 or x.shape[1] != len(INPUTS):
            raise ValueError("wrong number of inputs")
    except (KeyError, TypeError, ValueError) as e:
        return jsonify(error=f"invalid instance: {e}", code="invalid_input"), 422
    proba = MODEL.predict_proba(x)
    preds = []
    for p in proba:
        k = int(p.argmax())
        preds.append({"label": CLASSES[k],
                      "probabilities": {c: float(v) for c, v in zip(CLASSES, p)},
                      "probability": float(p[1])})
    return jsonify(model=body.get("model", "a"), version=1, predictions=preds)
