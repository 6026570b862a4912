package authorizer_test

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/keygate/keygate/infra/dynamotest"
	"github.com/keygate/keygate/infra/testkit"
	"github.com/keygate/keygate/shared/authorizer"
	"github.com/keygate/keygate/shared/keygate"
	"github.com/keygate/keygate/shared/manage"
	"github.com/keygate/keygate/shared/store"
	"github.com/keygate/keygate/shared/usage"
)

// The metering tests run the real authorizer code in several execution
// environments at once (separate Authorizers, each with its own Meter and
// cache, as Lambda runs them) against one DynamoDB Local table, and prove
// the bounds of docs/usage-limits.md on what the environments admit.

// usageDB is the real DynamoDB Local client counting the writes to usage
// items (USAGE#…), refused conditional writes included: each costs a write
// request unit.
type usageDB struct {
	*dynamodb.Client
	writes, refills atomic.Int64
}

func (d *usageDB) UpdateItem(ctx context.Context, in *dynamodb.UpdateItemInput, opts ...func(*dynamodb.Options)) (*dynamodb.UpdateItemOutput, error) {
	if pk, ok := in.Key[store.AttrPK].(*types.AttributeValueMemberS); ok && strings.HasPrefix(pk.Value, "USAGE#") {
		d.writes.Add(1)
	}
	out, err := d.Client.UpdateItem(ctx, in, opts...)
	if err == nil && strings.Contains(aws.ToString(in.UpdateExpression), "#base = ") {
		d.refills.Add(1)
	}
	return out, err
}

// limitsStore is the real store, with usage limits set on the keys it
// reads: key management (create, PATCH) stores them on the key item; here
// they are added to the record the real store read.
type limitsStore struct {
	*store.Store
	mu     sync.Mutex
	limits map[string]keygate.Key // RateLimit, Credits and Rev by key ID
}

func (s *limitsStore) GetKeyWithVerifier(ctx context.Context, id string) (*keygate.Record, error) {
	r, err := s.Store.GetKeyWithVerifier(ctx, id)
	if err != nil {
		return r, err
	}
	s.mu.Lock()
	if l, ok := s.limits[id]; ok {
		r.RateLimit, r.Credits, r.Rev = l.RateLimit, l.Credits, max(r.Rev, l.Rev)
	}
	s.mu.Unlock()
	return r, nil
}

func (s *limitsStore) set(id string, k keygate.Key) {
	s.mu.Lock()
	s.limits[id] = k
	s.mu.Unlock()
}

// countingMeter counts the Meter's calls.
type countingMeter struct {
	authorizer.Meter
	calls atomic.Int64
}

func (m *countingMeter) Spend(ctx context.Context, k *keygate.Key, rev int64, now time.Time) (usage.Verdict, error) {
	m.calls.Add(1)
	return m.Meter.Spend(ctx, k, rev, now)
}

// cluster is envs execution environments on one table and one clock.
type cluster struct {
	f      *fixture
	db     *usageDB
	table  string
	limits *limitsStore
	envs   []*authorizer.Authorizer
	meters []*countingMeter
	clock  *testkit.Clock
}

func newCluster(t testing.TB, envs int, start time.Time) *cluster {
	t.Helper()
	client, table := dynamotest.NewTable(t)
	db := &usageDB{Client: client}
	st := store.New(db, table)
	c := &cluster{db: db, table: table, limits: &limitsStore{Store: st, limits: map[string]keygate.Key{}}, clock: testkit.NewClock(start)}
	c.f = newFixtureOn(t, st, nil)
	for range envs {
		m := &countingMeter{Meter: usage.NewMeter(st)}
		cfg := c.f.cfg
		cfg.CacheTTL, cfg.LastUsedInterval, cfg.Now, cfg.Meter = time.Hour, time.Hour, c.clock.Now, m
		c.envs = append(c.envs, authorizer.New(c.limits, cfg, slog.New(slog.DiscardHandler)))
		c.meters = append(c.meters, m)
	}
	return c
}

// key creates a key with the given limits.
func (c *cluster) key(t testing.TB, limits keygate.Key) *manage.Created {
	t.Helper()
	k := c.f.create(t, manage.CreateRequest{APIs: []string{"*"}, Scopes: []string{"GET /x/*"}})
	if limits.RateLimit != nil || limits.Credits != nil {
		c.limits.set(k.ID, limits)
	}
	return k
}

func (c *cluster) call(t testing.TB, env int, token string) authorizer.Decision {
	d, _, err := c.envs[env].Authorize(context.Background(), authorizer.Request{Token: token, API: "kglocal001", Stage: "prod", Method: "GET", Path: "/x/1"})
	if err != nil {
		t.Errorf("env %d: %v", env, err)
	}
	return d
}

