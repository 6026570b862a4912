package httpapi_test

import (
	"encoding/base64"
	"strings"
	"testing"

	"github.com/keygate/keygate/shared/httpapi"
	"github.com/keygate/keygate/shared/keygate"
)

// TestMetaOverHTTP: meta and external_id set on create, shown by get,
// whoami and list (filtered by ?external_id=), changed and removed (null)
// by PATCH, over HTTP and direct invocation alike.
func TestMetaOverHTTP(t *testing.T) {
	e := newEnv(t)
	admin := callerOf(t, e.direct(t, httpapi.Create, `{"tenant":"acme","owner":"alice","role":"admin","meta":{"team":"ops"},"external_id":"c_admin"}`))
	status, created := e.proxy(t, httpapi.Create, admin, request{method: "POST", path: "/v1/keys",
		body: `{"owner":"bob","apis":["*"],"scopes":["GET /x"],"meta": {"plan": "pro", "n": [1, 2.5]},"external_id":"c_123"}`})
	if status != 201 || created["external_id"] != "c_123" || created["meta"].(map[string]any)["plan"] != "pro" {
		t.Fatalf("create = %d %v", status, created)
	}
	id := created["id"].(string)
	if status, got := e.proxy(t, httpapi.List, admin, request{method: "GET", path: "/v1/keys/" + id}); status != 200 || got["external_id"] != "c_123" || got["meta"].(map[string]any)["plan"] != "pro" {
		t.Fatalf("get = %d %v", status, got)
	}
	if status, who := e.proxy(t, httpapi.List, admin, request{method: "GET", path: "/v1/whoami"}); status != 200 || who["external_id"] != "c_admin" || who["meta"].(map[string]any)["team"] != "ops" {
		t.Fatalf("whoami = %d %v", status, who)
	}
	status, list := e.proxy(t, httpapi.List, admin, request{method: "GET", path: "/v1/keys", query: map[string][]string{"external_id": {"c_123"}}})
	if keys, _ := list["keys"].([]any); status != 200 || len(keys) != 1 || keys[0].(map[string]any)["id"] != id || keys[0].(map[string]any)["meta"] == nil {
		t.Fatalf("list ?external_id = %d %v", status, list)
	}
	status, all := e.proxy(t, httpapi.List, admin, request{method: "GET", path: "/v1/keys"})
	if keys, _ := all["keys"].([]any); status != 200 || len(keys) != 2 || keys[0].(map[string]any)["external_id"] == nil || keys[1].(map[string]any)["external_id"] == nil {
		t.Fatalf("list = %d %v", status, all)
	}
	direct := e.direct(t, httpapi.List, `{"tenant":"acme","external_id":"c_admin"}`)
	if keys, _ := direct["keys"].([]any); len(keys) != 1 || keys[0].(map[string]any)["id"] != admin.keyID {
		t.Fatalf("direct list = %v", direct)
	}

	status, up := e.proxy(t, httpapi.Revoke, admin, request{method: "PATCH", path: "/v1/keys/" + id, body: `{"meta":{"plan":"team"},"external_id":"c_456"}`})
	if status != 200 || up["external_id"] != "c_456" || up["meta"].(map[string]any)["plan"] != "team" {
		t.Fatalf("patch = %d %v", status, up)
	}
	status, up = e.proxy(t, httpapi.Revoke, admin, request{method: "PATCH", path: "/v1/keys/" + id, body: `{"meta":null}`})
	if _, has := up["meta"]; status != 200 || has || up["external_id"] != "c_456" {
		t.Fatalf("patch meta null = %d %v", status, up)
	}
	up = e.direct(t, httpapi.Revoke, `{"op":"update","tenant":"acme","id":"`+id+`","external_id":null,"meta":{"a":1}}`)
	if _, has := up["external_id"]; has || up["meta"].(map[string]any)["a"] != 1.0 {
		t.Fatalf("direct update = %v", up)
	}
}

