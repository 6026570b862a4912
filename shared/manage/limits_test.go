package manage_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/keygate/keygate/shared/keygate"
	"github.com/keygate/keygate/shared/manage"
	"github.com/keygate/keygate/shared/store"
)

func rate(n int64, window string) *manage.RateLimitRequest {
	return &manage.RateLimitRequest{Limit: n, Window: window}
}

func credits(n int64, refill *keygate.Refill) *manage.CreditsRequest {
	return &manage.CreditsRequest{Remaining: &n, Refill: refill}
}

func wantMessage(t *testing.T, err error, code keygate.Code, part string) {
	t.Helper()
	wantCode(t, err, code)
	if msg := keygate.ErrorMessage(err); !strings.Contains(msg, part) {
		t.Fatalf("message %q does not say %q", msg, part)
	}
}

// TestCreateWithLimits: limits are stored as given and shown by get (with
// usage) but not by list; invalid ones are 400s naming the field.
func TestCreateWithLimits(t *testing.T) {
	f := newFixture(t, nil)
	ctx := context.Background()
	admin := f.adminOf(t, "acme")
	k, err := f.svc.Create(ctx, admin, manage.CreateRequest{Owner: "alice", Scopes: []string{"GET /v1/whoami"}, APIs: []string{"*"},
		RateLimit: rate(100, "60s"), Credits: credits(5000, &keygate.Refill{Amount: 5000, Interval: keygate.RefillMonth})})
	if err != nil {
		t.Fatal(err)
	}
	if k.RateLimit == nil || *k.RateLimit != (keygate.RateLimit{Limit: 100, Window: time.Minute}) || k.Credits == nil || k.Credits.Remaining != 5000 {
		t.Fatalf("created with %+v, %+v", k.RateLimit, k.Credits)
	}
	got, err := f.svc.Get(ctx, admin, manage.GetRequest{ID: k.ID})
	if err != nil {
		t.Fatal(err)
	}
	u := got.Usage
	if got.RateLimit == nil || u == nil || u.RateLimit == nil || u.RateLimit.Remaining != 100 || u.RateLimit.Window != "1m" ||
		u.Credits == nil || u.Credits.Remaining != 5000 || u.Credits.RefillAt == nil || !u.Credits.RefillAt.Equal(time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC)) {
		t.Fatalf("get: limits %+v, usage %+v", got.RateLimit, u)
	}
	// whoami is the caller's own get.
	self, err := f.svc.Get(ctx, callerOf(k), manage.GetRequest{ID: k.ID})
	if err != nil || self.Usage == nil || self.Usage.Credits == nil {
		t.Fatalf("whoami: %+v, %v", self, err)
	}
	l, err := f.svc.List(ctx, admin, manage.ListRequest{Owner: "alice", Limit: 10})
	if err != nil || len(l.Keys) != 1 {
		t.Fatalf("list: %+v, %v", l, err)
	}
	if l.Keys[0].Usage != nil || l.Keys[0].RateLimit != nil || l.Keys[0].Credits != nil {
		t.Fatalf("list shows limits or usage: %+v", l.Keys[0])
	}
	unmetered, err := f.svc.Get(ctx, admin, manage.GetRequest{ID: admin.KeyID})
	if err != nil || unmetered.Usage != nil {
		t.Fatalf("an unmetered key's get: %+v, %v", unmetered.Usage, err)
	}

	for _, tt := range []struct {
		name  string
		req   manage.CreateRequest
		field string
	}{
		{"zero limit", manage.CreateRequest{RateLimit: rate(0, "1m")}, "rate_limit.limit"},
		{"huge limit", manage.CreateRequest{RateLimit: rate(1e10, "1m")}, "rate_limit.limit"},
		{"zero window", manage.CreateRequest{RateLimit: rate(1, "0s")}, "rate_limit.window"},
		{"days", manage.CreateRequest{RateLimit: rate(1, "90d")}, "rate_limit.window"},
		{"fraction", manage.CreateRequest{RateLimit: rate(1, "1.5s")}, "rate_limit.window"},
		{"negative credits", manage.CreateRequest{Credits: credits(-1, nil)}, "credits.remaining"},
		{"no remaining", manage.CreateRequest{Credits: &manage.CreditsRequest{}}, "credits.remaining"},
		{"weekly", manage.CreateRequest{Credits: credits(1, &keygate.Refill{Amount: 1, Interval: "week"})}, "credits.refill.interval"},
		{"refill zero", manage.CreateRequest{Credits: credits(1, &keygate.Refill{Interval: "day"})}, "credits.refill.amount"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			req := tt.req
			req.Owner, req.Scopes, req.APIs = "alice", []string{"GET /v1/whoami"}, []string{"*"}
			_, err := f.svc.Create(ctx, admin, req)
			wantMessage(t, err, keygate.Invalid, tt.field+" ")
		})
	}
}

