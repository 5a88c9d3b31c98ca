"""Trains a logistic regression on a data set bundled with scikit-learn and logs it to MLflow.

The model is saved once with two flavors: `onnx` (served in-process by `mloop serve`)
and `sklearn` (for Python users), plus `python_function`. With `--register true` it is
also registered in the model registry under `--model-name`.
"""

import argparse
import os
import pickle
import tempfile

import mlflow
import numpy as np
import sklearn
from mlflow.models import Model, infer_signature
from skl2onnx import to_onnx
from sklearn.datasets import load_breast_cancer, load_iris, load_wine
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import accuracy_score, f1_score, log_loss
from sklearn.model_selection import train_test_split
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

DATASETS = {"iris": load_iris, "wine": load_wine, "breast_cancer": load_breast_cancer}


def parse_args():
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--dataset", choices=sorted(DATASETS), default="iris")
    p.add_argument("--C", type=float, default=1.0)
    p.add_argument("--max-iter", type=int, default=200)
    p.add_argument("--test-size", type=float, default=0.25)
    p.add_argument("--seed", type=int, default=42)
    p.add_argument("--register", default="false")
    p.add_argument("--model-name", default="sklearn-classifier")
    return p.parse_args()


def save_model_dir(clf, X_train, signature, path):
    """One MLmodel with the onnx, python_function and sklearn flavors."""
    onx = to_onnx(clf, X_train[:1].astype(np.float32), target_opset={"": 17, "ai.onnx.ml": 3},
                  options={id(clf.steps[-1][1]): {"zipmap": False}})
    mlflow.onnx.save_model(onx, path, signature=signature)
    with open(os.path.join(path, "model.pkl"), "wb") as f:
        pickle.dump(clf, f)
    model = Model.load(os.path.join(path, "MLmodel"))
    model.add_flavor(
        "sklearn",
        pickled_model="model.pkl",
        sklearn_version=sklearn.__version__,
        serialization_format="pickle",
        code=None,
    )
    model.save(os.path.join(path, "MLmodel"))


def main():
    args = parse_args()
    X, y = DATASETS[args.dataset](return_X_y=True)
    X = X.astype(np.float32)
    X_train, X_test, y_train, y_test = train_test_split(
        X, y, test_size=args.test_size, random_state=args.seed, stratify=y
    )
    clf = make_pipeline(StandardScaler(), LogisticRegression(C=args.C, max_iter=args.max_iter))

    # `mloop run` / `mlflow run` set MLFLOW_RUN_ID, so this continues the project's run.
    with mlflow.start_run():
        mlflow.log_params({"n_train": len(X_train), "n_test": len(X_test), "n_features": X.shape[1]})
        clf.fit(X_train, y_train)
        proba = clf.predict_proba(X_test)
        pred = proba.argmax(axis=1)
        metrics = {
            "accuracy": accuracy_score(y_test, pred),
            "f1_macro": f1_score(y_test, pred, average="macro"),
            "log_loss": log_loss(y_test, proba, labels=clf.classes_),
        }
        mlflow.log_metrics(metrics)
        print("metrics: " + ", ".join(f"{k}={v:.4f}" for k, v in metrics.items()))

        signature = infer_signature(X_test, proba.astype(np.float32))
        with tempfile.TemporaryDirectory() as tmp:
            path = os.path.join(tmp, "model")
            save_model_dir(clf, X_train, signature, path)
            mlflow.log_artifacts(path, "model")
        run_id = mlflow.active_run().info.run_id
        if args.register.lower() in ("1", "true", "yes"):
            version = mlflow.register_model(f"runs:/{run_id}/model", args.model_name)
            print(f"registered {args.model_name} version {version.version}")


if __name__ == "__main__":
    main()
