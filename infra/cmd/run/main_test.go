package main

import (
	"crypto/rand"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"unicode/utf8"

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
			want:     []string{"until Ctrl-C\nStorage: DynamoDB Local in memory, reachable only from this machine\nAPI id"},
			notWant:  []string{"WARNING"},
		},
		{
			name:     "exposed",
			local:    &ddblocal.Server{Endpoint: "http://127.0.0.1:41234", Warning: "DynamoDB Local listens on port 41234 of every interface: ... e.g. " + rule},
			endpoint: "http://127.0.0.1:41234",
			want:     []string{"Storage: DynamoDB Local in memory\nWARNING: DynamoDB Local listens on port 41234 of every interface", rule + "\nAPI id"},
			notWant:  []string{"reachable only from this machine"},
		},
		{
			name:     "DYNAMODB_ENDPOINT",
			endpoint: "http://db.internal:8000",
			want:     []string{"Storage: DynamoDB at http://db.internal:8000\n"},
			notWant:  []string{"WARNING", "DynamoDB Local"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			db, warning := storage(tt.local, tt.endpoint)
			var b strings.Builder
			printBanner(&b, "http://127.0.0.1:3000", "local", db, warning, &manage.Created{Token: tok}, ".build/make-run.sh", scanKey{})
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

// TestBannerDemo runs the recipes file's demo (the metered sample API)
// with bash, curl and jq against a stand-in for the stack that checks what
// it sends: the key it mints is limited to 5 calls a minute on the demo
// API only, and the loop prints each call's status, the refusals' error.
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
				Owner     string   `json:"owner"`
				APIs      []string `json:"apis"`
				Scopes    []string `json:"scopes"`
				RateLimit struct {
					Limit  int    `json:"limit"`
					Window string `json:"window"`
				} `json:"rate_limit"`
			}
			if r.Header.Get("Authorization") != "Bearer "+admin || json.NewDecoder(r.Body).Decode(&req) != nil ||
				!slices.Equal(req.APIs, []string{gateway.DemoAPIID}) || !slices.Equal(req.Scopes, []string{"GET /demo/*"}) ||
				req.RateLimit.Limit != 5 || req.RateLimit.Window != "1m" ||
				req.Owner == "" || req.Owner == "demo" { // a user key's owner cannot be the tenant's name
				t.Errorf("the demo recipe mints %+v", req)
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

	recipes := filepath.Join(t.TempDir(), "make-run.sh")
	if err := writeRecipes(recipes, srv.URL, gateway.APIID, scanKey{}); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command("bash", recipes, "demo")
	cmd.Env = append(os.Environ(), "KEY="+admin)
	got, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("the demo recipe fails: %v\n%s", err, got)
	}
	want := strings.Repeat("200 key k1\n", 5) + strings.Repeat(`403 {"code":"rate_limited","message":"m","retry_after":42,"request_id":"r"}`+"\n", 2)
	if string(got) != want || calls != 7 {
		t.Fatalf("%d calls printed\n%s\nwant\n%s", calls, got, want)
	}
}

