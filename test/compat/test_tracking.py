"""What users do with the official mlflow client, against `mloop server`.

Runs unchanged with mlflow 3.x (.venv) and 2.x (.venv2). Every test asserts the values the
client reads back, not only that no exception was raised.
"""

from __future__ import annotations

import hashlib
import json
import os
import time
from pathlib import Path

import mlflow
import pytest
from mlflow.entities import Metric, Param, RunStatus, RunTag, ViewType
from mlflow.exceptions import MlflowException

MLFLOW_MAJOR = int(mlflow.__version__.split(".")[0])


def _params(run) -> dict:
    return dict(run.data.params)


def _user_tags(run) -> dict:
    return {k: v for k, v in run.data.tags.items() if not k.startswith("mlflow.")}


# --- experiments -------------------------------------------------------------------------------


def test_default_experiment_exists(client):
    exp = client.get_experiment("0")
    assert exp.name == "Default"
    assert exp.lifecycle_stage == "active"
    assert client.get_experiment_by_name("Default").experiment_id == "0"


def test_set_experiment_creates_once_and_reuses(tracking_uri, experiment_name, client):
    first = mlflow.set_experiment(experiment_name)
    assert first.name == experiment_name
    assert first.lifecycle_stage == "active"
    assert first.artifact_location.startswith("mlflow-artifacts:/")
    again = mlflow.set_experiment(experiment_name)
    assert again.experiment_id == first.experiment_id
    by_id = mlflow.set_experiment(experiment_id=first.experiment_id)
    assert by_id.name == experiment_name
    assert client.get_experiment_by_name(experiment_name).experiment_id == first.experiment_id
    assert client.get_experiment_by_name(experiment_name + "-absent") is None


def test_create_experiment_with_tags_and_rename(client, experiment_name):
    exp_id = client.create_experiment(experiment_name, tags={"team": "vision", "priority": "1"})
    exp = client.get_experiment(exp_id)
    assert exp.tags["team"] == "vision"
    assert exp.tags["priority"] == "1"
    client.set_experiment_tag(exp_id, "priority", "2")
    assert client.get_experiment(exp_id).tags["priority"] == "2"
    client.rename_experiment(exp_id, experiment_name + "-renamed")
    assert client.get_experiment(exp_id).name == experiment_name + "-renamed"
    with pytest.raises(MlflowException) as err:
        client.create_experiment(experiment_name + "-renamed")
    assert err.value.error_code == "RESOURCE_ALREADY_EXISTS"


def test_search_experiments_filter_order_and_pages(client, experiment_name):
    prefix = experiment_name
    ids = [client.create_experiment(f"{prefix}-{i}", tags={"parity": "even" if i % 2 == 0 else "odd"}) for i in range(5)]

    found = client.search_experiments(filter_string=f"name LIKE '{prefix}-%'", order_by=["name DESC"])
    assert [e.name for e in found] == [f"{prefix}-{i}" for i in reversed(range(5))]

    evens = client.search_experiments(filter_string=f"name LIKE '{prefix}-%' AND tags.parity = 'even'", order_by=["name"])
    assert [e.experiment_id for e in evens] == [ids[0], ids[2], ids[4]]

    page1 = client.search_experiments(filter_string=f"name LIKE '{prefix}-%'", order_by=["name"], max_results=2)
    assert len(page1) == 2 and page1.token
    page2 = client.search_experiments(filter_string=f"name LIKE '{prefix}-%'", order_by=["name"], max_results=2, page_token=page1.token)
    page3 = client.search_experiments(filter_string=f"name LIKE '{prefix}-%'", order_by=["name"], max_results=2, page_token=page2.token)
    assert [e.name for e in page1 + page2 + page3] == [f"{prefix}-{i}" for i in range(5)]
    assert not page3.token

    via_fluent = mlflow.search_experiments(filter_string=f"name = '{prefix}-3'")
    assert [e.experiment_id for e in via_fluent] == [ids[3]]


def test_delete_and_restore_experiment(client, experiment_name):
    exp_id = client.create_experiment(experiment_name)
    client.delete_experiment(exp_id)
    assert client.get_experiment(exp_id).lifecycle_stage == "deleted"
    active = client.search_experiments(filter_string=f"name = '{experiment_name}'")
    assert active == []
    deleted = client.search_experiments(view_type=ViewType.DELETED_ONLY, filter_string=f"name = '{experiment_name}'")
    assert [e.experiment_id for e in deleted] == [exp_id]
    client.restore_experiment(exp_id)
    assert client.get_experiment(exp_id).lifecycle_stage == "active"


