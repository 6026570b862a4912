package gateway_test

import (
	"context"
	"net/http/httptest"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/keygate/keygate/infra/dynamotest"
	"github.com/keygate/keygate/infra/gateway"
	"github.com/keygate/keygate/infra/testkit"
	"github.com/keygate/keygate/shared/keygate"
	"github.com/keygate/keygate/shared/manage"
	"github.com/keygate/keygate/shared/setup"
	"github.com/keygate/keygate/shared/setup/managesetup"
)

type stack struct {
	url   string
	admin string
	gw    *gateway.Gateway
	logs  *testkit.Buffer
	now   *time.Time
	mu    *sync.Mutex
}

// newEnv is the functions' environment on a fresh table, with extra
// environment on top of the defaults; logs receives every log line.
func newEnv(t *testing.T, extra map[string]string) (*setup.Env, *manage.Service, *testkit.Buffer) {
	t.Helper()
	vars := dynamotest.Vars(t, extra)
	logs := &testkit.Buffer{}
	env, err := setup.Load(context.Background(), func(k string) string { return vars[k] }, logs)
	if err != nil {
		t.Fatal(err)
	}
	return env, managesetup.Service(env), logs
}

// newStack serves the real handlers behind the gateway over real HTTP,
// with extra environment on top of the defaults.
func newStack(t *testing.T, resultTTL time.Duration, extra map[string]string) *stack {
	return newStackWith(t, resultTTL, extra, nil)
}

// newStackWith is newStack with configure applied to the gateway before it
// serves its first request.
func newStackWith(t *testing.T, resultTTL time.Duration, extra map[string]string, configure func(*gateway.Gateway)) *stack {
	t.Helper()
	env, svc, logs := newEnv(t, extra)
	openAPI, err := os.ReadFile("../../openapi.yaml")
	if err != nil {
		t.Fatal(err)
	}
	gw := gateway.Local(env, resultTTL, openAPI)
	s := &stack{gw: gw, logs: logs, mu: &sync.Mutex{}}
	now := time.Now()
	s.now = &now
	gw.Now = func() time.Time { s.mu.Lock(); defer s.mu.Unlock(); return *s.now }
	if configure != nil {
		configure(gw)
	}
	srv := httptest.NewServer(gw)
	t.Cleanup(srv.Close)
	s.url = srv.URL
	admin, err := svc.Create(context.Background(), keygate.Caller{Operator: true}, manage.CreateRequest{Tenant: "demo", Owner: "admin", Role: keygate.Admin})
	if err != nil {
		t.Fatal(err)
	}
	s.admin = admin.Token.Reveal()
	return s
}

func (s *stack) advance(d time.Duration) { s.mu.Lock(); defer s.mu.Unlock(); *s.now = s.now.Add(d) }

func (s *stack) do(t *testing.T, method, path, token, body string) (int, map[string]any) {
	t.Helper()
	status, contentType, m := testkit.SendJSON(t, method, s.url+path, testkit.Bearer(token), body)
	if contentType != "application/json" {
		t.Fatalf("%s %s: content type %q", method, path, contentType)
	}
	return status, m
}

func wantEnvelope(t *testing.T, status int, body map[string]any, wantStatus int, code keygate.Code) {
	t.Helper()
	e, _ := body["error"].(map[string]any)
	if status != wantStatus || e == nil || e["code"] != string(code) || e["request_id"] == "" || e["message"] == "" {
		t.Fatalf("got %d %v, want %d with a %s envelope", status, body, wantStatus, code)
	}
}

