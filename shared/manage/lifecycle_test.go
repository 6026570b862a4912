package manage_test

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/keygate/keygate/shared/keygate"
	"github.com/keygate/keygate/shared/manage"
)

func (f *fixture) get(t *testing.T, id string) *keygate.Key {
	t.Helper()
	k, err := f.svc.Get(context.Background(), operator, manage.GetRequest{Tenant: "acme", ID: id})
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func TestRotate(t *testing.T) {
	f := newFixture(t, func(c *manage.Config) { c.MaxUserKeys = 2 })
	ctx := context.Background()
	now := f.clock.Now()
	old := f.mint(t, operator, manage.CreateRequest{Owner: "alice", Name: "ci", APIs: []string{"abc123"}, Scopes: []string{"GET /x/*"}, ExpiresInHours: ptr[int64](48)})
	f.mint(t, operator, manage.CreateRequest{Owner: "alice", APIs: []string{"*"}, Scopes: []string{"GET /y"}}) // the owner is at the limit of 2
	f.clock.Add(time.Hour)
	next, err := f.svc.Rotate(ctx, operator, manage.RotateRequest{Tenant: "acme", ID: old.ID, GraceSeconds: ptr[int64](600)})
	if err != nil {
		t.Fatalf("rotate at the limit: %v (a key in its grace period must not block its successor)", err)
	}
	if next.ID == old.ID || next.Token.Reveal() == "" || next.RotatedFrom != old.ID || next.Owner != "alice" || next.Name != "ci" ||
		next.Type != old.Type || next.Role != old.Role || !slices.Equal(next.Scopes, old.Scopes) || !slices.Equal(next.APIs, old.APIs) {
		t.Fatalf("successor = %+v", next.Key)
	}
	if want := now.Add(time.Hour + 48*time.Hour); next.ExpiresAt == nil || !next.ExpiresAt.Equal(want) {
		t.Fatalf("successor expires %v, want %v (the old key's lifetime, from now)", next.ExpiresAt, want)
	}
	if got := f.get(t, old.ID); !got.ExpiresAt.Equal(now.Add(time.Hour+10*time.Minute)) || got.RotatedTo != next.ID || got.Status != keygate.Active {
		t.Fatalf("old key after rotation = %+v", got)
	}
	f.clock.Add(10 * time.Minute)
	if got := f.get(t, old.ID); got.Status != keygate.Expired {
		t.Fatalf("old key after its grace = %s", got.Status)
	}
	if a := f.audits(t, old.ID); !slices.Equal(a, []string{"created", "rotated"}) {
		t.Fatalf("old key's audits = %v", a)
	}
	if a := f.audits(t, next.ID); !slices.Equal(a, []string{"created"}) {
		t.Fatalf("new key's audits = %v", a)
	}
	// The grace never extends a key.
	short := f.mint(t, operator, manage.CreateRequest{Owner: "bob", APIs: []string{"*"}, Scopes: []string{"GET /x"}, ExpiresInHours: ptr[int64](1)})
	if _, err := f.svc.Rotate(ctx, operator, manage.RotateRequest{Tenant: "acme", ID: short.ID, GraceSeconds: ptr[int64](7 * 24 * 3600)}); err != nil {
		t.Fatal(err)
	}
	if got := f.get(t, short.ID); !got.ExpiresAt.Equal(*short.ExpiresAt) {
		t.Fatalf("grace moved the expiry from %v to %v", short.ExpiresAt, got.ExpiresAt)
	}
}

func TestRotateRefusals(t *testing.T) {
	f := newFixture(t, nil)
	ctx := context.Background()
	revoked := f.mint(t, operator, manage.CreateRequest{Owner: "alice", APIs: []string{"*"}, Scopes: []string{"GET /x"}})
	if _, err := f.svc.Revoke(ctx, operator, manage.RevokeRequest{Tenant: "acme", ID: revoked.ID}); err != nil {
		t.Fatal(err)
	}
	expiring := f.mint(t, operator, manage.CreateRequest{Owner: "alice", APIs: []string{"*"}, Scopes: []string{"GET /x"}, ExpiresInHours: ptr[int64](1)})
	rotated := f.mint(t, operator, manage.CreateRequest{Owner: "alice", APIs: []string{"*"}, Scopes: []string{"GET /x"}})
	if _, err := f.svc.Rotate(ctx, operator, manage.RotateRequest{Tenant: "acme", ID: rotated.ID, GraceSeconds: ptr[int64](60)}); err != nil {
		t.Fatal(err)
	}
	disabled := f.mint(t, operator, manage.CreateRequest{Owner: "alice", APIs: []string{"*"}, Scopes: []string{"GET /x"}})
	if _, err := f.svc.Update(ctx, operator, manage.UpdateRequest{Tenant: "acme", ID: disabled.ID, Enabled: ptr(false)}); err != nil {
		t.Fatal(err)
	}
	wide := f.mint(t, operator, manage.CreateRequest{Owner: "bob", APIs: []string{"*"}, Scopes: []string{"GET /*"}})
	narrow := f.mint(t, operator, manage.CreateRequest{Owner: "bob", APIs: []string{"*"}, Scopes: []string{"GET /x"}})
	f.clock.Add(2 * time.Hour)
	tests := []struct {
		name   string
		caller keygate.Caller
		req    manage.RotateRequest
		code   keygate.Code
	}{
		{"revoked", operator, manage.RotateRequest{Tenant: "acme", ID: revoked.ID}, keygate.Conflict},
		{"expired", operator, manage.RotateRequest{Tenant: "acme", ID: expiring.ID}, keygate.Conflict},
		{"already rotated", operator, manage.RotateRequest{Tenant: "acme", ID: rotated.ID}, keygate.Conflict},
		{"disabled", operator, manage.RotateRequest{Tenant: "acme", ID: disabled.ID}, keygate.Conflict},
		{"negative grace", operator, manage.RotateRequest{Tenant: "acme", ID: narrow.ID, GraceSeconds: ptr[int64](-1)}, keygate.Invalid},
		{"grace over a week", operator, manage.RotateRequest{Tenant: "acme", ID: narrow.ID, GraceSeconds: ptr[int64](604801)}, keygate.Invalid},
		{"narrow rotates wide", callerOf(narrow), manage.RotateRequest{ID: wide.ID}, keygate.Forbidden},
		{"other tenant", f.adminOf(t, "globex"), manage.RotateRequest{ID: narrow.ID}, keygate.NotFound},
		{"malformed id", operator, manage.RotateRequest{Tenant: "acme", ID: "../x"}, keygate.NotFound},
	}
	before := len(f.scan(t))
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := f.svc.Rotate(ctx, tt.caller, tt.req)
			wantCode(t, err, tt.code)
		})
	}
	if n := len(f.scan(t)); n != before {
		t.Fatalf("refused rotations wrote %d items", n-before)
	}
}

