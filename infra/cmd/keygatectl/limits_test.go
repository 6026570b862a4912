package main

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/keygate/keygate/shared/keygate"
)

// TestLimitFlags: the limit flags become exactly the API's members (null
// for a removal), and contradictions are usage errors before any call.
func TestLimitFlags(t *testing.T) {
	for _, tt := range []struct {
		args []string
		want string // the body as JSON; "" for a usage error
	}{
		{[]string{"create", "--rate-limit", "100/1m"}, `{"rate_limit":{"limit":100,"window":"1m"}}`},
		{[]string{"create", "--credits", "5000", "--refill", "5000/month"}, `{"credits":{"refill":{"amount":5000,"interval":"month"},"remaining":5000}}`},
		{[]string{"update", "K", "--credits", "0"}, `{"credits":{"remaining":0}}`},
		{[]string{"update", "K", "--no-rate-limit", "--no-credits"}, `{"credits":null,"rate_limit":null}`},
		{[]string{"create", "--no-credits"}, ""},
		{[]string{"update", "K", "--rate-limit", "100/1m", "--no-rate-limit"}, ""},
		{[]string{"update", "K", "--credits", "5", "--no-credits"}, ""},
		{[]string{"create", "--refill", "5/day"}, ""},
		{[]string{"create", "--rate-limit", "100"}, ""},
		{[]string{"create", "--rate-limit", "x/1m"}, ""},
		{[]string{"create", "--credits", "1.5"}, ""},
		{[]string{"create", "--credits", "5", "--refill", "5/week"}, ""},
	} {
		t.Run(strings.Join(tt.args, " "), func(t *testing.T) {
			wantBody(t, tt.args, tt.want)
		})
	}
}

// TestLimitsOverHTTP: create and update set limits, get shows them with
// the usage, and --no-* removes them.
func TestLimitsOverHTTP(t *testing.T) {
	_, c := localStack(t)

	code, stdout, stderr := c("--json", "create", "--owner", "bob", "--api", "kglocal001", "--scope", "GET /v1/whoami",
		"--rate-limit", "100/60s", "--credits", "5000", "--refill", "5000/month")
	var created keygate.Key
	if code != exitOK || json.Unmarshal([]byte(stdout), &created) != nil || created.RateLimit == nil || created.Credits == nil {
		t.Fatalf("create: %d %s %s", code, stdout, stderr)
	}
	code, stdout, _ = c("get", created.ID)
	for _, want := range []string{"rate_limit  100/1m", "credits     5000 (refill 5000/month)", "usage       100 of 100/1m left until", "usage       5000 credits left, refill 20"} {
		if code != exitOK || !strings.Contains(stdout, want) {
			t.Fatalf("get: %d, no %q in\n%s", code, want, stdout)
		}
	}
	if code, stdout, stderr = c("update", created.ID, "--credits", "7", "--no-rate-limit"); code != exitOK || !strings.Contains(stdout, "credits     7\n") || strings.Contains(stdout, "rate_limit") {
		t.Fatalf("update: %d %s %s", code, stdout, stderr)
	}
	if code, _, stderr = c("update", created.ID, "--rate-limit", "1/1.5s"); code != exitRefused || !strings.Contains(stderr, "rate_limit.window") {
		t.Fatalf("a refused window: %d %s", code, stderr)
	}
}
