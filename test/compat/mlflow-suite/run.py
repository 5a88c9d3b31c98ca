"""Runs MLflow's own REST-server tests against mloop (or MLflow) and prints the parity table.

    .venv/bin/python test/compat/mlflow-suite/run.py                   # mloop side, compared with expected.json
    .venv/bin/python test/compat/mlflow-suite/run.py --update-expected # MLflow's side, rewrites expected.json
    .venv/bin/python test/compat/mlflow-suite/run.py --backend-store-uri postgresql://…  # mloop on PostgreSQL

MLflow's test files are read from $MLOOP_MLFLOW_TESTS (default: ../shared/mlflow-tests beside the
repository), unchanged; mloop_parity_plugin.py (this folder) swaps their in-process server for the
built `mloop server`. Exit status 1 when a test that passes on MLflow fails on mloop and is not in
exclusions.json; 2 when the harness itself cannot run.
"""

from __future__ import annotations

import argparse
import fnmatch
import hashlib
import json
import os
import subprocess
import sys
import tempfile
from collections import defaultdict
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[2]
TEST_FILES = ["tests/tracking/test_rest_tracking.py", "tests/tracking/test_model_registry.py"]
EXPECTED = HERE / "expected.json"
EXCLUSIONS = HERE / "exclusions.json"


def tests_dir() -> Path:
    return Path(os.environ.get("MLOOP_MLFLOW_TESTS") or ROOT.parent / "shared" / "mlflow-tests").resolve()


def files_digest(folder: Path) -> str:
    h = hashlib.sha256()
    for name in TEST_FILES:
        h.update(name.encode())
        h.update((folder / name).read_bytes())
    return h.hexdigest()


def test_name(nodeid: str) -> str:
    return nodeid.split("::", 1)[-1].split("[", 1)[0]