// TestParallelRotates: N rotations of one key race; exactly one succeeds.
func TestParallelRotates(t *testing.T) {
	f := newFixture(t, nil)
	ctx := context.Background()
	key := f.mint(t, operator, manage.CreateRequest{Owner: "alice", APIs: []string{"*"}, Scopes: []string{"GET /x"}})
	var wg sync.WaitGroup
	var mu sync.Mutex
	var won []string
	codes := map[keygate.Code]int{}
	for range 10 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			c, err := f.svc.Rotate(ctx, operator, manage.RotateRequest{Tenant: "acme", ID: key.ID})
			mu.Lock()
			defer mu.Unlock()
			if err == nil {
				won = append(won, c.ID)
			} else {
				codes[keygate.ErrorCode(err)]++
			}
		}()
	}
	wg.Wait()
	if len(won) != 1 || codes[keygate.Internal] != 0 {
		t.Fatalf("%d rotations succeeded, errors %v; want exactly one", len(won), codes)
	}
	if got := f.get(t, key.ID); got.RotatedTo != won[0] {
		t.Fatalf("old key rotated_to %s, winner %s", got.RotatedTo, won[0])
	}
	list, _ := f.svc.List(ctx, operator, manage.ListRequest{Tenant: "acme", Owner: "alice"})
	if len(list.Keys) != 2 {
		t.Fatalf("%d keys after the race, want the old one and one successor", len(list.Keys))
	}
}

