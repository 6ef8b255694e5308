#!/usr/bin/env bash
# Creates, or reuses when it is up to date, the Python virtual environment in which the interop
# tests run grpcio: `tests/interop/setup-venv.sh VENV_DIR`. The tests call it themselves (with a
# directory under cargo's target dir); `.ci/run` may call it ahead to install grpcio once.
#
# The environment is rebuilt whenever requirements.txt or the Python interpreter changes.
# Concurrent callers (several test runs on one target dir) wait for each other.
set -euo pipefail

venv=${1:?usage: setup-venv.sh VENV_DIR}
python=${PYTHON:-python3}
requirements="$(cd "$(dirname "$0")" && pwd)/requirements.txt"

command -v "$python" >/dev/null || { echo "setup-venv.sh: $python not found (set PYTHON)" >&2; exit 1; }
mkdir -p "$(dirname "$venv")"
exec 9>"$venv.lock"
flock 9

# What the environment was built from: the pinned requirements and the interpreter.
wanted=$(cat "$requirements"; "$python" --version 2>&1)
stamp="$venv/.built-from"
if [ -x "$venv/bin/python" ] && [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$wanted" ]; then
  exit 0
fi

rm -rf "$venv"
"$python" -m venv "$venv"
"$venv/bin/python" -m pip install --quiet --disable-pip-version-check --no-input -r "$requirements"
"$venv/bin/python" -c 'import grpc, grpc_tools.protoc, kubernetes_validate' # fail here, not in a test, if broken
printf '%s' "$wanted" >"$stamp"
