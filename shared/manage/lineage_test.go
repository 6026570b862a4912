package manage_test

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/keygate/keygate/shared/keygate"
	"github.com/keygate/keygate/shared/manage"
)

// callerOf is the Caller the authorizer vouches for when c's token is used.
func callerOf(c *manage.Created) keygate.Caller {
	return keygate.Caller{KeyID: c.ID, Tenant: c.Tenant, Owner: c.Owner, Type: c.Type, Role: c.Role, Scopes: c.Scopes, APIs: c.APIs, ExpiresAt: c.ExpiresAt}
}

func (f *fixture) mint(t *testing.T, by keygate.Caller, req manage.CreateRequest) *manage.Created {
	t.Helper()
	tenant := ""
	if by.Operator {
		tenant = "acme"
	}
	c, err := f.svc.Create(context.Background(), by, withTenant(req, tenant, ""))
	if err != nil {
		t.Fatalf("create %+v: %v", req, err)
	}
	return c
}

// TestChildNeverOutlivesParent: a key minted by a key expires no later than
// it (capped, and the response says so), and records who minted it.
func TestChildNeverOutlivesParent(t *testing.T) {
	f := newFixture(t, nil)
	now := f.clock.Now()
	parent := f.mint(t, operator, manage.CreateRequest{Owner: "alice", Role: keygate.Admin, ExpiresInHours: ptr[int64](24)})
	tests := []struct {
		name   string
		req    manage.CreateRequest
		want   time.Time
		capped bool
	}{
		{"default ttl (90 days)", manage.CreateRequest{Owner: "bob", APIs: []string{"*"}, Scopes: []string{"GET /x"}}, now.Add(24 * time.Hour), true},
		{"never", manage.CreateRequest{Owner: "bob", APIs: []string{"*"}, Scopes: []string{"GET /x"}, ExpiresInHours: ptr[int64](0)}, now.Add(24 * time.Hour), true},
		{"later", manage.CreateRequest{Owner: "bob", APIs: []string{"*"}, Scopes: []string{"GET /x"}, ExpiresInHours: ptr[int64](48)}, now.Add(24 * time.Hour), true},
		{"earlier", manage.CreateRequest{Owner: "bob", APIs: []string{"*"}, Scopes: []string{"GET /x"}, ExpiresInHours: ptr[int64](2)}, now.Add(2 * time.Hour), false},
		{"equal", manage.CreateRequest{Owner: "bob", APIs: []string{"*"}, Scopes: []string{"GET /x"}, ExpiresInHours: ptr[int64](24)}, now.Add(24 * time.Hour), false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := f.mint(t, callerOf(parent), tt.req)
			if c.ExpiresAt == nil || !c.ExpiresAt.Equal(tt.want) || c.ExpiryCapped != tt.capped {
				t.Fatalf("expires_at = %v capped=%v, want %v capped=%v", c.ExpiresAt, c.ExpiryCapped, tt.want, tt.capped)
			}
			if c.CreatedBy != "key:"+parent.ID {
				t.Fatalf("created_by = %q", c.CreatedBy)
			}
			b, _ := json.Marshal(c)
			if strings.Contains(string(b), `"expiry_capped"`) != tt.capped {
				t.Fatalf("response %s: expiry_capped shown = %v, want %v", b, !tt.capped, tt.capped)
			}
			got, err := f.svc.Get(context.Background(), operator, manage.GetRequest{Tenant: "acme", ID: c.ID})
			if err != nil || !got.ExpiresAt.Equal(tt.want) {
				t.Fatalf("stored expires_at = %v, %v", got, err)
			}
		})
	}
	// Operators are not keys: nothing to outlive.
	c := f.mint(t, operator, manage.CreateRequest{Owner: "carol", APIs: []string{"*"}, Scopes: []string{"GET /x"}, ExpiresInHours: ptr[int64](0)})
	if c.ExpiresAt != nil || c.ExpiryCapped {
		t.Fatalf("operator key: expires_at = %v capped = %v", c.ExpiresAt, c.ExpiryCapped)
	}
}

