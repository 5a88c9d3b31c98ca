"""pytest plugin that runs MLflow's own REST-server tests against `mloop server`.

Loaded with `-p mloop_parity_plugin` (run.py puts this folder on PYTHONPATH). MLflow's files stay
unchanged: their fixtures build a client around `ServerThread(app, port)` (an in-process uvicorn
server) and a few tests call `_init_server(...)`. With `--parity-target=mloop` this plugin swaps both,
in MLflow's helper module and in every collected test module, for a stand-in that starts the built
`node bin/mloop.js server` on a fresh store in a temporary folder and points the test process's
tracking URI at it (upstream's in-process server shares the test process's SQLite file instead).
With `--parity-target=mlflow` nothing is swapped: the run is MLflow's own.

Either way `--parity-report=PATH` writes each test's outcome as JSON for run.py to compare.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
import uuid
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[3]
BIN = ROOT / "bin" / "mloop.js"

_outcomes: dict[str, str] = {}
_messages: dict[str, str] = {}


def pytest_addoption(parser):
    group = parser.getgroup("mloop-parity")
    group.addoption("--parity-target", choices=["mloop", "mlflow"], default="mloop",
                    help="which server MLflow's tests talk to")
    group.addoption("--parity-report", default=None, help="write each test's outcome to this JSON file")
    group.addoption("--parity-backend", default=None,
                    help="a postgresql:// server URI: each mloop server gets a fresh database on it "
                         "(default: a fresh SQLite file per server)")


# --- mloop servers -------------------------------------------------------------------------------


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class _Postgres:
    """Creates one throwaway database per server on the PostgreSQL server named by a URI."""

    def __init__(self, uri: str):
        import urllib.parse

        self.uri = uri
        self.parts = urllib.parse.urlsplit(uri)

    def _admin(self):
        import psycopg2

        conn = psycopg2.connect(self.uri)
        conn.autocommit = True
        return conn

    def create(self) -> tuple[str, str]:
        name = f"parity_{uuid.uuid4().hex[:12]}"
        with contextlib.closing(self._admin()) as conn, conn.cursor() as cur:
            cur.execute(f'CREATE DATABASE "{name}"')
        return name, self.parts._replace(path="/" + name).geturl()

    def drop(self, name: str) -> None:
        with contextlib.closing(self._admin()) as conn, conn.cursor() as cur:
            cur.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


class _Server:
    """One `mloop server` process on its own store and artifact folder."""

    def __init__(self, postgres: _Postgres | None, artifact_root: str | None, extra_env: dict | None = None):
        self.work = Path(tempfile.mkdtemp(prefix="mloop-parity-"))
        self.artifacts = self.work / "artifacts"
        self.port = _free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.postgres = postgres
        self.database = None
        if postgres is not None:
            self.database, backend = postgres.create()
        else:
            backend = f"sqlite:///{self.work / 'mlruns.db'}"
        cmd = [
            "node", str(BIN), "server",
            "--host", "127.0.0.1",
            "--port", str(self.port),
            "--backend-store-uri", backend,
            "--artifacts-destination", str(self.artifacts),
            # Like upstream's test server: clients read and write the artifact root directly.
            "--no-serve-artifacts",
            "--default-artifact-root", artifact_root or self.artifacts.as_uri(),
            "--no-ui",
            "--log-level", "warn",
        ]
        env = {k: v for k, v in os.environ.items() if not k.startswith("MLOOP_")}
        env.update({k: str(v) for k, v in (extra_env or {}).items()})
        self.log_path = self.work / "server.log"
        with open(self.log_path, "wb") as log:
            # The server's working directory is the test process's, as with upstream's in-process
            # server: a relative artifact_location resolves against it.
            self.proc = subprocess.Popen(cmd, cwd=os.getcwd(), env=env, stdout=log,
                                         stderr=subprocess.STDOUT, start_new_session=True)

    def wait_healthy(self, timeout: float = 60) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"mloop server exited with code {self.proc.returncode}:\n{self.log_tail()}")
            try:
                with urllib.request.urlopen(self.url + "/health", timeout=2) as res:
                    if res.status == 200:
                        return
            except (urllib.error.URLError, OSError):
                pass
            time.sleep(0.02)
        raise RuntimeError(f"mloop server at {self.url} not healthy after {timeout}s:\n{self.log_tail()}")

    def log_tail(self, lines: int = 30) -> str:
        try:
            return "".join(self.log_path.read_text(errors="replace").splitlines(True)[-lines:])
        except OSError:
            return ""

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        if self.postgres is not None and self.database:
            with contextlib.suppress(Exception):
                self.postgres.drop(self.database)
        shutil.rmtree(self.work, ignore_errors=True)


class _Servers:
    """Where the stand-ins get their servers: each test gets a fresh one on the artifact root its
    fixture asked for (upstream passes it to `initialize_backend_stores`)."""

    def __init__(self, postgres: _Postgres | None):
        self.postgres = postgres
        self.artifact_root: str | None = None
        self.running: list[_Server] = []

    def record_backend_stores(self, backend_store_uri=None, default_artifact_root=None, *args, **kwargs):
        """Stands in for `mlflow.server.handlers.initialize_backend_stores`: MLflow's in-process
        stores are not used here, only the artifact root the test expects its server to have."""
        self.artifact_root = default_artifact_root

    def start(self, extra_env: dict | None = None) -> _Server:
        root, self.artifact_root = self.artifact_root, None
        server = _Server(self.postgres, root, extra_env)
        try:
            server.wait_healthy()
        except RuntimeError:
            server.stop()
            raise
        self.running.append(server)
        return server

    def stop(self, server: _Server) -> None:
        server.stop()
        if server in self.running:
            self.running.remove(server)

    def close(self) -> None:
        for server in list(self.running):
            self.stop(server)


_servers: _Servers | None = None


class MloopServerThread:
    """Stands in for upstream's `ServerThread(app, port)`: same context-manager use, yields the URL."""

    def __init__(self, app=None, port=None, *args, **kwargs):
        self.server: _Server | None = None
        self.url = None
        self._previous_uri = None

    def __enter__(self) -> str:
        import mlflow

        self.server = _servers.start()
        self.url = self.server.url
        # Upstream's server shares the test process's SQLite file, so fluent calls (mlflow.start_run,
        # in-process CLI runs) reach the server's store; here they must go to the server by HTTP.
        mlflow.set_tracking_uri(self.url)
        return self.url

    def __exit__(self, *exc) -> None:
        if self.server is not None:
            _servers.stop(self.server)
            self.server = None

    # upstream's ServerThread is a Thread; a test may call these.
    def start(self) -> None:
        self.__enter__()

    def shutdown(self) -> None:
        self.__exit__(None, None, None)


