package main

import (
	"crypto/rand"
	"strings"
	"testing"

	"github.com/keygate/keygate/infra/ddblocal"
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