func TestEndToEnd(t *testing.T) {
	s := newStack(t, 0, map[string]string{"AUTH_CACHE_TTL": "0"})
	status, who := s.do(t, "GET", "/v1/whoami", s.admin, "")
	if status != 200 || who["tenant"] != "demo" || who["role"] != "admin" {
		t.Fatalf("whoami = %d %v", status, who)
	}
	status, created := s.do(t, "POST", "/v1/keys", s.admin, `{"owner":"bob","apis":["*"],"scopes":["GET /v1/whoami","GET /v1/keys"]}`)
	if status != 201 {
		t.Fatalf("create = %d %v", status, created)
	}
	bob, id := created["token"].(string), created["id"].(string)

	status, who = s.do(t, "GET", "/v1/whoami", bob, "")
	if status != 200 || who["id"] != id {
		t.Fatalf("bob whoami = %d %v", status, who)
	}
	status, list := s.do(t, "GET", "/v1/keys", bob, "")
	if keys, _ := list["keys"].([]any); status != 200 || len(keys) != 1 {
		t.Fatalf("bob list = %d %v", status, list)
	}
	// Outside bob's scopes: the gateway enforces the authorizer's Deny.
	status, body := s.do(t, "POST", "/v1/keys", bob, `{}`)
	wantEnvelope(t, status, body, 403, keygate.Forbidden)

	status, list = s.do(t, "GET", "/v1/keys?owner=bob", s.admin, "")
	if keys, _ := list["keys"].([]any); status != 200 || len(keys) != 1 {
		t.Fatalf("admin list = %d %v", status, list)
	}
	status, revoked := s.do(t, "DELETE", "/v1/keys/"+id, s.admin, "")
	if status != 200 || revoked["status"] != "revoked" {
		t.Fatalf("revoke = %d %v", status, revoked)
	}
	status, body = s.do(t, "GET", "/v1/whoami", bob, "")
	wantEnvelope(t, status, body, 401, keygate.Unauthorized)

	for _, tok := range []string{s.admin, bob} {
		if strings.Contains(s.logs.String(), tok[8:]) {
			t.Fatal("logs contain a token")
		}
	}
}

func TestGatewayResponses(t *testing.T) {
	s := newStack(t, 5*time.Second, nil)
	tests := []struct {
		name, method, path, token, body string
		status                          int
		code                            keygate.Code
	}{
		{"no key", "GET", "/v1/whoami", "", "", 401, keygate.Unauthorized},
		{"malformed key", "GET", "/v1/whoami", "kg_live_nope", "", 401, keygate.Unauthorized},
		{"unknown route", "GET", "/v2/things", s.admin, "", 404, keygate.NotFound},
		{"unknown method", "PATCH", "/v1/keys", s.admin, "", 404, keygate.NotFound},
		{"bad body reaches the integration", "POST", "/v1/keys", s.admin, `{"owner":`, 400, keygate.Invalid},
		{"traversal id", "GET", "/v1/keys/..%2F..%2Fetc%2Fpasswd", s.admin, "", 404, keygate.NotFound},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			status, body := s.do(t, tt.method, tt.path, tt.token, tt.body)
			wantEnvelope(t, status, body, tt.status, tt.code)
		})
	}
}

// TestResultCache shows the gateway's result TTL: after a revoke the cached
// policy still lets the key in until the TTL passes.
func TestResultCache(t *testing.T) {
	s := newStack(t, 5*time.Second, map[string]string{"AUTH_CACHE_TTL": "0"})
	_, created := s.do(t, "POST", "/v1/keys", s.admin, `{"owner":"bob","apis":["*"],"scopes":["GET /v1/whoami"]}`)
	bob, id := created["token"].(string), created["id"].(string)
	if status, _ := s.do(t, "GET", "/v1/whoami", bob, ""); status != 200 {
		t.Fatalf("before revoke: %d", status)
	}
	if status, _ := s.do(t, "DELETE", "/v1/keys/"+id, s.admin, ""); status != 200 {
		t.Fatalf("revoke: %d", status)
	}
	if status, _ := s.do(t, "GET", "/v1/whoami", bob, ""); status != 200 {
		t.Fatalf("within the result TTL the cached policy applies, got %d", status)
	}
	s.advance(5 * time.Second)
	status, body := s.do(t, "GET", "/v1/whoami", bob, "")
	wantEnvelope(t, status, body, 401, keygate.Unauthorized)
}