# --- runs: logging -----------------------------------------------------------------------------


def test_run_params_metrics_tags_round_trip(experiment_id, client):
    with mlflow.start_run(run_name="round-trip") as run:
        mlflow.log_param("lr", 0.01)
        mlflow.log_params({"optimizer": "adam", "epochs": 10, "layers": [64, 32]})
        mlflow.log_metric("loss", 0.5)
        mlflow.log_metrics({"acc": 0.91, "f1": 0.88})
        mlflow.set_tag("team", "vision")
        mlflow.set_tags({"stage": "dev", "owner": "ana"})
        run_id = run.info.run_id

    got = client.get_run(run_id)
    assert got.info.experiment_id == experiment_id
    assert got.info.run_name == "round-trip"
    assert got.info.status == "FINISHED"
    assert got.info.end_time is not None and got.info.end_time >= got.info.start_time
    assert got.info.lifecycle_stage == "active"
    assert _params(got) == {"lr": "0.01", "optimizer": "adam", "epochs": "10", "layers": "[64, 32]"}
    assert got.data.metrics == {"loss": 0.5, "acc": 0.91, "f1": 0.88}
    assert _user_tags(got) == {"team": "vision", "stage": "dev", "owner": "ana"}
    assert got.data.tags["mlflow.runName"] == "round-trip"


def test_metric_steps_timestamps_and_history(experiment_id, client):
    base = int(time.time() * 1000) - 60_000
    with mlflow.start_run() as run:
        for step in range(5):
            mlflow.log_metric("loss", 1.0 / (step + 1), step=step, timestamp=base + step * 1000)
        mlflow.log_metric("nan_metric", float("nan"))
        mlflow.log_metric("inf_metric", float("inf"))
        mlflow.log_metric("neg_inf_metric", float("-inf"))
    history = client.get_metric_history(run.info.run_id, "loss")
    assert [(m.step, m.value, m.timestamp) for m in sorted(history, key=lambda m: m.step)] == [
        (s, 1.0 / (s + 1), base + s * 1000) for s in range(5)
    ]
    latest = client.get_run(run.info.run_id).data.metrics
    assert latest["loss"] == pytest.approx(0.2)  # the value at the highest step
    assert latest["nan_metric"] != latest["nan_metric"]  # NaN survives the round trip
    assert latest["inf_metric"] == float("inf")
    assert latest["neg_inf_metric"] == float("-inf")


def test_latest_metric_is_highest_step_not_last_logged(experiment_id, client):
    with mlflow.start_run() as run:
        mlflow.log_metric("score", 3.0, step=10)
        mlflow.log_metric("score", 1.0, step=2)
    assert client.get_run(run.info.run_id).data.metrics["score"] == 3.0
    assert sorted(m.step for m in client.get_metric_history(run.info.run_id, "score")) == [2, 10]


def test_long_metric_history_is_complete(experiment_id, client):
    run = client.create_run(experiment_id)
    ts = int(time.time() * 1000)
    n = 3000
    for start in range(0, n, 1000):
        client.log_batch(run.info.run_id, metrics=[Metric("curve", float(i) * 0.5, ts + i, i) for i in range(start, start + 1000)])
    history = client.get_metric_history(run.info.run_id, "curve")
    assert len(history) == n
    assert sorted((m.step, m.value) for m in history) == [(i, i * 0.5) for i in range(n)]


def test_log_batch_through_client(experiment_id, client):
    run = client.create_run(experiment_id)
    ts = int(time.time() * 1000)
    client.log_batch(
        run.info.run_id,
        metrics=[Metric("m", float(i), ts, i) for i in range(10)],
        params=[Param(f"p{i}", str(i)) for i in range(20)],
        tags=[RunTag("batch", "yes")],
    )
    got = client.get_run(run.info.run_id)
    assert got.data.metrics["m"] == 9.0
    assert _params(got) == {f"p{i}": str(i) for i in range(20)}
    assert got.data.tags["batch"] == "yes"


def test_param_relogged_with_same_value_is_fine_other_value_fails(experiment_id, client):
    with mlflow.start_run() as run:
        mlflow.log_param("seed", 42)
        mlflow.log_param("seed", 42)
        with pytest.raises(MlflowException) as err:
            mlflow.log_param("seed", 43)
        assert err.value.error_code == "INVALID_PARAMETER_VALUE"
    assert _params(client.get_run(run.info.run_id))["seed"] == "42"


