#!/usr/bin/env bash
# Runs every shipped event in events/ through its function, as Lambda would
# (infra/cmd/invoke: AWS's Runtime Interface Emulator, no Docker), against the
# DynamoDB Local that `ddb run` started, and checks each answer:
#
#   TABLE_NAME=... TOKEN_PEPPER=... go run ./infra/cmd/ddb run -- infra/sam/check_events.sh
#
# The placeholders (REPLACE_WITH_KEY_ID, kg_live_REPLACE_WITH_A_REAL_TOKEN)
# are swapped for a key minted with events/create/direct.json; the events
# are also run as shipped, where only a refusal is correct. The lifecycle
# functions (stream, reminders, settings) publish to a moto_server
# EventBridge this script starts (infra/moto/setup.sh installs it once).
# The secret-scanning alert is signed with a key pair openssl makes here,
# listed in GitHub's format where SECRET_SCANNING_KEYS_URL points.
set -euo pipefail
cd "$(dirname "$0")/../.."
: "${DYNAMODB_ENDPOINT:?run under infra/cmd/ddb run}" "${TABLE_NAME:?}" "${TOKEN_PEPPER:?}"
PY=${PYTHON:-python3}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

go build -o "$work/invoke" ./infra/cmd/invoke
go run ./infra/cmd/ddb table >/dev/null

