#!/usr/bin/env bash
# Installs what the console's browser tests need, once: Debian's chromium
# (apt-get, when `chromium` is not on PATH) and axe-core (npm ci from
# package-lock.json, when node_modules is missing). Idempotent, and quiet
# unless something fails, but for one "deps: ..." line before each install.
set -euo pipefail
cd "$(dirname "$0")"

if ! command -v chromium >/dev/null 2>&1; then
  command -v apt-get >/dev/null 2>&1 || { echo "setup.sh: chromium is missing and apt-get is unavailable: install Chromium (binary \`chromium\`) by hand" >&2; exit 1; }
  sudo=""
  [ "$(id -u)" -eq 0 ] || sudo="sudo"
  echo "deps: Chromium for the console's browser tests (apt-get)…"
  log=$(mktemp)
  trap 'rm -f "$log"' EXIT
  if ! { $sudo apt-get update -qq && DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends chromium; } >"$log" 2>&1; then
    cat "$log" >&2
    echo "setup.sh: installing chromium with apt-get failed" >&2
    exit 1
  fi
  command -v chromium >/dev/null 2>&1 || { echo "setup.sh: apt-get installed chromium but it is not on PATH" >&2; exit 1; }
fi

if [ ! -f node_modules/axe-core/axe.min.js ]; then
  command -v npm >/dev/null 2>&1 || { echo "setup.sh: npm is required (Node 18+) to install axe-core" >&2; exit 1; }
  echo "deps: axe-core for the console's browser tests (npm ci)…"
  if ! out=$(npm ci --no-audit --no-fund --loglevel=error 2>&1); then
    echo "$out" >&2
    echo "setup.sh: npm ci failed in infra/console" >&2
    exit 1
  fi
fi
