package manage_test

import (
	"context"
	"maps"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/keygate/keygate/shared/keygate"
	"github.com/keygate/keygate/shared/manage"
	"github.com/keygate/keygate/shared/store"
)

var leak = keygate.Leak{URL: "https://github.com/octo/app/blob/abc/.env", Source: "content", Type: "keygate_api_key"}

// setLeakAction writes tenant's settings as PUT /v1/settings would.
func (f *fixture) setLeakAction(t *testing.T, tenant, action string, cascade bool) {
	t.Helper()
	s := keygate.Settings{LeakAction: action, LeakCascade: cascade}
	if err := s.Check(); err != nil {
		t.Fatal(err)
	}
	if err := store.NewLifecycle(f.db, f.table).PutSettings(context.Background(), tenant, s, f.clock.Now(), nil); err != nil {
		t.Fatal(err)
	}
}

// record reads key id's item as the secret-scanning handler does: with
// its verifier.
func (f *fixture) record(t *testing.T, id string) *keygate.Record {
	t.Helper()
	r, err := store.New(f.db, f.table).GetKeyWithVerifier(context.Background(), id)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// trail is key id's audit events, oldest first.
func (f *fixture) trail(t *testing.T, id string) []manage.AuditEvent {
	t.Helper()
	page, err := f.svc.Audit(context.Background(), operator, manage.AuditRequest{Tenant: "acme", KeyID: id, Limit: manage.MaxListLimit})
	if err != nil {
		t.Fatal(err)
	}
	slices.Reverse(page.Events)
	return page.Events
}

func actions(evs []manage.AuditEvent) string {
	var out []string
	for _, e := range evs {
		out = append(out, e.Action)
	}
	return strings.Join(out, ",")
}

// TestReportLeak: the first report of a key is recorded on the key and in
// a leaked audit record; the tenant's leak action decides whether the key
// is revoked (revoke, also when unset) or left as it is (notify), and
// leak_cascade whether the keys it minted go with it. Against DynamoDB
// Local.
func TestReportLeak(t *testing.T) {
	tests := []struct {
		name     string
		action   string // "-": no settings item at all
		cascade  bool
		status   keygate.Status // the leaked key's, after
		children keygate.Status // its child's and grandchild's, after
	}{
		{"no settings revoke", "-", false, keygate.Revoked, keygate.Active},
		{"revoke", keygate.LeakRevoke, false, keygate.Revoked, keygate.Active},
		{"revoke with cascade", keygate.LeakRevoke, true, keygate.Revoked, keygate.Revoked},
		{"notify", keygate.LeakNotify, false, keygate.Active, keygate.Active},
		{"notify ignores cascade", keygate.LeakNotify, true, keygate.Active, keygate.Active},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFixture(t, nil)
			ctx := manage.WithRequestID(context.Background(), "alert-1")
			if tt.action != "-" {
				f.setLeakAction(t, "acme", tt.action, tt.cascade)
			}
			root := f.mint(t, operator, manage.CreateRequest{Owner: "alice", Role: keygate.Admin, ExpiresInHours: ptr[int64](0)})
			child := f.mint(t, callerOf(root), manage.CreateRequest{Owner: "alice", Role: keygate.Admin, APIs: []string{"*"}})
			grandchild := f.mint(t, callerOf(child), manage.CreateRequest{Owner: "alice", APIs: []string{"*"}, Scopes: []string{"GET /x"}})

			recorded, err := f.svc.ReportLeak(ctx, f.record(t, root.ID), leak)
			if err != nil || !recorded {
				t.Fatalf("ReportLeak = %v, %v; want recorded", recorded, err)
			}
			now := f.clock.Now().UTC().Truncate(time.Millisecond)
			k := f.get(t, root.ID)
			if k.Status != tt.status {
				t.Errorf("leaked key is %s, want %s", k.Status, tt.status)
			}
			if want := (keygate.Leak{At: now, URL: leak.URL, Source: leak.Source, Type: leak.Type}); k.Leaked == nil || *k.Leaked != want {
				t.Errorf("Leaked = %+v, want %+v", k.Leaked, want)
			}
			for _, id := range []string{child.ID, grandchild.ID} {
				if got := f.get(t, id).Status; got != tt.children {
					t.Errorf("descendant %s is %s, want %s", id, got, tt.children)
				}
			}

			evs := f.trail(t, root.ID)
			wantActions := "created,leaked"
			if tt.status == keygate.Revoked {
				wantActions += ",revoked"
			}
			if got := actions(evs); got != wantActions {
				t.Fatalf("audit of the leaked key: %s, want %s", got, wantActions)
			}
			wantAction := tt.action
			if wantAction == "-" {
				wantAction = keygate.LeakRevoke
			}
			wantCascade := "false"
			if tt.cascade {
				wantCascade = "true"
			}
			leaked := evs[1]
			wantDetail := map[string]string{"url": leak.URL, "source": leak.Source, "type": leak.Type,
				"reported_at": now.Format(time.RFC3339), "leak_action": wantAction, "leak_cascade": wantCascade}
			if leaked.Actor != keygate.ActorSecretScanning || leaked.RequestID != "alert-1" || !leaked.At.Equal(now) || !maps.Equal(leaked.Detail, wantDetail) {
				t.Errorf("leaked record %+v, want actor %s, request alert-1, detail %v", leaked, keygate.ActorSecretScanning, wantDetail)
			}
			if tt.status == keygate.Revoked {
				if rev := evs[2]; rev.Actor != keygate.ActorSecretScanning || !maps.Equal(rev.Detail, map[string]string{"reason": "leaked"}) {
					t.Errorf("revoked record %+v, want actor %s, detail reason=leaked", rev, keygate.ActorSecretScanning)
				}
			}
			for _, id := range []string{child.ID, grandchild.ID} {
				evs := f.trail(t, id)
				if tt.children != keygate.Revoked {
					if got := actions(evs); got != "created" {
						t.Errorf("audit of descendant %s: %s, want created only", id, got)
					}
					continue
				}
				if got := actions(evs); got != "created,revoked" {
					t.Fatalf("audit of descendant %s: %s, want created,revoked", id, got)
				}
				if rev := evs[1]; rev.Actor != keygate.ActorSecretScanning || !maps.Equal(rev.Detail, map[string]string{"cascade_from": root.ID, "reason": "leaked"}) {
					t.Errorf("descendant's revoked record %+v, want actor %s, cascade_from %s, reason leaked", rev, keygate.ActorSecretScanning, root.ID)
				}
			}

			// A replay of the alert records nothing new, whatever it carries.
			before := len(f.scan(t))
			f.clock.Add(time.Minute)
			again, err := f.svc.ReportLeak(ctx, f.record(t, root.ID), keygate.Leak{URL: "https://github.com/octo/other", Source: "commit", Type: leak.Type})
			if err != nil || again {
				t.Fatalf("replayed ReportLeak = %v, %v; want false, nil", again, err)
			}
			if after := len(f.scan(t)); after != before {
				t.Errorf("the replay wrote: %d items, were %d", after, before)
			}
			if k := f.get(t, root.ID); k.Leaked == nil || k.Leaked.URL != leak.URL || !k.Leaked.At.Equal(now) {
				t.Errorf("the replay changed the report: %+v", k.Leaked)
			}
		})
	}
}

