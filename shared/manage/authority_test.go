package manage_test

import (
	"context"
	"testing"
	"time"

	"github.com/keygate/keygate/shared/keygate"
	"github.com/keygate/keygate/shared/manage"
)

// The tests below are the regressions of a hostile review: each acted with
// the authorizer's context (callerOf, taken before the change, as a cached
// context is) and succeeded on a service that decided with it.

// TestRotatedKeyCannotTakeOverItsSuccessor: within its grace the old key
// (usually rotated because it leaked) can neither rotate, revoke, update
// nor mint from its successor or anything else.
func TestRotatedKeyCannotTakeOverItsSuccessor(t *testing.T) {
	f := newFixture(t, nil)
	ctx := context.Background()
	old := f.mint(t, operator, manage.CreateRequest{Owner: "alice", APIs: []string{"*"}, Scopes: []string{"* /v1/*"}})
	stale := callerOf(old)
	next, err := f.svc.Rotate(ctx, operator, manage.RotateRequest{Tenant: "acme", ID: old.ID, GraceSeconds: ptr[int64](60)})
	if err != nil {
		t.Fatal(err)
	}
	before := f.get(t, next.ID)
	tests := []struct {
		name string
		do   func() error
	}{
		{"rotate the successor", func() error {
			_, err := f.svc.Rotate(ctx, stale, manage.RotateRequest{ID: next.ID, GraceSeconds: ptr[int64](0)})
			return err
		}},
		{"revoke the successor", func() error {
			_, err := f.svc.Revoke(ctx, stale, manage.RevokeRequest{ID: next.ID})
			return err
		}},
		{"disable the successor", func() error {
			_, err := f.svc.Update(ctx, stale, manage.UpdateRequest{ID: next.ID, Enabled: ptr(false)})
			return err
		}},
		{"mint a key", func() error {
			_, err := f.svc.Create(ctx, stale, manage.CreateRequest{})
			return err
		}},
		{"rename itself", func() error {
			_, err := f.svc.Update(ctx, stale, manage.UpdateRequest{ID: old.ID, Name: ptr("mine")})
			return err
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			wantCode(t, tt.do(), keygate.Forbidden)
		})
	}
	after := f.get(t, next.ID)
	if after.Status != keygate.Active || after.RotatedTo != "" || after.Rev != before.Rev || after.Name != before.Name {
		t.Fatalf("successor changed by its predecessor: %+v", after)
	}
	if got := f.audits(t, next.ID); len(got) != 1 {
		t.Fatalf("successor's audit = %v, want only its creation", got)
	}
}

// TestMintingUsesTheCurrentItem: a key narrowed and shortened since the
// authorizer cached it mints with what it holds now.
func TestMintingUsesTheCurrentItem(t *testing.T) {
	f := newFixture(t, nil)
	ctx := context.Background()
	v := f.mint(t, operator, manage.CreateRequest{Owner: "bob", APIs: []string{"*"}, Scopes: []string{"GET /v1/whoami", "POST /v1/keys", "POST /v1/keys/*"}, ExpiresInHours: ptr[int64](0)})
	stale := callerOf(v)
	shorter := f.clock.Now().Add(time.Hour).Format(time.RFC3339)
	if _, err := f.svc.Update(ctx, operator, manage.UpdateRequest{Tenant: "acme", ID: v.ID, Scopes: []string{"POST /v1/keys", "POST /v1/keys/*"}, ExpiresAt: &shorter}); err != nil {
		t.Fatal(err)
	}
	_, err := f.svc.Create(ctx, stale, manage.CreateRequest{Scopes: []string{"GET /v1/whoami"}, ExpiresInHours: ptr[int64](0)})
	wantCode(t, err, keygate.Forbidden)
	child, err := f.svc.Create(ctx, stale, manage.CreateRequest{ExpiresInHours: ptr[int64](0)})
	if err != nil {
		t.Fatal(err)
	}
	if want := f.clock.Now().Add(time.Hour); child.ExpiresAt == nil || !child.ExpiresAt.Equal(want) || !child.ExpiryCapped {
		t.Fatalf("child expires %v (capped %v), want %v: it outlives its parent", child.ExpiresAt, child.ExpiryCapped, want)
	}
	if len(child.Scopes) != 2 || child.Scopes[0] != "POST /v1/keys" {
		t.Fatalf("child scopes %v, want the parent's current ones", child.Scopes)
	}

	// The route the authorizer admitted must still be within the item's
	// scopes: a key that lost POST /v1/keys creates nothing.
	if _, err := f.svc.Update(ctx, operator, manage.UpdateRequest{Tenant: "acme", ID: v.ID, Scopes: []string{"POST /v1/keys/*"}}); err != nil {
		t.Fatal(err)
	}
	withRoute := stale
	withRoute.Request = keygate.Request{Method: "POST", Path: "/v1/keys", API: "kglocal001", Stage: "local"}
	_, err = f.svc.Create(ctx, withRoute, manage.CreateRequest{Scopes: []string{"POST /v1/keys/x"}})
	wantCode(t, err, keygate.Forbidden)

	// After a grace rotation the old key mints nothing.
	if _, err := f.svc.Rotate(ctx, operator, manage.RotateRequest{Tenant: "acme", ID: v.ID, GraceSeconds: ptr[int64](600)}); err != nil {
		t.Fatal(err)
	}
	_, err = f.svc.Create(ctx, stale, manage.CreateRequest{})
	wantCode(t, err, keygate.Forbidden)
}

