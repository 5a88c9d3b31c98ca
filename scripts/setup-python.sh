#!/usr/bin/env bash
# Creates the Python virtual environments the compatibility tests and benchmarks use:
#   .venv   newest mlflow 3.x (+ scikit-learn, skl2onnx, onnx, dvc, moto)
#   .venv2  last mlflow 2.x
#   .venv-dvcs3  dvc's S3 plugin layered on .venv (a .pth file reaches .venv's packages), for test/dvc
#   .venv-evidently  the real Evidently 0.7.23 (needs pandas < 3), for src/monitoring/evidently.test.ts
#                    and bench/monitoring
# Each venv is rebuilt only when its requirements file changed.
set -euo pipefail
cd "$(dirname "$0")/.."
make_venv() {
  local dir=$1 req=$2
  local stamp="$dir/.requirements.sha256"
  local want
  want=$(sha256sum "$req" | cut -d' ' -f1)
  if [[ -f "$stamp" && "$(cat "$stamp")" == "$want" ]]; then return 0; fi
  rm -rf "$dir"
  python3 -m venv "$dir"
  "$dir/bin/pip" install --quiet --disable-pip-version-check --upgrade pip
  "$dir/bin/pip" install --quiet --disable-pip-version-check -r "$req"
  echo "$want" > "$stamp"
}
make_venv .venv test/compat/requirements-mlflow3.txt &
p1=$!
make_venv .venv2 test/compat/requirements-mlflow2.txt &
p2=$!
make_venv .venv-evidently bench/monitoring/requirements-evidently.txt &
p3=$!
wait $p1
wait $p2
wait $p3
# mlflow's basic-auth app client (`mlflow.server.get_app_client("basic-auth", …)`) imports the
# server's auth package, which needs Flask-WTF (and, for mlflow 2.x, an SQLAlchemy before 2.1):
# installed beside each venv (test/compat/test_auth.py puts it on sys.path) so the venvs
# themselves are not rebuilt for it.
extras() {
  local venv=$1 dir=$2 req=$3
  local want
  want=$(sha256sum "$req" | cut -d' ' -f1)
  if [[ -f "$dir/.requirements.sha256" && "$(cat "$dir/.requirements.sha256")" == "$want" ]]; then return 0; fi
  rm -rf "$dir"
  "$venv/bin/pip" install --quiet --disable-pip-version-check --no-deps --target "$dir" -r "$req"
  echo "$want" > "$dir/.requirements.sha256"
}
extras .venv .venv-auth-client test/compat/requirements-auth-client.txt
extras .venv2 .venv2-auth-client test/compat/requirements-auth-client-mlflow2.txt

# dvc-s3 pins an older botocore than moto (in .venv) needs, so it gets a venv of its own that
# sees .venv's packages behind its own; rebuilt when either requirements file changes.
make_layered_venv() {
  local dir=$1 base=$2 req=$3
  local stamp="$dir/.requirements.sha256"
  local want
  want=$(cat "$req" "$base/.requirements.sha256" 2>/dev/null | sha256sum | cut -d' ' -f1)
  if [[ -f "$stamp" && "$(cat "$stamp")" == "$want" ]]; then return 0; fi
  rm -rf "$dir"
  "$(readlink -f "$base/bin/python")" -m venv "$dir"
  local site
  site=$("$dir/bin/python" -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')
  "$base/bin/python" -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])' > "$site/zz-base-venv.pth"
  "$dir/bin/pip" install --quiet --disable-pip-version-check -r "$req"
  echo "$want" > "$stamp"
}
make_layered_venv .venv-dvcs3 .venv test/dvc/requirements-dvc-s3.txt
