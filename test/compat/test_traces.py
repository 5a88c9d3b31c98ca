"""Traces read back identically from mloop and from MLflow's own server.

`trace_writer.py` writes a trace with `@mlflow.trace` / `mlflow.start_span`, a failing one, and
one through OpenTelemetry's own OTLP/HTTP exporter, then prints what `mlflow.get_trace` and
`mlflow.search_traces` (under ten filters) return. It runs once against mloop and once against
`mlflow server` started here from the same virtualenv, with its defaults and a SQLite store; the
two documents must be equal.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
import uuid
from pathlib import Path

import pytest

mlflow = pytest.importorskip("mlflow")
pytest.importorskip("opentelemetry.exporter.otlp.proto.http.trace_exporter", reason="opentelemetry-exporter-otlp-proto-http is not installed")
from packaging.version import Version  # noqa: E402

if Version(mlflow.__version__) < Version("3.4"):
    pytest.skip("span logging to a tracking server needs mlflow >= 3.4", allow_module_level=True)

HERE = Path(__file__).resolve().parent


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def mlflow_server(tmp_path_factory):
    work = tmp_path_factory.mktemp("mlflow-server")
    port = _free_port()
    url = f"http://127.0.0.1:{port}"
    cmd = [
        sys.executable, "-m", "mlflow", "server",
        "--host", "127.0.0.1", "--port", str(port),
        "--backend-store-uri", f"sqlite:///{work / 'mlflow.db'}",
        "--default-artifact-root", str(work / "artifacts"),
    ]
    log = open(work / "server.log", "wb")
    proc = subprocess.Popen(cmd, cwd=work, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    deadline = time.monotonic() + 120
    while True:
        try:
            with urllib.request.urlopen(url + "/health", timeout=2) as res:
                if res.status == 200:
                    break
        except OSError:
            pass
        if proc.poll() is not None or time.monotonic() > deadline:
            proc.kill()
            pytest.fail(f"mlflow server did not start:\n{(work / 'server.log').read_text(errors='replace')[-3000:]}")
        time.sleep(0.25)
    try:
        yield url
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
        log.close()


def _read_back(url: str, experiment: str) -> dict:
    env = {k: v for k, v in os.environ.items() if not k.startswith("MLFLOW_")}
    env["MLFLOW_HTTP_REQUEST_MAX_RETRIES"] = "0"
    res = subprocess.run(
        [sys.executable, str(HERE / "trace_writer.py"), url, experiment],
        cwd=HERE, env=env, capture_output=True, text=True, timeout=300,
    )
    assert res.returncode == 0, f"trace writer failed against {url}:\n{res.stderr[-4000:]}"
    return json.loads(res.stdout)


def test_traces_read_back_identically_on_mloop_and_mlflow(mloop_server, mlflow_server):
    experiment = f"traces-compat-{uuid.uuid4().hex[:8]}"
    ours = _read_back(mloop_server.url, experiment)
    theirs = _read_back(mlflow_server, experiment)

    # What the comparison covers, so an empty document cannot pass.
    assert [s["name"] for s in theirs["client_trace"]["spans"]] == ["pipeline", "retrieve", "answer"]
    assert theirs["otel_trace"]["spans"][1]["status"][0] == "ERROR"
    assert len(theirs["search"]["(all)"]) == 3
    assert len(theirs["search"]["span.name = 'retrieve'"]) == 1

    for key in ["client_trace", "failed_trace", "otel_trace"]:
        assert ours[key] == theirs[key], f"{key} differs"
    for f, expected in theirs["search"].items():
        assert ours["search"][f] == expected, f"search_traces(filter_string={f!r}) differs"
