package main

import (
	"context"
	"encoding/json"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/keygate/keygate/infra/gateway"
	"github.com/keygate/keygate/infra/testkit"
	"github.com/keygate/keygate/shared/keygate"
	"github.com/keygate/keygate/shared/manage"
	"github.com/keygate/keygate/shared/setup"
	"github.com/keygate/keygate/shared/setup/managesetup"
)

// TestVerify drives keygatectl verify over HTTP against the local stack:
// the verdicts and their exit statuses, the token from stdin, and the
// usage errors.
func TestVerify(t *testing.T) {
	vars := localVars(t)
	env, err := setup.Load(context.Background(), func(k string) string { return vars[k] }, &testkit.Buffer{})
	if err != nil {
		t.Fatal(err)
	}
	svc := managesetup.Service(env)
	op := keygate.Caller{Operator: true}
	admin, err := svc.Create(context.Background(), op, manage.CreateRequest{Tenant: "acme", Owner: "root", Role: keygate.Admin})
	if err != nil {
		t.Fatal(err)
	}
	bob, err := svc.Create(context.Background(), op, manage.CreateRequest{Tenant: "acme", Owner: "bob", Name: "ci", APIs: []string{"*"}, Scopes: []string{"GET /v1/whoami"}})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(gateway.Local(env, 0, nil))
	t.Cleanup(srv.Close)
	t.Setenv("KEYGATE_KEY", admin.Token.Reveal())
	c := func(args ...string) (int, string, string) {
		return ctl(t, newBackend, append([]string{"--endpoint", srv.URL}, args...)...)
	}
	token := bob.Token.Reveal()

	code, stdout, stderr := c("verify", token, "--method", "GET", "--path", "/v1/whoami")
	if code != exitOK || !strings.Contains(stdout, "VALID") || !strings.Contains(stdout, bob.ID) || strings.Contains(stdout, token) {
		t.Fatalf("verify a valid key: %d %q %q", code, stdout, stderr)
	}
	stdin = strings.NewReader(token + "\n")
	t.Cleanup(func() { stdin = nil })
	code, stdout, _ = c("--json", "verify", "-", "--method", "DELETE", "--path", "/v1/keys/x")
	var res struct {
		Valid bool   `json:"valid"`
		Code  string `json:"code"`
		KeyID string `json:"key_id"`
	}
	if code != exitRefused || json.Unmarshal([]byte(stdout), &res) != nil || res.Code != "FORBIDDEN" || res.KeyID != bob.ID {
		t.Fatalf("verify - for a route outside the scopes: %d %q", code, stdout)
	}
	if code, stdout, _ = c("verify", "kg_live_nope"); code != exitRefused || !strings.Contains(stdout, "NOT_FOUND") {
		t.Fatalf("verify a malformed token: %d %q", code, stdout)
	}
	for name, args := range map[string][]string{
		"method without path": {"--endpoint", srv.URL, "verify", token, "--method", "GET"},
		"no token":            {"--endpoint", srv.URL, "verify"},
		"empty stdin":         {"--endpoint", srv.URL, "verify", "-"},
		"with --stack":        {"--stack", "keygate", "--tenant", "acme", "verify", token},
	} {
		stdin = strings.NewReader("")
		if code, _, stderr := ctl(t, newBackend, args...); code != exitUsage || strings.Contains(stderr, token) {
			t.Errorf("%s: %d %q", name, code, stderr)
		}
	}
}
