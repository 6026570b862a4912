package manage_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/keygate/keygate/infra/dynamotest"
	"github.com/keygate/keygate/infra/testkit"
	"github.com/keygate/keygate/shared/apikey"
	"github.com/keygate/keygate/shared/keygate"
	"github.com/keygate/keygate/shared/manage"
	"github.com/keygate/keygate/shared/store"
)

type fixture struct {
	svc   *manage.Service
	db    *dynamodb.Client
	table string
	clock *testkit.Clock
}

func newFixture(t *testing.T, tweak func(*manage.Config)) *fixture {
	t.Helper()
	db, table := dynamotest.NewTable(t)
	format, hasher := testkit.Tokens(t)
	clk := testkit.NewClock(time.Date(2026, 11, 23, 12, 0, 0, 0, time.UTC))
	cfg := manage.Config{
		Format: format, Hasher: hasher,
		DefaultTTL: 90 * 24 * time.Hour, Retention: 30 * 24 * time.Hour,
		MaxUserKeys: 10, MaxServiceKeys: 5,
		Now: clk.Now,
	}
	if tweak != nil {
		tweak(&cfg)
	}
	st := store.New(db, table)
	return &fixture{svc: manage.New(st, cfg), db: db, table: table, clock: clk}
}

var operator = keygate.Caller{Operator: true}

// adminOf mints a real admin key of tenant that never expires (keys act
// with what their item holds, read at every mutation) and returns the
// caller the authorizer makes of it.
func (f *fixture) adminOf(t *testing.T, tenant string) keygate.Caller {
	t.Helper()
	return f.actor(t, manage.CreateRequest{Tenant: tenant, Owner: "root", Role: keygate.Admin, ExpiresInHours: ptr[int64](0)})
}

// readerOf is a tenant admin as the authorizer's context describes it,
// for reads only: there is no item behind it, so any mutation by it fails
// (mutations decide with the acting key's item).
func readerOf(tenant string) keygate.Caller {
	return keygate.Caller{KeyID: "readerkey00000000", Tenant: tenant, Owner: "root", Type: keygate.User, Role: keygate.Admin, Scopes: []string{"* /*"}, APIs: []string{"*"}}
}

// viewer mints a real viewer key of owner in tenant, for every API, that
// never expires.
func (f *fixture) viewer(t *testing.T, tenant, owner string, scopes ...string) keygate.Caller {
	t.Helper()
	return f.actor(t, manage.CreateRequest{Tenant: tenant, Owner: owner, Scopes: scopes, APIs: []string{"*"}, ExpiresInHours: ptr[int64](0)})
}

func (f *fixture) actor(t *testing.T, req manage.CreateRequest) keygate.Caller {
	t.Helper()
	c, err := f.svc.Create(context.Background(), operator, req)
	if err != nil {
		t.Fatalf("create actor %+v: %v", req, err)
	}
	return callerOf(c)
}

func wantCode(t *testing.T, err error, code keygate.Code) {
	t.Helper()
	if err == nil {
		t.Fatalf("got no error, want %s", code)
	}
	if got := keygate.ErrorCode(err); got != code {
		t.Fatalf("got %s (%v), want %s", got, err, code)
	}
}

// scan returns every item the tests wrote (not the fixture's own keys).
func (f *fixture) scan(t *testing.T) []map[string]types.AttributeValue {
	t.Helper()
	out, err := f.db.Scan(context.Background(), &dynamodb.ScanInput{TableName: aws.String(f.table), ConsistentRead: aws.Bool(true)})
	if err != nil {
		t.Fatal(err)
	}
	var items []map[string]types.AttributeValue
	for _, item := range out.Items {
		pk, _ := item["pk"].(*types.AttributeValueMemberS)
		tenant, _ := item["tenant"].(*types.AttributeValueMemberS)
		if (pk != nil && strings.Contains(pk.Value, "#fixtures")) || (tenant != nil && tenant.Value == "fixtures") {
			continue
		}
		items = append(items, item)
	}
	return items
}