def test_delete_tag(experiment_id, client):
    with mlflow.start_run() as run:
        mlflow.set_tags({"keep": "1", "drop": "2"})
        mlflow.delete_tag("drop")
    assert _user_tags(client.get_run(run.info.run_id)) == {"keep": "1"}


def test_nested_runs(experiment_id, client):
    with mlflow.start_run(run_name="parent") as parent:
        with mlflow.start_run(run_name="child-a", nested=True) as child_a:
            mlflow.log_param("which", "a")
        with mlflow.start_run(run_name="child-b", nested=True) as child_b:
            mlflow.log_param("which", "b")
        assert mlflow.active_run().info.run_id == parent.info.run_id
    for child in (child_a, child_b):
        got = client.get_run(child.info.run_id)
        assert got.data.tags["mlflow.parentRunId"] == parent.info.run_id
        assert got.info.status == "FINISHED"
    children = client.search_runs(
        [experiment_id], filter_string=f"tags.mlflow.parentRunId = '{parent.info.run_id}'", order_by=["attributes.run_name ASC"]
    )
    assert [r.info.run_name for r in children] == ["child-a", "child-b"]
    assert [r.data.params["which"] for r in children] == ["a", "b"]


def test_end_run_statuses(experiment_id, client):
    ids = {}
    for status in ("FINISHED", "FAILED", "KILLED"):
        run = mlflow.start_run()
        mlflow.end_run(status=status)
        ids[status] = run.info.run_id
    with pytest.raises(ZeroDivisionError):
        with mlflow.start_run() as failing:
            1 / 0
    ids["exception"] = failing.info.run_id
    assert client.get_run(ids["FINISHED"]).info.status == "FINISHED"
    assert client.get_run(ids["FAILED"]).info.status == "FAILED"
    assert client.get_run(ids["KILLED"]).info.status == "KILLED"
    assert client.get_run(ids["exception"]).info.status == "FAILED"

    running = client.create_run(experiment_id)
    assert client.get_run(running.info.run_id).info.status == "RUNNING"
    assert client.get_run(running.info.run_id).info.end_time is None
    client.set_terminated(running.info.run_id, status=RunStatus.to_string(RunStatus.KILLED))
    after = client.get_run(running.info.run_id)
    assert after.info.status == "KILLED" and after.info.end_time is not None


def test_resume_a_run_by_id(experiment_id, client):
    with mlflow.start_run() as run:
        mlflow.log_metric("x", 1.0, step=0)
    with mlflow.start_run(run_id=run.info.run_id):
        mlflow.log_metric("x", 2.0, step=1)
    got = client.get_run(run.info.run_id)
    assert got.info.status == "FINISHED"
    assert got.data.metrics["x"] == 2.0
    assert len(client.get_metric_history(run.info.run_id, "x")) == 2


def test_delete_and_restore_run(experiment_id, client):
    with mlflow.start_run() as run:
        mlflow.log_param("k", "v")
    run_id = run.info.run_id
    client.delete_run(run_id)
    assert client.get_run(run_id).info.lifecycle_stage == "deleted"
    assert client.search_runs([experiment_id]) == []
    deleted = client.search_runs([experiment_id], run_view_type=ViewType.DELETED_ONLY)
    assert [r.info.run_id for r in deleted] == [run_id]
    both = client.search_runs([experiment_id], run_view_type=ViewType.ALL)
    assert [r.info.run_id for r in both] == [run_id]
    client.restore_run(run_id)
    assert client.get_run(run_id).info.lifecycle_stage == "active"
    assert [r.info.run_id for r in client.search_runs([experiment_id])] == [run_id]
    assert client.get_run(run_id).data.params == {"k": "v"}


def test_log_input_dataset(experiment_id, client):
    pd = pytest.importorskip("pandas")
    df = pd.DataFrame({"x": [1, 2, 3], "y": [0, 1, 0]})
    dataset = mlflow.data.from_pandas(df, name="toy", targets="y")
    with mlflow.start_run() as run:
        mlflow.log_input(dataset, context="training")
    got = client.get_run(run.info.run_id)
    inputs = got.inputs.dataset_inputs
    assert len(inputs) == 1
    assert inputs[0].dataset.name == "toy"
    assert inputs[0].dataset.digest == dataset.digest
    assert {t.key: t.value for t in inputs[0].tags}["mlflow.data.context"] == "training"


