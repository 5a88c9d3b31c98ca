"""Logs and registers the models the serving tests and benchmark use, with the real mlflow client.

Usage: MLFLOW_TRACKING_URI=http://127.0.0.1:PORT python make_models.py OUT.json

Registers, on the tracking server:
  iris-onnx   version 1 and 2: a LogisticRegression converted with skl2onnx (zipmap="columns", so
              every output is a tensor) and logged with mlflow.onnx.log_model; alias champion -> 1
  iris-sklearn version 1 and 2: the same classifiers logged with mlflow.sklearn.log_model; champion -> 1
Version 2 is trained with another regularisation, so its answers differ from version 1.
Writes OUT.json: run ids, model ids, the feature names and Python's own predictions for a probe frame.
"""
import json
import sys

import mlflow
import numpy as np
import pandas as pd
from mlflow.models import infer_signature
from skl2onnx import to_onnx
from sklearn.datasets import load_iris
from sklearn.linear_model import LogisticRegression

FEATURES = ["sepal_length", "sepal_width", "petal_length", "petal_width"]


def main(out_path: str) -> None:
    iris = load_iris()
    X = pd.DataFrame(iris.data, columns=FEATURES)
    y = iris.target
    probe = X.iloc[[0, 50, 100, 149]]
    client = mlflow.MlflowClient()
    mlflow.set_experiment("serving-fixtures")
    out: dict = {"features": FEATURES, "probe": probe.to_dict(orient="split"), "versions": {}}
    for version, c in ((1, 1.0), (2, 0.01)):
        clf = LogisticRegression(C=c, max_iter=1000).fit(X, y)
        onx = to_onnx(clf, X.values[:1].astype(np.float32), options={"zipmap": "columns"})
        with mlflow.start_run() as run:
            sk = mlflow.sklearn.log_model(
                clf,
                name="model",
                signature=infer_signature(X, clf.predict(X)),
                input_example=X.iloc[:2],
                registered_model_name="iris-sklearn",
            )
            ox = mlflow.onnx.log_model(
                onx,
                name="onnx-model",
                signature=infer_signature(X),
                input_example=X.iloc[:2],
                registered_model_name="iris-onnx",
            )
        onnx_pred = mlflow.pyfunc.load_model(ox.model_uri).predict(probe)
        out["versions"][str(version)] = {
            "run_id": run.info.run_id,
            "sklearn_model_id": sk.model_id,
            "onnx_model_id": ox.model_id,
            "sklearn_predictions": clf.predict(probe).tolist(),
            "onnx_predictions": onnx_pred.to_dict(orient="records"),
        }
    for name in ("iris-onnx", "iris-sklearn"):
        client.set_registered_model_alias(name, "champion", "1")
    with open(out_path, "w") as f:
        json.dump(out, f, indent=1)


if __name__ == "__main__":
    main(sys.argv[1])