func (f *fixture) audits(t *testing.T, keyID string) []string {
	t.Helper()
	var actions []string
	for _, item := range f.scan(t) {
		if pk := item["pk"].(*types.AttributeValueMemberS).Value; strings.HasPrefix(pk, "AUDIT#") {
			if item["key_id"].(*types.AttributeValueMemberS).Value == keyID {
				actions = append(actions, item["action"].(*types.AttributeValueMemberS).Value)
			}
		}
	}
	return actions
}

func ptr[T any](v T) *T { return &v }

func keyIDs(l *manage.List) []string {
	var ids []string
	for _, k := range l.Keys {
		ids = append(ids, k.ID)
	}
	return ids
}

func TestRoundTrip(t *testing.T) {
	f := newFixture(t, nil)
	ctx := manage.WithRequestID(context.Background(), "req-1")
	created, err := f.svc.Create(ctx, operator, manage.CreateRequest{Tenant: "acme", Owner: "alice", Name: "bootstrap", Role: keygate.Admin})
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(created.Token.Reveal(), "kg_live_"+created.ID) || created.Status != keygate.Active {
		t.Fatalf("created = %+v", created)
	}
	if created.Hint != "kg_live_"+created.ID[:8] || created.Owner != "alice" || created.Tenant != "acme" || created.CreatedBy != "operator" {
		t.Fatalf("created metadata = %+v", created.Key)
	}
	if want := f.clock.Now().Add(90 * 24 * time.Hour); !created.ExpiresAt.Equal(want) {
		t.Fatalf("expires_at = %v, want default TTL %v", created.ExpiresAt, want)
	}

	list, err := f.svc.List(ctx, operator, manage.ListRequest{Tenant: "acme"})
	if err != nil {
		t.Fatal(err)
	}
	if len(list.Keys) != 1 || list.Keys[0].ID != created.ID || list.NextCursor != nil {
		t.Fatalf("list = %+v", list)
	}
	got, err := f.svc.Get(ctx, readerOf("acme"), manage.GetRequest{Tenant: "", ID: created.ID})
	if err != nil || got.ID != created.ID || got.Status != keygate.Active {
		t.Fatalf("get = %+v, %v", got, err)
	}

	f.clock.Add(time.Minute)
	revoked, err := f.svc.Revoke(ctx, operator, manage.RevokeRequest{Tenant: "acme", ID: created.ID})
	if err != nil {
		t.Fatal(err)
	}
	if revoked.Status != keygate.Revoked || revoked.RevokedAt == nil {
		t.Fatalf("revoked = %+v", revoked)
	}
	again, err := f.svc.Revoke(ctx, operator, manage.RevokeRequest{Tenant: "acme", ID: created.ID})
	if err != nil || !again.RevokedAt.Equal(*revoked.RevokedAt) {
		t.Fatalf("second revoke = %+v, %v; want a no-op with the first revoked_at", again, err)
	}
	if got := f.audits(t, created.ID); strings.Join(got, ",") != "created,revoked" {
		t.Fatalf("audit actions = %v, want create,revoke", got)
	}
	list, _ = f.svc.List(ctx, operator, manage.ListRequest{Tenant: "acme", Status: keygate.Revoked})
	if len(list.Keys) != 1 || list.Keys[0].Status != keygate.Revoked {
		t.Fatalf("revoked list = %+v", list)
	}
	list, _ = f.svc.List(ctx, operator, manage.ListRequest{Tenant: "acme", Status: keygate.Active})
	if len(list.Keys) != 0 {
		t.Fatalf("active list after revoke = %+v", list)
	}

	// The TTL lets DynamoDB drop the key a retention period after revocation.
	for _, item := range f.scan(t) {
		if item["pk"].(*types.AttributeValueMemberS).Value == "KEY#"+created.ID {
			want := fmt.Sprint(revoked.RevokedAt.Add(30 * 24 * time.Hour).Unix())
			if ttl := item["ttl"].(*types.AttributeValueMemberN).Value; ttl != want {
				t.Fatalf("ttl = %s, want %s", ttl, want)
			}
		}
	}
}

