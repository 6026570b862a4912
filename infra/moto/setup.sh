#!/usr/bin/env bash
# Installs moto_server (pinned in infra/moto/requirements.txt) into
# .venv/moto, once: idempotent, quiet but for a "deps: ..." line when it
# installs (its output only on failure), safe to run from parallel test
# processes (flock). infra/motolocal runs it when moto_server is missing;
# `make moto-deps` runs it ahead of time.
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
venv="$root/.venv/moto"
req="$root/infra/moto/requirements.txt"
stamp="$venv/.installed"
python=${PYTHON:-python3}
mkdir -p "$root/.venv"
exec 9>"$root/.venv/moto.lock"
flock 9
if [ -f "$stamp" ] && cmp -s "$req" "$stamp"; then
  exit 0
fi
command -v "$python" >/dev/null || { echo "moto: Python 3.11+ is required ($python not found)" >&2; exit 1; }
echo "deps: moto_server into .venv/moto (PyPI)…"
[ -x "$venv/bin/python" ] || "$python" -m venv "$venv"
if ! out=$("$venv/bin/python" -m pip install -q --disable-pip-version-check -r "$req" 2>&1); then
  printf '%s\n' "$out" >&2
  echo "moto: pip install -r infra/moto/requirements.txt failed" >&2
  exit 1
fi
cp "$req" "$stamp"