// TestAPIsOnCreate: viewer keys name their APIs, within their creator's.
func TestAPIsOnCreate(t *testing.T) {
	f := newFixture(t, nil)
	ctx := context.Background()
	data := f.mint(t, operator, manage.CreateRequest{Owner: "alice", APIs: []string{"data123/prod"}, Scopes: []string{"* /*"}})
	admin := f.mint(t, operator, manage.CreateRequest{Owner: "root", Role: keygate.Admin})
	if !slices.Equal(admin.APIs, []string{"*"}) {
		t.Fatalf("operator's admin key apis = %v, want [*]", admin.APIs)
	}
	tests := []struct {
		name   string
		caller keygate.Caller
		req    manage.CreateRequest
		code   keygate.Code
		want   []string
	}{
		{"operator viewer without apis", operator, manage.CreateRequest{Owner: "bob", Scopes: []string{"GET /x"}}, keygate.Invalid, nil},
		{"admin viewer without apis", callerOf(admin), manage.CreateRequest{Owner: "bob", Scopes: []string{"GET /x"}}, keygate.Invalid, nil},
		{"bad api id", operator, manage.CreateRequest{Owner: "bob", APIs: []string{"ABC"}, Scopes: []string{"GET /x"}}, keygate.Invalid, nil},
		{"bad stage", operator, manage.CreateRequest{Owner: "bob", APIs: []string{"abc/p r"}, Scopes: []string{"GET /x"}}, keygate.Invalid, nil},
		{"wider than creator: other api", callerOf(data), manage.CreateRequest{APIs: []string{"mgmt456"}, Scopes: []string{"GET /x"}}, keygate.Forbidden, nil},
		{"wider than creator: every stage", callerOf(data), manage.CreateRequest{APIs: []string{"data123"}, Scopes: []string{"GET /x"}}, keygate.Forbidden, nil},
		{"wider than creator: all", callerOf(data), manage.CreateRequest{APIs: []string{"*"}, Scopes: []string{"GET /x"}}, keygate.Forbidden, nil},
		{"viewer passes its own on", callerOf(data), manage.CreateRequest{Scopes: []string{"GET /x"}}, "", []string{"data123/prod"}},
		{"within", callerOf(data), manage.CreateRequest{APIs: []string{"data123/prod", "data123/prod"}, Scopes: []string{"GET /x"}}, "", []string{"data123/prod"}},
		{"admin names one", callerOf(admin), manage.CreateRequest{Owner: "bob", APIs: []string{"mgmt456"}, Scopes: []string{"GET /x"}}, "", []string{"mgmt456"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tenant := ""
			if tt.caller.Operator {
				tenant = "acme"
			}
			c, err := f.svc.Create(ctx, tt.caller, withTenant(tt.req, tenant, ""))
			if tt.code != "" {
				wantCode(t, err, tt.code)
				return
			}
			if err != nil || !slices.Equal(c.APIs, tt.want) {
				t.Fatalf("apis = %v (%v), want %v", c, err, tt.want)
			}
		})
	}
	// Listings (read from GSI1) show each key's apis as stored.
	list, err := f.svc.List(ctx, operator, manage.ListRequest{Tenant: "acme"})
	if err != nil {
		t.Fatal(err)
	}
	for _, k := range list.Keys {
		got, _ := f.svc.Get(ctx, operator, manage.GetRequest{Tenant: "acme", ID: k.ID})
		if len(k.APIs) == 0 || !slices.Equal(k.APIs, got.APIs) {
			t.Fatalf("listed apis %v, stored %v", k.APIs, got.APIs)
		}
	}
}

