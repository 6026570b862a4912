package gateway_test

import (
	"encoding/json"
	"testing"

	"github.com/keygate/keygate/shared/keygate"
	"github.com/keygate/keygate/shared/verify"
)

// TestVerifyRoute: the local gateway serves POST /v1/verify through the
// authorizer to the verify function's handler: a key whose scopes cover
// the route verifies its tenant's keys; one whose scopes do not is denied
// by the authorizer; no key is a 401 before the function runs.
func TestVerifyRoute(t *testing.T) {
	s := newStack(t, 0, map[string]string{"AUTH_CACHE_TTL": "0"})
	status, checker := s.do(t, "POST", "/v1/keys", s.admin, `{"type":"service","name":"checker","apis":["*"],"scopes":["POST /v1/verify"]}`)
	if status != 201 {
		t.Fatalf("create checker = %d %v", status, checker)
	}
	status, reader := s.do(t, "POST", "/v1/keys", s.admin, `{"owner":"bob","apis":["*"],"scopes":["GET /x/*"]}`)
	if status != 201 {
		t.Fatalf("create reader = %d %v", status, reader)
	}
	token := checker["token"].(string)
	body := func(v any) string { b, _ := json.Marshal(v); return string(b) }

	status, got := s.do(t, "POST", verify.Path, token, body(map[string]string{"key": reader["token"].(string), "method": "GET", "path": "/x/1"}))
	if status != 200 || got["valid"] != true || got["code"] != verify.Valid || got["key_id"] != reader["id"] || got["owner"] != "bob" {
		t.Fatalf("verify = %d %v", status, got)
	}
	status, got = s.do(t, "POST", verify.Path, token, body(map[string]string{"key": reader["token"].(string), "method": "DELETE", "path": "/x/1"}))
	if status != 200 || got["code"] != verify.Forbidden {
		t.Fatalf("verify a route outside the scopes = %d %v", status, got)
	}
	status, got = s.do(t, "POST", verify.Path, token, body(map[string]string{"key": "kg_live_nope"}))
	if status != 200 || len(got) != 2 || got["code"] != verify.NotFound || got["valid"] != false {
		t.Fatalf("verify a malformed key = %d %v", status, got)
	}
	status, got = s.do(t, "POST", verify.Path, token, `{"key":1}`)
	wantEnvelope(t, status, got, 400, keygate.Invalid)

	// The reader's scopes do not cover the route: the authorizer denies.
	status, got = s.do(t, "POST", verify.Path, reader["token"].(string), body(map[string]string{"key": token}))
	wantEnvelope(t, status, got, 403, keygate.Forbidden)
	status, got = s.do(t, "POST", verify.Path, "", body(map[string]string{"key": token}))
	wantEnvelope(t, status, got, 401, keygate.Unauthorized)
}
