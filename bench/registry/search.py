"""Registry search: `mloop server` against `mlflow server`, same machine, same data.

Both servers get the same 10,000 registered models (two tags each) and
100,000 model versions (a tag each), written straight into each server's
SQLite store after the server created its schema (seeding 110k rows through
either REST API would take far longer than the measurement). Then the same
searches run against both, sequentially, and the script prints each query's
median and p95 latency and the ratio mlflow / mloop.

Usage (from the repository root, after `npm run build`):

    .venv/bin/python bench/registry/search.py [--models 10000] [--versions-per-model 10] [--repeat 30]

`MLOOP_CMD` overrides how mloop is started (default: `node bin/mloop.js`).
"""

import argparse
import os
import re
import shlex
import socket
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.parse
import urllib.request
import uuid

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_healthy(url: str, proc: subprocess.Popen, timeout: float = 120) -> None:
    end = time.time() + timeout
    while time.time() < end:
        if proc.poll() is not None:
            raise RuntimeError(f"server exited with {proc.returncode}")
        try:
            with urllib.request.urlopen(f"{url}/health", timeout=2) as r:
                if r.status == 200:
                    return
        except OSError:
            time.sleep(0.2)
    raise RuntimeError(f"{url} did not become healthy")


def start_mlflow(workdir: str) -> tuple[subprocess.Popen, str, str]:
    db = os.path.join(workdir, "mlflow.db")
    port = free_port()
    mlflow_bin = os.path.join(os.path.dirname(sys.executable), "mlflow")
    proc = subprocess.Popen(
        [mlflow_bin, "server", "--backend-store-uri", f"sqlite:///{db}", "--default-artifact-root", os.path.join(workdir, "mlflow-art"), "--host", "127.0.0.1", "--port", str(port), "--workers", "1"],
        cwd=workdir,
        stdout=subprocess.DEVNULL,
        stderr=open(os.path.join(workdir, "mlflow.log"), "w"),
    )
    return proc, f"http://127.0.0.1:{port}", db


def start_mloop(workdir: str) -> tuple[subprocess.Popen, str, str]:
    db = os.path.join(workdir, "mloop.db")
    port = free_port()
    cmd = shlex.split(os.environ.get("MLOOP_CMD", f"node {os.path.join(ROOT, 'bin', 'mloop.js')}"))
    proc = subprocess.Popen(
        [*cmd, "server", "--backend-store-uri", f"sqlite:///{db}", "--artifacts-destination", os.path.join(workdir, "mloop-art"), "--host", "127.0.0.1", "--port", str(port), "--no-ui"],
        cwd=workdir,
        stdout=subprocess.DEVNULL,
        stderr=open(os.path.join(workdir, "mloop.log"), "w"),
    )
    return proc, f"http://127.0.0.1:{port}", db


def seed(db: str, models: int, per_model: int) -> None:
    """The same rows into either schema; columns the schema lacks are left out."""
    con = sqlite3.connect(db, timeout=60)
    cols = {t: {r[1] for r in con.execute(f"PRAGMA table_info({t})")} for t in ["registered_models", "registered_model_tags", "model_versions", "model_version_tags"]}

    def insert(table: str, rows: list[dict]) -> None:
        keys = [k for k in rows[0] if k in cols[table]]
        con.executemany(f"INSERT INTO {table} ({', '.join(keys)}) VALUES ({', '.join('?' for _ in keys)})", [tuple(r[k] for k in keys) for r in rows])

    now = int(time.time() * 1000)
    teams = ["risk", "growth", "search", "ads", "infra"]
    rm, rmt, mv, mvt = [], [], [], []
    for i in range(models):
        name = f"model-{i:05d}"
        rm.append({"workspace": "default", "name": name, "creation_time": now + i, "last_updated_time": now + i, "description": f"model {i}"})
        rmt.append({"workspace": "default", "name": name, "key": "team", "value": teams[i % len(teams)]})
        rmt.append({"workspace": "default", "name": name, "key": "tier", "value": str(i % 3)})
        for v in range(1, per_model + 1):
            run_id = uuid.uuid5(uuid.NAMESPACE_OID, f"{i}-{v}").hex
            stage = "Production" if v == per_model else "Archived" if v == per_model - 1 else "None"
            mv.append(
                {
                    "workspace": "default",
                    "name": name,
                    "version": v,
                    "creation_time": now + i * per_model + v,
                    "last_updated_time": now + i * per_model + v,
                    "description": None,
                    "user_id": None,
                    "current_stage": stage,
                    "source": f"mlflow-artifacts:/1/{run_id}/artifacts/model",
                    "storage_location": f"mlflow-artifacts:/1/{run_id}/artifacts/model",
                    "run_id": run_id,
                    "run_link": None,
                    "status": "READY",
                    "status_message": None,
                }
            )
            mvt.append({"workspace": "default", "name": name, "version": v, "key": "validated", "value": "true" if v % 2 else "false"})
    with con:
        insert("registered_models", rm)
        insert("registered_model_tags", rmt)
        insert("model_versions", mv)
        insert("model_version_tags", mvt)
    con.close()


