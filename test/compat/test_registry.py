"""The model registry and MLflow 3 logged models, driven by the real `mlflow`
client (newest 3.x and last 2.x) against `mloop server`.

Uses the compat fixtures: `mloop_server` (a running server, `.url`) and
`tracking_uri` (points mlflow at it).
"""

import uuid

import mlflow
import numpy as np
import pandas as pd
import pytest
from mlflow import MlflowClient
from mlflow.exceptions import MlflowException
from packaging.version import Version
from sklearn.datasets import load_diabetes, load_iris
from sklearn.linear_model import LinearRegression, LogisticRegression, Ridge

MLFLOW3 = Version(mlflow.__version__).major >= 3
needs_mlflow3 = pytest.mark.skipif(not MLFLOW3, reason="logged models exist only in MLflow 3")


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


def log_sklearn(model, **kwargs):
    """`log_model` with the artifact name keyword of the installed client."""
    if MLFLOW3:
        return mlflow.sklearn.log_model(model, name="model", **kwargs)
    return mlflow.sklearn.log_model(model, artifact_path="model", **kwargs)


@pytest.fixture
def client(tracking_uri):
    mlflow.set_tracking_uri(tracking_uri)
    mlflow.set_registry_uri(tracking_uri)
    mlflow.set_experiment(unique("registry"))
    return MlflowClient(tracking_uri=tracking_uri, registry_uri=tracking_uri)


@pytest.fixture(scope="module")
def iris():
    return load_iris(return_X_y=True, as_frame=True)


@pytest.fixture(scope="module")
def diabetes():
    return load_diabetes(return_X_y=True, as_frame=True)


def test_log_model_with_registered_model_name(client, iris):
    X, y = iris
    model = LogisticRegression(max_iter=500).fit(X, y)
    name = unique("iris")
    with mlflow.start_run() as run:
        info = log_sklearn(model, registered_model_name=name)

    rm = client.get_registered_model(name)
    assert rm.name == name
    assert [v.version for v in rm.latest_versions] == ["1"]
    mv = client.get_model_version(name, "1")
    assert mv.run_id == run.info.run_id
    assert mv.status == "READY"
    if MLFLOW3:
        assert info.model_id.startswith("m-")
        assert mv.source == f"models:/{info.model_id}"
        # the logged model itself loads by id
        by_id = mlflow.pyfunc.load_model(f"models:/{info.model_id}")
        np.testing.assert_array_equal(by_id.predict(X), model.predict(X))
        lm = client.get_logged_model(info.model_id)
        assert lm.status.to_int() == 2  # READY
        assert lm.source_run_id == run.info.run_id
        assert lm.artifact_location.endswith(f"/models/{info.model_id}/artifacts")

    loaded = mlflow.pyfunc.load_model(f"models:/{name}/1")
    np.testing.assert_array_equal(loaded.predict(X), model.predict(X))


def test_alias_champion_predicts_exactly_the_in_memory_model(client, diabetes):
    X, y = diabetes
    name = unique("diabetes")
    models = []
    for alpha in (0.1, 10.0):
        model = Ridge(alpha=alpha).fit(X, y)
        with mlflow.start_run():
            log_sklearn(model, registered_model_name=name)
        models.append(model)

    client.set_registered_model_alias(name, "champion", "2")
    assert client.get_model_version_by_alias(name, "champion").version == "2"
    assert client.get_registered_model(name).aliases == {"champion": "2"}

    champion = mlflow.pyfunc.load_model(f"models:/{name}@champion")
    np.testing.assert_array_equal(champion.predict(X), models[1].predict(X))

    client.set_registered_model_alias(name, "champion", "1")
    champion = mlflow.pyfunc.load_model(f"models:/{name}@champion")
    np.testing.assert_array_equal(champion.predict(X), models[0].predict(X))

    client.delete_registered_model_alias(name, "champion")
    with pytest.raises(MlflowException) as exc:
        client.get_model_version_by_alias(name, "champion")
    assert exc.value.error_code == "RESOURCE_DOES_NOT_EXIST"


def test_autolog_training_run_registers_and_loads(client, iris):
    X, y = iris
    name = unique("autolog")
    mlflow.sklearn.autolog()
    try:
        with mlflow.start_run() as run:
            model = LogisticRegression(max_iter=300).fit(X, y)
    finally:
        mlflow.sklearn.autolog(disable=True)

    logged = client.get_run(run.info.run_id)
    assert "max_iter" in logged.data.params
    if MLFLOW3:
        models = client.search_logged_models(experiment_ids=[run.info.experiment_id], filter_string=f"source_run_id = '{run.info.run_id}'")
        assert len(models) == 1
        uri = f"models:/{models[0].model_id}"
    else:
        uri = f"runs:/{run.info.run_id}/model"
    mv = mlflow.register_model(uri, name)
    assert mv.version == "1"
    loaded = mlflow.pyfunc.load_model(f"models:/{name}/1")
    np.testing.assert_array_equal(loaded.predict(X), model.predict(X))


