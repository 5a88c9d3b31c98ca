"""Reads cases as JSON on stdin, prints scikit-learn's metrics as JSON (used by performance.test.ts)."""
import json
import sys

from sklearn import metrics

out = []
for c in json.load(sys.stdin):
    if c["task"] == "binary":
        y, p = c["y"], c["pred"]
        r = {"accuracy": metrics.accuracy_score(y, p), "precision": metrics.precision_score(y, p, zero_division=0), "recall": metrics.recall_score(y, p, zero_division=0), "f1": metrics.f1_score(y, p, zero_division=0)}
        if "score" in c:
            r["roc_auc"] = metrics.roc_auc_score(y, c["score"])
    elif c["task"] == "multiclass":
        y, p = c["y"], c["pred"]
        r = {"accuracy": metrics.accuracy_score(y, p), "precision": metrics.precision_score(y, p, average="macro", zero_division=0), "recall": metrics.recall_score(y, p, average="macro", zero_division=0), "f1": metrics.f1_score(y, p, average="macro", zero_division=0)}
    else:
        y, p = c["y"], c["pred"]
        r = {"rmse": metrics.mean_squared_error(y, p) ** 0.5, "mae": metrics.mean_absolute_error(y, p), "r2": metrics.r2_score(y, p)}
    out.append({k: float(v) for k, v in r.items()})
json.dump(out, sys.stdout)
