"""Trains the churn classifier on a CSV (label column `churned`), logs it to
MLflow with its input example and registers it as a new version.

--label-noise flips that share of the training labels: a deliberately worse
candidate, for trying out the evaluation gate's refusal.
"""
import argparse

import mlflow
import mlflow.sklearn
import numpy as np
import pandas as pd
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
    a = p.parse_args()
    df = pd.read_csv(a.data)
    x = df[FEATURES].astype("float64")
    y = df["churned"].astype(int).to_numpy()
    if a.label_noise > 0:
        rng = np.random.default_rng(a.seed)
        flip = rng.random(len(y)) < a.label_noise
        y = np.where(flip, 1 - y, y)
    with mlflow.start_run():
        mlflow.log_params({"rows": len(df), "label_noise": a.label_noise, "data": a.data})
        model = make_pipeline(StandardScaler(), LogisticRegression(max_iter=500))
        model.fit(x, y)
        mlflow.log_metric("train_accuracy", float(accuracy_score(y, model.predict(x))))
        mlflow.sklearn.log_model(model, name="model", registered_model_name=a.model_name, input_example=x.head(2))


if __name__ == "__main__":
    main()