def test_onnx_model_of_a_converted_sklearn_model(client, diabetes):
    skl2onnx = pytest.importorskip("skl2onnx", reason="skl2onnx is installed with the MLflow 3 environment only")
    ort = pytest.importorskip("onnxruntime", reason="onnxruntime is installed with the MLflow 3 environment only")
    pytest.importorskip("onnx")
    from skl2onnx.common.data_types import FloatTensorType

    X, y = diabetes
    Xf = X.astype(np.float32)
    model = LinearRegression().fit(Xf, y)
    onnx_model = skl2onnx.convert_sklearn(model, initial_types=[("input", FloatTensorType([None, X.shape[1]]))])
    name = unique("onnx")
    with mlflow.start_run():
        if MLFLOW3:
            mlflow.onnx.log_model(onnx_model, name="model", registered_model_name=name)
        else:
            mlflow.onnx.log_model(onnx_model, artifact_path="model", registered_model_name=name)
    client.set_registered_model_alias(name, "champion", "1")

    loaded = mlflow.pyfunc.load_model(f"models:/{name}@champion")
    got = loaded.predict(Xf)
    out = got["variable"] if isinstance(got, (dict, pd.DataFrame)) else got
    session = ort.InferenceSession(onnx_model.SerializeToString(), providers=["CPUExecutionProvider"])
    expected = session.run(None, {"input": Xf.values})[0]
    np.testing.assert_array_equal(np.asarray(out).reshape(-1), expected.reshape(-1))
    np.testing.assert_allclose(np.asarray(out).reshape(-1), model.predict(Xf), rtol=1e-4)


def test_search_registered_models_and_versions(client, iris):
    X, y = iris
    prefix = unique("search")
    with mlflow.start_run() as run:
        log_sklearn(LogisticRegression(max_iter=200).fit(X, y))
    run_id = run.info.run_id
    source = f"runs:/{run_id}/model"
    for i, team in enumerate(["risk", "growth", "risk"]):
        name = f"{prefix}-{i}"
        client.create_registered_model(name, tags={"team": team}, description=f"model {i}")
        client.create_model_version(name, source, run_id, tags={"idx": str(i)})

    found = client.search_registered_models(filter_string=f"name LIKE '{prefix}-%'", order_by=["name DESC"])
    assert [m.name for m in found] == [f"{prefix}-2", f"{prefix}-1", f"{prefix}-0"]
    upper = prefix.upper()
    assert len(client.search_registered_models(filter_string=f"name ILIKE '{upper}-%'")) == 3
    assert len(client.search_registered_models(filter_string=f"name LIKE '{upper}-%'")) == 0
    risk = client.search_registered_models(filter_string=f"name LIKE '{prefix}-%' AND tags.team = 'risk'")
    assert sorted(m.name for m in risk) == [f"{prefix}-0", f"{prefix}-2"]
    page = client.search_registered_models(filter_string=f"name LIKE '{prefix}-%'", max_results=2)
    assert len(page) == 2 and page.token
    rest = client.search_registered_models(filter_string=f"name LIKE '{prefix}-%'", max_results=2, page_token=page.token)
    assert len(rest) == 1

    versions = client.search_model_versions(f"name = '{prefix}-1'")
    assert [(v.name, v.version) for v in versions] == [(f"{prefix}-1", "1")]
    by_run = client.search_model_versions(f"run_id = '{run_id}'")
    assert len(by_run) == 3
    tagged = client.search_model_versions(f"name LIKE '{prefix}-%' AND tags.idx = '2'")
    assert [v.name for v in tagged] == [f"{prefix}-2"]


def test_copy_model_version(client, iris):
    X, y = iris
    model = LogisticRegression(max_iter=200).fit(X, y)
    src = unique("staging")
    dst = unique("production")
    with mlflow.start_run():
        log_sklearn(model, registered_model_name=src)
    copied = client.copy_model_version(f"models:/{src}/1", dst)
    assert copied.name == dst and copied.version == "1"
    assert client.get_model_version(dst, "1").run_id == client.get_model_version(src, "1").run_id
    loaded = mlflow.pyfunc.load_model(f"models:/{dst}/1")
    np.testing.assert_array_equal(loaded.predict(X), model.predict(X))