// TestReportLeakOfInactiveKeys: a key already revoked or expired gets the
// leaked record, and nothing else (no second revocation). A key revoked
// after the alert's read of it (the record passed in is stale) too.
func TestReportLeakOfInactiveKeys(t *testing.T) {
	tests := []struct {
		name string
		// stale: the record is read before the key is revoked.
		prepare func(t *testing.T, f *fixture, id string) (stale *keygate.Record)
		want    string
	}{
		{"revoked", func(t *testing.T, f *fixture, id string) *keygate.Record {
			if _, err := f.svc.Revoke(context.Background(), operator, manage.RevokeRequest{Tenant: "acme", ID: id}); err != nil {
				t.Fatal(err)
			}
			return nil
		}, "created,revoked,leaked"},
		{"expired", func(t *testing.T, f *fixture, id string) *keygate.Record {
			f.clock.Add(2 * time.Hour)
			return nil
		}, "created,leaked"},
		{"revoked after the alert read it", func(t *testing.T, f *fixture, id string) *keygate.Record {
			stale := f.record(t, id)
			if _, err := f.svc.Revoke(context.Background(), operator, manage.RevokeRequest{Tenant: "acme", ID: id}); err != nil {
				t.Fatal(err)
			}
			return stale
		}, "created,revoked,leaked"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFixture(t, nil)
			f.setLeakAction(t, "acme", keygate.LeakRevoke, true)
			k := f.mint(t, operator, manage.CreateRequest{Owner: "alice", APIs: []string{"*"}, Scopes: []string{"GET /x"}, ExpiresInHours: ptr[int64](1)})
			r := tt.prepare(t, f, k.ID)
			if r == nil {
				r = f.record(t, k.ID)
			}
			f.clock.Add(time.Second)
			recorded, err := f.svc.ReportLeak(context.Background(), r, leak)
			if err != nil || !recorded {
				t.Fatalf("ReportLeak = %v, %v; want recorded", recorded, err)
			}
			evs := f.trail(t, k.ID)
			if got := actions(evs); got != tt.want {
				t.Fatalf("audit: %s, want %s", got, tt.want)
			}
			for _, e := range evs {
				if e.Action == keygate.ActionRevoked && e.Actor != "operator" {
					t.Errorf("revoked by %s: the leak revoked an inactive key", e.Actor)
				}
			}
			if got := f.get(t, k.ID); got.Leaked == nil {
				t.Error("the key holds no report")
			}
		})
	}
}

