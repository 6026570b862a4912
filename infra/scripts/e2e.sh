#!/usr/bin/env bash
# End-to-end checks over real HTTP against the stack `make run` serves:
# create -> use -> list -> revoke -> 401 and usage limits on the metered
# sample API with curl, then schemathesis against
# openapi.yaml with the minted admin key. Usage: infra/scripts/e2e.sh <venv>
set -euo pipefail
cd "$(dirname "$0")/../.."
venv=${1:-.venv}
examples=${SCHEMATHESIS_MAX_EXAMPLES:-30}

mkdir -p .build/e2e
go build -o .build/e2e/run ./infra/cmd/run
port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
keyfile=$(mktemp) log=$(mktemp)
# The server must not outlive this script, however it ends.
.build/e2e/run -port "$port" -key-file "$keyfile" -quiet >"$log" 2>&1 &
pid=$!
trap 'kill "$pid" 2>/dev/null || true; wait "$pid" 2>/dev/null || true; rm -f "$keyfile" "$log"' EXIT

for _ in $(seq 1 120); do
  [ -s "$keyfile" ] && break
  kill -0 "$pid" 2>/dev/null || { echo "e2e: the local stack exited:"; cat "$log"; exit 1; }
  sleep 0.5
done
[ -s "$keyfile" ] || { echo "e2e: the local stack did not start in 60s:"; cat "$log"; exit 1; }
admin=$(tr -d '\n' <"$keyfile")
base="http://127.0.0.1:$port"

# call METHOD PATH TOKEN [BODY] -> prints "<status> <body>"
call() {
  local args=(-s -o /dev/stdout -w ' %{http_code}' -X "$1" "$base$2")
  [ -n "$3" ] && args+=(-H "Authorization: Bearer $3")
  [ $# -ge 4 ] && args+=(-H 'Content-Type: application/json' -d "$4")
  curl "${args[@]}"
}
# expect STATUS JSON-PATH-CHECK (python expression over `b`) -- reads "<body> <status>"
expect() {
  python3 - "$1" "$2" "$3" <<'PY'
import json, sys
want, check, out = sys.argv[1], sys.argv[2], sys.argv[3]
body, _, status = out.rpartition(" ")
b = json.loads(body)
if status != want or not eval(check, {"b": b}):
    sys.exit(f"e2e: want {want} and {check}, got {status} {body}")
PY
}
field() { python3 -c 'import json,sys; print(json.loads(sys.argv[1].rpartition(" ")[0])[sys.argv[2]])' "$1" "$2"; }

out=$(call GET /v1/whoami "$admin");                 expect 200 'b["role"] == "admin" and b["tenant"] == "demo"' "$out"
out=$(call POST /v1/keys "$admin" '{"owner":"e2e","apis":["kglocal001"],"scopes":["GET /v1/whoami","GET /v1/keys"]}')
expect 201 'b["token"].startswith("kg_live_") and b["owner"] == "e2e"' "$out"
token=$(field "$out" token) id=$(field "$out" id)
out=$(call GET /v1/whoami "$token");                 expect 200 "b['id'] == '$id'" "$out"
out=$(call GET /v1/keys "$token");                   expect 200 "[k['id'] for k in b['keys']] == ['$id'] and 'token' not in b['keys'][0]" "$out"
out=$(call POST /v1/keys "$token" '{}');             expect 403 'b["error"]["code"] == "forbidden"' "$out"
out=$(call DELETE "/v1/keys/$id" "$admin");          expect 200 'b["status"] == "revoked"' "$out"
# Poll until the revoked key is refused, and check that happens within the
# documented bound (gateway result TTL + authorizer cache TTL = 10 s).
revoked_at=$SECONDS
until out=$(call GET /v1/whoami "$token"); [ "${out##* }" = 401 ]; do
  [ $((SECONDS - revoked_at)) -le 11 ] || { echo "e2e: the revoked key still works after $((SECONDS - revoked_at)) s: $out"; exit 1; }
  sleep 0.25
done
echo "e2e: the revoked key was refused after $((SECONDS - revoked_at)) s (bound 10 s)"
expect 401 'b["error"]["code"] == "unauthorized" and b["error"]["request_id"]' "$out"
out=$(call GET /v1/whoami "");                       expect 401 'b["error"]["code"] == "unauthorized"' "$out"
echo "e2e: create -> use -> list -> revoke -> 401 passed"

# Usage limits on make run's metered sample API (kglocal002, gateway result
# cache off, so the authorizer counts every call). Rate windows are aligned
# to the minute: start the rate limit's calls away from a minute's end so
# they all fall in one window.
while [ $(( $(date +%s) % 60 )) -ge 50 ]; do sleep 1; done
out=$(call POST /v1/keys "$admin" '{"owner":"e2e-metered","apis":["kglocal002"],"scopes":["GET /demo/*"],"rate_limit":{"limit":5,"window":"1m"}}')
expect 201 'b["rate_limit"] == {"limit": 5, "window": "1m"}' "$out"
limited=$(field "$out" token) limited_id=$(field "$out" id)
for _ in 1 2 3 4 5; do
  out=$(call GET /demo/hello "$limited");            expect 200 "b['key_id'] == '$limited_id'" "$out"
done
for _ in 1 2; do
  out=$(call GET /demo/hello "$limited")
  expect 403 'b["error"]["code"] == "rate_limited" and 0 < b["error"]["retry_after"] <= 60 and b["error"]["request_id"]' "$out"
done
out=$(call POST /v1/keys "$admin" '{"owner":"e2e-metered","apis":["kglocal002"],"scopes":["GET /demo/*"],"credits":{"remaining":3}}')
expect 201 'b["credits"]["remaining"] == 3' "$out"
prepaid=$(field "$out" token) prepaid_id=$(field "$out" id)
for _ in 1 2 3; do
  out=$(call GET /demo/hello "$prepaid");            expect 200 "b['key_id'] == '$prepaid_id'" "$out"
done
out=$(call GET /demo/hello "$prepaid")
expect 403 'b["error"]["code"] == "credits_exhausted" and b["error"]["retry_after"] == 0 and b["error"]["request_id"]' "$out"
echo "e2e: usage limits: 5 calls a minute -> 5 x 200 then 403 rate_limited; 3 credits -> 3 x 200 then 403 credits_exhausted"

"$venv/bin/schemathesis" run openapi.yaml --url "$base" -H "Authorization: Bearer $admin" \
  --checks not_a_server_error,status_code_conformance,content_type_conformance,response_schema_conformance,response_headers_conformance \
  --max-examples "$examples" --seed 20261123 --no-color