func TestRotateIdempotent(t *testing.T) {
	f := newFixture(t, nil)
	ctx := context.Background()
	key := f.mint(t, operator, manage.CreateRequest{Owner: "alice", APIs: []string{"*"}, Scopes: []string{"GET /x"}})
	req := manage.RotateRequest{Tenant: "acme", ID: key.ID, GraceSeconds: ptr[int64](60), IdempotencyKey: "roll-1"}
	first, err := f.svc.Rotate(ctx, operator, req)
	if err != nil {
		t.Fatal(err)
	}
	again, err := f.svc.Rotate(ctx, operator, req)
	if err != nil || again.ID != first.ID || again.Token.Reveal() != first.Token.Reveal() {
		t.Fatalf("retry = %v, %v; want the same successor and token", again, err)
	}
	req.GraceSeconds = ptr[int64](120)
	_, err = f.svc.Rotate(ctx, operator, req)
	wantCode(t, err, keygate.Invalid)
}

func TestUpdate(t *testing.T) {
	f := newFixture(t, nil)
	ctx := context.Background()
	now := f.clock.Now()
	key := f.mint(t, operator, manage.CreateRequest{Owner: "alice", Name: "ci", APIs: []string{"*"}, Scopes: []string{"GET /x/*", "PUT /y"}, ExpiresInHours: ptr[int64](48)})
	later := now.Add(24 * time.Hour).Format(time.RFC3339)

	k, err := f.svc.Update(ctx, operator, manage.UpdateRequest{Tenant: "acme", ID: key.ID, Name: ptr("deploys"), Scopes: []string{"GET /x/a/*"}, ExpiresAt: &later})
	if err != nil {
		t.Fatal(err)
	}
	if k.Name != "deploys" || !slices.Equal(k.Scopes, []string{"GET /x/a/*"}) || !k.ExpiresAt.Equal(now.Add(24*time.Hour)) {
		t.Fatalf("updated = %+v", k)
	}
	if got := f.get(t, key.ID); got.Name != "deploys" || !slices.Equal(got.Scopes, k.Scopes) || !got.ExpiresAt.Equal(*k.ExpiresAt) {
		t.Fatalf("stored = %+v", got)
	}
	k, err = f.svc.Update(ctx, operator, manage.UpdateRequest{Tenant: "acme", ID: key.ID, Enabled: ptr(false)})
	if err != nil || k.Status != keygate.Disabled || k.Enabled {
		t.Fatalf("disable = %+v, %v", k, err)
	}
	list, _ := f.svc.List(ctx, operator, manage.ListRequest{Tenant: "acme", Status: keygate.Disabled})
	if len(list.Keys) != 1 || list.Keys[0].ID != key.ID {
		t.Fatalf("status=disabled lists %+v", list.Keys)
	}
	if k, err = f.svc.Update(ctx, operator, manage.UpdateRequest{Tenant: "acme", ID: key.ID, Enabled: ptr(true)}); err != nil || k.Status != keygate.Active {
		t.Fatalf("enable = %+v, %v", k, err)
	}
	if a := f.audits(t, key.ID); !slices.Equal(a, []string{"created", "updated", "updated", "updated"}) {
		t.Fatalf("audits = %v", a)
	}

	past, far := now.Add(-time.Hour).Format(time.RFC3339), now.Add(30*24*time.Hour).Format(time.RFC3339)
	admin := f.mint(t, operator, manage.CreateRequest{Owner: "root", Role: keygate.Admin})
	narrow := f.mint(t, operator, manage.CreateRequest{Owner: "alice", APIs: []string{"*"}, Scopes: []string{"GET /x/a/b"}})
	bad := []struct {
		name   string
		caller keygate.Caller
		req    manage.UpdateRequest
		code   keygate.Code
	}{
		{"nothing", operator, manage.UpdateRequest{}, keygate.Invalid},
		{"wider scope", operator, manage.UpdateRequest{Scopes: []string{"GET /x/*"}}, keygate.Invalid},
		{"other method", operator, manage.UpdateRequest{Scopes: []string{"DELETE /x/a/b"}}, keygate.Invalid},
		{"no scopes", operator, manage.UpdateRequest{Scopes: []string{}}, keygate.Invalid},
		{"bad scope", operator, manage.UpdateRequest{Scopes: []string{"get /x"}}, keygate.Invalid},
		{"later expiry", operator, manage.UpdateRequest{ExpiresAt: &far}, keygate.Invalid},
		{"past expiry", operator, manage.UpdateRequest{ExpiresAt: &past}, keygate.Invalid},
		{"unparsable expiry", operator, manage.UpdateRequest{ExpiresAt: ptr("tomorrow")}, keygate.Invalid},
		{"control character name", operator, manage.UpdateRequest{Name: ptr("a\x00")}, keygate.Invalid},
		{"narrower key widens a wider one", callerOf(narrow), manage.UpdateRequest{Enabled: ptr(false)}, keygate.Forbidden},
	}
	before := len(f.scan(t))
	for _, tt := range bad {
		t.Run(tt.name, func(t *testing.T) {
			tt.req.ID = key.ID
			if tt.caller.Operator {
				tt.req.Tenant = "acme"
			}
			_, err := f.svc.Update(ctx, tt.caller, tt.req)
			wantCode(t, err, tt.code)
		})
	}
	_, err = f.svc.Update(ctx, operator, manage.UpdateRequest{Tenant: "acme", ID: admin.ID, Scopes: []string{"GET /x"}})
	wantCode(t, err, keygate.Invalid)
	if _, err := f.svc.Revoke(ctx, operator, manage.RevokeRequest{Tenant: "acme", ID: narrow.ID}); err != nil {
		t.Fatal(err)
	}
	_, err = f.svc.Update(ctx, operator, manage.UpdateRequest{Tenant: "acme", ID: narrow.ID, Enabled: ptr(true)})
	wantCode(t, err, keygate.Conflict)
	if n := len(f.scan(t)); n != before+1 { // the revoke's audit record; its key update is in place
		t.Fatalf("refused updates wrote %d items", n-before-1)
	}
}