// TestTokenShownOnce checks that after creation no read path, audit record
// or stored attribute holds the token or its secret part.
func TestTokenShownOnce(t *testing.T) {
	f := newFixture(t, nil)
	ctx := context.Background()
	var tokens []string
	for _, owner := range []string{"alice", "bob"} {
		c, err := f.svc.Create(ctx, operator, manage.CreateRequest{Tenant: "acme", APIs: []string{"*"}, Owner: owner, Scopes: []string{"GET /x"}})
		if err != nil {
			t.Fatal(err)
		}
		tokens = append(tokens, c.Token.Reveal())
	}
	list, _ := f.svc.List(ctx, operator, manage.ListRequest{Tenant: "acme"})
	got, _ := f.svc.Get(ctx, operator, manage.GetRequest{Tenant: "acme", ID: list.Keys[0].ID})
	seen := fmt.Sprintf("%+v %+v", list, got)
	for _, item := range f.scan(t) {
		seen += fmt.Sprintf("%+v", item)
		for _, v := range item {
			if sv, ok := v.(*types.AttributeValueMemberS); ok {
				seen += sv.Value + "\n"
			}
		}
	}
	for _, tok := range tokens {
		secret := tok[len("kg_live_")+apikey.IDLen : len(tok)-apikey.ChecksumLen]
		if strings.Contains(seen, secret) || strings.Contains(seen, tok) {
			t.Fatalf("token or secret found after creation")
		}
	}
}

func TestExpiry(t *testing.T) {
	f := newFixture(t, nil)
	now := f.clock.Now()
	tests := []struct {
		name string
		req  manage.CreateRequest
		want *time.Time // nil: never
		code keygate.Code
	}{
		{"default ttl", manage.CreateRequest{}, ptr(now.Add(90 * 24 * time.Hour)), ""},
		{"expires_at", manage.CreateRequest{ExpiresAt: ptr("2027-01-01T00:00:00+02:00")}, ptr(time.Date(2026, 12, 31, 22, 0, 0, 0, time.UTC)), ""},
		{"in hours", manage.CreateRequest{ExpiresInHours: ptr[int64](24)}, ptr(now.Add(24 * time.Hour)), ""},
		{"zero hours is never", manage.CreateRequest{ExpiresInHours: ptr[int64](0)}, nil, ""},
		{"past", manage.CreateRequest{ExpiresAt: ptr("2020-01-01T00:00:00Z")}, nil, keygate.Invalid},
		{"now", manage.CreateRequest{ExpiresAt: ptr(now.Format(time.RFC3339))}, nil, keygate.Invalid},
		{"unparsable", manage.CreateRequest{ExpiresAt: ptr("tomorrow")}, nil, keygate.Invalid},
		{"date only", manage.CreateRequest{ExpiresAt: ptr("2027-01-01")}, nil, keygate.Invalid},
		{"negative hours", manage.CreateRequest{ExpiresInHours: ptr[int64](-1)}, nil, keygate.Invalid},
		{"huge hours", manage.CreateRequest{ExpiresInHours: ptr[int64](1 << 40)}, nil, keygate.Invalid},
		{"both", manage.CreateRequest{ExpiresAt: ptr("2027-01-01T00:00:00Z"), ExpiresInHours: ptr[int64](1)}, nil, keygate.Invalid},
		{"far future", manage.CreateRequest{ExpiresAt: ptr("9999-01-01T00:00:00Z")}, nil, keygate.Invalid},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tt.req.Owner = "alice"
			tt.req.Scopes, tt.req.APIs = []string{"GET /x"}, []string{"*"}
			c, err := f.svc.Create(context.Background(), operator, withTenant(tt.req, "acme", ""))
			if tt.code != "" {
				wantCode(t, err, tt.code)
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if (c.ExpiresAt == nil) != (tt.want == nil) || (c.ExpiresAt != nil && !c.ExpiresAt.Equal(*tt.want)) {
				t.Fatalf("expires_at = %v, want %v", c.ExpiresAt, tt.want)
			}
		})
	}
	// Nothing was written by the rejected requests: 4 keys, 4 audits, 1 slots item.
	if n := len(f.scan(t)); n != 9 {
		t.Fatalf("table holds %d items, want 9", n)
	}

	noDefault := newFixture(t, func(c *manage.Config) { c.DefaultTTL = 0 })
	c, err := noDefault.svc.Create(context.Background(), operator, manage.CreateRequest{Tenant: "acme", APIs: []string{"*"}, Owner: "a", Scopes: []string{"GET /x"}})
	if err != nil || c.ExpiresAt != nil {
		t.Fatalf("DEFAULT_KEY_TTL=0: expires_at = %v, %v; want never", c.ExpiresAt, err)
	}
}