# moto_server as EventBridge for the lifecycle functions, on loopback only.
infra/moto/setup.sh
moto_port=$("$PY" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
.venv/moto/bin/moto_server -H 127.0.0.1 -p "$moto_port" >"$work/moto.log" 2>&1 &
moto_pid=$!
trap 'kill "$moto_pid" 2>/dev/null; rm -rf "$work"' EXIT
for _ in $(seq 100); do
  "$PY" -c 'import socket,sys; socket.create_connection(("127.0.0.1", int(sys.argv[1])), 0.2)' "$moto_port" 2>/dev/null && break
  sleep 0.2
done
# The lifecycle functions' environment: no e-mail sender, so no SES.
lifecycle() {
  EVENT_BUS_NAME=default AWS_ENDPOINT_URL_EVENTBRIDGE="http://127.0.0.1:$moto_port" "$work/invoke" -fn "$1" -event "$2" 2>"$work/log"
}

# GitHub's signing key, for this run only (make run does the same in Go):
# the key list names it by the hex SHA-256 of its DER public key.
openssl ecparam -name prime256v1 -genkey -noout -out "$work/scan.pem" 2>/dev/null
openssl ec -in "$work/scan.pem" -pubout -out "$work/scan.pub" 2>/dev/null
scan_id=$(openssl pkey -pubin -in "$work/scan.pub" -outform DER | sha256sum | cut -d' ' -f1)
"$PY" -c 'import json,sys; print(json.dumps({"public_keys":[{"key_identifier":sys.argv[1],"key":open(sys.argv[2]).read(),"is_current":True}]}))' \
  "$scan_id" "$work/scan.pub" >"$work/scan-keys.json"
export SECRET_SCANNING_KEYS_URL="file://$work/scan-keys.json"
# sign_alert FILE: signs the alert in event FILE (its exact body) and puts
# the identifier and signature in its headers.
sign_alert() {
  "$PY" -c 'import json,sys; sys.stdout.write(json.load(open(sys.argv[1]))["body"])' "$1" >"$work/alert-body"
  local sig; sig=$(openssl dgst -sha256 -sign "$work/scan.pem" "$work/alert-body" | base64 -w0)
  "$PY" -c 'import sys; p=sys.argv[1]; s=open(p).read().replace("REPLACE_WITH_KEY_IDENTIFIER", sys.argv[2]).replace("REPLACE_WITH_SIGNATURE", sys.argv[3]); open(p, "w").write(s)' \
    "$1" "$scan_id" "$sig"
}

fail=0
# invoke FN EVENT: the function's response on stdout; logs kept in $work/log.
invoke() { "$work/invoke" -fn "$1" -event "$2" 2>"$work/log"; }
# expect NAME PYTHON-EXPR: checks the JSON in $out with r bound to it.
expect() {
  if "$PY" -c 'import json,sys; r=json.loads(sys.argv[2]); sys.exit(0 if eval(sys.argv[1]) else 1)' "$2" "$out" 2>/dev/null; then
    echo "ok   $1"
  else
    echo "FAIL $1: expected $2, got: ${out:0:400}"; sed 's/^/     | /' "$work/log" | tail -5; fail=1
  fi
}
body='json.loads(r["body"])'

# Every event file must be covered below.
covered="create/direct create/rest create/rotate-direct list/direct list/get-direct list/rest list/get-rest list/whoami-rest
list/audit-direct revoke/direct revoke/rest revoke/update-direct authorizer/rest-token authorizer/rest-request authorizer/http-v2
authorizer/http-v1 stream/created reminders/scheduled settings/get-direct settings/update-direct secretscan/rest
verify/rest"
for f in $(cd events && find . -name '*.json' ! -name env.json | sed 's|^\./||; s|\.json$||' | sort); do
  grep -qw "$f" <<<"$covered" || { echo "FAIL events/$f.json is not checked by $0"; fail=1; }
done

# As shipped: placeholders are refused, never an allow.
out=$(invoke authorizer events/authorizer/rest-token.json || true)
grep -q '"Unauthorized"' "$work/log" && echo "ok   authorizer/rest-token (placeholder): Unauthorized" ||
  { echo "FAIL authorizer/rest-token with the placeholder token was not refused: $out"; fail=1; }
out=$(invoke authorizer events/authorizer/http-v2.json); expect "authorizer/http-v2 (placeholder)" 'r == {"isAuthorized": False}'
# A failed direct invocation is a function error (errorType the code), as
# the AWS console shows "Failed" and aws lambda invoke reports FunctionError.
if invoke revoke events/revoke/direct.json >/dev/null; then
  echo "FAIL revoke/direct with the placeholder id succeeded"; fail=1
elif grep -q '"errorType": "not_found"' "$work/log"; then
  echo "ok   revoke/direct (placeholder): function error not_found"
else
  echo "FAIL revoke/direct (placeholder): no not_found function error"; sed 's/^/     | /' "$work/log" | tail -5; fail=1
fi

# A stream record of a key that does not exist is still published (with
# no key metadata); the record that is not an audit insert is passed over.
out=$(lifecycle stream events/stream/created.json); expect "stream/created (placeholder)" 'r == {"batchItemFailures": []}'
# An alert signed by no key in the list is refused.
out=$(invoke secretscan events/secretscan/rest.json); expect "secretscan/rest (placeholder)" "r['statusCode'] == 401 and $body['error']['code'] == 'unauthorized'"
# A placeholder token is no key: exactly NOT_FOUND, still a 200.
out=$(invoke verify events/verify/rest.json); expect "verify/rest (placeholder)" "r['statusCode'] == 200 and $body == {'valid': False, 'code': 'NOT_FOUND'}"
# A tenant with no settings reads as empty ones.
out=$(lifecycle settings events/settings/get-direct.json); expect "settings/get-direct (no settings yet)" 'r["owner_email"] == "" and not r["reminder_days"] and r["leak_action"] == "revoke" and r["leak_cascade"] is False'

# Mint a key, then run every event with it.
out=$(invoke create events/create/direct.json); expect create/direct 'r["role"] == "admin" and r["token"].startswith("kg_live_")'
id=$("$PY" -c 'import json,sys; print(json.loads(sys.argv[1])["id"])' "$out")
token=$("$PY" -c 'import json,sys; print(json.loads(sys.argv[1])["token"])' "$out")
mkdir -p "$work/events"
for f in $covered; do
  mkdir -p "$work/events/$(dirname "$f")"
  sed -e "s/REPLACE_WITH_CALLER_KEY_ID/$id/g; s/REPLACE_WITH_KEY_ID/$id/g; s/kg_live_REPLACE_WITH_A_REAL_TOKEN/$token/g" \
    "events/$f.json" >"$work/events/$f.json"
done
ev() { echo "$work/events/$1.json"; }

out=$(invoke create "$(ev create/rest)");     expect create/rest "r['statusCode'] == 201 and $body['role'] == 'viewer'"
out=$(invoke list "$(ev list/direct)");       expect list/direct 'len(r["keys"]) == 2'
out=$(invoke list "$(ev list/get-direct)");   expect list/get-direct "r['id'] == '$id'"
out=$(invoke list "$(ev list/rest)");         expect list/rest "r['statusCode'] == 200 and len($body['keys']) == 2"
out=$(invoke list "$(ev list/get-rest)");     expect list/get-rest "r['statusCode'] == 200 and $body['id'] == '$id'"
out=$(invoke list "$(ev list/whoami-rest)");  expect list/whoami-rest "r['statusCode'] == 200 and $body['id'] == '$id'"
out=$(invoke verify "$(ev verify/rest)");     expect verify/rest "r['statusCode'] == 200 and $body['code'] == 'VALID' and $body['key_id'] == '$id'"
allow='r["principalId"] == "'$id'" and r["policyDocument"]["Statement"][0]["Effect"] == "Allow" and r["context"]["tenant"] == "acme"'
out=$(invoke authorizer "$(ev authorizer/rest-token)");   expect authorizer/rest-token "$allow"
out=$(invoke authorizer "$(ev authorizer/rest-request)"); expect authorizer/rest-request "$allow"
out=$(invoke authorizer "$(ev authorizer/http-v1)");      expect authorizer/http-v1 "$allow"
out=$(invoke authorizer "$(ev authorizer/http-v2)");      expect authorizer/http-v2 "r['isAuthorized'] is True and r['context']['key_id'] == '$id'"
out=$(invoke create "$(ev create/rotate-direct)"); expect create/rotate-direct "r['rotated_from'] == '$id' and r['token'].startswith('kg_live_')"
succ=$("$PY" -c 'import json,sys; print(json.loads(sys.argv[1])["id"])' "$out")
succ_token=$("$PY" -c 'import json,sys; print(json.loads(sys.argv[1])["token"])' "$out")
out=$(invoke list "$(ev list/audit-direct)"); expect list/audit-direct "r['events'][0]['action'] in ('rotated', 'created')"
# The minted key was rotated: in its grace period it manages nothing (its
# item is read now, whatever its context says), so its successor revokes
# it, before the successor is disabled below.
sed -e "s/REPLACE_WITH_CALLER_KEY_ID/$succ/g; s/REPLACE_WITH_KEY_ID/$id/g" events/revoke/rest.json >"$work/events/revoke/rest.json"
out=$(invoke revoke "$(ev revoke/rest)");     expect revoke/rest "r['statusCode'] == 200 and $body['status'] == 'revoked' and $body['id'] == '$id'"
sed -e "s/REPLACE_WITH_KEY_ID/$succ/g" events/revoke/update-direct.json >"$work/events/revoke/update-direct.json"
out=$(invoke revoke "$(ev revoke/update-direct)"); expect revoke/update-direct "r['status'] == 'disabled' and r['id'] == '$succ'"
out=$(invoke revoke "$(ev revoke/direct)");   expect "revoke/direct (again: a no-op)" 'r["status"] == "revoked"'
out=$(invoke authorizer "$(ev authorizer/http-v2)");      expect "authorizer/http-v2 (revoked)" 'r == {"isAuthorized": False}'

# The lifecycle functions, with the key minted above.
out=$(lifecycle stream "$(ev stream/created)");             expect stream/created 'r == {"batchItemFailures": []}'
out=$(lifecycle settings "$(ev settings/update-direct)");   expect settings/update-direct 'r == {"owner_email": "ops@acme.example", "reminder_days": [14, 3], "leak_action": "revoke", "leak_cascade": False}'
out=$(lifecycle settings "$(ev settings/get-direct)");      expect settings/get-direct 'r["owner_email"] == "ops@acme.example"'
out=$(lifecycle reminders "$(ev reminders/scheduled)");     expect reminders/scheduled 'set(r) == {"expired", "expiring", "mails", "failed"} and r["failed"] == 0'

# GitHub reports the successor's token, signed: a true positive, recorded
# (and, by the tenant's default leak action, revoked).
sed -e "s/kg_live_REPLACE_WITH_A_REAL_TOKEN/$succ_token/g" events/secretscan/rest.json >"$work/events/secretscan/rest.json"
sign_alert "$work/events/secretscan/rest.json"
out=$(invoke secretscan "$(ev secretscan/rest)"); expect secretscan/rest "r['statusCode'] == 200 and $body[0]['label'] == 'true_positive'"

exit $fail