@contextlib.contextmanager
def mloop_init_server(backend_uri=None, root_artifact_uri=None, extra_env=None, app=None, server_type="fastapi"):
    """Stands in for upstream's `_init_server(...)`: a fresh mloop server, yields its URL."""
    import mlflow

    mlflow.set_tracking_uri(None)
    server = _servers.start(extra_env=extra_env)
    try:
        yield server.url
    finally:
        _servers.stop(server)


def _swap(module) -> None:
    if module is None:
        return
    if hasattr(module, "ServerThread"):
        module.ServerThread = MloopServerThread
    if hasattr(module, "_init_server"):
        module._init_server = mloop_init_server
    if hasattr(module, "initialize_backend_stores"):
        module.initialize_backend_stores = _servers.record_backend_stores


def pytest_configure(config):
    global _servers
    if config.getoption("parity_target") != "mloop":
        return
    if not (ROOT / "dist" / "cli" / "index.js").exists():
        raise pytest.UsageError("dist/ is missing: run `npm run build` first")
    backend = config.getoption("parity_backend")
    _servers = _Servers(_Postgres(backend) if backend else None)


def pytest_collection_modifyitems(session, config, items):
    if config.getoption("parity_target") != "mloop":
        return
    _swap(sys.modules.get("tests.tracking.integration_test_utils"))
    for module in {id(item.module): item.module for item in items if getattr(item, "module", None)}.values():
        _swap(module)


def pytest_unconfigure(config):
    if _servers is not None:
        _servers.close()


# --- outcomes ------------------------------------------------------------------------------------


def pytest_runtest_logreport(report):
    nodeid = report.nodeid
    previous = _outcomes.get(nodeid)
    if report.skipped:
        outcome = "skipped"
    elif report.failed:
        outcome = "failed" if report.when == "call" else "error"
    elif report.when == "call":
        outcome = "passed"
    else:
        return
    # A failing teardown spoils a passed call; nothing overrides a failure.
    if previous in ("failed", "error"):
        return
    if previous == "passed" and outcome == "skipped":
        return
    _outcomes[nodeid] = outcome
    if outcome in ("failed", "error"):
        text = getattr(report, "longreprtext", "") or ""
        lines = [line for line in text.splitlines() if line.startswith("E ")]
        first = lines[0][1:].strip() if lines else (text.strip().splitlines() or [""])[-1]
        _messages[nodeid] = first[:300]


def pytest_sessionfinish(session, exitstatus):
    if _servers is not None:
        _servers.close()
    path = session.config.getoption("parity_report")
    if not path:
        return
    Path(path).write_text(json.dumps({"outcomes": dict(sorted(_outcomes.items())),
                                      "messages": dict(sorted(_messages.items()))}, indent=1) + "\n")


@pytest.hookimpl(tryfirst=True)
def pytest_fixture_setup(fixturedef, request):
    # Upstream's session fixture `cached_db` builds a migrated MLflow SQLite database that each
    # test copies for MLflow's in-process stores; mloop's servers have their own stores, so it
    # is left empty (as upstream does for its tracing-only package).
    if _servers is None or fixturedef.argname != "cached_db":
        return None
    path = request.getfixturevalue("tmp_path_factory").mktemp("sqlite_db") / "mlflow.db"
    fixturedef.cached_result = (path, fixturedef.cache_key(request), None)
    return path
