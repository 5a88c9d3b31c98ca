#!/usr/bin/env bash
# Creates .venv-evidently (scripts/setup-python.sh makes it too, for CI): the real Evidently from PyPI,
# which needs pandas < 3, in a venv of its own so the compat venv keeps its pandas.
set -euo pipefail
cd "$(dirname "$0")/../.."
VENV=.venv-evidently
if [ ! -x "$VENV/bin/python" ]; then
  python3 -m venv "$VENV"
fi
"$VENV/bin/pip" install --quiet --upgrade pip
"$VENV/bin/pip" install --quiet -r bench/monitoring/requirements-evidently.txt
"$VENV/bin/python" -c "import evidently, pandas, scipy; print('evidently', evidently.__version__, 'pandas', pandas.__version__, 'scipy', scipy.__version__)"