// TestDisabledKeyCannotReenableItself: a disabled key makes no change, on
// itself least of all; a covering active key or an operator enables it.
func TestDisabledKeyCannotReenableItself(t *testing.T) {
	f := newFixture(t, nil)
	ctx := context.Background()
	v := f.mint(t, operator, manage.CreateRequest{Owner: "bob", APIs: []string{"*"}, Scopes: []string{"PATCH /v1/keys/*", "DELETE /v1/keys/*"}})
	stale := callerOf(v)
	if _, err := f.svc.Update(ctx, operator, manage.UpdateRequest{Tenant: "acme", ID: v.ID, Enabled: ptr(false)}); err != nil {
		t.Fatal(err)
	}
	_, err := f.svc.Update(ctx, stale, manage.UpdateRequest{ID: v.ID, Enabled: ptr(true)})
	wantCode(t, err, keygate.Unauthorized)
	_, err = f.svc.Revoke(ctx, stale, manage.RevokeRequest{ID: v.ID})
	wantCode(t, err, keygate.Unauthorized)
	if got := f.get(t, v.ID); got.Status != keygate.Disabled {
		t.Fatalf("status %s, want disabled", got.Status)
	}
	if _, err := f.svc.Update(ctx, operator, manage.UpdateRequest{Tenant: "acme", ID: v.ID, Enabled: ptr(true)}); err != nil {
		t.Fatal(err)
	}
	if got := f.get(t, v.ID); got.Status != keygate.Active {
		t.Fatalf("status %s, want active", got.Status)
	}
}

// TestCoveringIncludesAPIsAndExpiry: an admin bound to one API, or
// expiring, cannot rotate (and so take the token of), update or revoke a
// key that reaches other APIs or outlives it.
func TestCoveringIncludesAPIsAndExpiry(t *testing.T) {
	f := newFixture(t, nil)
	ctx := context.Background()
	bound := callerOf(f.mint(t, operator, manage.CreateRequest{Owner: "root", Role: keygate.Admin, APIs: []string{"kglocal001"}, ExpiresInHours: ptr[int64](0)}))
	brief := callerOf(f.mint(t, operator, manage.CreateRequest{Owner: "root", Role: keygate.Admin, ExpiresInHours: ptr[int64](24)}))
	data := f.mint(t, operator, manage.CreateRequest{Owner: "carol", APIs: []string{"dataapi01"}, Scopes: []string{"GET /x"}, ExpiresInHours: ptr[int64](12)})
	wide := f.mint(t, operator, manage.CreateRequest{Owner: "dave", Role: keygate.Admin, ExpiresInHours: ptr[int64](12)})
	forever := f.mint(t, operator, manage.CreateRequest{Owner: "erin", APIs: []string{"kglocal001"}, Scopes: []string{"GET /x"}, ExpiresInHours: ptr[int64](0)})
	tests := []struct {
		name   string
		caller keygate.Caller
		target string
	}{
		{"bound admin, other API", bound, data.ID},
		{"bound admin, admin of every API", bound, wide.ID},
		{"expiring admin, key that never expires", brief, forever.ID},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			before := f.get(t, tt.target)
			_, err := f.svc.Rotate(ctx, tt.caller, manage.RotateRequest{ID: tt.target})
			wantCode(t, err, keygate.Forbidden)
			_, err = f.svc.Update(ctx, tt.caller, manage.UpdateRequest{ID: tt.target, Name: ptr("taken")})
			wantCode(t, err, keygate.Forbidden)
			_, err = f.svc.Revoke(ctx, tt.caller, manage.RevokeRequest{ID: tt.target})
			wantCode(t, err, keygate.Forbidden)
			if after := f.get(t, tt.target); after.Rev != before.Rev || after.Status != keygate.Active {
				t.Fatalf("target changed: %+v", after)
			}
		})
	}
	// Within its API and lifetime the bound admin acts as before.
	if _, err := f.svc.Rotate(ctx, bound, manage.RotateRequest{ID: forever.ID}); err != nil {
		t.Fatal(err)
	}
}

// TestKeyCascadesItself: a key may revoke itself and its lineage; once its
// own revocation (the first write, held to its item as read) commits, the
// rest of the cascade still runs. The model test found a cascade that
// stopped after the root when every batch re-checked the revoked caller.
func TestKeyCascadesItself(t *testing.T) {
	f := newFixture(t, nil)
	ctx := context.Background()
	root := f.mint(t, operator, manage.CreateRequest{Owner: "alice", Role: keygate.Admin, ExpiresInHours: ptr[int64](0)})
	child := f.mint(t, callerOf(root), manage.CreateRequest{Owner: "bob", APIs: []string{"*"}, Scopes: []string{"GET /x"}})
	r, err := f.svc.Revoke(ctx, callerOf(root), manage.RevokeRequest{ID: root.ID, Cascade: true})
	if err != nil {
		t.Fatal(err)
	}
	if r.Status != keygate.Revoked || len(r.RevokedDescendants) != 1 || f.get(t, child.ID).Status != keygate.Revoked {
		t.Fatalf("self cascade = %+v; want the root and its child revoked", r)
	}
}