# --- search ------------------------------------------------------------------------------------


@pytest.fixture
def seeded_runs(experiment_id, client):
    """Six finished runs with known params, metrics and tags."""
    ids = []
    for i in range(6):
        with mlflow.start_run(run_name=f"trial-{i}") as run:
            mlflow.log_params({"lr": f"0.{i}", "model": "cnn" if i % 2 == 0 else "mlp"})
            mlflow.log_metrics({"acc": 0.5 + i * 0.08, "loss": 1.0 - i * 0.1})
            mlflow.set_tag("split", "a" if i < 3 else "b")
        ids.append(run.info.run_id)
    return ids


def test_search_runs_filters(experiment_id, client, seeded_runs):
    ids = seeded_runs

    def search(flt, order=None):
        return [r.info.run_id for r in client.search_runs([experiment_id], filter_string=flt, order_by=order or ["metrics.acc ASC"])]

    assert search("metrics.acc > 0.7") == ids[3:]
    assert search("metrics.acc >= 0.66 AND metrics.loss < 0.7") == ids[4:]
    assert search("params.model = 'cnn'") == [ids[0], ids[2], ids[4]]
    assert search("params.model != 'cnn'") == [ids[1], ids[3], ids[5]]
    assert search("tags.split = 'b' AND params.model = 'mlp'") == [ids[3], ids[5]]
    assert search("attributes.run_name LIKE 'trial-%'") == ids
    assert search("run_name = 'trial-2'") == [ids[2]]
    assert search(f"attributes.run_id IN ('{ids[1]}', '{ids[4]}')") == [ids[1], ids[4]]
    assert search("attributes.status = 'FINISHED'") == ids
    assert search("params.model ILIKE 'CN%'") == [ids[0], ids[2], ids[4]]
    assert search("metrics.acc > 5") == []
    assert search(f"attributes.run_id = '{ids[1]}'") == [ids[1]]


def test_search_runs_order_by_and_pages(experiment_id, client, seeded_runs):
    ids = seeded_runs
    by_acc_desc = client.search_runs([experiment_id], order_by=["metrics.acc DESC"])
    assert [r.info.run_id for r in by_acc_desc] == list(reversed(ids))
    by_param = client.search_runs([experiment_id], order_by=["params.model ASC", "metrics.acc DESC"])
    assert [r.info.run_id for r in by_param] == [ids[4], ids[2], ids[0], ids[5], ids[3], ids[1]]
    by_name = client.search_runs([experiment_id], order_by=["attributes.run_name DESC"])
    assert [r.info.run_name for r in by_name] == [f"trial-{i}" for i in reversed(range(6))]

    page1 = client.search_runs([experiment_id], order_by=["metrics.acc ASC"], max_results=4)
    assert len(page1) == 4 and page1.token
    page2 = client.search_runs([experiment_id], order_by=["metrics.acc ASC"], max_results=4, page_token=page1.token)
    assert [r.info.run_id for r in list(page1) + list(page2)] == ids
    assert not page2.token


def test_search_runs_dataframe(experiment_id, experiment_name, seeded_runs):
    df = mlflow.search_runs(experiment_names=[experiment_name], filter_string="metrics.acc > 0.6", order_by=["metrics.acc DESC"])
    assert list(df["run_id"]) == list(reversed(seeded_runs[2:]))
    assert list(df["params.model"]) == ["mlp", "cnn", "mlp", "cnn"]
    assert list(df["metrics.acc"]) == pytest.approx([0.9, 0.82, 0.74, 0.66])
    assert list(df["tags.split"]) == ["b", "b", "b", "a"]
    assert set(df["status"]) == {"FINISHED"}
    assert str(df["start_time"].dtype).startswith("datetime64")
    assert list(df["tags.mlflow.runName"]) == ["trial-5", "trial-4", "trial-3", "trial-2"]

    as_list = mlflow.search_runs(experiment_ids=[experiment_id], output_format="list", max_results=2, order_by=["metrics.acc"])
    assert [r.info.run_id for r in as_list] == seeded_runs[:2]