// TestExpiredIsExpired checks that a key past expires_at reads as expired
// although DynamoDB has not deleted it, and no longer holds a slot.
func TestExpiredIsExpired(t *testing.T) {
	f := newFixture(t, func(c *manage.Config) { c.MaxUserKeys = 1 })
	ctx := context.Background()
	c, err := f.svc.Create(ctx, operator, manage.CreateRequest{Tenant: "acme", APIs: []string{"*"}, Owner: "alice", Scopes: []string{"GET /x"}, ExpiresInHours: ptr[int64](1)})
	if err != nil {
		t.Fatal(err)
	}
	_, err = f.svc.Create(ctx, operator, manage.CreateRequest{Tenant: "acme", APIs: []string{"*"}, Owner: "alice", Scopes: []string{"GET /x"}})
	wantCode(t, err, keygate.LimitExceeded)

	f.clock.Add(time.Hour)
	got, err := f.svc.Get(ctx, operator, manage.GetRequest{Tenant: "acme", ID: c.ID})
	if err != nil || got.Status != keygate.Expired {
		t.Fatalf("status after expiry = %v, %v", got.Status, err)
	}
	list, _ := f.svc.List(ctx, operator, manage.ListRequest{Tenant: "acme", Status: keygate.Expired})
	if len(list.Keys) != 1 {
		t.Fatalf("expired list = %+v", list)
	}
	if _, err := f.svc.Create(ctx, operator, manage.CreateRequest{Tenant: "acme", APIs: []string{"*"}, Owner: "alice", Scopes: []string{"GET /x"}}); err != nil {
		t.Fatalf("create after the only key expired: %v", err)
	}
}

func TestParallelCreatesRespectLimit(t *testing.T) {
	for _, tt := range []struct {
		name    string
		req     manage.CreateRequest
		max     int
		workers int
	}{
		{"30 user keys per owner", manage.CreateRequest{APIs: []string{"*"}, Owner: "alice", Scopes: []string{"GET /x"}}, 10, 30},
		{"30 service keys per tenant", manage.CreateRequest{APIs: []string{"*"}, Type: keygate.Service, Scopes: []string{"GET /x"}}, 5, 30},
		{"50 user keys per owner", manage.CreateRequest{APIs: []string{"*"}, Owner: "alice", Scopes: []string{"GET /x"}}, 10, 50},
		{"50 service keys per tenant", manage.CreateRequest{APIs: []string{"*"}, Type: keygate.Service, Scopes: []string{"GET /x"}}, 5, 50},
	} {
		t.Run(tt.name, func(t *testing.T) {
			f := newFixture(t, nil)
			ctx := context.Background()
			var ok, limited atomic.Int32
			var other []error
			var mu sync.Mutex
			var wg sync.WaitGroup
			var ids sync.Map
			for i := 0; i < tt.workers; i++ {
				wg.Add(1)
				go func() {
					defer wg.Done()
					c, err := f.svc.Create(ctx, operator, withTenant(tt.req, "acme", ""))
					switch {
					case err == nil:
						ok.Add(1)
						ids.Store(c.ID, true)
					case keygate.ErrorCode(err) == keygate.LimitExceeded:
						limited.Add(1)
					default:
						mu.Lock()
						other = append(other, err)
						mu.Unlock()
					}
				}()
			}
			wg.Wait()
			if len(other) > 0 {
				t.Fatalf("unexpected errors: %v", other)
			}
			if ok.Load() != int32(tt.max) || limited.Load() != int32(tt.workers-tt.max) {
				t.Fatalf("%d created, %d limited; want %d and %d", ok.Load(), limited.Load(), tt.max, tt.workers-tt.max)
			}
			list, err := f.svc.List(ctx, operator, manage.ListRequest{Tenant: "acme", Limit: 100})
			if err != nil || len(list.Keys) != tt.max {
				t.Fatalf("list holds %d keys (%v), want %d", len(list.Keys), err, tt.max)
			}
			// Revoking one frees exactly one slot.
			var first string
			ids.Range(func(k, _ any) bool { first = k.(string); return false })
			if _, err := f.svc.Revoke(ctx, operator, manage.RevokeRequest{Tenant: "acme", ID: first}); err != nil {
				t.Fatal(err)
			}
			if _, err := f.svc.Create(ctx, operator, withTenant(tt.req, "acme", "")); err != nil {
				t.Fatalf("create after revoke: %v", err)
			}
			_, err = f.svc.Create(ctx, operator, withTenant(tt.req, "acme", ""))
			wantCode(t, err, keygate.LimitExceeded)
		})
	}
}