// TestRevokeOnlyWhatYouCover: a key may revoke only keys whose role, scopes
// and APIs it covers, even among the keys it can see.
func TestRevokeOnlyWhatYouCover(t *testing.T) {
	f := newFixture(t, nil)
	ctx := context.Background()
	ownerAdmin := f.mint(t, operator, manage.CreateRequest{Owner: "bob", Role: keygate.Admin})
	wide := f.mint(t, operator, manage.CreateRequest{Owner: "bob", APIs: []string{"*"}, Scopes: []string{"GET /buckets/*"}})
	otherAPI := f.mint(t, operator, manage.CreateRequest{Owner: "bob", APIs: []string{"other1"}, Scopes: []string{"GET /buckets/photos/a"}})
	narrow := f.mint(t, operator, manage.CreateRequest{Owner: "bob", APIs: []string{"*"}, Scopes: []string{"GET /buckets/photos/*"}})
	sibling := f.mint(t, operator, manage.CreateRequest{Owner: "bob", APIs: []string{"*"}, Scopes: []string{"GET /buckets/photos/2026/*"}})
	for name, target := range map[string]*manage.Created{"owner's admin key": ownerAdmin, "wider sibling": wide} {
		t.Run(name, func(t *testing.T) {
			_, err := f.svc.Revoke(ctx, callerOf(narrow), manage.RevokeRequest{ID: target.ID})
			wantCode(t, err, keygate.Forbidden)
		})
	}
	t.Run("sibling on an API it lacks", func(t *testing.T) {
		_, err := f.svc.Revoke(ctx, callerOf(sibling), manage.RevokeRequest{ID: otherAPI.ID})
		wantCode(t, err, keygate.Forbidden)
	})
	for _, k := range []*manage.Created{ownerAdmin, wide, otherAPI} {
		if got, _ := f.svc.Get(ctx, operator, manage.GetRequest{Tenant: "acme", ID: k.ID}); got.Status != keygate.Active {
			t.Fatalf("key %s is %s after refused revokes", k.ID, got.Status)
		}
	}
	// Narrower keys and itself: fine.
	for _, target := range []*manage.Created{sibling, narrow} {
		if r, err := f.svc.Revoke(ctx, callerOf(narrow), manage.RevokeRequest{ID: target.ID}); err != nil || r.Status != keygate.Revoked {
			t.Fatalf("revoke %s = %v, %v", target.ID, r, err)
		}
	}
}

// TestCascadeRevoke: a cascade revokes the key and everything minted from
// it, transitively, and nothing else, with one audit record per key.
func TestCascadeRevoke(t *testing.T) {
	f := newFixture(t, func(c *manage.Config) { c.MaxUserKeys = 100 })
	ctx := context.Background()
	root := f.mint(t, operator, manage.CreateRequest{Owner: "alice", Role: keygate.Admin})
	child := f.mint(t, callerOf(root), manage.CreateRequest{Owner: "bob", Role: keygate.Admin})
	grandchild := f.mint(t, callerOf(child), manage.CreateRequest{Owner: "carol", APIs: []string{"*"}, Scopes: []string{"GET /x/*"}})
	great := f.mint(t, callerOf(grandchild), manage.CreateRequest{Scopes: []string{"GET /x/y"}})
	// Many children, so the cascade spans several transactions.
	var wide []string
	for i := 0; i < 70; i++ {
		wide = append(wide, f.mint(t, callerOf(child), manage.CreateRequest{Owner: fmt.Sprintf("u%d", i%7), APIs: []string{"*"}, Scopes: []string{"GET /z"}}).ID)
	}
	already := f.mint(t, callerOf(child), manage.CreateRequest{Owner: "dave", APIs: []string{"*"}, Scopes: []string{"GET /z"}})
	if _, err := f.svc.Revoke(ctx, operator, manage.RevokeRequest{Tenant: "acme", ID: already.ID}); err != nil {
		t.Fatal(err)
	}
	sibling := f.mint(t, callerOf(root), manage.CreateRequest{Owner: "erin", APIs: []string{"*"}, Scopes: []string{"GET /x"}})
	unrelated := f.mint(t, operator, manage.CreateRequest{Owner: "frank", APIs: []string{"*"}, Scopes: []string{"GET /x"}})

	// A plain revoke leaves descendants alone.
	r, err := f.svc.Revoke(ctx, callerOf(root), manage.RevokeRequest{ID: great.ID})
	if err != nil || r.Status != keygate.Revoked || len(r.RevokedDescendants) != 0 {
		t.Fatalf("plain revoke = %+v, %v", r, err)
	}

	r, err = f.svc.Revoke(ctx, callerOf(root), manage.RevokeRequest{ID: child.ID, Cascade: true})
	if err != nil {
		t.Fatal(err)
	}
	wantRevoked := append([]string{grandchild.ID}, wide...)
	slices.Sort(wantRevoked)
	got := slices.Clone(r.RevokedDescendants)
	slices.Sort(got)
	if r.ID != child.ID || r.Status != keygate.Revoked || !slices.Equal(got, wantRevoked) {
		t.Fatalf("cascade = %s %s, revoked %d descendants, want %d (the already revoked ones are not listed)", r.ID, r.Status, len(got), len(wantRevoked))
	}
	for _, id := range append([]string{child.ID, great.ID, already.ID}, wantRevoked...) {
		if k, _ := f.svc.Get(ctx, operator, manage.GetRequest{Tenant: "acme", ID: id}); k.Status != keygate.Revoked {
			t.Fatalf("descendant %s is %s", id, k.Status)
		}
	}
	for _, k := range []*manage.Created{root, sibling, unrelated} {
		if got, _ := f.svc.Get(ctx, operator, manage.GetRequest{Tenant: "acme", ID: k.ID}); got.Status != keygate.Active {
			t.Fatalf("key %s outside the lineage is %s", k.ID, got.Status)
		}
	}
	for _, id := range append([]string{child.ID}, wantRevoked...) {
		if a := f.audits(t, id); !slices.Equal(a, []string{"created", "revoked"}) {
			t.Fatalf("audits of %s = %v", id, a)
		}
	}
	// Again: a no-op that revokes nothing more.
	r, err = f.svc.Revoke(ctx, callerOf(root), manage.RevokeRequest{ID: child.ID, Cascade: true})
	if err != nil || len(r.RevokedDescendants) != 0 {
		t.Fatalf("second cascade = %+v, %v", r, err)
	}
}

