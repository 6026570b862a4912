package main

import (
	"crypto/rand"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"slices"
	"strings"
	"testing"

	"github.com/keygate/keygate/infra/ddblocal"
	"github.com/keygate/keygate/infra/gateway"
	"github.com/keygate/keygate/infra/testkit"
	"github.com/keygate/keygate/shared/manage"
)

// TestBannerStorage checks that the banner says whether the network can
// reach make run's DynamoDB Local, and how to close it when it can.
func TestBannerStorage(t *testing.T) {
	const rule = "iptables -A INPUT -p tcp --dport 41234 ! -i lo -j DROP"
	format, hasher := testkit.Tokens(t)
	tok, err := format.Generate(rand.Reader, hasher)
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name     string
		local    *ddblocal.Server
		endpoint string
		want     []string
		notWant  []string
	}{
		{
			name:     "isolated",
			local:    &ddblocal.Server{Endpoint: "http://127.0.0.1:41234", Isolated: true},
			endpoint: "http://127.0.0.1:41234",
			want:     []string{"(DynamoDB Local in memory, reachable only from this machine; Ctrl-C stops everything)"},
			notWant:  []string{"WARNING"},
		},
		{
			name:     "exposed",
			local:    &ddblocal.Server{Endpoint: "http://127.0.0.1:41234", Warning: "DynamoDB Local listens on port 41234 of every interface: ... e.g. " + rule},
			endpoint: "http://127.0.0.1:41234",
			want:     []string{"Ctrl-C stops everything)\nWARNING: DynamoDB Local listens on port 41234 of every interface", rule + "\nWeb console:"},
			notWant:  []string{"reachable only from this machine"},
		},
		{
			name:     "DYNAMODB_ENDPOINT",
			endpoint: "http://db.internal:8000",
			want:     []string{"(DynamoDB at http://db.internal:8000; Ctrl-C"},
			notWant:  []string{"WARNING", "DynamoDB Local"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			db, warning := storage(tt.local, tt.endpoint)
			var b strings.Builder
			printBanner(&b, "http://127.0.0.1:3000", "local", db, warning, &manage.Created{Token: tok}, scanKey{})
			out := b.String()
			for _, s := range tt.want {
				if !strings.Contains(out, s) {
					t.Errorf("banner lacks %q:\n%s", s, out)
				}
			}
			for _, s := range tt.notWant {
				if strings.Contains(out, s) {
					t.Errorf("banner has %q:\n%s", s, out)
				}
			}
			if !strings.Contains(out, "export KEY="+tok.Reveal()) {
				t.Errorf("banner lacks the admin key:\n%s", out)
			}
		})
	}
}

// TestBannerDemo runs the banner's metered-API commands with bash, curl
// and jq against a stand-in for the stack that checks what they send: the
// key they mint is limited to 5 calls a minute on the demo API only, and
// the loop prints each call's status, the refusals' error.
func TestBannerDemo(t *testing.T) {
	testkit.SkipShort(t, "bash, curl and jq")
	for _, tool := range []string{"bash", "curl", "jq"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Fatalf("%s is required (make doctor)", tool)
		}
	}
	const admin, minted = "kg_live_admin", "kg_live_demo"
	refusal := `{"error":{"code":"rate_limited","message":"m","retry_after":42,"request_id":"r"}}`
	var calls int
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.Method + " " + r.URL.Path {
		case "POST /v1/keys":
			var req struct {
				APIs      []string `json:"apis"`
				Scopes    []string `json:"scopes"`
				RateLimit struct {
					Limit  int    `json:"limit"`
					Window string `json:"window"`
				} `json:"rate_limit"`
			}
			if r.Header.Get("Authorization") != "Bearer "+admin || json.NewDecoder(r.Body).Decode(&req) != nil ||
				!slices.Equal(req.APIs, []string{gateway.DemoAPIID}) || !slices.Equal(req.Scopes, []string{"GET /demo/*"}) ||
				req.RateLimit.Limit != 5 || req.RateLimit.Window != "1m" {
				t.Errorf("the banner mints %+v", req)
				w.WriteHeader(400)
				return
			}
			w.WriteHeader(201)
			fmt.Fprintf(w, `{"id":"k1","token":%q}`, minted)
		case "GET /demo/hello":
			if r.Header.Get("Authorization") != "Bearer "+minted {
				t.Errorf("the loop calls with %q", r.Header.Get("Authorization"))
			}
			if calls++; calls > 5 {
				w.WriteHeader(403)
				fmt.Fprint(w, refusal)
				return
			}
			fmt.Fprint(w, `{"key_id":"k1","tenant":"demo"}`)
		default:
			t.Errorf("unexpected %s %s", r.Method, r.URL)
			w.WriteHeader(404)
		}
	}))
	defer srv.Close()

	format, hasher := testkit.Tokens(t)
	tok, err := format.Generate(rand.Reader, hasher)
	if err != nil {
		t.Fatal(err)
	}
	var b strings.Builder
	printBanner(&b, srv.URL, gateway.APIID, "db", "", &manage.Created{Token: tok}, scanKey{})
	out := b.String()
	start := strings.Index(out, "  DEMO=$(")
	end := strings.Index(out, "; done")
	if start < 0 || end < start || !strings.Contains(out, "Metered sample API "+gateway.DemoAPIID) {
		t.Fatalf("the banner has no demo commands:\n%s", out)
	}
	cmd := exec.Command("bash", "-euo", "pipefail", "-c", out[start:end+len("; done")])
	cmd.Env = append(os.Environ(), "KEY="+admin)
	got, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("the banner's commands fail: %v\n%s", err, got)
	}
	want := strings.Repeat("200 key k1\n", 5) + strings.Repeat(`403 {"code":"rate_limited","message":"m","retry_after":42,"request_id":"r"}`+"\n", 2)
	if string(got) != want || calls != 7 {
		t.Fatalf("%d calls printed\n%s\nwant\n%s", calls, got, want)
	}
}