func TestNoEscalation(t *testing.T) {
	f := newFixture(t, nil)
	ctx := context.Background()
	v := f.viewer(t, "acme", "bob", "GET /buckets/photos/*", "PUT /buckets/photos/*")
	tests := []struct {
		name   string
		caller keygate.Caller
		req    manage.CreateRequest
		code   keygate.Code
	}{
		{"viewer creates service key", v, manage.CreateRequest{Type: keygate.Service}, keygate.Forbidden},
		{"viewer creates admin key", v, manage.CreateRequest{Role: keygate.Admin}, keygate.Forbidden},
		{"viewer widens method", v, manage.CreateRequest{APIs: []string{"*"}, Scopes: []string{"* /buckets/photos/*"}}, keygate.Forbidden},
		{"viewer widens path", v, manage.CreateRequest{APIs: []string{"*"}, Scopes: []string{"GET /buckets/*"}}, keygate.Forbidden},
		{"viewer other route", v, manage.CreateRequest{APIs: []string{"*"}, Scopes: []string{"DELETE /buckets/photos/a"}}, keygate.Forbidden},
		{"viewer for other owner", v, manage.CreateRequest{APIs: []string{"*"}, Owner: "carol", Scopes: []string{"GET /buckets/photos/a"}}, keygate.Forbidden},
		{"invalid scope", v, manage.CreateRequest{APIs: []string{"*"}, Scopes: []string{"get /x"}}, keygate.Invalid},
		{"unknown type", v, manage.CreateRequest{Type: "robot"}, keygate.Invalid},
		{"unknown role", v, manage.CreateRequest{Role: "root"}, keygate.Invalid},
		{"admin with scopes", f.adminOf(t, "acme"), manage.CreateRequest{APIs: []string{"*"}, Role: keygate.Admin, Scopes: []string{"GET /x"}}, keygate.Invalid},
		{"admin viewer without scopes", f.adminOf(t, "acme"), manage.CreateRequest{}, keygate.Invalid},
		{"service key with foreign owner", f.adminOf(t, "acme"), manage.CreateRequest{APIs: []string{"*"}, Type: keygate.Service, Owner: "bob", Scopes: []string{"GET /x"}}, keygate.Invalid},
		{"bad owner", f.adminOf(t, "acme"), manage.CreateRequest{APIs: []string{"*"}, Owner: "a#b", Scopes: []string{"GET /x"}}, keygate.Invalid},
		{"long name", v, manage.CreateRequest{Name: strings.Repeat("n", 101)}, keygate.Invalid},
		{"control char name", v, manage.CreateRequest{Name: "a\x00b"}, keygate.Invalid},
		{"operator without tenant", operator, manage.CreateRequest{APIs: []string{"*"}, Owner: "a", Scopes: []string{"GET /x"}}, keygate.Invalid},
	}
	before := len(f.scan(t))
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tenant := ""
			if tt.caller.Operator && tt.name != "operator without tenant" {
				tenant = "acme"
			}
			_, err := f.svc.Create(ctx, tt.caller, withTenant(tt.req, tenant, ""))
			wantCode(t, err, tt.code)
		})
	}
	if n := len(f.scan(t)) - before; n != 0 {
		t.Fatalf("rejected creates wrote %d items", n)
	}

	// Within its scopes a viewer may create; with no scopes it passes its own on.
	c, err := f.svc.Create(ctx, v, manage.CreateRequest{APIs: []string{"*"}, Name: "narrow", Scopes: []string{"GET /buckets/photos/2026/*"}})
	if err != nil || c.Owner != "bob" || c.Role != keygate.Viewer {
		t.Fatalf("narrow create = %+v, %v", c, err)
	}
	c, err = f.svc.Create(ctx, v, manage.CreateRequest{})
	if err != nil || strings.Join(c.Scopes, ",") != "GET /buckets/photos/*,PUT /buckets/photos/*" {
		t.Fatalf("inheriting create = %+v, %v", c, err)
	}
	// Admins may create service and admin keys and keys for others.
	c, err = f.svc.Create(ctx, f.adminOf(t, "acme"), manage.CreateRequest{Type: keygate.Service, Role: keygate.Admin})
	if err != nil || c.Owner != "acme" || strings.Join(c.Scopes, ",") != "* /*" {
		t.Fatalf("admin service key = %+v, %v", c, err)
	}
}