def get(url: str, path: str, params: dict) -> dict:
    q = urllib.parse.urlencode(params, doseq=True)
    with urllib.request.urlopen(f"{url}/api/2.0/mlflow/{path}?{q}", timeout=300) as r:
        import json

        return json.loads(r.read())


QUERIES = [
    ("models: first page of 100, by name", "registered-models/search", {"max_results": 100}),
    ("models: name LIKE 'model-012%'", "registered-models/search", {"filter": "name LIKE 'model-012%'", "max_results": 100}),
    ("models: ILIKE + tag, newest first", "registered-models/search", {"filter": "name ILIKE '%7%' AND tags.team = 'risk'", "order_by": ["last_updated_timestamp DESC"], "max_results": 100}),
    ("versions: name = one model", "model-versions/search", {"filter": "name = 'model-04242'"}),
    ("versions: run_id = one run", "model-versions/search", {"filter": f"run_id = '{uuid.uuid5(uuid.NAMESPACE_OID, '777-3').hex}'"}),
    ("versions: tag filter, page of 100", "model-versions/search", {"filter": "name LIKE 'model-05%' AND tags.validated = 'true'", "max_results": 100}),
]


def measure(url: str, path: str, params: dict, repeat: int) -> tuple[float, float, int]:
    res = get(url, path, params)  # warm up, and check both answer the same
    n = len(res.get("registered_models", res.get("model_versions", [])))
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        get(url, path, params)
        times.append((time.perf_counter() - t0) * 1000)
    times.sort()
    return statistics.median(times), times[min(len(times) - 1, int(len(times) * 0.95))], n


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--models", type=int, default=10_000)
    ap.add_argument("--versions-per-model", type=int, default=10)
    ap.add_argument("--repeat", type=int, default=30)
    args = ap.parse_args()

    workdir = tempfile.mkdtemp(prefix="bench-registry-")
    servers = {}
    try:
        for label, start in [("mlflow", start_mlflow), ("mloop", start_mloop)]:
            proc, url, db = start(workdir)
            wait_healthy(url, proc)
            servers[label] = (proc, url, db)
        for label, (_, _, db) in servers.items():
            t0 = time.time()
            seed(db, args.models, args.versions_per_model)
            print(f"seeded {label}: {args.models} models, {args.models * args.versions_per_model} versions in {time.time() - t0:.1f}s", file=sys.stderr)

        print(f"registry search, {args.models} registered models, {args.models * args.versions_per_model} versions, {args.repeat} requests each (ms)")
        print(f"{'query':<42} {'results':>7} {'mlflow p50':>11} {'mloop p50':>10} {'mlflow p95':>11} {'mloop p95':>10} {'ratio':>7}")
        ratios = []
        for title, path, params in QUERIES:
            m50, m95, mn = measure(servers["mlflow"][1], path, params, args.repeat)
            l50, l95, ln = measure(servers["mloop"][1], path, params, args.repeat)
            if mn != ln:
                print(f"  warning: '{title}' returned {mn} results from mlflow, {ln} from mloop", file=sys.stderr)
            ratio = m50 / l50 if l50 > 0 else float("inf")
            ratios.append(ratio)
            print(f"{title:<42} {ln:>7} {m50:>11.1f} {l50:>10.1f} {m95:>11.1f} {l95:>10.1f} {ratio:>6.1f}x")
        print(f"geometric mean ratio (mlflow p50 / mloop p50): {statistics.geometric_mean(ratios):.1f}x")
    finally:
        for proc, _, _ in servers.values():
            proc.terminate()
            try:
                proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                proc.kill()


if __name__ == "__main__":
    main()