// TestChildLimitsWithinCreator: a key never mints one with looser limits
// than it holds (403, like every other thing a creator lacks); left out,
// the child gets the creator's.
func TestChildLimitsWithinCreator(t *testing.T) {
	f := newFixture(t, nil)
	ctx := context.Background()
	parent := f.actor(t, manage.CreateRequest{Tenant: "acme", Owner: "alice", Scopes: []string{"* /v1/keys", "* /v1/keys/*"}, APIs: []string{"*"}, ExpiresInHours: ptr[int64](0),
		RateLimit: rate(100, "1m"), Credits: credits(1000, &keygate.Refill{Amount: 500, Interval: keygate.RefillMonth})})
	base := manage.CreateRequest{Scopes: []string{"GET /v1/keys"}}
	for _, tt := range []struct {
		name    string
		rate    *manage.RateLimitRequest
		credits *manage.CreditsRequest
		field   string // "" if allowed
	}{
		{"same", rate(100, "1m"), credits(1000, &keygate.Refill{Amount: 500, Interval: keygate.RefillMonth}), ""},
		{"tighter", rate(10, "1h"), credits(10, nil), ""},
		{"inherited", nil, nil, ""},
		{"larger limit", rate(101, "1h"), nil, "rate_limit"},
		{"faster", rate(100, "30s"), nil, "rate_limit"},
		{"more credits", nil, credits(1001, nil), "credits"},
		{"daily refill", nil, credits(10, &keygate.Refill{Amount: 1, Interval: keygate.RefillDay}), "credits"},
		{"larger refill", nil, credits(10, &keygate.Refill{Amount: 501, Interval: keygate.RefillMonth}), "credits"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			req := base
			req.RateLimit, req.Credits = tt.rate, tt.credits
			k, err := f.svc.Create(ctx, parent, req)
			if tt.field != "" {
				wantMessage(t, err, keygate.Forbidden, tt.field+" may not be looser")
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if tt.name == "inherited" && (k.RateLimit == nil || k.RateLimit.Limit != 100 || k.Credits == nil || k.Credits.Remaining != 1000 || k.Credits.Refill == nil) {
				t.Fatalf("inherited %+v, %+v", k.RateLimit, k.Credits)
			}
		})
	}
	// An admin without limits loosens a child's only within its
	// creator's.
	admin := f.adminOf(t, "acme")
	child, err := f.svc.Create(ctx, parent, manage.CreateRequest{Scopes: []string{"GET /v1/keys"}, RateLimit: rate(10, "1m")})
	if err != nil {
		t.Fatal(err)
	}
	_, err = f.svc.Update(ctx, admin, manage.UpdateRequest{ID: child.ID, RateLimit: rate(200, "1m")})
	wantMessage(t, err, keygate.Forbidden, "rate_limit may not be looser than that of the key that created it")
	if _, err := f.svc.Update(ctx, admin, manage.UpdateRequest{ID: child.ID, RateLimit: rate(100, "1m")}); err != nil {
		t.Fatal(err)
	}
	// An operator sets anything.
	if _, err := f.svc.Create(ctx, operator, manage.CreateRequest{Tenant: "acme", Owner: "bob", Scopes: []string{"GET /v1/keys"}, APIs: []string{"*"},
		RateLimit: rate(1e9, "1s"), Credits: credits(1e12, &keygate.Refill{Amount: 1e12, Interval: keygate.RefillDay})}); err != nil {
		t.Fatal(err)
	}
}