func TestTenantIsolation(t *testing.T) {
	f := newFixture(t, nil)
	ctx := context.Background()
	acme, err := f.svc.Create(ctx, operator, manage.CreateRequest{Tenant: "acme", APIs: []string{"*"}, Owner: "alice", Scopes: []string{"GET /x"}})
	if err != nil {
		t.Fatal(err)
	}
	other, err := f.svc.Create(ctx, operator, manage.CreateRequest{Tenant: "acme", APIs: []string{"*"}, Owner: "zed", Scopes: []string{"GET /x"}})
	if err != nil {
		t.Fatal(err)
	}
	globex := f.adminOf(t, "globex")
	for _, id := range []string{acme.ID, "AAAAAAAAAAAAAAAAA", "../../etc/passwd", ""} {
		_, err := f.svc.Get(ctx, globex, manage.GetRequest{Tenant: "", ID: id})
		wantCode(t, err, keygate.NotFound)
		_, err = f.svc.Revoke(ctx, globex, manage.RevokeRequest{Tenant: "", ID: id})
		wantCode(t, err, keygate.NotFound)
	}
	_, err = f.svc.Get(ctx, operator, manage.GetRequest{Tenant: "globex", ID: acme.ID})
	wantCode(t, err, keygate.NotFound)
	list, err := f.svc.List(ctx, globex, manage.ListRequest{})
	if err != nil || len(list.Keys) != 1 || list.Keys[0].ID != globex.KeyID {
		t.Fatalf("globex sees %+v, %v; want only its own admin key", list, err)
	}

	// A viewer sees only its owner's keys, also within its tenant.
	alice := f.viewer(t, "acme", "alice", "GET /x")
	_, err = f.svc.Get(ctx, alice, manage.GetRequest{Tenant: "", ID: other.ID})
	wantCode(t, err, keygate.NotFound)
	_, err = f.svc.Revoke(ctx, alice, manage.RevokeRequest{Tenant: "", ID: other.ID})
	wantCode(t, err, keygate.NotFound)
	list, err = f.svc.List(ctx, alice, manage.ListRequest{})
	if ids := keyIDs(list); err != nil || len(ids) != 2 || !slices.Contains(ids, acme.ID) || !slices.Contains(ids, alice.KeyID) {
		t.Fatalf("alice sees %+v, %v; want her two keys", list, err)
	}
	_, err = f.svc.List(ctx, alice, manage.ListRequest{Owner: "zed"})
	wantCode(t, err, keygate.Forbidden)
	if got, _ := f.svc.Get(ctx, operator, manage.GetRequest{Tenant: "acme", ID: acme.ID}); got.Status != keygate.Active {
		t.Fatal("a rejected revoke changed the key")
	}

	// Service keys are owned by the tenant: a viewer service key sees only
	// itself, never the tenant's other (admin) service keys.
	adminSvc, err := f.svc.Create(ctx, operator, manage.CreateRequest{Tenant: "acme", Type: keygate.Service, Role: keygate.Admin})
	if err != nil {
		t.Fatal(err)
	}
	viewerSvc, err := f.svc.Create(ctx, operator, manage.CreateRequest{Tenant: "acme", APIs: []string{"*"}, Type: keygate.Service, Scopes: []string{"GET /x"}})
	if err != nil {
		t.Fatal(err)
	}
	sv := keygate.Caller{KeyID: viewerSvc.ID, Tenant: "acme", Owner: "acme", Type: keygate.Service, Role: keygate.Viewer, Scopes: []string{"GET /x"}}
	_, err = f.svc.Revoke(ctx, sv, manage.RevokeRequest{Tenant: "", ID: adminSvc.ID})
	wantCode(t, err, keygate.NotFound)
	if got, err := f.svc.Get(ctx, sv, manage.GetRequest{Tenant: "", ID: viewerSvc.ID}); err != nil || got.ID != viewerSvc.ID {
		t.Fatalf("a service key cannot see itself: %v", err)
	}
	list, err = f.svc.List(ctx, sv, manage.ListRequest{})
	if err != nil || len(list.Keys) != 1 || list.Keys[0].ID != viewerSvc.ID {
		t.Fatalf("viewer service key lists %+v, %v; want only itself", list, err)
	}
	// And no user key may be named like the tenant.
	_, err = f.svc.Create(ctx, operator, manage.CreateRequest{Tenant: "acme", APIs: []string{"*"}, Owner: "acme", Scopes: []string{"GET /x"}})
	wantCode(t, err, keygate.Invalid)
}