// run has each environment call with goroutines until done(env, calls made,
// last decision) says stop, and returns the calls made and allowed.
func (c *cluster) run(t testing.TB, token string, goroutines int, done func(env int, calls int64, d authorizer.Decision) bool) (calls, allowed int64) {
	var wg sync.WaitGroup
	var nCalls, nAllowed atomic.Int64
	for env := range c.envs {
		var envCalls atomic.Int64
		var stop atomic.Bool
		for range goroutines {
			wg.Go(func() {
				for !stop.Load() {
					d := c.call(t, env, token)
					n := envCalls.Add(1)
					nCalls.Add(1)
					if d.Outcome == authorizer.Allow {
						nAllowed.Add(1)
					}
					if done(env, n, d) || t.Failed() {
						stop.Store(true)
					}
				}
			})
		}
	}
	wg.Wait()
	return nCalls.Load(), nAllowed.Load()
}

func (c *cluster) item(t testing.TB, pk, sk string) map[string]types.AttributeValue {
	t.Helper()
	out, err := c.db.Client.GetItem(context.Background(), &dynamodb.GetItemInput{TableName: &c.table, ConsistentRead: aws.Bool(true), Key: map[string]types.AttributeValue{
		store.AttrPK: &types.AttributeValueMemberS{Value: pk}, store.AttrSK: &types.AttributeValueMemberS{Value: sk}}})
	if err != nil {
		t.Fatal(err)
	}
	return out.Item
}

func itemNum(t testing.TB, item map[string]types.AttributeValue, name string) int64 {
	t.Helper()
	v, ok := item[name].(*types.AttributeValueMemberN)
	if !ok {
		t.Fatalf("item has no number %s: %v", name, item)
	}
	n, err := strconv.ParseInt(v.Value, 10, 64)
	if err != nil {
		t.Fatal(err)
	}
	return n
}

// windowStart is a minute boundary: the tests place calls relative to it.
var windowStart = time.Date(2026, 12, 5, 10, 0, 0, 0, time.UTC)

// TestRateLimitAcrossEnvironments: limit 1,000 a minute, 10 environments
// of 4 goroutines each calling until they are refused and at least 200
// times each (demand ≥ 2× the limit): at most the limit admitted, at
// least 95 % of it, and at most one usage write per 10 allowed calls.
func TestRateLimitAcrossEnvironments(t *testing.T) {
	testkit.SkipShort(t, "DynamoDB Local, 2,000 authorizations")
	c := newCluster(t, 10, windowStart.Add(10*time.Second))
	key := c.key(t, keygate.Key{RateLimit: &keygate.RateLimit{Limit: 1000, Window: time.Minute}})
	refused := make([]atomic.Bool, len(c.envs))
	calls, allowed := c.run(t, key.Token.Reveal(), 4, func(env int, n int64, d authorizer.Decision) bool {
		if d.Outcome == authorizer.Deny {
			if d.Refusal != keygate.ReasonRateLimited || d.RetryAfter != 50*time.Second {
				t.Errorf("refusal = %q after %v, want rate_limited after 50s", d.Refusal, d.RetryAfter)
			}
			refused[env].Store(true)
		}
		return refused[env].Load() && n >= 200
	})
	writes := c.db.writes.Load()
	t.Logf("%d calls, %d allowed, %d usage writes (%.3f per allowed call)", calls, allowed, writes, float64(writes)/float64(allowed))
	if calls < 2000 || allowed > 1000 || allowed < 950 {
		t.Fatalf("%d calls, %d allowed; want ≥ 2000 calls, 950 ≤ allowed ≤ 1000", calls, allowed)
	}
	if writes*10 > allowed {
		t.Fatalf("%d usage writes for %d allowed calls, want ≤ 1 per 10", writes, allowed)
	}
	start, _ := keygate.RateLimit{Window: time.Minute}.Span(c.clock.Now())
	if leased := itemNum(t, c.item(t, "USAGE#"+key.ID, "RATE#"+strconv.FormatInt(start.Unix(), 10)), "leased"); leased != 1000 {
		t.Fatalf("window leased %d, want the limit", leased)
	}
}