// TestUpdateLimits: a viewer tightens its own children's limits and
// nothing else; an admin loosens them within its own; credits given set
// the balance; null removes.
func TestUpdateLimits(t *testing.T) {
	f := newFixture(t, nil)
	ctx := context.Background()
	admin := f.actor(t, manage.CreateRequest{Tenant: "acme", Owner: "root", Role: keygate.Admin, ExpiresInHours: ptr[int64](0), RateLimit: rate(1000, "1m")})
	viewer := f.actor(t, manage.CreateRequest{Tenant: "acme", Owner: "alice", Scopes: []string{"* /v1/keys", "* /v1/keys/*"}, APIs: []string{"*"}, ExpiresInHours: ptr[int64](0)})
	child, err := f.svc.Create(ctx, viewer, manage.CreateRequest{Scopes: []string{"GET /v1/keys"}, RateLimit: rate(100, "1m"), Credits: credits(50, nil)})
	if err != nil {
		t.Fatal(err)
	}
	sibling, err := f.svc.Create(ctx, admin, manage.CreateRequest{Owner: "alice", Scopes: []string{"GET /v1/keys"}, APIs: []string{"*"}, RateLimit: rate(100, "1m")})
	if err != nil {
		t.Fatal(err)
	}
	update := func(c keygate.Caller, req manage.UpdateRequest) (*keygate.Key, error) {
		return f.svc.Update(ctx, c, req)
	}

	k, err := update(viewer, manage.UpdateRequest{ID: child.ID, RateLimit: rate(10, "1m")})
	if err != nil || k.RateLimit.Limit != 10 {
		t.Fatalf("viewer tightens its child: %+v, %v", k, err)
	}
	_, err = update(viewer, manage.UpdateRequest{ID: child.ID, RateLimit: rate(11, "1m")})
	wantMessage(t, err, keygate.Forbidden, "only tighten")
	_, err = update(viewer, manage.UpdateRequest{ID: child.ID, RemoveRateLimit: true})
	wantMessage(t, err, keygate.Forbidden, "only tighten")
	_, err = update(viewer, manage.UpdateRequest{ID: sibling.ID, RateLimit: rate(1, "1m")})
	wantMessage(t, err, keygate.Forbidden, "keys it created")
	_, err = update(viewer, manage.UpdateRequest{ID: viewer.KeyID, RateLimit: rate(1, "1m")})
	wantMessage(t, err, keygate.Forbidden, "keys it created")

	// An admin loosens, within its own limits.
	if k, err = update(admin, manage.UpdateRequest{ID: child.ID, RateLimit: rate(1000, "1m")}); err != nil || k.RateLimit.Limit != 1000 {
		t.Fatalf("admin loosens: %+v, %v", k, err)
	}
	_, err = update(admin, manage.UpdateRequest{ID: child.ID, RateLimit: rate(1001, "1m")})
	wantMessage(t, err, keygate.Forbidden, "rate_limit may not be looser than that of the calling key")
	_, err = update(admin, manage.UpdateRequest{ID: child.ID, RemoveRateLimit: true})
	wantMessage(t, err, keygate.Forbidden, "rate_limit may not be looser")
	_, err = update(admin, manage.UpdateRequest{ID: child.ID, RateLimit: rate(0, "1m")})
	wantMessage(t, err, keygate.Invalid, "rate_limit.limit ")

	// Credits given set the balance; the live count follows.
	if k, err = update(viewer, manage.UpdateRequest{ID: child.ID, Credits: credits(20, nil)}); err != nil || k.Credits.Remaining != 20 {
		t.Fatalf("set credits: %+v, %v", k, err)
	}
	got, err := f.svc.Get(ctx, admin, manage.GetRequest{ID: child.ID})
	if err != nil || got.Usage == nil || got.Usage.Credits == nil || got.Usage.Credits.Remaining != 20 {
		t.Fatalf("usage after set: %+v, %v", got, err)
	}
	// Re-setting the configured balance after spending would top it up:
	// a viewer may set at most what is left.
	if _, _, _, err := store.New(f.db, f.table).LeaseCredits(ctx, child.ID, 15, f.clock.Now()); err != nil {
		t.Fatal(err)
	}
	_, err = update(viewer, manage.UpdateRequest{ID: child.ID, Credits: credits(20, nil)})
	wantMessage(t, err, keygate.Forbidden, "may not raise a key's credit balance (5 left)")
	if k, err = update(viewer, manage.UpdateRequest{ID: child.ID, Credits: credits(5, nil)}); err != nil || k.Credits.Remaining != 5 {
		t.Fatalf("viewer sets what is left: %+v, %v", k, err)
	}
	if k, err = update(admin, manage.UpdateRequest{ID: child.ID, Credits: credits(20, nil)}); err != nil || k.Credits.Remaining != 20 {
		t.Fatalf("an admin tops up: %+v, %v", k, err)
	}
	// An admin key with credits of its own cannot reset them either.
	metered := f.actor(t, manage.CreateRequest{Tenant: "acme", Owner: "root2", Role: keygate.Admin, ExpiresInHours: ptr[int64](0), Credits: credits(10, nil)})
	if _, _, _, err := store.New(f.db, f.table).LeaseCredits(ctx, metered.KeyID, 4, f.clock.Now()); err != nil {
		t.Fatal(err)
	}
	_, err = update(metered, manage.UpdateRequest{ID: metered.KeyID, Credits: credits(10, nil)})
	wantMessage(t, err, keygate.Forbidden, "may not raise a key's credit balance (6 left)")
	// The operator removes them (admins may too: the admin has none).
	if k, err = update(admin, manage.UpdateRequest{ID: child.ID, RemoveCredits: true}); err != nil || k.Credits != nil {
		t.Fatalf("remove credits: %+v, %v", k, err)
	}
	if k, err = update(operator, manage.UpdateRequest{Tenant: "acme", ID: child.ID, RemoveRateLimit: true}); err != nil || k.RateLimit != nil {
		t.Fatalf("operator removes the rate limit: %+v, %v", k, err)
	}
	if got, err = f.svc.Get(ctx, admin, manage.GetRequest{ID: child.ID}); err != nil || got.Usage != nil {
		t.Fatalf("unmetered again: %+v, %v", got, err)
	}
	if a := f.audits(t, child.ID); len(a) != 8 {
		t.Errorf("audit of the child: %v", a)
	}
}

