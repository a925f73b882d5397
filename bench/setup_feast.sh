#!/usr/bin/env bash
# Create bench/.venv-feast with Feast 0.67.0 (+ DuckDB offline store via ibis, + Redis online store).
# Idempotent: if the venv already has the pinned Feast and its extras importable, it does nothing.
# Usage: bash bench/setup_feast.sh    (env PYTHON=python3.11 to pick an interpreter)
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
VENV="$HERE/.venv-feast"
PY="${PYTHON:-python3}"
FEAST_VERSION="0.67.0"

check() {
  "$VENV/bin/python" - "$FEAST_VERSION" <<'EOF' >/dev/null 2>&1
import sys, importlib.metadata as md
assert md.version("feast") == sys.argv[1]
import feast, duckdb, ibis, redis, pyarrow, psutil, pandas  # noqa: F401
assert int(pandas.__version__.split(".")[0]) < 3
assert int(redis.__version__.split(".")[0]) < 8
EOF
}

if [ -x "$VENV/bin/python" ] && check; then
  echo "setup_feast: $VENV already has feast==$FEAST_VERSION; nothing to do"
  exit 0
fi

if [ ! -x "$VENV/bin/python" ]; then
  "$PY" -m venv "$VENV"
fi
"$VENV/bin/python" -m pip install -q --upgrade pip
# feast[duckdb] -> ibis-framework[duckdb] (used by offline_store: type: duckdb)
# feast[redis]  -> redis<8 + hiredis (used by online_store: type: redis)
"$VENV/bin/python" -m pip install -q \
  "feast[duckdb,redis]==$FEAST_VERSION" \
  "pandas<3" "redis<8" pyarrow psutil numpy

check || { echo "setup_feast: install finished but import check failed" >&2; exit 1; }
echo "setup_feast: ok ($("$VENV/bin/python" -c 'import feast; print("feast", feast.__version__)'))"
