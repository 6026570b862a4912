package main

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/keygate/keygate/shared/keygate"
)

// TestMetaFlags: --meta and --external-id become the API's members as
// given (--no-* as null), and what cannot be sent is a usage error before
// any call.
func TestMetaFlags(t *testing.T) {
	for _, tt := range []struct {
		args []string
		want string // the body as JSON; "" for a usage error
	}{
		{[]string{"create", "--meta", `{"plan":"pro"}`, "--external-id", "c_123"}, `{"meta":{"plan":"pro"},"external_id":"c_123"}`},
		{[]string{"update", "K", "--meta", `{"n":[1,2]}`}, `{"meta":{"n":[1,2]}}`},
		{[]string{"update", "K", "--no-meta", "--no-external-id"}, `{"meta":null,"external_id":null}`},
		{[]string{"list", "--external-id", "c_1"}, `{"external_id":"c_1"}`},
		{[]string{"create", "--meta", `{plan:pro}`}, ""},
		{[]string{"create", "--no-meta"}, ""},
		{[]string{"update", "K", "--meta", `{}`, "--no-meta"}, ""},
		{[]string{"update", "K", "--external-id", "x", "--no-external-id"}, ""},
	} {
		t.Run(strings.Join(tt.args, " "), func(t *testing.T) {
			wantBody(t, tt.args, tt.want)
		})
	}
}

// TestMetaOverHTTP: create and update set meta and external_id, get shows
// them, list filters by external_id, and the service's refusals are the
// caller's mistake (exit 1).
func TestMetaOverHTTP(t *testing.T) {
	_, c := localStack(t)
	code, stdout, stderr := c("--json", "create", "--owner", "bob", "--api", "kglocal001", "--scope", "GET /v1/whoami",
		"--meta", `{"plan": "pro", "big": 123456789012345678901234567890}`, "--external-id", "c_123")
	var created keygate.Key
	if code != exitOK || json.Unmarshal([]byte(stdout), &created) != nil || created.ExternalID != "c_123" {
		t.Fatalf("create: %d %s %s", code, stdout, stderr)
	}
	code, stdout, _ = c("get", created.ID)
	for _, want := range []string{`external_id  "c_123"`, `meta         {"plan":"pro","big":123456789012345678901234567890}`} {
		if code != exitOK || !strings.Contains(stdout, want) {
			t.Fatalf("get: %d, no %q in\n%s", code, want, stdout)
		}
	}
	code, stdout, _ = c("--json", "list", "--external-id", "c_123")
	var list struct{ Keys []keygate.Key }
	if code != exitOK || json.Unmarshal([]byte(stdout), &list) != nil || len(list.Keys) != 1 || list.Keys[0].ID != created.ID {
		t.Fatalf("list --external-id: %d %s", code, stdout)
	}
	if code, stdout, stderr = c("update", created.ID, "--no-meta", "--external-id", "c_456"); code != exitOK || strings.Contains(stdout, "meta ") || !strings.Contains(stdout, `"c_456"`) {
		t.Fatalf("update: %d %s %s", code, stdout, stderr)
	}
	for _, args := range [][]string{
		{"update", created.ID, "--meta", `[1]`},
		{"update", created.ID, "--external-id", "c 1"},
		{"list", "--external-id", "c 1"},
	} {
		if code, _, stderr := c(args...); code != exitRefused || !strings.Contains(stderr, "invalid_request") {
			t.Fatalf("%v: %d %s", args, code, stderr)
		}
	}
}