// TestBannerBudget: in every storage case, with and without a secret-
// scanning key, the banner fits one screen (bannerLines lines of at most
// bannerColumns columns, the blank lines around it included), points at
// the recipes file with the recipes it holds, and ends with the sample
// API's and the console's URLs.
func TestBannerBudget(t *testing.T) {
	format, hasher := testkit.Tokens(t)
	tok, err := format.Generate(rand.Reader, hasher)
	if err != nil {
		t.Fatal(err)
	}
	const url = "http://127.0.0.1:65535"
	// ddblocal's warning for an exposed DynamoDB Local (its exposed), on the
	// longest port number.
	exposed := "DynamoDB Local listens on port 65535 of every interface: anyone on the network can rewrite keys; " +
		"close it with a firewall rule, e.g. iptables -A INPUT -p tcp --dport 65535 ! -i lo -j DROP"
	storages := []struct {
		name  string
		local *ddblocal.Server
	}{
		{"isolated", &ddblocal.Server{Isolated: true}},
		{"exposed", &ddblocal.Server{Warning: exposed}},
		{"DYNAMODB_ENDPOINT", nil},
	}
	for _, st := range storages {
		for _, scan := range []scanKey{{}, {id: "0123456789abcdef", keys: "k.json", key: "k.pem"}} {
			t.Run(fmt.Sprintf("%s/alert=%v", st.name, scan.id != ""), func(t *testing.T) {
				db, warning := storage(st.local, "http://dynamodb.internal.example:8000")
				var b strings.Builder
				printBanner(&b, url, gateway.APIID, db, warning, &manage.Created{Token: tok}, ".build/make-run.sh", scan)
				out := b.String()
				lines := strings.Split(strings.TrimSuffix(out, "\n"), "\n")
				if len(lines) > bannerLines {
					t.Errorf("%d lines, at most %d:\n%s", len(lines), bannerLines, out)
				}
				for i, l := range lines {
					if n := utf8.RuneCountInString(l); n > bannerColumns {
						t.Errorf("line %d has %d columns, at most %d: %q", i+1, n, bannerColumns, l)
					}
				}
				if st.local != nil && st.local.Warning != "" && !strings.Contains(out, "iptables -A INPUT -p tcp --dport 65535 ! -i lo -j DROP") {
					t.Errorf("the firewall rule is not on one line:\n%s", out)
				}
				which := "bash .build/make-run.sh keys|demo\n"
				if scan.id != "" {
					which = "bash .build/make-run.sh keys|demo|alert\n"
				}
				if !strings.Contains(out, which) || strings.Contains(out, "REVOKES") != (scan.id != "") {
					t.Errorf("the banner does not point at the recipes it has (%s):\n%s", strings.TrimSpace(which), out)
				}
				var last []string
				for _, l := range lines {
					if strings.TrimSpace(l) != "" {
						last = append(last, l)
					}
				}
				last = last[len(last)-2:]
				if last[0] != "Sample API:  "+url+gateway.DemoBase+"/" || last[1] != "Web console: "+url+"/console (paste the key above)" {
					t.Errorf("the banner ends with %q, want the sample API's and the console's URLs", last)
				}
			})
		}
	}
}

// TestRecipesKeys runs the recipes file's keys recipe against a stand-in
// that checks its calls: mint a key on this gateway's API, list, then
// revoke the minted key with its descendants.
func TestRecipesKeys(t *testing.T) {
	testkit.SkipShort(t, "bash, curl and jq")
	const admin = "kg_live_admin"
	var calls []string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Authorization") != "Bearer "+admin {
			t.Errorf("%s %s with %q", r.Method, r.URL, r.Header.Get("Authorization"))
		}
		calls = append(calls, r.Method+" "+r.URL.RequestURI())
		switch r.Method + " " + r.URL.Path {
		case "POST /v1/keys":
			var req struct {
				APIs []string `json:"apis"`
			}
			if json.NewDecoder(r.Body).Decode(&req) != nil || !slices.Equal(req.APIs, []string{gateway.APIID}) {
				t.Errorf("the keys recipe mints %+v", req)
			}
			w.WriteHeader(201)
			fmt.Fprint(w, `{"id":"k1","token":"kg_live_bob"}`)
		case "GET /v1/keys":
			fmt.Fprint(w, `{"keys":[]}`)
		case "DELETE /v1/keys/k1":
			fmt.Fprint(w, `{"id":"k1"}`)
		}
	}))
	defer srv.Close()
	recipes := filepath.Join(t.TempDir(), "make-run.sh")
	if err := writeRecipes(recipes, srv.URL, gateway.APIID, scanKey{}); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command("bash", recipes, "keys")
	cmd.Env = append(os.Environ(), "KEY="+admin)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("the keys recipe fails: %v\n%s", err, out)
	}
	want := []string{"POST /v1/keys", "GET /v1/keys", "DELETE /v1/keys/k1?cascade=true"}
	if !slices.Equal(calls, want) {
		t.Errorf("calls %q, want %q", calls, want)
	}

	// Without KEY, or without a recipe, it says how to run it and fails.
	for _, args := range [][]string{{"keys"}, {"nosuch"}} {
		cmd := exec.Command("bash", append([]string{recipes}, args...)...)
		cmd.Env = append(os.Environ(), "KEY=")
		if args[0] == "nosuch" {
			cmd.Env = append(os.Environ(), "KEY="+admin)
		}
		out, err := cmd.CombinedOutput()
		if err == nil || !strings.Contains(string(out), "KEY") {
			t.Errorf("bash make-run.sh %s: %v, want a failure naming KEY:\n%s", args[0], err, out)
		}
	}
}