// TestRateWindowEdges straddles a window boundary: leases left over from
// the old window are not spent in the new one, which starts at exactly its
// boundary with a fresh budget, also for an environment that saw the old
// one exhausted.
func TestRateWindowEdges(t *testing.T) {
	testkit.SkipShort(t, "DynamoDB Local")
	c := newCluster(t, 10, windowStart.Add(59*time.Second))
	key := c.key(t, keygate.Key{RateLimit: &keygate.RateLimit{Limit: 100, Window: time.Minute}})
	tok := key.Token.Reveal()
	// Environments 1-9 lease a slice (5) and spend 2 of it: 27 left over.
	for env := 1; env < 10; env++ {
		for range 2 {
			if d := c.call(t, env, tok); d.Outcome != authorizer.Allow {
				t.Fatalf("env %d: %v", env, d.Reason)
			}
		}
	}
	// Environment 0 exhausts the old window half a second before its end.
	c.clock.Add(500 * time.Millisecond)
	old := 18
	for {
		d := c.call(t, 0, tok)
		if d.Outcome != authorizer.Allow {
			if d.RetryAfter != time.Second {
				t.Fatalf("refusal %v before the boundary, want retry after 1s (0.5 rounded up)", d.RetryAfter)
			}
			break
		}
		old++
	}
	if old != 100-27 {
		t.Fatalf("old window admitted %d, want %d (the limit less the leases held)", old, 100-27)
	}
	// Exactly at the boundary: the new window.
	c.clock.Add(500 * time.Millisecond)
	_, allowed := c.run(t, tok, 2, func(_ int, n int64, d authorizer.Decision) bool {
		return d.Outcome == authorizer.Deny && n >= 10
	})
	if allowed != 100 {
		t.Fatalf("new window admitted %d, want its full limit 100 (no leftover lease spent, none refused)", allowed)
	}
	oldItem := c.item(t, "USAGE#"+key.ID, "RATE#"+strconv.FormatInt(windowStart.Unix(), 10))
	newItem := c.item(t, "USAGE#"+key.ID, "RATE#"+strconv.FormatInt(windowStart.Add(time.Minute).Unix(), 10))
	if itemNum(t, oldItem, "leased") != 100 || itemNum(t, newItem, "leased") != 100 {
		t.Fatalf("leased old %v, new %v", oldItem["leased"], newItem["leased"])
	}
	if d := c.call(t, 3, tok); d.Outcome != authorizer.Deny || d.RetryAfter != time.Minute {
		t.Fatalf("at the new window's start: %v retry after %v, want a minute", d.Outcome, d.RetryAfter)
	}
}

// TestCreditsAcrossEnvironments: 1,000 credits, 10 environments calling
// 200 times each: never more admitted than the credits, the pool never
// below zero, and at most 10 refused within the credits per environment
// (min(100, 1 % of the pool), what an environment may hold unspent).
func TestCreditsAcrossEnvironments(t *testing.T) {
	testkit.SkipShort(t, "DynamoDB Local, 2,000 authorizations")
	c := newCluster(t, 10, windowStart)
	key := c.key(t, keygate.Key{Credits: &keygate.Credits{Remaining: 1000}})
	if err := dynamotest.PutCredits(context.Background(), c.db.Client, c.table, dynamotest.Credits{Lineage: key.ID, Pool: 1000}); err != nil {
		t.Fatal(err)
	}
	calls, allowed := c.run(t, key.Token.Reveal(), 4, func(_ int, n int64, d authorizer.Decision) bool {
		if d.Outcome == authorizer.Deny && (d.Refusal != keygate.ReasonCreditsExhausted || d.RetryAfter != 0) {
			t.Errorf("refusal = %q after %v, want credits_exhausted, 0", d.Refusal, d.RetryAfter)
		}
		return n >= 200
	})
	pool := itemNum(t, c.item(t, "USAGE#"+key.ID, "CREDITS"), "pool")
	t.Logf("%d calls, %d allowed, pool %d, %d usage writes", calls, allowed, pool, c.db.writes.Load())
	if allowed > 1000 || pool < 0 || allowed+pool > 1000 {
		t.Fatalf("allowed %d with %d left in the pool, of 1000 credits", allowed, pool)
	}
	if bound := int64(10 * 10); 1000-allowed > bound {
		t.Fatalf("allowed %d of 1000 credits: %d refused within them, bound %d", allowed, 1000-allowed, bound)
	}
}

