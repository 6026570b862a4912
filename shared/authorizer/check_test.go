package authorizer_test

import (
	"context"
	"testing"

	"github.com/keygate/keygate/shared/authorizer"
	"github.com/keygate/keygate/shared/keygate"
	"github.com/keygate/keygate/shared/manage"
)

// TestCheck: Check is Authorize's decision with a tenant guard, also on a
// cache hit: another tenant's key is an unknown key (no Key, no
// last-used write); an empty API checks no API and an empty route no
// scope, which Authorize never skips.
func TestCheck(t *testing.T) {
	f := newFixture(t, nil) // a 5 s cache: the second decision is a hit
	ctx := context.Background()
	key := f.create(t, manage.CreateRequest{APIs: []string{"abc123/prod"}, Scopes: []string{"GET /x/*"}})
	tok := key.Token.Reveal()
	tests := []struct {
		name    string
		req     authorizer.Request
		tenant  string
		outcome authorizer.Outcome
		known   bool
	}{
		{"own tenant", authorizer.Request{Token: tok, API: "abc123", Stage: "prod", Method: "GET", Path: "/x/1"}, "acme", authorizer.Allow, true},
		{"another tenant", authorizer.Request{Token: tok, API: "abc123", Stage: "prod", Method: "GET", Path: "/x/1"}, "globex", authorizer.Unauthorized, false},
		{"no tenant", authorizer.Request{Token: tok}, "", authorizer.Unauthorized, false},
		{"no api, no route", authorizer.Request{Token: tok}, "acme", authorizer.Allow, true},
		{"route only", authorizer.Request{Token: tok, Method: "GET", Path: "/x/1"}, "acme", authorizer.Allow, true},
		{"route outside the scopes", authorizer.Request{Token: tok, Method: "POST", Path: "/x/1"}, "acme", authorizer.Deny, true},
		{"api only, another stage", authorizer.Request{Token: tok, API: "abc123", Stage: "test"}, "acme", authorizer.Deny, true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			for _, pass := range []string{"miss", "hit"} {
				touches := f.store.touches.Load()
				d, err := f.auth.Check(ctx, tc.req, tc.tenant)
				if err != nil {
					t.Fatal(err)
				}
				if d.Outcome != tc.outcome || (d.Key() != nil) != tc.known {
					t.Fatalf("%s: %v (%s), key %v; want %v, known %v", pass, d.Outcome, d.Reason, d.Key(), tc.outcome, tc.known)
				}
				if !tc.known && (d.Reason != "unknown key" || d.Status() != "" || f.store.touches.Load() != touches) {
					t.Errorf("%s: reason %q, status %q, touched %v: not as an unknown key", pass, d.Reason, d.Status(), f.store.touches.Load() != touches)
				}
				if tc.known && (d.Key().ID != key.ID || d.Status() != keygate.Active) {
					t.Errorf("%s: key %s, status %s", pass, d.Key().ID, d.Status())
				}
			}
		})
	}
	// Authorize checks the API and the route even when they are empty.
	if d, _, err := f.auth.Authorize(ctx, authorizer.Request{Token: tok}); err != nil || d.Outcome != authorizer.Deny {
		t.Errorf("Authorize without API or route: %v (%s), %v", d.Outcome, d.Reason, err)
	}
}
