"""Logistic regression by gradient descent, standard library only.

Writes the model, metrics.json (accuracy and loss on the test split) and loss.csv (one row per
epoch). `mloop repro` records the params, these metrics and the md5 of every input and output
in the stage's run; MLFLOW_RUN_ID is set, so mlflow code here would log into the same run.
"""
import json
import math
import os
import sys

sys.path.insert(0, os.path.dirname(__file__))
from prepare import params  # noqa: E402  (prepare.py only runs its split under __main__)


def load(path):
    header, *rows = open(path).read().splitlines()
    data = [tuple(float(v) for v in r.split(",")) for r in rows]
    return [(x1, x2) for x1, x2, _ in data], [int(y) for *_, y in data]


def predict(w, x):
    z = w[0] + w[1] * x[0] + w[2] * x[1]
    return 1 / (1 + math.exp(-z))


def log_loss(w, xs, ys):
    eps = 1e-12
    return -sum(y * math.log(predict(w, x) + eps) + (1 - y) * math.log(1 - predict(w, x) + eps) for x, y in zip(xs, ys)) / len(ys)


split, model_path = sys.argv[1], sys.argv[2]
p = params("train")
xs, ys = load(os.path.join(split, "train.csv"))
tx, ty = load(os.path.join(split, "test.csv"))
w = [0.0, 0.0, 0.0]
curve = ["epoch,loss"]
for epoch in range(1, p["epochs"] + 1):
    g = [0.0, 0.0, 0.0]
    for x, y in zip(xs, ys):
        err = predict(w, x) - y
        g[0] += err
        g[1] += err * x[0]
        g[2] += err * x[1]
    w = [wi - p["lr"] * gi / len(ys) for wi, gi in zip(w, g)]
    curve.append(f"{epoch},{log_loss(w, tx, ty):.5f}")
accuracy = sum((predict(w, x) > 0.5) == bool(y) for x, y in zip(tx, ty)) / len(ty)
json.dump({"weights": w}, open(model_path, "w"))
json.dump({"accuracy": round(accuracy, 4), "loss": round(log_loss(w, tx, ty), 5)}, open("metrics.json", "w"), indent=2)
open("loss.csv", "w").write("\n".join(curve) + "\n")
