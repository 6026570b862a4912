package httpapi_test

import (
	"encoding/json"
	"os"
	"strings"
	"testing"

	"github.com/aws/aws-lambda-go/events"
	"github.com/keygate/keygate/shared/httpapi"
	"github.com/keygate/keygate/shared/keygate"
)

// TestGatewayEventsAreNeverDirect: an event that came through a gateway
// (it carries requestContext, or is an HTTP API payload 2.0 event) is never
// an operator's direct call, whatever operator fields it also holds. It is
// answered with a proxy response (statusCode and the envelope: behind an
// HTTP API a bare body would be served as 200), and changes nothing.
func TestGatewayEventsAreNeverDirect(t *testing.T) {
	e := newEnv(t)
	victim := e.direct(t, httpapi.Create, `{"tenant":"acme","owner":"alice","role":"admin"}`)
	id := victim["id"].(string)
	before := e.itemCount(t)
	tests := []struct {
		file, fn, requestID string
	}{
		{"http-v2-create.json", "create", "v2-request-1"},
		{"context-no-method.json", "create", "no-method-1"},
		{"http-v2-revoke.json", "revoke", "v2-request-2"},
	}
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			raw, err := os.ReadFile("testdata/events/" + tt.file)
			if err != nil {
				t.Fatal(err)
			}
			event := strings.ReplaceAll(string(raw), "{{ID}}", id)
			out, err := e.handlers[httpapi.Function(tt.fn)].Handle(lambdaCtx(), json.RawMessage(event))
			if err != nil {
				t.Fatalf("Handle error: %v", err)
			}
			var resp events.APIGatewayProxyResponse
			if err := json.Unmarshal(out, &resp); err != nil || resp.StatusCode == 0 {
				t.Fatalf("answer is not a proxy response: %s", out)
			}
			var body map[string]any
			if err := json.Unmarshal([]byte(resp.Body), &body); err != nil {
				t.Fatalf("body is not JSON: %q", resp.Body)
			}
			if resp.StatusCode != 400 {
				t.Fatalf("status = %d %v, want 400", resp.StatusCode, body)
			}
			wantError(t, body, keygate.Invalid, tt.requestID)
		})
	}
	if n := e.itemCount(t); n != before {
		t.Fatalf("gateway events changed the table: %d items, want %d", n, before)
	}
	got := e.direct(t, httpapi.List, `{"tenant":"acme","id":"`+id+`"}`)
	if got["status"] != "active" {
		t.Fatalf("the key an HTTP API event tried to revoke is %v", got["status"])
	}
}

// TestQueryParameters: every route refuses unknown and repeated query
// parameters (README and OpenAPI say so), and DELETE takes cascade.
func TestQueryParameters(t *testing.T) {
	e := newEnv(t)
	admin := callerOf(t, e.direct(t, httpapi.Create, `{"tenant":"acme","owner":"alice","role":"admin"}`))
	_, child := e.proxy(t, httpapi.Create, admin, request{method: "POST", path: "/v1/keys", body: `{"owner":"bob","role":"admin"}`})
	childCaller := callerOf(t, child)
	_, grandchild := e.proxy(t, httpapi.Create, childCaller, request{method: "POST", path: "/v1/keys", body: `{"owner":"carol","apis":["*"],"scopes":["GET /x"]}`})
	id := child["id"].(string)
	bad := []struct {
		name string
		fn   httpapi.Function
		r    request
	}{
		{"whoami unknown", httpapi.List, request{method: "GET", path: "/v1/whoami", query: map[string][]string{"debug": {"1"}}}},
		{"get unknown", httpapi.List, request{method: "GET", path: "/v1/keys/" + id, query: map[string][]string{"fields": {"all"}}}},
		{"create unknown", httpapi.Create, request{method: "POST", path: "/v1/keys", body: `{"owner":"bob","role":"admin"}`, query: map[string][]string{"tenant": {"globex"}}}},
		{"list repeated", httpapi.List, request{method: "GET", path: "/v1/keys", query: map[string][]string{"owner": {"a", "b"}}}},
		{"delete typo", httpapi.Revoke, request{method: "DELETE", path: "/v1/keys/" + id, query: map[string][]string{"cascde": {"true"}}}},
		{"cascade not boolean", httpapi.Revoke, request{method: "DELETE", path: "/v1/keys/" + id, query: map[string][]string{"cascade": {"yes"}}}},
		{"cascade upper case", httpapi.Revoke, request{method: "DELETE", path: "/v1/keys/" + id, query: map[string][]string{"cascade": {"TRUE"}}}},
		{"cascade repeated", httpapi.Revoke, request{method: "DELETE", path: "/v1/keys/" + id, query: map[string][]string{"cascade": {"true", "false"}}}},
	}
	before := e.itemCount(t)
	for _, tt := range bad {
		t.Run(tt.name, func(t *testing.T) {
			status, body := e.proxy(t, tt.fn, admin, tt.r)
			if status != 400 {
				t.Fatalf("status = %d %v, want 400", status, body)
			}
			wantError(t, body, keygate.Invalid, gatewayRequestID)
		})
	}
	if n := e.itemCount(t); n != before {
		t.Fatalf("refused requests changed the table: %d items, want %d", n, before)
	}
	status, body := e.proxy(t, httpapi.Revoke, admin, request{method: "DELETE", path: "/v1/keys/" + id, query: map[string][]string{"cascade": {"true"}}})
	if status != 200 || body["status"] != "revoked" {
		t.Fatalf("cascade = %d %v", status, body)
	}
	if d, _ := body["revoked_descendants"].([]any); len(d) != 1 || d[0] != grandchild["id"] {
		t.Fatalf("revoked_descendants = %v, want [%v]", body["revoked_descendants"], grandchild["id"])
	}
	// Direct: "cascade": true, strictly a boolean.
	other := e.direct(t, httpapi.Create, `{"tenant":"acme","owner":"dave","role":"admin"}`)
	if got := e.direct(t, httpapi.Revoke, `{"tenant":"acme","id":"`+other["id"].(string)+`","cascade":"true"}`); got["error"] == nil {
		t.Fatalf("cascade as a string = %v, want an error", got)
	}
	if got := e.direct(t, httpapi.Revoke, `{"tenant":"acme","id":"`+other["id"].(string)+`","cascade":true}`); got["status"] != "revoked" {
		t.Fatalf("direct cascade = %v", got)
	}
}