// TestParallelUpdates: updates racing on one key never both commit over
// the same revision: each that succeeds is audited, the rest are 409s.
func TestParallelUpdates(t *testing.T) {
	f := newFixture(t, nil)
	ctx := context.Background()
	key := f.mint(t, operator, manage.CreateRequest{Owner: "alice", APIs: []string{"*"}, Scopes: []string{"GET /x"}})
	var wg sync.WaitGroup
	var mu sync.Mutex
	ok := 0
	for i := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, err := f.svc.Update(ctx, operator, manage.UpdateRequest{Tenant: "acme", ID: key.ID, Name: ptr(fmt.Sprint("n", i))})
			mu.Lock()
			defer mu.Unlock()
			if err == nil {
				ok++
			} else if c := keygate.ErrorCode(err); c != keygate.Conflict && c != keygate.Unavailable {
				t.Errorf("update: %v", err)
			}
		}()
	}
	wg.Wait()
	if a := f.audits(t, key.ID); len(a) != 1+ok || ok == 0 {
		t.Fatalf("%d updates succeeded, audits %v", ok, a)
	}
}

func TestAuditRead(t *testing.T) {
	f := newFixture(t, func(c *manage.Config) { c.MaxUserKeys = 50 })
	ctx := manage.WithRequestID(context.Background(), "req-7")
	admin := f.mint(t, operator, manage.CreateRequest{Owner: "root", Role: keygate.Admin})
	f.clock.Add(time.Second)
	key := f.mint(t, callerOf(admin), manage.CreateRequest{Owner: "alice", APIs: []string{"*"}, Scopes: []string{"GET /x"}})
	f.clock.Add(time.Second)
	if _, err := f.svc.Update(ctx, callerOf(admin), manage.UpdateRequest{ID: key.ID, Enabled: ptr(false)}); err != nil {
		t.Fatal(err)
	}
	f.clock.Add(time.Second)
	if _, err := f.svc.Revoke(ctx, operator, manage.RevokeRequest{Tenant: "acme", ID: key.ID}); err != nil {
		t.Fatal(err)
	}
	page, err := f.svc.Audit(ctx, callerOf(admin), manage.AuditRequest{KeyID: key.ID})
	if err != nil {
		t.Fatal(err)
	}
	var actions []string
	for _, e := range page.Events {
		actions = append(actions, e.Action)
	}
	if !slices.Equal(actions, []string{"revoked", "updated", "created"}) || page.NextCursor != nil {
		t.Fatalf("events = %v, want newest first", actions)
	}
	upd := page.Events[1]
	if upd.Actor != "key:"+admin.ID || upd.RequestID != "req-7" || upd.Detail["enabled"] != "false" || page.Events[0].Actor != "operator" {
		t.Fatalf("update event = %+v", upd)
	}
	b, _ := json.Marshal(page)
	if strings.Contains(string(b), admin.Token.Reveal()[len("kg_live_")+17:]) || strings.Contains(string(b), key.Token.Reveal()[len("kg_live_")+17:]) || strings.Contains(string(b), "hmac-sha256") {
		t.Fatalf("audit shows a secret: %s", b)
	}
	// Paging through the whole tenant, newest first.
	var all []manage.AuditEvent
	req := manage.AuditRequest{Limit: 2}
	for pages := 0; ; pages++ {
		p, err := f.svc.Audit(ctx, callerOf(admin), req)
		if err != nil || pages > 5 {
			t.Fatalf("page %d: %v", pages, err)
		}
		all = append(all, p.Events...)
		if p.NextCursor == nil {
			break
		}
		req.Cursor = *p.NextCursor
	}
	if len(all) != 4 || !slices.IsSortedFunc(all, func(a, b manage.AuditEvent) int { return b.At.Compare(a.At) }) {
		t.Fatalf("%d events over the pages, want 4 newest first", len(all))
	}
	for _, tt := range []struct {
		name   string
		caller keygate.Caller
		req    manage.AuditRequest
		code   keygate.Code
	}{
		{"viewer", callerOf(key), manage.AuditRequest{}, keygate.Forbidden},
		{"bad key id", callerOf(admin), manage.AuditRequest{KeyID: "x"}, keygate.Invalid},
		{"foreign cursor", callerOf(admin), manage.AuditRequest{KeyID: key.ID, Cursor: req.Cursor}, keygate.Invalid},
		{"limit", callerOf(admin), manage.AuditRequest{Limit: 101}, keygate.Invalid},
		{"operator without tenant", operator, manage.AuditRequest{}, keygate.Invalid},
	} {
		t.Run(tt.name, func(t *testing.T) {
			_, err := f.svc.Audit(ctx, tt.caller, tt.req)
			wantCode(t, err, tt.code)
		})
	}
}

// TestRotateItself: a key may rotate itself (the e2e fuzzing found this
// answered 500: one transaction touched the key twice).
func TestRotateItself(t *testing.T) {
	f := newFixture(t, nil)
	ctx := context.Background()
	for _, idem := range []string{"", "self-1"} {
		k := f.mint(t, operator, manage.CreateRequest{Owner: "alice" + idem, Role: keygate.Admin})
		next, err := f.svc.Rotate(ctx, callerOf(k), manage.RotateRequest{ID: k.ID, GraceSeconds: ptr[int64](604799), IdempotencyKey: idem})
		if err != nil || next.RotatedFrom != k.ID {
			t.Fatalf("self-rotation (idempotency key %q) = %v, %v", idem, next, err)
		}
	}
}
