"""The real mlflow client against `mloop server --auth`: the basic-auth app client, basic and token credentials."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import urllib.request
import uuid
from base64 import b64encode

import sys

import pytest
from conftest import BIN, ROOT, _free_port, _wait_healthy

# What the basic-auth app client needs beyond mlflow (scripts/setup-python.sh installs it beside each venv).
_EXTRAS = ROOT / (".venv2-auth-client" if os.path.basename(sys.prefix) == ".venv2" else ".venv-auth-client")
if _EXTRAS.is_dir():
    sys.path.insert(0, str(_EXTRAS))


def _app_client(url):
    try:
        from mlflow.server import get_app_client

        return get_app_client("basic-auth", tracking_uri=url)
    except ImportError as err:
        pytest.skip(f"skipped: this mlflow cannot import its basic-auth app client here ({err})")

# Fixed, so a backend store that outlives one session (MLOOP_COMPAT_BACKEND_URI) keeps working.
ADMIN_PW = "compat-admin-password"


@pytest.fixture(scope="module")
def auth_url(tmp_path_factory):
    if not (ROOT / "dist" / "cli" / "index.js").exists():
        pytest.exit("dist/ is missing: run `npm run build` before the compat tests", returncode=2)
    work = tmp_path_factory.mktemp("mloop-auth-server")
    port = _free_port()
    url = f"http://127.0.0.1:{port}"
    env = {k: v for k, v in os.environ.items() if not k.startswith("MLOOP_")}
    env["MLOOP_AUTH_ADMIN_PASSWORD"] = ADMIN_PW
    cmd = ["node", str(BIN), "server", "--auth", "--host", "127.0.0.1", "--port", str(port),
           "--backend-store-uri", os.environ.get("MLOOP_COMPAT_BACKEND_URI") or f"sqlite:///{work / 'auth.db'}", "--artifacts-destination", str(work / "artifacts")]
    with open(work / "server.log", "wb") as log:
        proc = subprocess.Popen(cmd, cwd=work, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    try:
        _wait_healthy(url, proc, 30)
        yield url
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=10)


def _as(monkeypatch, url, username=None, password=None, token=None):
    import mlflow

    for var in ("MLFLOW_TRACKING_USERNAME", "MLFLOW_TRACKING_PASSWORD", "MLFLOW_TRACKING_TOKEN"):
        monkeypatch.delenv(var, raising=False)
    if username:
        monkeypatch.setenv("MLFLOW_TRACKING_USERNAME", username)
        monkeypatch.setenv("MLFLOW_TRACKING_PASSWORD", password)
    if token:
        monkeypatch.setenv("MLFLOW_TRACKING_TOKEN", token)
    monkeypatch.setenv("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "0")
    mlflow.set_tracking_uri(url)
    return mlflow.MlflowClient(tracking_uri=url)


def _grant(auth, exp_id, username, permission, update=False):
    # mlflow 2.x speaks experiments/permissions/*, mlflow 3.x the per-user grant API; the server serves both.
    if hasattr(auth, "grant_user_permission"):
        auth.grant_user_permission(username, "experiment", exp_id, permission)
    elif update:
        auth.update_experiment_permission(exp_id, username, permission)
    else:
        auth.create_experiment_permission(exp_id, username, permission)


def test_basic_auth_users_and_permissions(auth_url, monkeypatch):
    from mlflow.exceptions import MlflowException, RestException

    alice, bob = f"alice-{uuid.uuid4().hex[:6]}", f"bob-{uuid.uuid4().hex[:6]}"
    _as(monkeypatch, auth_url, "admin", ADMIN_PW)
    admin = _app_client(auth_url)
    assert admin.create_user(alice, "alice-pw").username == alice
    admin.create_user(bob, "bob-pw")
    assert admin.get_user(bob).is_admin is False

    client = _as(monkeypatch, auth_url, alice, "alice-pw")
    exp_id = client.create_experiment(f"private-{uuid.uuid4().hex[:6]}")
    run = client.create_run(exp_id)
    client.log_metric(run.info.run_id, "m", 1.0)

    client = _as(monkeypatch, auth_url, bob, "bob-pw")
    with pytest.raises(RestException) as denied:
        client.log_metric(run.info.run_id, "m", 2.0)
    assert denied.value.error_code == "PERMISSION_DENIED"
    assert client.get_run(run.info.run_id).data.metrics == {"m": 1.0}  # the default permission is READ

    _as(monkeypatch, auth_url, alice, "alice-pw")
    _grant(_app_client(auth_url), exp_id, bob, "EDIT")
    client = _as(monkeypatch, auth_url, bob, "bob-pw")
    client.log_metric(run.info.run_id, "m", 2.0)
    with pytest.raises(RestException) as not_manager:
        _grant(_app_client(auth_url), exp_id, bob, "MANAGE")
    assert not_manager.value.error_code == "PERMISSION_DENIED"

    _as(monkeypatch, auth_url, alice, "alice-pw")
    _grant(_app_client(auth_url), exp_id, bob, "NO_PERMISSIONS", update=True)
    client = _as(monkeypatch, auth_url, bob, "bob-pw")
    assert exp_id not in [e.experiment_id for e in client.search_experiments()]

    client = _as(monkeypatch, auth_url, bob, "wrong")
    with pytest.raises(MlflowException):
        client.search_experiments()


def _post(url, path, body, user, password):
    req = urllib.request.Request(
        f"{url}/api/2.0/mlflow/{path}",
        data=json.dumps(body).encode(),
        headers={"Content-Type": "application/json", "Authorization": "Basic " + b64encode(f"{user}:{password}".encode()).decode()},
        method="POST",
    )
    with urllib.request.urlopen(req) as res:
        return json.load(res)


def test_token_auth(auth_url, monkeypatch):
    import mlflow

    carol = f"carol-{uuid.uuid4().hex[:6]}"
    _post(auth_url, "users/create", {"username": carol, "password": "carol-pw"}, "admin", ADMIN_PW)
    token = _post(auth_url, "users/tokens/create", {"name": "compat"}, carol, "carol-pw")["token"]

    client = _as(monkeypatch, auth_url, token=token)
    exp_id = client.create_experiment(f"token-{uuid.uuid4().hex[:6]}")
    with mlflow.start_run(experiment_id=exp_id):
        mlflow.log_param("p", "1")
        mlflow.log_text("hello", "notes/hello.txt")
    runs = client.search_runs([exp_id])
    assert runs[0].data.params == {"p": "1"}
    with open(client.download_artifacts(runs[0].info.run_id, "notes/hello.txt")) as f:
        assert f.read() == "hello"