// TestParallelCascades: cascades racing each other and plain revokes over
// one lineage revoke every key exactly once.
func TestParallelCascades(t *testing.T) {
	f := newFixture(t, func(c *manage.Config) { c.MaxUserKeys = 100 })
	ctx := context.Background()
	root := f.mint(t, operator, manage.CreateRequest{Owner: "alice", Role: keygate.Admin})
	var ids []string
	for i := 0; i < 40; i++ {
		ids = append(ids, f.mint(t, callerOf(root), manage.CreateRequest{Owner: fmt.Sprintf("u%d", i%4), APIs: []string{"*"}, Scopes: []string{"GET /z"}}).ID)
	}
	var wg sync.WaitGroup
	for i := 0; i < 6; i++ {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			if i%2 == 0 {
				_, _ = f.svc.Revoke(ctx, operator, manage.RevokeRequest{Tenant: "acme", ID: root.ID, Cascade: true})
			} else {
				_, _ = f.svc.Revoke(ctx, operator, manage.RevokeRequest{Tenant: "acme", ID: ids[i*5]})
			}
		}(i)
	}
	wg.Wait()
	if _, err := f.svc.Revoke(ctx, operator, manage.RevokeRequest{Tenant: "acme", ID: root.ID, Cascade: true}); err != nil {
		t.Fatal(err)
	}
	for _, id := range append([]string{root.ID}, ids...) {
		if a := f.audits(t, id); !slices.Equal(a, []string{"created", "revoked"}) {
			t.Fatalf("audits of %s = %v, want one create and one revoke", id, a)
		}
	}
}

// TestCursorsAreSealed: cursors hide what they point at, continue only the
// listing that made them, and refuse tampering.
func TestCursorsAreSealed(t *testing.T) {
	f := newFixture(t, func(c *manage.Config) { c.MaxUserKeys = 50 })
	ctx := context.Background()
	var ids []string
	for i := 0; i < 4; i++ {
		for _, owner := range []string{"alice", "bob"} {
			ids = append(ids, f.mint(t, operator, manage.CreateRequest{Owner: owner, APIs: []string{"*"}, Scopes: []string{"GET /x"}}).ID)
			f.clock.Add(time.Second)
		}
	}
	list, err := f.svc.List(ctx, operator, manage.ListRequest{Tenant: "acme", Limit: 3})
	if err != nil || list.NextCursor == nil {
		t.Fatalf("list = %+v, %v", list, err)
	}
	cursor := *list.NextCursor
	_, body, _ := strings.Cut(cursor, ".") // "<pepper version>.<base64url>"
	raw, err := base64.RawURLEncoding.DecodeString(body)
	if err != nil {
		t.Fatalf("cursor %s is not <version>.<base64url>: %v", cursor, err)
	}
	for _, id := range ids {
		if strings.Contains(cursor, id) || bytes.Contains(raw, []byte(id)) || strings.Contains(string(raw), "alice") {
			t.Fatalf("cursor shows a key id or owner: %s", cursor)
		}
	}
	tampered := []byte(cursor)
	tampered[10] ^= 1
	alice := keygate.Caller{KeyID: "alicekey000000000", Tenant: "acme", Owner: "alice", Type: keygate.User, Role: keygate.Viewer, Scopes: []string{"GET /x"}, APIs: []string{"*"}}
	bad := []struct {
		name   string
		caller keygate.Caller
		req    manage.ListRequest
	}{
		{"tampered", operator, manage.ListRequest{Tenant: "acme", Limit: 3, Cursor: string(tampered)}},
		{"truncated", operator, manage.ListRequest{Tenant: "acme", Limit: 3, Cursor: cursor[:len(cursor)-4]}},
		{"plain base64 of a position", operator, manage.ListRequest{Tenant: "acme", Limit: 3, Cursor: base64.RawURLEncoding.EncodeToString([]byte("alice#2026-11-23T12:00:00.000Z#" + ids[0]))}},
		{"other tenant", operator, manage.ListRequest{Tenant: "globex", Limit: 3, Cursor: cursor}},
		{"other filter", operator, manage.ListRequest{Tenant: "acme", Owner: "alice", Limit: 3, Cursor: cursor}},
		{"other status", operator, manage.ListRequest{Tenant: "acme", Status: keygate.Active, Limit: 3, Cursor: cursor}},
		{"other caller", alice, manage.ListRequest{Limit: 3, Cursor: cursor}},
	}
	for _, tt := range bad {
		t.Run(tt.name, func(t *testing.T) {
			_, err := f.svc.List(ctx, tt.caller, tt.req)
			wantCode(t, err, keygate.Invalid)
		})
	}
	// The cursor continues its own listing.
	next, err := f.svc.List(ctx, operator, manage.ListRequest{Tenant: "acme", Limit: 3, Cursor: cursor})
	if err != nil || len(next.Keys) != 3 || next.Keys[0].ID == list.Keys[0].ID {
		t.Fatalf("next page = %+v, %v", next, err)
	}
}

