"""Logs artifacts to a run through the official mlflow client and reads them back.

Usage: python mlflow_run_artifacts.py  (MLFLOW_TRACKING_URI points at the server)
Prints the run id on the last line.
"""
import os
import tempfile

import mlflow
from mlflow import MlflowClient

mlflow.set_experiment("artifact-proxy")
with mlflow.start_run() as run:
    mlflow.log_text("hello from mlflow", "notes/hello.txt")
    mlflow.log_dict({"accuracy": 0.93}, "metrics.json")
    with tempfile.TemporaryDirectory() as d:
        p = os.path.join(d, "weights.bin")
        with open(p, "wb") as f:
            f.write(b"\x00\x01" * 5000)
        mlflow.log_artifact(p, "model")

client = MlflowClient()
run_id = run.info.run_id
assert run.info.artifact_uri.startswith("mlflow-artifacts:/"), run.info.artifact_uri
paths = sorted(f.path for f in client.list_artifacts(run_id))
assert paths == ["metrics.json", "model", "notes"], paths
assert [(f.path, f.file_size) for f in client.list_artifacts(run_id, "model")] == [("model/weights.bin", 10000)]
assert mlflow.artifacts.load_text(f"runs:/{run_id}/notes/hello.txt") == "hello from mlflow"
assert mlflow.artifacts.load_dict(f"{run.info.artifact_uri}/metrics.json") == {"accuracy": 0.93}
with tempfile.TemporaryDirectory() as d:
    local = mlflow.artifacts.download_artifacts(run_id=run_id, artifact_path="model", dst_path=d)
    assert os.path.getsize(os.path.join(local, "weights.bin")) == 10000
print("run artifacts ok")
print(run_id)
