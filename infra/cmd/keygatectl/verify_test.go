package main

import (
	"context"
	"encoding/json"
	"strings"
	"testing"

	"github.com/keygate/keygate/shared/keygate"
	"github.com/keygate/keygate/shared/manage"
)

// TestVerify drives keygatectl verify over HTTP against the local stack:
// the verdicts and their exit statuses, the token from stdin, and the
// usage errors.
func TestVerify(t *testing.T) {
	svc, c := localStack(t)
	op := keygate.Caller{Operator: true}
	bob, err := svc.Create(context.Background(), op, manage.CreateRequest{Tenant: "acme", Owner: "bob", Name: "ci", APIs: []string{"*"}, Scopes: []string{"GET /v1/whoami"}})
	if err != nil {
		t.Fatal(err)
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
		"method without path": {"verify", token, "--method", "GET"},
		"no token":            {"verify"},
		"empty stdin":         {"verify", "-"},
	} {
		stdin = strings.NewReader("")
		if code, _, stderr := c(args...); code != exitUsage || strings.Contains(stderr, token) {
			t.Errorf("%s: %d %q", name, code, stderr)
		}
	}
	if code, _, stderr := ctl(t, newBackend, "--stack", "keygate", "--tenant", "acme", "verify", token); code != exitUsage || strings.Contains(stderr, token) {
		t.Errorf("with --stack: %d %q", code, stderr)
	}
}