// TestServiceViewerListsItself: a viewer service key sees only itself, and
// its listing reads no other key, so no cursor comes from one it cannot see.
func TestServiceViewerListsItself(t *testing.T) {
	f := newFixture(t, nil)
	ctx := context.Background()
	for i := 0; i < 3; i++ {
		f.mint(t, operator, manage.CreateRequest{Type: keygate.Service, Role: keygate.Admin})
	}
	sv := f.mint(t, operator, manage.CreateRequest{Type: keygate.Service, APIs: []string{"*"}, Scopes: []string{"GET /v1/keys"}})
	list, err := f.svc.List(ctx, callerOf(sv), manage.ListRequest{Limit: 1})
	if err != nil || len(list.Keys) != 1 || list.Keys[0].ID != sv.ID || list.NextCursor != nil {
		t.Fatalf("service viewer list = %+v, %v", list, err)
	}
	list, err = f.svc.List(ctx, callerOf(sv), manage.ListRequest{Status: keygate.Revoked})
	if err != nil || len(list.Keys) != 0 {
		t.Fatalf("filtered = %+v, %v", list, err)
	}
}

// TestInactiveKeysMintNothing: the authorizer's cache may let a revoked,
// disabled or expired key through for seconds; it still cannot mint or
// rotate (the store checks the minting key in the same transaction).
func TestInactiveKeysMintNothing(t *testing.T) {
	f := newFixture(t, nil)
	ctx := context.Background()
	for _, how := range []string{"revoked", "disabled", "expired"} {
		t.Run(how, func(t *testing.T) {
			parent := f.mint(t, operator, manage.CreateRequest{Owner: "p" + how, Role: keygate.Admin, ExpiresInHours: ptr[int64](1)})
			victim := f.mint(t, operator, manage.CreateRequest{Owner: "v" + how, APIs: []string{"*"}, Scopes: []string{"GET /x"}})
			switch how {
			case "revoked":
				if _, err := f.svc.Revoke(ctx, operator, manage.RevokeRequest{Tenant: "acme", ID: parent.ID}); err != nil {
					t.Fatal(err)
				}
			case "disabled":
				if _, err := f.svc.Update(ctx, operator, manage.UpdateRequest{Tenant: "acme", ID: parent.ID, Enabled: ptr(false)}); err != nil {
					t.Fatal(err)
				}
			}
			stale := callerOf(parent) // what a cached authorizer decision still vouches for
			if how == "expired" {
				f.clock.Add(2 * time.Hour)
				stale.ExpiresAt = nil // a context that would not cap the child
			}
			before := len(f.scan(t))
			_, err := f.svc.Create(ctx, stale, manage.CreateRequest{Owner: "x", APIs: []string{"*"}, Scopes: []string{"GET /x"}, ExpiresInHours: ptr[int64](0)})
			wantCode(t, err, keygate.Unauthorized)
			_, err = f.svc.Rotate(ctx, stale, manage.RotateRequest{ID: victim.ID})
			wantCode(t, err, keygate.Unauthorized)
			if n := len(f.scan(t)); n != before {
				t.Fatalf("an inactive key's mint wrote %d items", n-before)
			}
		})
	}
}