def test_stages_and_latest_versions(client, iris):
    X, y = iris
    name = unique("stages")
    with mlflow.start_run():
        log_sklearn(LogisticRegression(max_iter=200).fit(X, y), registered_model_name=name)
        log_sklearn(LogisticRegression(max_iter=300).fit(X, y), registered_model_name=name)
    client.transition_model_version_stage(name, "1", "Production")
    mv = client.transition_model_version_stage(name, "2", "Production", archive_existing_versions=True)
    assert mv.current_stage == "Production"
    assert client.get_model_version(name, "1").current_stage == "Archived"
    latest = client.get_latest_versions(name, stages=["Production"])
    assert [v.version for v in latest] == ["2"]
    loaded = mlflow.pyfunc.load_model(f"models:/{name}/Production")
    assert loaded.metadata.run_id == client.get_model_version(name, "2").run_id


def test_tags_update_rename_and_deletion(client, iris):
    X, y = iris
    name = unique("lifecycle")
    with mlflow.start_run():
        log_sklearn(LogisticRegression(max_iter=200).fit(X, y), registered_model_name=name)
    client.set_registered_model_tag(name, "team", "risk")
    client.set_model_version_tag(name, "1", "validated", "true")
    client.update_registered_model(name, description="fraud model")
    client.update_model_version(name, "1", description="first")
    assert client.get_registered_model(name).tags == {"team": "risk"}
    mv = client.get_model_version(name, "1")
    assert mv.tags == {"validated": "true"} and mv.description == "first"
    client.delete_model_version_tag(name, "1", "validated")
    client.delete_registered_model_tag(name, "team")
    assert client.get_model_version(name, "1").tags == {}

    new_name = unique("renamed")
    client.rename_registered_model(name, new_name)
    assert client.get_model_version(new_name, "1").version == "1"
    assert client.get_model_version_download_uri(new_name, "1")

    client.delete_model_version(new_name, "1")
    with pytest.raises(MlflowException) as exc:
        client.get_model_version(new_name, "1")
    assert exc.value.error_code == "RESOURCE_DOES_NOT_EXIST"
    client.delete_registered_model(new_name)
    with pytest.raises(MlflowException) as exc:
        client.get_registered_model(new_name)
    assert exc.value.error_code == "RESOURCE_DOES_NOT_EXIST"


def test_error_codes(client, iris):
    X, y = iris
    name = unique("errors")
    client.create_registered_model(name)
    with pytest.raises(MlflowException) as exc:
        client.create_registered_model(name)
    assert exc.value.error_code == "RESOURCE_ALREADY_EXISTS"

    with pytest.raises(MlflowException) as exc:
        client.get_registered_model(unique("missing"))
    assert exc.value.error_code == "RESOURCE_DOES_NOT_EXIST"

    with pytest.raises(MlflowException) as exc:
        client.get_model_version(name, "7")
    assert exc.value.error_code == "RESOURCE_DOES_NOT_EXIST"

    with mlflow.start_run() as run:
        log_sklearn(LogisticRegression(max_iter=200).fit(X, y))
    for bad in ["/etc/passwd", "file:///etc/passwd", f"{run.info.artifact_uri}/../../../etc", "//proc/self/root/etc", "relative/path"]:
        with pytest.raises(MlflowException) as exc:
            client.create_model_version(name, bad, run.info.run_id)
        assert exc.value.error_code == "INVALID_PARAMETER_VALUE", bad

    client.create_model_version(name, f"runs:/{run.info.run_id}/model", run.info.run_id)
    with pytest.raises(MlflowException) as exc:
        client.set_registered_model_alias(name, "latest", "1")
    assert exc.value.error_code == "INVALID_PARAMETER_VALUE"
    with pytest.raises(MlflowException) as exc:
        client.transition_model_version_stage(name, "1", "Prod")
    assert exc.value.error_code == "INVALID_PARAMETER_VALUE"


@needs_mlflow3
def test_logged_models_api(client):
    from mlflow.entities import LoggedModelStatus

    exp_id = mlflow.set_experiment(unique("logged-models")).experiment_id
    lm = client.create_logged_model(experiment_id=exp_id, name="agent", model_type="Agent", params={"temperature": "0.2"}, tags={"owner": "risk"})
    assert lm.model_id.startswith("m-")
    assert lm.status == LoggedModelStatus.PENDING
    assert lm.params == {"temperature": "0.2"}
    client.set_logged_model_tags(lm.model_id, {"stage": "eval"})
    client.delete_logged_model_tag(lm.model_id, "owner")
    finalized = client.finalize_logged_model(lm.model_id, LoggedModelStatus.READY)
    assert finalized.status == LoggedModelStatus.READY
    got = client.get_logged_model(lm.model_id)
    assert got.tags == {"stage": "eval"}

    found = client.search_logged_models(experiment_ids=[exp_id], filter_string="name = 'agent'")
    assert [m.model_id for m in found] == [lm.model_id]
    client.delete_logged_model(lm.model_id)
    with pytest.raises(MlflowException) as exc:
        client.get_logged_model(lm.model_id)
    assert exc.value.error_code == "RESOURCE_DOES_NOT_EXIST"
