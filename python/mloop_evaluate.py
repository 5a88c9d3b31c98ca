"""mloop's evaluation gate: the candidate and the champion scored on the same
held-out data in one evaluation run (MLflow's evaluation-with-baseline idea).

    python mloop_evaluate.py RUN_ID CANDIDATE_URI CHAMPION_URI DATA.csv LABEL_COLUMN

Logs `candidate.<metric>` and `champion.<metric>` to RUN_ID (MLFLOW_TRACKING_URI)
and prints {"candidate": {...}, "champion": {...}, "rows": N} as the last line.

Metrics: accuracy, f1, precision, recall, latency_ms (per row) from `predict`;
for a classifier with `predict_proba` (a scikit-learn model behind the pyfunc),
roc_auc and log_loss from the probabilities, named as mlflow.models.evaluate
names them. A model without probabilities has no roc_auc/log_loss: a gate on
them reports the metric missing and refuses.
"""
import json
import sys
import time

import mlflow
import numpy as np
import pandas as pd
from mlflow.entities import Metric
from mlflow.tracking import MlflowClient
from sklearn import metrics as skm


def predict_proba_of(model):
    """The scikit-learn `predict_proba` behind a pyfunc model, or None."""
    impl = getattr(model, "_model_impl", None)
    for candidate in (getattr(impl, "sklearn_model", None), impl):
        fn = getattr(candidate, "predict_proba", None)
        if callable(fn):
            return fn, getattr(candidate, "classes_", None)
    return None, None


def probability_metrics(model, x, y):
    """roc_auc and log_loss from predict_proba; {} when the model has none or the labels do not fit its classes."""
    fn, classes = predict_proba_of(model)
    if fn is None or classes is None:
        return {}
    proba = np.asarray(fn(x), dtype=float)
    classes = list(classes)
    if proba.ndim != 2 or proba.shape[1] != len(classes) or len(classes) < 2:
        return {}
    try:
        y_cls = y.astype(np.asarray(classes).dtype)
    except (TypeError, ValueError):
        y_cls = y
    if not set(np.unique(y_cls)) <= set(classes) or len(np.unique(y_cls)) < 2:
        return {}
    out = {"log_loss": float(skm.log_loss(y_cls, proba, labels=classes))}
    if len(classes) == 2:
        out["roc_auc"] = float(skm.roc_auc_score(y_cls == classes[1], proba[:, 1]))
    else:
        out["roc_auc"] = float(skm.roc_auc_score(y_cls, proba, multi_class="ovr", labels=classes))
    return out


def score(model, x, y):
    started = time.perf_counter()
    pred = model.predict(x)
    elapsed_ms = (time.perf_counter() - started) * 1000.0
    if isinstance(pred, pd.DataFrame):
        pred = pred.iloc[:, 0]
    pred = np.asarray(pred).ravel()
    try:
        pred = pred.astype(y.dtype)
    except (TypeError, ValueError):
        pass
    binary = len(set(np.unique(y)) | set(np.unique(pred))) <= 2
    avg = "binary" if binary else "macro"
    out = {
        "accuracy": float(skm.accuracy_score(y, pred)),
        "f1": float(skm.f1_score(y, pred, average=avg, zero_division=0)),
        "precision": float(skm.precision_score(y, pred, average=avg, zero_division=0)),
        "recall": float(skm.recall_score(y, pred, average=avg, zero_division=0)),
        "latency_ms": elapsed_ms / max(len(x), 1),
    }
    out.update(probability_metrics(model, x, y))
    return out


def main():
    run_id, candidate_uri, champion_uri, data, label = sys.argv[1:6]
    df = pd.read_csv(data)
    if label not in df.columns:
        sys.stderr.write(f"the evaluation data {data} has no column '{label}'\n")
        sys.exit(2)
    y = df[label].to_numpy()
    x = df.drop(columns=[label])
    results = {}
    for role, uri in (("candidate", candidate_uri), ("champion", champion_uri)):
        model = mlflow.pyfunc.load_model(uri)
        results[role] = score(model, x, y)
    now = int(time.time() * 1000)
    client = MlflowClient()
    client.log_batch(
        run_id,
        metrics=[Metric(f"{role}.{k}", v, now, 0) for role, m in results.items() for k, v in m.items()],
    )
    results["rows"] = int(len(df))
    print(json.dumps(results))


if __name__ == "__main__":
    main()