// TestRotationLimit: one key in its grace period may hold a slot past the
// limit so it never blocks its successor; rotating again within the grace
// would keep a third key alive, and is refused unless without grace.
func TestRotationLimit(t *testing.T) {
	f := newFixture(t, func(c *manage.Config) { c.MaxUserKeys = 2 })
	ctx := context.Background()
	k1 := f.mint(t, operator, manage.CreateRequest{Owner: "alice", APIs: []string{"*"}, Scopes: []string{"GET /x"}})
	f.mint(t, operator, manage.CreateRequest{Owner: "alice", APIs: []string{"*"}, Scopes: []string{"GET /y"}})
	k2, err := f.svc.Rotate(ctx, operator, manage.RotateRequest{Tenant: "acme", ID: k1.ID, GraceSeconds: ptr[int64](3600)})
	if err != nil {
		t.Fatalf("rotation at the limit: %v", err)
	}
	_, err = f.svc.Rotate(ctx, operator, manage.RotateRequest{Tenant: "acme", ID: k2.ID, GraceSeconds: ptr[int64](3600)})
	wantCode(t, err, keygate.LimitExceeded)
	if _, err := f.svc.Create(ctx, operator, manage.CreateRequest{Tenant: "acme", Owner: "alice", APIs: []string{"*"}, Scopes: []string{"GET /z"}}); keygate.ErrorCode(err) != keygate.LimitExceeded {
		t.Fatalf("a create while a key is in grace at the limit: %v", err)
	}
	if _, err := f.svc.Rotate(ctx, operator, manage.RotateRequest{Tenant: "acme", ID: k2.ID, GraceSeconds: ptr[int64](0)}); err != nil {
		t.Fatalf("rotation without grace: %v", err)
	}
	f.clock.Add(time.Hour)
	if _, err := f.svc.Create(ctx, operator, manage.CreateRequest{Tenant: "acme", Owner: "alice", APIs: []string{"*"}, Scopes: []string{"GET /z"}}); keygate.ErrorCode(err) != keygate.LimitExceeded {
		t.Fatalf("the grace over, the owner holds 2 keys at a limit of 2: %v", err)
	}
}

// TestRotationKeepsLineage: a rotated child stays in its creator's lineage
// (a cascade reaches the successor) and never outlives the creator, whoever
// rotates it; and a cascade refuses to revoke descendants wider than the
// calling key.
func TestRotationKeepsLineage(t *testing.T) {
	f := newFixture(t, nil)
	ctx := context.Background()
	parent := f.mint(t, operator, manage.CreateRequest{Owner: "alice", Role: keygate.Admin, ExpiresInHours: ptr[int64](24)})
	child := f.mint(t, callerOf(parent), manage.CreateRequest{Owner: "bob", APIs: []string{"*"}, Scopes: []string{"GET /x/*"}})
	admin := f.mint(t, operator, manage.CreateRequest{Owner: "root", Role: keygate.Admin, ExpiresInHours: ptr[int64](0)})
	f.clock.Add(time.Hour)
	next, err := f.svc.Rotate(ctx, callerOf(admin), manage.RotateRequest{ID: child.ID})
	if err != nil {
		t.Fatal(err)
	}
	if next.CreatedBy != "key:"+parent.ID || next.ExpiresAt == nil || next.ExpiresAt.After(*parent.ExpiresAt) {
		t.Fatalf("successor created_by %s expires %v; want the parent's lineage and at most %v", next.CreatedBy, next.ExpiresAt, parent.ExpiresAt)
	}
	r, err := f.svc.Revoke(ctx, operator, manage.RevokeRequest{Tenant: "acme", ID: parent.ID, Cascade: true})
	if err != nil || !slices.Contains(r.RevokedDescendants, next.ID) {
		t.Fatalf("cascade from the parent = %+v, %v; want the successor revoked", r, err)
	}

	// A viewer that narrowed its scopes after minting a wider child.
	v := f.mint(t, operator, manage.CreateRequest{Owner: "carol", APIs: []string{"*"}, Scopes: []string{"GET /a/*"}})
	wide := f.mint(t, callerOf(v), manage.CreateRequest{Scopes: []string{"GET /a/*"}})
	narrowed, err := f.svc.Update(ctx, operator, manage.UpdateRequest{Tenant: "acme", ID: v.ID, Scopes: []string{"GET /a/b"}})
	if err != nil {
		t.Fatal(err)
	}
	c := callerOf(v)
	c.Scopes = narrowed.Scopes
	_, err = f.svc.Revoke(ctx, c, manage.RevokeRequest{ID: v.ID, Cascade: true})
	wantCode(t, err, keygate.Forbidden)
	if got := f.get(t, wide.ID); got.Status != keygate.Active {
		t.Fatalf("the refused cascade revoked the wider child: %s", got.Status)
	}
	if got := f.get(t, v.ID); got.Status != keygate.Active {
		t.Fatalf("the refused cascade revoked its root: %s", got.Status)
	}
}

