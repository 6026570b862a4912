#!/usr/bin/env bash
# step.sh LABEL COMMAND [ARG...]: one step of make deps. Says what it is
# fetching ("deps: LABEL…") before COMMAND starts, so a first run, minutes
# of downloads, is not silent; keeps COMMAND's own output back and shows
# it only if COMMAND fails, whose exit status it returns. make test's deps
# stage (infra/scripts/test.sh) copies the "deps: " lines to the console.
set -uo pipefail
[ $# -ge 2 ] || { echo "usage: step.sh LABEL COMMAND [ARG...]" >&2; exit 2; }
label=$1
shift
echo "deps: $label…"
out=$("$@" 2>&1)
status=$?
if [ "$status" -ne 0 ]; then
  printf '%s\n' "$out" >&2
  echo "deps: $label failed (exit status $status)" >&2
fi
exit "$status"