def test_search_runs_across_experiments(tracking_uri, client, experiment_name):
    a = client.create_experiment(experiment_name + "-a")
    b = client.create_experiment(experiment_name + "-b")
    ra = client.create_run(a, tags={"where": "a"})
    rb = client.create_run(b, tags={"where": "b"})
    found = client.search_runs([a, b], order_by=["tags.where DESC"])
    assert [r.info.run_id for r in found] == [rb.info.run_id, ra.info.run_id]


# --- artifacts ---------------------------------------------------------------------------------


def test_log_dict_and_text(experiment_id, scratch):
    payload = {"classes": ["cat", "dog"], "threshold": 0.5, "nested": {"k": [1, 2, 3]}}
    with mlflow.start_run() as run:
        mlflow.log_dict(payload, "config/settings.json")
        mlflow.log_dict(payload, "config/settings.yaml")
        mlflow.log_text("héllo wörld\nsecond line\n", "notes/readme.txt")
    uri = run.info.artifact_uri
    assert mlflow.artifacts.load_dict(f"{uri}/config/settings.json") == payload
    yaml = pytest.importorskip("yaml")
    assert yaml.safe_load(mlflow.artifacts.load_text(f"{uri}/config/settings.yaml")) == payload
    assert mlflow.artifacts.load_text(f"{uri}/notes/readme.txt") == "héllo wörld\nsecond line\n"


def test_log_artifact_files_and_folders_then_download(experiment_id, client, scratch):
    src = scratch / "src"
    (src / "sub" / "deeper").mkdir(parents=True)
    (src / "a.txt").write_text("alpha")
    (src / "sub" / "b.bin").write_bytes(bytes(range(256)) * 10)
    (src / "sub" / "deeper" / "c.csv").write_text("x,y\n1,2\n")
    (src / "space name.txt").write_text("spaces are fine")
    single = scratch / "model.pkl"
    single.write_bytes(os.urandom(4096))

    with mlflow.start_run() as run:
        mlflow.log_artifact(str(single))
        mlflow.log_artifact(str(single), artifact_path="backup")
        mlflow.log_artifacts(str(src), artifact_path="data")
    run_id = run.info.run_id

    top = {f.path: f.is_dir for f in client.list_artifacts(run_id)}
    assert top == {"model.pkl": False, "backup": True, "data": True}
    data = {f.path: (f.is_dir, f.file_size) for f in client.list_artifacts(run_id, "data")}
    assert data == {
        "data/a.txt": (False, 5),
        "data/space name.txt": (False, 15),
        "data/sub": (True, None),
    }
    assert [f.path for f in client.list_artifacts(run_id, "data/sub/deeper")] == ["data/sub/deeper/c.csv"]

    for d in ("dl", "all"):
        (scratch / d).mkdir()
    out = Path(mlflow.artifacts.download_artifacts(run_id=run_id, artifact_path="data", dst_path=str(scratch / "dl")))
    for rel in ["a.txt", "sub/b.bin", "sub/deeper/c.csv", "space name.txt"]:
        assert (out / rel).read_bytes() == (src / rel).read_bytes(), rel

    (scratch / "one").mkdir()
    one = Path(client.download_artifacts(run_id, "backup/model.pkl", str(scratch / "one")))
    assert one.read_bytes() == single.read_bytes()

    everything = Path(mlflow.artifacts.download_artifacts(run_id=run_id, dst_path=str(scratch / "all")))
    assert (everything / "model.pkl").read_bytes() == single.read_bytes()
    assert (everything / "data" / "sub" / "deeper" / "c.csv").read_text() == "x,y\n1,2\n"


def _write_big_file(path: Path, size: int) -> str:
    """Writes `size` pseudo-random bytes (fast, not compressible) and returns their sha256."""
    digest = hashlib.sha256()
    block = hashlib.sha512(b"mloop").digest() * 16384  # 1 MiB
    with open(path, "wb") as fh:
        written, i = 0, 0
        while written < size:
            chunk = hashlib.sha256(i.to_bytes(8, "big")).digest() + block[32:]
            chunk = chunk[: size - written]
            fh.write(chunk)
            digest.update(chunk)
            written += len(chunk)
            i += 1
    return digest.hexdigest()


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