// TestLineageOutlivesRotation: a cascade from a rotated key's successor
// reaches what its predecessor minted, and a cascade from above reaches
// through a rotated key whose item DynamoDB's TTL removed. Both missed
// keys when cascades followed created_by alone.
func TestLineageOutlivesRotation(t *testing.T) {
	ctx := context.Background()
	t.Run("successor reaches its predecessor's children", func(t *testing.T) {
		f := newFixture(t, nil)
		p := f.mint(t, operator, manage.CreateRequest{Owner: "alice", Role: keygate.Admin, ExpiresInHours: ptr[int64](0)})
		c1 := f.mint(t, callerOf(p), manage.CreateRequest{Owner: "bob", APIs: []string{"*"}, Scopes: []string{"GET /x"}})
		p2, err := f.svc.Rotate(ctx, operator, manage.RotateRequest{Tenant: "acme", ID: p.ID})
		if err != nil {
			t.Fatal(err)
		}
		c2 := f.mint(t, callerOf(p2), manage.CreateRequest{Owner: "bob", APIs: []string{"*"}, Scopes: []string{"GET /y"}})
		r, err := f.svc.Revoke(ctx, operator, manage.RevokeRequest{Tenant: "acme", ID: p2.ID, Cascade: true})
		if err != nil {
			t.Fatal(err)
		}
		if !slices.Contains(r.RevokedDescendants, c1.ID) || !slices.Contains(r.RevokedDescendants, c2.ID) {
			t.Fatalf("cascade from the successor revoked %v; want %s (minted by its predecessor) and %s", r.RevokedDescendants, c1.ID, c2.ID)
		}
	})
	t.Run("through a rotated key TTL removed", func(t *testing.T) {
		f := newFixture(t, nil)
		g := f.mint(t, operator, manage.CreateRequest{Owner: "root", Role: keygate.Admin, ExpiresInHours: ptr[int64](0)})
		p := f.mint(t, callerOf(g), manage.CreateRequest{Owner: "alice", Role: keygate.Admin})
		c := f.mint(t, callerOf(p), manage.CreateRequest{Owner: "bob", APIs: []string{"*"}, Scopes: []string{"GET /x"}})
		p2, err := f.svc.Rotate(ctx, operator, manage.RotateRequest{Tenant: "acme", ID: p.ID})
		if err != nil {
			t.Fatal(err)
		}
		// DynamoDB's TTL removes the old key's item some time after it
		// expired; its successor and child remain.
		if _, err := f.db.DeleteItem(ctx, &dynamodb.DeleteItemInput{TableName: aws.String(f.table), Key: map[string]types.AttributeValue{
			"pk": &types.AttributeValueMemberS{Value: "KEY#" + p.ID}, "sk": &types.AttributeValueMemberS{Value: "KEY"},
		}}); err != nil {
			t.Fatal(err)
		}
		r, err := f.svc.Revoke(ctx, operator, manage.RevokeRequest{Tenant: "acme", ID: g.ID, Cascade: true})
		if err != nil {
			t.Fatal(err)
		}
		if !slices.Contains(r.RevokedDescendants, p2.ID) || !slices.Contains(r.RevokedDescendants, c.ID) {
			t.Fatalf("cascade from the grandparent revoked %v; want %s (the successor) and %s (minted by the removed key)", r.RevokedDescendants, p2.ID, c.ID)
		}
	})
}