func TestListPagination(t *testing.T) {
	f := newFixture(t, func(c *manage.Config) { c.MaxUserKeys = 50 })
	ctx := context.Background()
	want := map[string]bool{}
	for i := 0; i < 7; i++ {
		owner := []string{"alice", "bob"}[i%2]
		c, err := f.svc.Create(ctx, operator, manage.CreateRequest{Tenant: "acme", APIs: []string{"*"}, Owner: owner, Scopes: []string{"GET /x"}})
		if err != nil {
			t.Fatal(err)
		}
		want[c.ID] = true
		f.clock.Add(time.Second)
	}
	got := map[string]bool{}
	req := manage.ListRequest{Tenant: "acme", Limit: 3}
	for pages := 0; ; pages++ {
		if pages > 5 {
			t.Fatal("pagination does not end")
		}
		list, err := f.svc.List(ctx, operator, req)
		if err != nil {
			t.Fatal(err)
		}
		for _, k := range list.Keys {
			if got[k.ID] {
				t.Fatalf("key %s listed twice", k.ID)
			}
			got[k.ID] = true
		}
		if list.NextCursor == nil {
			break
		}
		req.Cursor = *list.NextCursor
	}
	if len(got) != len(want) {
		t.Fatalf("paged through %d keys, want %d", len(got), len(want))
	}

	bad := []manage.ListRequest{
		{Tenant: "acme", Limit: 101},
		{Tenant: "acme", Limit: -1},
		{Tenant: "acme", Status: "gone"},
		{Tenant: "acme", Cursor: "not-a-cursor"},
		{Tenant: "acme", Owner: "bad#owner"},
		{Tenant: "acme", Owner: "alice", Cursor: cursorFor(t, f, "bob")},
	}
	for i, req := range bad {
		t.Run(fmt.Sprint(i), func(t *testing.T) {
			_, err := f.svc.List(ctx, operator, req)
			wantCode(t, err, keygate.Invalid)
		})
	}
}

// cursorFor returns a cursor from a listing of owner's keys.
func cursorFor(t *testing.T, f *fixture, owner string) string {
	t.Helper()
	list, err := f.svc.List(context.Background(), operator, manage.ListRequest{Tenant: "acme", Owner: owner, Limit: 1})
	if err != nil || list.NextCursor == nil {
		t.Fatalf("no cursor for %s: %v", owner, err)
	}
	return *list.NextCursor
}