// TestMetaHostile: whatever a client sends as meta or external_id that is
// not valid is a 400 naming the field, and nothing is written.
func TestMetaHostile(t *testing.T) {
	e := newEnv(t)
	admin := callerOf(t, e.direct(t, httpapi.Create, `{"tenant":"acme","owner":"alice","role":"admin"}`))
	_, created := e.proxy(t, httpapi.Create, admin, request{method: "POST", path: "/v1/keys", body: `{"owner":"bob","apis":["*"],"scopes":["GET /x"],"meta":{"keep":1}}`})
	id := created["id"].(string)
	before := e.itemCount(t)
	metas := map[string]string{
		"string":             `"pro"`,
		"number":             `1`,
		"top-level array":    `[{"a":1}]`,
		"1 KiB + 1":          `{"k":"` + strings.Repeat("x", keygate.MaxMetaBytes-7) + `"}`,
		"deep":               `{"a":{"b":{"c":{"d":[1]}}}}`,
		"very deep":          strings.Repeat(`{"a":`, 2000) + "1" + strings.Repeat("}", 2000),
		"duplicate":          `{"a":1,"a":2}`,
		"nested duplicate":   `{"x":{"a":1,"a":2}}`,
		"escaped duplicate":  `{"a":1,"\u0061":2}`,
		"lone surrogate":     `{"a":"\ud800"}`,
		"lone low surrogate": `{"\udfff":1}`,
		"huge number":        `{"a":1e400}`,
		"huge integer":       `{"a":` + strings.Repeat("7", 330) + `}`,
	}
	externalIDs := map[string]string{
		"empty":      `""`,
		"space":      `"c 123"`,
		"tab":        `"c\t123"`,
		"control":    `"c\u0001"`,
		"nbsp":       `"c\u00a0"`,
		"101 chars":  `"` + strings.Repeat("c", 101) + `"`,
		"not string": `123`,
	}
	type attempt struct {
		name, field, body string
	}
	var attempts []attempt
	for name, m := range metas {
		attempts = append(attempts, attempt{"meta " + name, "meta", `"meta":` + m})
	}
	for name, x := range externalIDs {
		attempts = append(attempts, attempt{"external_id " + name, "external_id", `"external_id":` + x})
	}
	for _, a := range attempts {
		t.Run(a.name, func(t *testing.T) {
			for _, r := range []struct {
				fn  httpapi.Function
				req request
			}{
				{httpapi.Create, request{method: "POST", path: "/v1/keys", body: `{"owner":"bob","apis":["*"],"scopes":["GET /x"],` + a.body + `}`}},
				{httpapi.Revoke, request{method: "PATCH", path: "/v1/keys/" + id, body: `{` + a.body + `}`}},
			} {
				status, body := e.proxy(t, r.fn, admin, r.req)
				if status != 400 {
					t.Fatalf("%s %s = %d %v", r.req.method, r.req.path, status, body)
				}
				wantError(t, body, keygate.Invalid, gatewayRequestID)
				if msg := body["error"].(map[string]any)["message"].(string); !strings.Contains(msg, a.field) {
					t.Fatalf("%s: message %q does not name %s", r.req.method, msg, a.field)
				}
			}
			for _, ev := range []struct {
				fn    httpapi.Function
				event string
			}{
				{httpapi.Create, `{"tenant":"acme","owner":"bob",` + a.body + `}`},
				{httpapi.Revoke, `{"op":"update","tenant":"acme","id":"` + id + `",` + a.body + `}`},
			} {
				wantError(t, e.direct(t, ev.fn, ev.event), keygate.Invalid, "lambda-req-1")
			}
		})
	}
	// Invalid UTF-8 reaches a function only in a base64-encoded body (the
	// event is JSON); a lone surrogate in external_id is invalid JSON to
	// the strict decode.
	for _, body := range []string{
		"{\"owner\":\"bob\",\"apis\":[\"*\"],\"scopes\":[\"GET /x\"],\"meta\":{\"a\":\"\xc3\x28\"}}",
		"{\"owner\":\"bob\",\"apis\":[\"*\"],\"scopes\":[\"GET /x\"],\"external_id\":\"c\xff\"}",
		`{"owner":"bob","apis":["*"],"scopes":["GET /x"],"external_id":"\ud800"}`,
	} {
		status, resp := e.proxy(t, httpapi.Create, admin, request{method: "POST", path: "/v1/keys", body: base64.StdEncoding.EncodeToString([]byte(body)), base64: true})
		if status != 400 {
			t.Fatalf("%q = %d %v", body, status, resp)
		}
	}
	for _, q := range []string{"", "c 1", "c\x00", strings.Repeat("c", 101)} {
		status, body := e.proxy(t, httpapi.List, admin, request{method: "GET", path: "/v1/keys", query: map[string][]string{"external_id": {q}}})
		if status != 400 || !strings.Contains(body["error"].(map[string]any)["message"].(string), "external_id") {
			t.Fatalf("list ?external_id=%q = %d %v", q, status, body)
		}
	}
	wantError(t, e.direct(t, httpapi.List, `{"tenant":"acme","external_id":""}`), keygate.Invalid, "lambda-req-1")
	if after := e.itemCount(t); after != before {
		t.Fatalf("refusals wrote %d items", after-before)
	}
	if _, got := e.proxy(t, httpapi.List, admin, request{method: "GET", path: "/v1/keys/" + id}); got["meta"].(map[string]any)["keep"] != 1.0 || got["external_id"] != nil {
		t.Fatalf("key changed: %v", got)
	}
}