// TestRotateAChildOfARotatedKey: a successor is capped by the key its
// creator became, not by the creator's rotated item (whose expiry is its
// grace's end): rotating a child of a rotated key gave a successor born
// expired. If the creator's chain has expired, the rotation is refused.
func TestRotateAChildOfARotatedKey(t *testing.T) {
	f := newFixture(t, nil)
	ctx := context.Background()
	p := f.mint(t, operator, manage.CreateRequest{Owner: "alice", Role: keygate.Admin, ExpiresInHours: ptr[int64](48)})
	k := f.mint(t, callerOf(p), manage.CreateRequest{Owner: "bob", APIs: []string{"*"}, Scopes: []string{"GET /x"}, ExpiresInHours: ptr[int64](24)})
	p2, err := f.svc.Rotate(ctx, operator, manage.RotateRequest{Tenant: "acme", ID: p.ID})
	if err != nil {
		t.Fatal(err)
	}
	f.clock.Add(time.Minute)
	next, err := f.svc.Rotate(ctx, operator, manage.RotateRequest{Tenant: "acme", ID: k.ID, GraceSeconds: ptr[int64](3600)})
	if err != nil {
		t.Fatal(err)
	}
	if next.Status != keygate.Active || next.ExpiresAt == nil || next.ExpiresAt.After(*p2.ExpiresAt) || !next.ExpiresAt.After(f.clock.Now()) {
		t.Fatalf("successor %s expires %v (status %s); want active, capped at the creator's successor (%v)", next.ID, next.ExpiresAt, next.Status, p2.ExpiresAt)
	}
	// The creator's chain is shortened and ends: its child stays valid, but
	// a successor would be born expired, so the rotation is refused.
	soon := f.clock.Now().Add(time.Hour).Format(time.RFC3339)
	if _, err := f.svc.Update(ctx, operator, manage.UpdateRequest{Tenant: "acme", ID: p2.ID, ExpiresAt: &soon}); err != nil {
		t.Fatal(err)
	}
	f.clock.Add(2 * time.Hour)
	_, err = f.svc.Rotate(ctx, operator, manage.RotateRequest{Tenant: "acme", ID: next.ID})
	wantCode(t, err, keygate.Conflict)
	if got := f.get(t, next.ID); got.Status != keygate.Active || got.RotatedTo != "" {
		t.Fatalf("the refused rotation changed the key: %+v", got)
	}
}

// TestLegacyChainsCascade: keys written before lineages were recorded
// carry only rotated_from/rotated_to and created_by. A cascade from the
// end of such a chain still reaches what its first key minted, also when
// DynamoDB's TTL removed the key in between.
func TestLegacyChainsCascade(t *testing.T) {
	f := newFixture(t, nil)
	ctx := context.Background()
	a := f.mint(t, operator, manage.CreateRequest{Owner: "alice", Role: keygate.Admin, ExpiresInHours: ptr[int64](0)})
	x := f.mint(t, callerOf(a), manage.CreateRequest{Owner: "bob", APIs: []string{"*"}, Scopes: []string{"GET /x"}})
	b, err := f.svc.Rotate(ctx, operator, manage.RotateRequest{Tenant: "acme", ID: a.ID})
	if err != nil {
		t.Fatal(err)
	}
	c, err := f.svc.Rotate(ctx, operator, manage.RotateRequest{Tenant: "acme", ID: b.ID})
	if err != nil {
		t.Fatal(err)
	}
	// Make them as an older Keygate wrote them, and let TTL take b.
	for _, id := range []string{a.ID, x.ID, b.ID, c.ID} {
		if _, err := f.db.UpdateItem(ctx, &dynamodb.UpdateItemInput{TableName: aws.String(f.table), Key: keyOf(id),
			UpdateExpression: aws.String("REMOVE lineage, parent_lineage")}); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := f.db.DeleteItem(ctx, &dynamodb.DeleteItemInput{TableName: aws.String(f.table), Key: keyOf(b.ID)}); err != nil {
		t.Fatal(err)
	}
	r, err := f.svc.Revoke(ctx, operator, manage.RevokeRequest{Tenant: "acme", ID: c.ID, Cascade: true})
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Contains(r.RevokedDescendants, x.ID) {
		t.Fatalf("cascade from the chain's end revoked %v; want %s, minted by its first key", r.RevokedDescendants, x.ID)
	}
}

func keyOf(id string) map[string]types.AttributeValue {
	return map[string]types.AttributeValue{
		"pk": &types.AttributeValueMemberS{Value: "KEY#" + id}, "sk": &types.AttributeValueMemberS{Value: "KEY"},
	}
}
