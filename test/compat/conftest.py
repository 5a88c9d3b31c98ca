"""Fixtures that start the built `mloop server` and point the official mlflow client at it.

The server is the real binary (`node bin/mloop.js server`), so `npm run build` must have run.
The backend store is a fresh SQLite file unless MLOOP_COMPAT_BACKEND_URI names another one,
e.g. a postgresql:// URI (the suite then runs unchanged on PostgreSQL).
Set MLOOP_COMPAT_SERVER_URL to drive an already running server instead.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import time
import urllib.error
import urllib.request
import uuid
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
BIN = ROOT / "bin" / "mloop.js"


@dataclass
class MloopServer:
    url: str
    artifacts_dir: str
    db_uri: str
    log_path: str

    def log_tail(self, lines: int = 40) -> str:
        try:
            return "".join(Path(self.log_path).read_text(errors="replace").splitlines(True)[-lines:])
        except OSError:
            return ""


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _wait_healthy(url: str, proc: subprocess.Popen | None, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            raise RuntimeError(f"mloop server exited with code {proc.returncode} before it was healthy")
        try:
            with urllib.request.urlopen(url + "/health", timeout=2) as res:
                if res.status == 200:
                    return
        except (urllib.error.URLError, OSError) as err:
            last = err
        time.sleep(0.05)
    raise RuntimeError(f"mloop server at {url} not healthy after {timeout}s: {last}")


@pytest.fixture(scope="session")
def mloop_server(tmp_path_factory):
    external = os.environ.get("MLOOP_COMPAT_SERVER_URL")
    if external:
        url = external.rstrip("/")
        _wait_healthy(url, None, 10)
        yield MloopServer(url=url, artifacts_dir="", db_uri="", log_path="")
        return

    if not (ROOT / "dist" / "cli" / "index.js").exists():
        pytest.exit("dist/ is missing: run `npm run build` before the compat tests", returncode=2)

    work = tmp_path_factory.mktemp("mloop-server")
    artifacts = work / "artifacts"
    db_uri = os.environ.get("MLOOP_COMPAT_BACKEND_URI") or f"sqlite:///{work / 'mlruns.db'}"
    log_path = work / "server.log"
    port = _free_port()
    url = f"http://127.0.0.1:{port}"
    cmd = [
        "node", str(BIN), "server",
        "--host", "127.0.0.1",
        "--port", str(port),
        "--backend-store-uri", db_uri,
        "--artifacts-destination", str(artifacts),
    ]
    env = {k: v for k, v in os.environ.items() if not k.startswith("MLOOP_")}
    with open(log_path, "wb") as log:
        proc = subprocess.Popen(cmd, cwd=work, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    server = MloopServer(url=url, artifacts_dir=str(artifacts), db_uri=db_uri, log_path=str(log_path))
    try:
        _wait_healthy(url, proc, 30)
    except RuntimeError as err:
        proc.kill()
        proc.wait()
        pytest.exit(f"{err}\n--- server output ---\n{server.log_tail()}", returncode=2)
    try:
        yield server
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


@pytest.fixture
def tracking_uri(mloop_server, monkeypatch):
    import mlflow

    monkeypatch.setenv("MLFLOW_TRACKING_URI", mloop_server.url)
    # Keep the client from retrying for minutes when a request fails: failures must show at once.
    monkeypatch.setenv("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "0")
    mlflow.set_tracking_uri(mloop_server.url)
    try:
        yield mloop_server.url
    finally:
        while mlflow.active_run() is not None:
            mlflow.end_run()


@pytest.fixture
def experiment_name(request) -> str:
    """A name no other test (or earlier session on the same store) uses."""
    return f"compat-{request.node.name[:60]}-{uuid.uuid4().hex[:8]}"


@pytest.fixture
def experiment_id(tracking_uri, experiment_name) -> str:
    import mlflow

    exp = mlflow.set_experiment(experiment_name)
    return exp.experiment_id


@pytest.fixture
def client(tracking_uri):
    from mlflow.tracking import MlflowClient

    return MlflowClient(tracking_uri=tracking_uri)


@pytest.fixture
def scratch(tmp_path) -> Path:
    return tmp_path


def pytest_report_header(config):
    backend = os.environ.get("MLOOP_COMPAT_BACKEND_URI") or "temporary SQLite file"
    try:
        import mlflow

        version = mlflow.__version__
    except Exception:  # pragma: no cover - reported by the tests themselves
        version = "not importable"
    return f"mloop compat: mlflow client {version}, backend {backend}"