// TestRefillRace sends 20 environments' first calls at the refill instant:
// one refill, and the pool is the refill amount less what was leased.
func TestMeteredRefillRace(t *testing.T) {
	testkit.SkipShort(t, "DynamoDB Local")
	refill := time.Date(2026, 12, 6, 0, 0, 0, 0, time.UTC)
	c := newCluster(t, 20, refill)
	key := c.key(t, keygate.Key{Credits: &keygate.Credits{Remaining: 1000, Refill: &keygate.Refill{Amount: 1000, Interval: keygate.RefillDay}}})
	if err := dynamotest.PutCredits(context.Background(), c.db.Client, c.table, dynamotest.Credits{
		Lineage: key.ID, Pool: 0, RefillAmount: 1000, RefillInterval: keygate.RefillDay, RefillAt: refill}); err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	var allowed atomic.Int64
	for env := range c.envs {
		wg.Go(func() {
			if d := c.call(t, env, key.Token.Reveal()); d.Outcome == authorizer.Allow {
				allowed.Add(1)
			}
		})
	}
	wg.Wait()
	item := c.item(t, "USAGE#"+key.ID, "CREDITS")
	// Each environment leased one slice of 10 (1 % of the 1,000 it was
	// configured with) and spent one credit of it.
	if n := c.db.refills.Load(); n != 1 || allowed.Load() != 20 || itemNum(t, item, "pool") != 1000-20*10 ||
		itemNum(t, item, "refill_at") != refill.AddDate(0, 0, 1).Unix() || itemNum(t, item, "base") != 1000 {
		t.Fatalf("%d refills, %d allowed, item %v; want 1 refill, 20 allowed, pool 800, refill tomorrow", n, allowed.Load(), item)
	}
}

// TestUnmeteredKeysMakeNoUsageWrites: a key without limits never reaches
// the Meter, and no usage item is written for it.
func TestUnmeteredKeysMakeNoUsageWrites(t *testing.T) {
	c := newCluster(t, 10, windowStart)
	key := c.key(t, keygate.Key{})
	_, allowed := c.run(t, key.Token.Reveal(), 2, func(_ int, n int64, _ authorizer.Decision) bool { return n >= 50 })
	if allowed < 500 {
		t.Fatalf("%d allowed", allowed)
	}
	for i, m := range c.meters {
		if n := m.calls.Load(); n != 0 {
			t.Fatalf("env %d called the meter %d times for an unmetered key", i, n)
		}
	}
	if n := c.db.writes.Load(); n != 0 {
		t.Fatalf("%d usage writes for an unmetered key", n)
	}
}

// TestMeterFailsClosed: a usage write that fails is an error, never an
// allow, as is a metered key without a Meter.
func TestMeterFailsClosed(t *testing.T) {
	c := newCluster(t, 1, windowStart)
	key := c.key(t, keygate.Key{RateLimit: &keygate.RateLimit{Limit: 10, Window: time.Minute}})
	// A table that does not exist: every lease fails.
	broken := store.New(c.db.Client, c.table+"-missing")
	cfg := c.f.cfg
	cfg.Meter = usage.NewMeter(broken)
	noMeter := c.f.cfg
	noMeter.Meter = nil
	for name, cfg := range map[string]authorizer.Config{"store error": cfg, "no meter": noMeter} {
		a := authorizer.New(c.limits, cfg, slog.New(slog.DiscardHandler))
		for _, shape := range shapes {
			ev := event(t, shape, key.Token.Reveal(), "GET", "/x/1")
			if resp, err := a.Handle(context.Background(), ev); err == nil || errors.Is(err, authorizer.ErrUnauthorized) {
				t.Fatalf("%s, %s: %v, %v; want an error", name, shape, resp, err)
			}
		}
	}
}