// TestRotateCarriesLimits: the successor has the same limits and the same
// counters (its lineage's), and the rotated key's limits no longer change.
func TestRotateCarriesLimits(t *testing.T) {
	f := newFixture(t, nil)
	ctx := context.Background()
	admin := f.adminOf(t, "acme")
	k, err := f.svc.Create(ctx, admin, manage.CreateRequest{Owner: "alice", Scopes: []string{"GET /v1/keys"}, APIs: []string{"*"},
		RateLimit: rate(100, "1m"), Credits: credits(5000, nil)})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.svc.Update(ctx, admin, manage.UpdateRequest{ID: k.ID, Credits: credits(42, nil)}); err != nil {
		t.Fatal(err)
	}
	next, err := f.svc.Rotate(ctx, admin, manage.RotateRequest{ID: k.ID, GraceSeconds: ptr[int64](60)})
	if err != nil {
		t.Fatal(err)
	}
	if next.RateLimit == nil || next.RateLimit.Limit != 100 || next.Credits == nil || next.Credits.Remaining != 42 {
		t.Fatalf("successor's limits: %+v, %+v", next.RateLimit, next.Credits)
	}
	got, err := f.svc.Get(ctx, admin, manage.GetRequest{ID: next.ID})
	if err != nil || got.Usage == nil || got.Usage.Credits == nil || got.Usage.Credits.Remaining != 42 {
		t.Fatalf("successor's usage: %+v, %v", got, err)
	}
	var credit int
	for _, item := range f.scan(t) {
		if strings.HasPrefix(attrString(item, "pk"), "USAGE#") {
			credit++
			if attrString(item, "pk") != "USAGE#"+k.ID || attrString(item, "key_id") != next.ID {
				t.Errorf("CREDITS item %s held by %s", attrString(item, "pk"), attrString(item, "key_id"))
			}
		}
	}
	if credit != 1 {
		t.Errorf("%d CREDITS items, want the lineage's one", credit)
	}
	_, err = f.svc.Update(ctx, admin, manage.UpdateRequest{ID: k.ID, Credits: credits(1, nil)})
	wantMessage(t, err, keygate.Conflict, "successor")
	// While the key it replaced is in its grace, it meters its own calls
	// by the limits it was rotated with, from the same counters: the
	// successor's limits wait for the grace to end (or a revocation).
	_, err = f.svc.Update(ctx, admin, manage.UpdateRequest{ID: next.ID, RateLimit: rate(10, "1m")})
	wantMessage(t, err, keygate.Conflict, "shares its counters until its grace ends")
	f.clock.Add(61 * time.Second)
	if k2, err := f.svc.Update(ctx, admin, manage.UpdateRequest{ID: next.ID, RateLimit: rate(10, "1m")}); err != nil || k2.RateLimit.Limit != 10 {
		t.Fatalf("after the grace: %+v, %v", k2, err)
	}
}

func attrString(item map[string]types.AttributeValue, name string) string {
	v, _ := item[name].(*types.AttributeValueMemberS)
	if v == nil {
		return ""
	}
	return v.Value
}