func TestParallelRevokesAuditOnce(t *testing.T) {
	f := newFixture(t, nil)
	ctx := context.Background()
	c, err := f.svc.Create(ctx, operator, manage.CreateRequest{Tenant: "acme", APIs: []string{"*"}, Owner: "alice", Scopes: []string{"GET /x"}})
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	errs := make(chan error, 20)
	for i := 0; i < 20; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			k, err := f.svc.Revoke(ctx, operator, manage.RevokeRequest{Tenant: "acme", ID: c.ID})
			if err == nil && k.Status != keygate.Revoked {
				err = errors.New("not revoked")
			}
			// Losing a transaction race is a retryable 503, never a wrong answer.
			if err != nil && keygate.ErrorCode(err) != keygate.Unavailable {
				errs <- err
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	if got := f.audits(t, c.ID); strings.Join(got, ",") != "created,revoked" {
		t.Fatalf("audit actions = %v, want one create and one revoke", got)
	}
}

func TestIdempotentCreate(t *testing.T) {
	f := newFixture(t, nil)
	ctx := context.Background()
	req := manage.CreateRequest{APIs: []string{"*"}, Owner: "alice", Scopes: []string{"GET /x"}}

	// Parallel retries of one request: one key, one audit record, and every
	// caller sees the same key and token.
	var wg sync.WaitGroup
	results := make(chan *manage.Created, 10)
	errs := make(chan error, 10)
	for i := 0; i < 10; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			c, err := f.svc.Create(ctx, operator, withTenant(req, "acme", "retry-1"))
			if err != nil {
				errs <- err
				return
			}
			results <- c
		}()
	}
	wg.Wait()
	close(results)
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	var first *manage.Created
	for c := range results {
		if first == nil {
			first = c
		}
		if c.ID != first.ID || c.Token.Reveal() != first.Token.Reveal() {
			t.Fatalf("retries returned different keys: %s and %s", first.ID, c.ID)
		}
	}
	list, _ := f.svc.List(ctx, operator, manage.ListRequest{Tenant: "acme"})
	if len(list.Keys) != 1 || len(f.audits(t, first.ID)) != 1 {
		t.Fatalf("%d keys and %d audit records after retries, want 1 and 1", len(list.Keys), len(f.audits(t, first.ID)))
	}

	// Reuse for a different request is refused, and writes nothing.
	_, err := f.svc.Create(ctx, operator, manage.CreateRequest{Tenant: "acme", IdempotencyKey: "retry-1", APIs: []string{"*"}, Owner: "bob", Scopes: []string{"GET /x"}})
	wantCode(t, err, keygate.Invalid)
	// The same idempotency key from another caller is another create.
	other, err := f.svc.Create(ctx, f.adminOf(t, "acme"), withTenant(req, "", "retry-1"))
	if err != nil || other.ID == first.ID {
		t.Fatalf("another caller's create = %v, %v", other, err)
	}
	// After the window a retry creates a new key.
	f.clock.Add(manage.IdempotencyWindow)
	later, err := f.svc.Create(ctx, operator, withTenant(req, "acme", "retry-1"))
	if err != nil || later.ID == first.ID {
		t.Fatalf("create after the window = %v, %v", later, err)
	}
	for _, bad := range []string{strings.Repeat("k", 256), "has space", "tab\t", "é"} {
		_, err := f.svc.Create(ctx, operator, withTenant(req, "acme", bad))
		wantCode(t, err, keygate.Invalid)
	}
	// The sealed token in the idempotency record is not the token.
	for _, item := range f.scan(t) {
		for _, v := range item {
			if sv, ok := v.(*types.AttributeValueMemberS); ok && strings.Contains(sv.Value, first.Token.Reveal()[len("kg_live_")+apikey.IDLen:]) {
				t.Fatal("the table holds a token secret")
			}
		}
	}
}

// withTenant is req with the tenant an operator acts on and an
// idempotency key.
func withTenant(req manage.CreateRequest, tenant, idempotencyKey string) manage.CreateRequest {
	req.Tenant, req.IdempotencyKey = tenant, idempotencyKey
	return req
}