// TestParallelLeakReports: GitHub may send the same token in several
// alerts at once; exactly one report is recorded, and the key revoked
// once (under notify, where no revocation serialises the writes, too).
func TestParallelLeakReports(t *testing.T) {
	for action, want := range map[string]string{
		keygate.LeakRevoke: "created,leaked,revoked",
		keygate.LeakNotify: "created,leaked",
	} {
		t.Run(action, func(t *testing.T) {
			// Every read of the service's clock is a millisecond later, so
			// each alert is handled at its own instant (audit records of
			// one instant would collide on their own).
			f := newFixture(t, func(c *manage.Config) {
				base := c.Now
				var ticks atomic.Int64
				c.Now = func() time.Time { return base().Add(time.Duration(ticks.Add(1)) * time.Millisecond) }
			})
			f.setLeakAction(t, "acme", action, false)
			k := f.mint(t, operator, manage.CreateRequest{Owner: "alice", APIs: []string{"*"}, Scopes: []string{"GET /x"}})
			r := f.record(t, k.ID)
			const n = 8
			var wg sync.WaitGroup
			var mu sync.Mutex
			recorded := 0
			for range n {
				wg.Go(func() {
					ok, err := f.svc.ReportLeak(context.Background(), r, leak)
					// Losing a transaction race is a retryable 503, never a
					// wrong answer.
					if err != nil && keygate.ErrorCode(err) != keygate.Unavailable {
						t.Error(err)
					}
					mu.Lock()
					defer mu.Unlock()
					if ok {
						recorded++
					}
				})
			}
			wg.Wait()
			if recorded != 1 {
				t.Errorf("%d of %d parallel reports recorded, want 1", recorded, n)
			}
			if got := actions(f.trail(t, k.ID)); got != want {
				t.Fatalf("audit: %s, want %s", got, want)
			}
		})
	}
}

// TestLeakReleasesTheSlot: a key revoked by a leak report no longer
// counts towards its owner's limit, so its replacement can be created.
func TestLeakReleasesTheSlot(t *testing.T) {
	f := newFixture(t, func(c *manage.Config) { c.MaxUserKeys = 2 })
	req := manage.CreateRequest{Owner: "alice", APIs: []string{"*"}, Scopes: []string{"GET /x"}}
	first := f.mint(t, operator, req)
	f.mint(t, operator, req)
	_, err := f.svc.Create(context.Background(), operator, withTenant(req, "acme", ""))
	wantCode(t, err, keygate.LimitExceeded)
	if ok, err := f.svc.ReportLeak(context.Background(), f.record(t, first.ID), leak); err != nil || !ok {
		t.Fatalf("ReportLeak = %v, %v", ok, err)
	}
	f.mint(t, operator, req)
}

// TestLeakReplayFinishesTheCascade: an alert whose report revoked the key
// but whose cascade did not run to the end (here: leak_cascade was off
// then) is retried by GitHub; the replay records nothing new about the
// key and revokes the descendants the cascade missed.
func TestLeakReplayFinishesTheCascade(t *testing.T) {
	f := newFixture(t, nil)
	root := f.mint(t, operator, manage.CreateRequest{Owner: "alice", Role: keygate.Admin})
	child := f.mint(t, callerOf(root), manage.CreateRequest{Owner: "bob", APIs: []string{"*"}, Scopes: []string{"GET /x"}})
	if ok, err := f.svc.ReportLeak(context.Background(), f.record(t, root.ID), leak); err != nil || !ok {
		t.Fatalf("ReportLeak = %v, %v", ok, err)
	}
	if got := f.get(t, child.ID).Status; got != keygate.Active {
		t.Fatalf("child is %s before the cascade", got)
	}
	f.setLeakAction(t, "acme", keygate.LeakRevoke, true)
	f.clock.Add(time.Minute)
	if ok, err := f.svc.ReportLeak(context.Background(), f.record(t, root.ID), leak); err != nil || ok {
		t.Fatalf("replayed ReportLeak = %v, %v; want false, nil", ok, err)
	}
	if got := actions(f.trail(t, root.ID)); got != "created,leaked,revoked" {
		t.Errorf("audit of the leaked key: %s", got)
	}
	if got := f.get(t, child.ID).Status; got != keygate.Revoked {
		t.Errorf("child is %s after the replay, want revoked", got)
	}
}
