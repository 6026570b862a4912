#!/usr/bin/env bash
# Checks the prerequisites make run and make test need before anything is
# downloaded, and names how to install each one that is missing.
set -uo pipefail

missing=0
need() { # need NAME OK HOW
  if [ "$2" = ok ]; then return; fi
  printf 'missing: %-14s %s\n' "$1" "$3" >&2
  missing=1
}
version_ge() { # version_ge HAVE WANT: true if HAVE >= WANT (dotted numbers)
  [ "$(printf '%s\n%s\n' "$2" "$1" | sort -V | head -1)" = "$2" ]
}

if command -v go >/dev/null; then
  v=$(go env GOVERSION | sed 's/^go//')
  version_ge "$v" 1.26 && ok=ok || ok=old
  need "Go 1.26+" "$ok" "found go $v; install Go 1.26 or later from the Go downloads page"
else
  need "Go 1.26+" no "install Go 1.26 or later from the Go downloads page"
fi
if command -v java >/dev/null; then
  v=$(java -version 2>&1 | sed -n 's/.*version "\([0-9][0-9]*\).*/\1/p' | head -1)
  version_ge "${v:-0}" 17 && ok=ok || ok=old
  need "Java 17+" "$ok" "found Java ${v:-?}; DynamoDB Local needs 17+ (apt-get install openjdk-17-jre-headless)"
else
  need "Java 17+" no "DynamoDB Local needs it (apt-get install openjdk-17-jre-headless)"
fi
command -v mvn >/dev/null && ok=ok || ok=no
need "Maven" "$ok" "fetches DynamoDB Local from Maven Central (apt-get install maven)"
py=${PYTHON:-python3}
if command -v "$py" >/dev/null; then
  v=$("$py" -c 'import sys; print("%d.%d" % sys.version_info[:2])')
  version_ge "$v" 3.11 && "$py" -m venv --help >/dev/null 2>&1 && ok=ok || ok=old
  need "Python 3.11+" "$ok" "found $py $v; the SAM tooling needs 3.11+ with venv (apt-get install python3 python3-venv)"
else
  need "Python 3.11+" no "the SAM tooling needs it (apt-get install python3 python3-venv)"
fi
command -v jq >/dev/null && ok=ok || ok=no
need "jq" "$ok" "the scripts and README recipes read JSON with it (apt-get install jq)"
command -v curl >/dev/null && ok=ok || ok=no
need "curl" "$ok" "the end-to-end checks call the local stack with it (apt-get install curl)"
if [ "${DOCTOR_TEST:-}" = 1 ]; then
  command -v npm >/dev/null && ok=ok || ok=no
  need "Node 18+ / npm" "$ok" "the console's accessibility checks install axe-core with it (apt-get install nodejs npm)"
fi

if [ "$missing" -ne 0 ]; then
  echo "doctor: install the missing prerequisites above, then run the command again" >&2
  exit 1
fi
echo "doctor: Go, Java, Maven, Python, jq and curl are ready"