// TestRefusalContext: every deny, in every event shape, carries reason and
// retry_after (a number of seconds): usage refusals, scope denials and API
// denials alike; allows do not.
func TestRefusalContext(t *testing.T) {
	c := newCluster(t, 1, windowStart.Add(15*time.Second))
	limited := c.key(t, keygate.Key{RateLimit: &keygate.RateLimit{Limit: 1, Window: time.Hour}})
	broke := c.key(t, keygate.Key{Credits: &keygate.Credits{Remaining: 0, Refill: &keygate.Refill{Amount: 5, Interval: keygate.RefillDay}}})
	if err := dynamotest.PutCredits(context.Background(), c.db.Client, c.table, dynamotest.Credits{
		Lineage: broke.ID, Pool: 0, RefillAmount: 5, RefillInterval: keygate.RefillDay, RefillAt: time.Date(2026, 12, 6, 0, 0, 0, 0, time.UTC)}); err != nil {
		t.Fatal(err)
	}
	plain := c.key(t, keygate.Key{})
	a := c.envs[0]
	// The limited key's one call of the hour.
	if got, _ := outcomeOf(t, a, event(t, "rest-request", limited.Token.Reveal(), "GET", "/x/1")); got != "allow" {
		t.Fatalf("first call: %s", got)
	}
	const untilRefill = 14*3600 - 15 // 10:00:15 to midnight
	tests := []struct {
		name, token, path string
		reason            string
		retry             int64
	}{
		{"rate limited", limited.Token.Reveal(), "/x/1", keygate.ReasonRateLimited, 3600 - 15},
		{"credits exhausted", broke.Token.Reveal(), "/x/1", keygate.ReasonCreditsExhausted, untilRefill},
		{"scope denial", plain.Token.Reveal(), "/y", keygate.ReasonForbidden, 0},
		{"scope denial of a metered key", limited.Token.Reveal(), "/y", keygate.ReasonForbidden, 0},
	}
	for _, shape := range shapes {
		for _, tt := range tests {
			t.Run(shape+"/"+tt.name, func(t *testing.T) {
				got, resp := outcomeOf(t, a, event(t, shape, tt.token, "GET", tt.path))
				var ctx map[string]any
				switch r := resp.(type) {
				case events.APIGatewayV2CustomAuthorizerSimpleResponse:
					ctx = r.Context
				case events.APIGatewayCustomAuthorizerResponse:
					ctx = r.Context
				}
				if got != "deny" && got != "not authorized" {
					t.Fatalf("outcome %s, want a deny", got)
				}
				if ctx["reason"] != tt.reason || ctx["retry_after"] != tt.retry || ctx["key_id"] == nil {
					t.Fatalf("context = %v, want reason %s, retry_after %d and the key's context", ctx, tt.reason, tt.retry)
				}
				// Invoke's JSON says the same, retry_after a number.
				out, err := a.Invoke(context.Background(), event(t, shape, tt.token, "GET", tt.path))
				if err != nil || !strings.Contains(string(out), `"retry_after":`+strconv.FormatInt(tt.retry, 10)) {
					t.Fatalf("Invoke = %s, %v", out, err)
				}
				// A usage refusal denies the whole API stage; a cached
				// policy cannot admit another route of the key.
				if p, ok := resp.(events.APIGatewayCustomAuthorizerResponse); ok && tt.reason != keygate.ReasonForbidden {
					if evaluate(p.PolicyDocument, "arn:aws:execute-api:us-east-1:123456789012:kglocal001/prod/GET/x/2") != "deny" {
						t.Fatalf("policy = %+v", p.PolicyDocument)
					}
				}
			})
		}
	}
	// A key bound to other APIs is denied as forbidden too.
	other := c.f.create(t, manage.CreateRequest{Owner: "bob", APIs: []string{"other1"}, Scopes: []string{"GET /x/*"}})
	_, resp := outcomeOf(t, a, event(t, "rest-token", other.Token.Reveal(), "GET", "/x/1"))
	if ctx := resp.(events.APIGatewayCustomAuthorizerResponse).Context; ctx["reason"] != keygate.ReasonForbidden || ctx["retry_after"] != int64(0) {
		t.Fatalf("wrong API context = %v", ctx)
	}
	// An allow carries no reason.
	_, resp = outcomeOf(t, a, event(t, "http-v2", plain.Token.Reveal(), "GET", "/x/1"))
	if ctx := resp.(events.APIGatewayV2CustomAuthorizerSimpleResponse).Context; ctx["reason"] != nil {
		t.Fatalf("allow context = %v", ctx)
	}
}

// outcomeOf is fixture.outcome for any Authorizer.
func outcomeOf(t *testing.T, a *authorizer.Authorizer, ev json.RawMessage) (string, any) {
	t.Helper()
	f := &fixture{auth: a}
	return f.outcome(t, ev)
}

// TestMeterSeesNewRevisions: a change of a key's limits (a new revision)
// applies once the environment's cache re-reads the key, although the
// environment still held a lease taken under the old limits.
func TestMeterSeesNewRevisions(t *testing.T) {
	c := newCluster(t, 1, windowStart)
	day := 24 * time.Hour
	key := c.key(t, keygate.Key{RateLimit: &keygate.RateLimit{Limit: 1000, Window: day}})
	if d := c.call(t, 0, key.Token.Reveal()); d.Outcome != authorizer.Allow { // leases 50
		t.Fatal(d.Reason)
	}
	c.limits.set(key.ID, keygate.Key{RateLimit: &keygate.RateLimit{Limit: 50, Window: day}, Rev: 1})
	c.clock.Add(2 * time.Hour) // past the cache TTL (1h), same window
	if d := c.call(t, 0, key.Token.Reveal()); d.Outcome != authorizer.Deny || d.Refusal != keygate.ReasonRateLimited {
		t.Fatalf("after lowering the limit to what was leased: %v %q", d.Outcome, d.Refusal)
	}
}
