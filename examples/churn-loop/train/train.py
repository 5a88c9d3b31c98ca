"""Trains the churn classifier on a CSV (label column `churned`), logs it to
MLflow with its input example and registers it as a new version.

--label-noise flips that share of the training labels: a deliberately worse
candidate, for trying out the evaluation gate's refusal. --impute 0 leaves out
the imputer: a candidate that passes the gate (the held-out data has no gaps)
and fails on live requests with a missing value, for trying out the canary's
rollback on error rate.
"""
import argparse

import mlflow
import mlflow.sklearn
import numpy as np
import pandas as pd
from sklearn.impute import SimpleImputer
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import accuracy_score
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

FEATURES = ["tenure_months", "monthly_charges", "support_calls", "contract_months"]


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--data", required=True)
    p.add_argument("--model-name", default="churn")
    p.add_argument("--label-noise", type=float, default=0.0)
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--impute", type=int, default=1, help="fill missing inputs with the median (0: a model that fails on them)")
    a = p.parse_args()
    df = pd.read_csv(a.data)
    x = df[FEATURES].astype("float64")
    y = df["churned"].astype(int).to_numpy()
    if a.label_noise > 0:
        rng = np.random.default_rng(a.seed)
        flip = rng.random(len(y)) < a.label_noise
        y = np.where(flip, 1 - y, y)
    with mlflow.start_run():
        mlflow.log_params({"rows": len(df), "label_noise": a.label_noise, "impute": a.impute, "data": a.data})
        steps = ([SimpleImputer(strategy="median")] if a.impute else []) + [StandardScaler(), LogisticRegression(max_iter=500)]
        model = make_pipeline(*steps)
        model.fit(x, y)
        mlflow.log_metric("train_accuracy", float(accuracy_score(y, model.predict(x))))
        # SimpleImputer keeps a numpy dtype, which skops (the default format) loads only when trusted.
        mlflow.sklearn.log_model(model, name="model", registered_model_name=a.model_name, input_example=x.head(2), skops_trusted_types=["numpy.dtype"])


if __name__ == "__main__":
    main()