def run_pytest(folder: Path, target: str, backend: str | None, timeout: int, select: list[str]) -> dict:
    env = {k: v for k, v in os.environ.items() if k not in ("CI", "GITHUB_ACTIONS")}
    env["PYTHONPATH"] = os.pathsep.join([str(HERE), *filter(None, [env.get("PYTHONPATH")])])
    # The test files live in a read-only folder: no bytecode or cache files next to them.
    env["PYTHONDONTWRITEBYTECODE"] = "1"
    if target == "mloop":
        # A failure shows at once instead of after the client's minutes of retries and backoff.
        env.setdefault("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "0")
        env.setdefault("MLFLOW_HTTP_REQUEST_TIMEOUT", "30")
    with tempfile.TemporaryDirectory(prefix="mloop-parity-report-") as tmp:
        report = Path(tmp) / "report.json"
        cmd = [
            sys.executable, "-m", "pytest",
            "-o", "addopts=",
            "-p", "no:cacheprovider",
            "-p", "mloop_parity_plugin",
            "--parity-target", target,
            "--parity-report", str(report),
            f"--timeout={timeout}",
            "-q", "--no-header", "-rN", "--tb=line",
            *select,
            *TEST_FILES,
        ]
        if backend:
            cmd[cmd.index("--parity-report"):cmd.index("--parity-report")] = ["--parity-backend", backend]
        print(f"mlflow-suite: running MLflow's tests from {folder} against {target}", flush=True)
        proc = subprocess.run(cmd, cwd=folder, env=env)
        if not report.exists():
            sys.exit(f"mlflow-suite: pytest exited with {proc.returncode} before writing its report")
        return json.loads(report.read_text())


def load_exclusions() -> list[dict]:
    return json.loads(EXCLUSIONS.read_text())["exclusions"]


def exclusion_for(nodeid: str, exclusions: list[dict]) -> dict | None:
    name = test_name(nodeid)
    for group in exclusions:
        if any(fnmatch.fnmatchcase(name, pattern) for pattern in group["tests"]):
            return group
    return None


def client_version() -> str:
    import importlib.metadata

    return importlib.metadata.version("mlflow")


def update_expected(folder: Path, timeout: int) -> int:
    result = run_pytest(folder, "mlflow", None, timeout, [])
    outcomes = result["outcomes"]
    EXPECTED.write_text(json.dumps({
        "about": "Outcomes of MLflow's own tests against MLflow's own server (in-process, as upstream "
                 "runs them). Regenerate with: .venv/bin/python test/compat/mlflow-suite/run.py --update-expected",
        "mlflow": client_version(),
        "test_files_sha256": files_digest(folder),
        "outcomes": outcomes,
    }, indent=1) + "\n")
    counts = defaultdict(int)
    for outcome in outcomes.values():
        counts[outcome] += 1
    print(f"mlflow-suite: wrote {EXPECTED.relative_to(ROOT)}: " + ", ".join(f"{v} {k}" for k, v in sorted(counts.items())))
    return 0


def compare(folder: Path, backend: str | None, timeout: int, select: list[str], json_out: str | None) -> int:
    expected = json.loads(EXPECTED.read_text())
    if expected["test_files_sha256"] != files_digest(folder):
        print("mlflow-suite: MLflow's test files differ from those expected.json was made from; "
              "rerun with --update-expected", file=sys.stderr)
        return 2
    exclusions = load_exclusions()
    result = run_pytest(folder, "mloop", backend, timeout, select)
    got, messages = result["outcomes"], result["messages"]
    ran_all = not select

    both, only_mlflow, not_applicable = [], [], defaultdict(list)
    for nodeid, outcome in sorted(expected["outcomes"].items()):
        if outcome != "passed" or (not ran_all and nodeid not in got):
            continue
        group = exclusion_for(nodeid, exclusions)
        if group is not None:
            not_applicable[group["reason"]].append((nodeid, got.get(nodeid, "not run")))
        elif got.get(nodeid) == "passed":
            both.append(nodeid)
        else:
            only_mlflow.append((nodeid, got.get(nodeid, "not run"), messages.get(nodeid, "")))
    extra = sorted(n for n, o in got.items() if o == "passed" and expected["outcomes"].get(n) != "passed")

    passed_mlflow = len(both) + len(only_mlflow) + sum(len(v) for v in not_applicable.values())
    na = sum(len(v) for v in not_applicable.values())
    where = "PostgreSQL" if backend else "SQLite"
    print()
    print(f"MLflow's REST-server tests ({', '.join(Path(f).name for f in TEST_FILES)}), "
          f"mlflow {expected['mlflow']} client, mloop on {where}")
    print(f"  passed on MLflow {expected['mlflow']}   {passed_mlflow:4d}")
    print(f"  passed on both          {len(both):4d}")
    print(f"  only on MLflow          {len(only_mlflow):4d}")
    print(f"  not applicable          {na:4d}")
    if only_mlflow:
        print("\nonly on MLflow (pass on MLflow, not on mloop):")
        for nodeid, outcome, message in only_mlflow:
            print(f"  {outcome:7s} {nodeid}" + (f"\n          {message}" if message else ""))
    if not_applicable:
        print("\nnot applicable (exclusions.json):")
        for reason, tests in not_applicable.items():
            passing = sum(1 for _, o in tests if o == "passed")
            print(f"  {len(tests):3d}  {reason}" + (f" ({passing} of them pass on mloop anyway)" if passing else ""))
    if extra:
        print(f"\npass on mloop but not on MLflow: {len(extra)}")
    if json_out:
        Path(json_out).write_text(json.dumps({
            "passed_on_mlflow": passed_mlflow, "passed_on_both": len(both),
            "only_on_mlflow": [n for n, _, _ in only_mlflow],
            "not_applicable": {r: [n for n, _ in t] for r, t in not_applicable.items()},
        }, indent=1) + "\n")
    return 1 if only_mlflow else 0


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--update-expected", action="store_true",
                    help="run MLflow's side (MLflow's own in-process server) and rewrite expected.json")
    ap.add_argument("--backend-store-uri", default=None,
                    help="postgresql:// URI of a server: each mloop server gets a fresh database on it")
    ap.add_argument("--timeout", type=int, default=60, help="seconds per test (pytest-timeout)")
    ap.add_argument("-k", dest="keyword", default=None, help="only tests matching this pytest -k expression")
    ap.add_argument("--json", dest="json_out", default=None, help="also write the table as JSON here")
    args = ap.parse_args()

    folder = tests_dir()
    if not all((folder / f).is_file() for f in TEST_FILES):
        print(f"mlflow-suite: MLflow's test files are not in {folder} (set MLOOP_MLFLOW_TESTS)", file=sys.stderr)
        return 2
    if args.update_expected:
        return update_expected(folder, args.timeout)
    select = ["-k", args.keyword] if args.keyword else []
    return compare(folder, args.backend_store_uri, args.timeout, select, args.json_out)


if __name__ == "__main__":
    sys.exit(main())