@pytest.mark.slow
def test_log_and_download_100mb_artifact(experiment_id, client, mloop_server, scratch):
    size = 100 * 1024 * 1024
    big = scratch / "weights.bin"
    want = _write_big_file(big, size)
    with mlflow.start_run() as run:
        mlflow.log_artifact(str(big), artifact_path="model")
    big.unlink()
    listed = client.list_artifacts(run.info.run_id, "model")
    assert [(f.path, f.file_size) for f in listed] == [("model/weights.bin", size)]
    (scratch / "dl").mkdir()
    out = Path(client.download_artifacts(run.info.run_id, "model/weights.bin", str(scratch / "dl")))
    assert out.stat().st_size == size
    assert _sha256(out) == want
    if mloop_server.artifacts_dir:
        stored = list(Path(mloop_server.artifacts_dir).rglob("weights.bin"))
        assert len(stored) == 1 and stored[0].stat().st_size == size


# --- errors ------------------------------------------------------------------------------------


def test_unknown_run_raises_resource_does_not_exist(client):
    with pytest.raises(MlflowException) as err:
        client.get_run("0" * 32)
    assert err.value.error_code == "RESOURCE_DOES_NOT_EXIST"
    with pytest.raises(MlflowException) as err:
        client.log_param("f" * 32, "k", "v")
    assert err.value.error_code == "RESOURCE_DOES_NOT_EXIST"


def test_unknown_experiment_raises_resource_does_not_exist(client):
    with pytest.raises(MlflowException) as err:
        client.get_experiment("987654321")
    assert err.value.error_code == "RESOURCE_DOES_NOT_EXIST"


def _rest_store(url):
    from mlflow.store.tracking.rest_store import RestStore
    from mlflow.utils.rest_utils import MlflowHostCreds

    return RestStore(lambda: MlflowHostCreds(url))


def test_batch_over_the_limits_raises_invalid_parameter_value(experiment_id, client, tracking_uri):
    # The fluent API and MlflowClient split big batches themselves; the store sends one request.
    store = _rest_store(tracking_uri)
    run_id = client.create_run(experiment_id).info.run_id
    ts = int(time.time() * 1000)
    cases = {
        "1001 metrics": dict(metrics=[Metric(f"m{i}", 1.0, ts, 0) for i in range(1001)], params=[], tags=[]),
        "101 params": dict(metrics=[], params=[Param(f"p{i}", "v") for i in range(101)], tags=[]),
        "101 tags": dict(metrics=[], params=[], tags=[RunTag(f"t{i}", "v") for i in range(101)]),
    }
    for name, batch in cases.items():
        with pytest.raises(MlflowException) as err:
            store.log_batch(run_id, **batch)
        assert err.value.error_code == "INVALID_PARAMETER_VALUE", name
    # A rejected batch writes nothing.
    got = client.get_run(run_id)
    assert got.data.metrics == {} and got.data.params == {}
    assert _user_tags(got) == {}


def test_invalid_names_and_values_raise_invalid_parameter_value(experiment_id, client, tracking_uri):
    store = _rest_store(tracking_uri)
    run_id = client.create_run(experiment_id).info.run_id
    with pytest.raises(MlflowException) as err:
        store.log_param(run_id, Param("../escape", "v"))
    assert err.value.error_code == "INVALID_PARAMETER_VALUE"
    with pytest.raises(MlflowException) as err:
        store.log_param(run_id, Param("long", "x" * 6001))
    assert err.value.error_code == "INVALID_PARAMETER_VALUE"
    with pytest.raises(MlflowException) as err:
        client.create_experiment("")
    assert err.value.error_code == "INVALID_PARAMETER_VALUE"


def test_logging_to_a_finished_run_is_allowed_but_deleted_run_is_not(experiment_id, client):
    with mlflow.start_run() as run:
        pass
    client.log_metric(run.info.run_id, "late", 1.0)
    assert client.get_run(run.info.run_id).data.metrics["late"] == 1.0
    client.delete_run(run.info.run_id)
    with pytest.raises(MlflowException) as err:
        client.log_metric(run.info.run_id, "after-delete", 1.0)
    assert err.value.error_code == "INVALID_PARAMETER_VALUE"


def test_server_error_body_is_mlflow_json(tracking_uri):
    import urllib.error
    import urllib.request

    req = urllib.request.Request(f"{tracking_uri}/api/2.0/mlflow/runs/get?run_id={'0' * 32}")
    with pytest.raises(urllib.error.HTTPError) as err:
        urllib.request.urlopen(req)
    assert err.value.code == 404
    body = json.loads(err.value.read())
    assert body["error_code"] == "RESOURCE_DOES_NOT_EXIST"
    assert body["message"]
