package manage_test

import (
	"context"
	"flag"
	"fmt"
	"math/rand/v2"
	"reflect"
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
	"github.com/keygate/keygate/shared/scope"
	"github.com/keygate/keygate/shared/store"
)

// The authority model: a small reference of README's rules (who may
// create, rotate, update and revoke whom, and what a child may hold),
// written apart from the service, drives the real service on DynamoDB
// Local with seeded random operations by random actors, each acting with
// an authorizer context up to the cache TTL stale. After every step the
// model's prediction (succeed or refuse) must match, every success must be
// audited exactly once, and the model and the table must agree.
//
// make test runs modelSteps steps for each of a few fixed seeds; make fuzz
// runs it longer with -model.steps and a random -model.seed.
var (
	modelSteps = flag.Int("model.steps", 150, "steps per seed of TestAuthorityModel")
	modelSeed  = flag.Uint64("model.seed", 0, "run only this seed of TestAuthorityModel (0: the fixed seeds)")
)

// cacheTTL is how stale an actor's context may be: the authorizer's
// in-function cache plus the gateway's result cache.
const cacheTTL = 10 * time.Second

// modelScopes and modelAPIs are the vocabularies keys are drawn from:
// management routes (so keys can act) and a data API's, nested so that
// covering is sometimes true and sometimes not.
var (
	modelScopes = []string{"* /v1/*", "* /v1/keys/*", "POST /v1/keys", "PATCH /v1/keys/*", "DELETE /v1/keys/*", "GET /v1/whoami", "GET /data/*", "GET /data/a"}
	modelAPIs   = []string{"*", "kglocal001", "dataapi01", "dataapi01/prod"}
)

// managementAPI is the API the management routes are called through.
const managementAPI = "kglocal001"

func TestAuthorityModel(t *testing.T) {
	seeds := []uint64{1, 2, 3}
	if *modelSeed != 0 {
		seeds = []uint64{*modelSeed}
	}
	for _, seed := range seeds {
		t.Run(fmt.Sprint("seed=", seed), func(t *testing.T) {
			m := newModel(t, seed)
			for step := 0; step < *modelSteps; step++ {
				m.step(t, step)
			}
			m.compareAll(t)
			t.Logf("%d keys; outcomes %v", len(m.order), m.tally)
			for _, op := range []string{"create", "rotate", "update", "revoke"} {
				if m.tally[op+" ok"] == 0 || m.tally[op+" refused"] == 0 {
					t.Errorf("no %s both succeeded and was refused: the run did not exercise its rules", op)
				}
			}
		})
	}
}

// snapshot is the authorizer's context for a key as of at.
type snapshot struct {
	at     time.Time
	caller keygate.Caller
}

type model struct {
	f     *fixture
	rnd   *rand.Rand
	keys  map[string]*keygate.Key // every key ever created, as the model says it is now
	order []string                // key IDs in creation order, for seeded choices
	snaps map[string][]snapshot
	// audits is how many audit records each tenant has, by the model.
	audits map[string]int
	log    []string // the steps taken, printed on failure
	// tally counts outcomes by operation, so a run shows it exercised
	// both sides of each rule.
	tally map[string]int
}

func newModel(t *testing.T, seed uint64) *model {
	f := newFixture(t, func(c *manage.Config) { c.MaxUserKeys, c.MaxServiceKeys = 1000, 1000 })
	m := &model{f: f, rnd: rand.New(rand.NewPCG(seed, seed^0x6b6579676174)), keys: map[string]*keygate.Key{}, snaps: map[string][]snapshot{}, audits: map[string]int{}, tally: map[string]int{}}
	t.Cleanup(func() {
		if t.Failed() {
			n := max(0, len(m.log)-25)
			t.Logf("seed %d, last steps:\n%s", seed, fmt.Sprint(m.log[n:]))
		}
	})
	// Two tenants' admins, and a few keys of acme made by an operator.
	// acme revokes leaked keys (no settings: the default), globex is
	// only told.
	f.setLeakAction(t, "globex", keygate.LeakNotify, false)
	for _, req := range []manage.CreateRequest{
		{Tenant: "acme", Owner: "root", Role: keygate.Admin, ExpiresInHours: ptr[int64](0)},
		{Tenant: "globex", Owner: "root", Role: keygate.Admin, ExpiresInHours: ptr[int64](0)},
		{Tenant: "acme", Owner: "ann", Role: keygate.Admin, APIs: []string{managementAPI}, ExpiresInHours: ptr[int64](48)},
		{Tenant: "acme", Owner: "bob", APIs: []string{"*"}, Scopes: []string{"* /v1/*", "GET /data/*"}, ExpiresInHours: ptr[int64](0)},
		{Tenant: "acme", Type: keygate.Service, Role: keygate.Admin, APIs: []string{managementAPI, "dataapi01"}},
	} {
		m.create(t, operator, req)
	}
	return m
}

func (m *model) pick(ids []string) string { return ids[m.rnd.IntN(len(ids))] }

func (m *model) now() time.Time { return m.f.clock.Now().UTC().Truncate(time.Millisecond) }

// actor is a random caller: an operator now and then, else a random key
// (of any status) with a context taken within the cache TTL.
func (m *model) actor() keygate.Caller {
	if m.rnd.IntN(8) == 0 {
		return operator
	}
	id := m.pick(m.order)
	if live := m.live(); len(live) > 0 && m.rnd.IntN(2) == 0 {
		// Half the time a key that may act, so successes are common too.
		id = m.pick(live)
	}
	snaps := m.snaps[id]
	fresh := slices.IndexFunc(snaps, func(s snapshot) bool { return m.now().Sub(s.at) <= cacheTTL })
	if fresh < 0 {
		fresh = len(snaps) - 1
	}
	return snaps[fresh+m.rnd.IntN(len(snaps)-fresh)].caller
}

func (m *model) snapshot(k *keygate.Key) {
	c := keygate.Caller{KeyID: k.ID, Tenant: k.Tenant, Owner: k.Owner, Type: k.Type, Role: k.Role, Scopes: slices.Clone(k.Scopes), APIs: slices.Clone(k.APIs), ExpiresAt: k.ExpiresAt}
	m.snaps[k.ID] = append(m.snaps[k.ID], snapshot{at: m.now(), caller: c})
}

// --- the rules, as README states them --------------------------------------

func (m *model) active(k *keygate.Key) bool {
	return k.RevokedAt == nil && (k.ExpiresAt == nil || m.now().Before(*k.ExpiresAt)) && k.Enabled
}

func parseScopes(t *testing.T, ss []string) []scope.Scope {
	t.Helper()
	out, err := scope.ParseList(ss)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// The rules below answer why an action must be refused: "" means it may
// succeed. The reasons name the rule, so a failure says which one broke.

// authority is the acting key as its item says it is now, and why it may
// not act on route at all: it must exist in the caller's tenant, be active
// and not in a rotation's grace, and its scopes and APIs must still admit
// the route.
func (m *model) authority(t *testing.T, c keygate.Caller, method, path string) (*keygate.Key, string) {
	k := m.keys[c.KeyID]
	switch {
	case k == nil || k.Tenant != c.Tenant:
		return nil, "actor unknown"
	case k.RevokedAt != nil:
		return k, "actor revoked"
	case k.ExpiresAt != nil && !m.now().Before(*k.ExpiresAt):
		return k, "actor expired"
	case !k.Enabled:
		return k, "actor disabled"
	case k.RotatedTo != "":
		return k, "actor in a rotation's grace"
	case !keygate.APIAllowed(k.APIs, managementAPI, "local"):
		return k, "actor no longer bound to the management API"
	case k.Role != keygate.Admin && !scope.Allowed(parseScopes(t, k.Scopes), method, path):
		return k, "actor's scopes no longer allow the route"
	}
	return k, ""
}

func visible(a, k *keygate.Key) bool {
	switch {
	case a.Tenant != k.Tenant:
		return false
	case a.Role == keygate.Admin:
		return true
	case a.Type == keygate.Service:
		return k.ID == a.ID
	}
	return k.Type == keygate.User && k.Owner == a.Owner
}

// covers says why a does not cover k: role, APIs, expiry and (for viewers)
// scopes, for every role.
func covers(t *testing.T, a, k *keygate.Key) string {
	switch {
	case k.Role == keygate.Admin && a.Role != keygate.Admin:
		return "target is an admin key, actor a viewer"
	case !keygate.APIsCovered(k.APIs, a.APIs):
		return "target's apis are beyond the actor's"
	case a.ExpiresAt != nil && (k.ExpiresAt == nil || k.ExpiresAt.After(*a.ExpiresAt)):
		return "target outlives the actor"
	case a.Role != keygate.Admin && !scope.CoveredBy(parseScopes(t, k.Scopes), parseScopes(t, a.Scopes)):
		return "target's scopes are beyond the actor's"
	}
	return ""
}

func lineage(k *keygate.Key) string {
	if k.Lineage != "" {
		return k.Lineage
	}
	return k.ID
}

// descendants: keys minted by any key of a rotation chain, transitively.
func (m *model) descendants(root *keygate.Key) []*keygate.Key {
	var out []*keygate.Key
	done := map[string]bool{lineage(root): true}
	queue := []string{lineage(root)}
	for len(queue) > 0 {
		l := queue[0]
		queue = queue[1:]
		for _, id := range m.order {
			k := m.keys[id]
			if k.ParentLineage == l && k.ID != root.ID && !slices.Contains(out, k) {
				out = append(out, k)
				if !done[lineage(k)] {
					done[lineage(k)] = true
					queue = append(queue, lineage(k))
				}
			}
		}
	}
	return out
}

// --- steps ----------------------------------------------------------------

func (m *model) step(t *testing.T, i int) {
	t.Helper()
	switch r := m.rnd.IntN(100); {
	case r < 8:
		d := time.Duration(m.rnd.IntN(5000)) * time.Millisecond
		switch m.rnd.IntN(6) {
		case 0:
			d = 70 * time.Second // past a short grace
		case 1:
			d = 2 * time.Hour // past a one-hour expiry or grace
		}
		m.f.clock.Add(d)
		m.log = append(m.log, fmt.Sprintf("\n%d: time +%s", i, d))
	case r < 35:
		m.createStep(t, i)
	case r < 50:
		m.rotateStep(t, i)
	case r < 72:
		m.updateStep(t, i)
	case r < 90:
		m.revokeStep(t, i)
	case r < 94:
		m.leakStep(t, i)
	default:
		m.raceStep(t, i)
	}
	m.f.clock.Add(time.Duration(m.rnd.IntN(800)) * time.Millisecond)
	if i%25 == 24 {
		m.compareAll(t)
	}
}

func (m *model) subset(from []string, n int) []string {
	out := []string{}
	for range n {
		if s := m.pick(from); !slices.Contains(out, s) {
			out = append(out, s)
		}
	}
	return out
}

func (m *model) createRequest(c keygate.Caller) manage.CreateRequest {
	req := manage.CreateRequest{Owner: m.pick([]string{"ann", "bob", "cy", c.Owner})}
	if c.Operator {
		req.Tenant = "acme"
	}
	switch m.rnd.IntN(6) {
	case 0:
		req.Role = keygate.Admin
		if m.rnd.IntN(2) == 0 {
			req.APIs = m.subset(modelAPIs, 1)
		}
	case 1:
		req.Type, req.Owner = keygate.Service, ""
		req.Scopes, req.APIs = m.subset(modelScopes, 2), m.subset(modelAPIs, 2)
	default:
		// A viewer key; a viewer creator may leave scopes and apis out to
		// pass its own on, an admin (or operator) must name them.
		if c.IsAdmin() || m.rnd.IntN(2) == 0 {
			req.Scopes = m.subset(modelScopes, 1+m.rnd.IntN(2))
		}
		if c.IsAdmin() || m.rnd.IntN(2) == 0 {
			req.APIs = m.subset(modelAPIs, 1+m.rnd.IntN(2))
		}
	}
	if (req.Owner == "" || req.Owner == "acme" || req.Owner == "globex") && req.Type != keygate.Service {
		req.Owner = "cy" // a tenant's name owns its service keys only
	}
	switch m.rnd.IntN(4) {
	case 0:
		req.ExpiresInHours = ptr[int64](0)
	case 1:
		req.ExpiresInHours = ptr[int64](1)
	case 2:
		req.ExpiresInHours = ptr[int64](48)
	}
	return req
}

// predictCreate is the model's answer to a create by c: why must it be
// refused ("" if it may succeed)?
func (m *model) predictCreate(t *testing.T, c keygate.Caller, req manage.CreateRequest) (a *keygate.Key, why string) {
	if c.Operator {
		return nil, ""
	}
	if a, why = m.authority(t, c, "POST", "/v1/keys"); why != "" {
		return a, why
	}
	admin := a.Role == keygate.Admin
	role, typ := req.Role, req.Type
	if role == "" {
		role = keygate.Viewer
	}
	if typ == "" {
		typ = keygate.User
	}
	switch {
	case (role == keygate.Admin || typ == keygate.Service) && !admin:
		return a, "a viewer creates only viewer user keys"
	case typ == keygate.User && req.Owner != a.Owner && !admin:
		return a, "a viewer creates keys for its own owner only"
	}
	if role == keygate.Viewer && !admin {
		want := req.Scopes
		if len(want) == 0 {
			want = a.Scopes
		}
		if !scope.CoveredBy(parseScopes(t, want), parseScopes(t, a.Scopes)) {
			return a, "child's scopes beyond the actor's"
		}
	}
	if len(req.APIs) > 0 && !keygate.APIsCovered(req.APIs, a.APIs) {
		return a, "child's apis beyond the actor's"
	}
	return a, ""
}

func (m *model) request(c keygate.Caller, method, path string) keygate.Caller {
	if !c.Operator {
		c.Request = keygate.Request{Method: method, Path: path, API: managementAPI, Stage: "local"}
	}
	return c
}

func (m *model) createStep(t *testing.T, i int) {
	c := m.actor()
	req := m.createRequest(c)
	m.log = append(m.log, fmt.Sprintf("\n%d: %s creates %+v", i, c.Name(), req))
	m.create(t, c, req)
}

// create runs a create and checks it against the model.
func (m *model) create(t *testing.T, c keygate.Caller, req manage.CreateRequest) {
	t.Helper()
	a, why := m.predictCreate(t, c, req)
	got, err := m.f.svc.Create(context.Background(), m.request(c, "POST", "/v1/keys"), req)
	m.outcome(t, "create", why, err)
	if err != nil {
		return
	}
	m.minted(t, a, &got.Key)
	if a != nil && got.ParentLineage != lineage(a) {
		t.Fatalf("%s minted %s in lineage %q, want %q", a.ID, got.ID, got.ParentLineage, lineage(a))
	}
	m.audits[got.Tenant]++
	m.adopt(t, got.ID)
	m.checkAudits(t)
}

// minted checks the invariant of every key a key mints: never beyond its
// creator as the creator is now (role, scopes, APIs, expiry).
func (m *model) minted(t *testing.T, a, k *keygate.Key) {
	t.Helper()
	if a == nil {
		return
	}
	switch {
	case k.Role == keygate.Admin && a.Role != keygate.Admin:
		t.Fatalf("%s (a viewer) minted admin key %s", a.ID, k.ID)
	case a.Role != keygate.Admin && !scope.CoveredBy(parseScopes(t, k.Scopes), parseScopes(t, a.Scopes)):
		t.Fatalf("%s minted %s with scopes %v beyond its %v", a.ID, k.ID, k.Scopes, a.Scopes)
	case !keygate.APIsCovered(k.APIs, a.APIs):
		t.Fatalf("%s minted %s with apis %v beyond its %v", a.ID, k.ID, k.APIs, a.APIs)
	case a.ExpiresAt != nil && (k.ExpiresAt == nil || k.ExpiresAt.After(*a.ExpiresAt)):
		t.Fatalf("%s (expires %v) minted %s expiring %v", a.ID, a.ExpiresAt, k.ID, k.ExpiresAt)
	}
}

// target is a random key for an action, half the time a live one.
func (m *model) target() *keygate.Key {
	if live := m.live(); len(live) > 0 && m.rnd.IntN(2) == 0 {
		return m.keys[m.pick(live)]
	}
	return m.keys[m.pick(m.order)]
}

// live lists the keys that are active and not in a rotation's grace.
func (m *model) live() []string {
	var ids []string
	for _, id := range m.order {
		if k := m.keys[id]; m.active(k) && k.RotatedTo == "" {
			ids = append(ids, id)
		}
	}
	return ids
}

// predictChange is the common part of rotate, update and revoke.
func (m *model) predictChange(t *testing.T, c keygate.Caller, method, path string, k *keygate.Key) (*keygate.Key, string) {
	if c.Operator {
		return nil, ""
	}
	a, why := m.authority(t, c, method, path)
	switch {
	case why != "":
		return a, why
	case !visible(a, k):
		return a, "target not visible to the actor"
	case a.RotatedTo == k.ID:
		return a, "target is the actor's successor"
	}
	return a, covers(t, a, k)
}

func (m *model) rotateStep(t *testing.T, i int) {
	c, k := m.actor(), m.target()
	grace := []int64{0, 60, 3600}[m.rnd.IntN(3)]
	m.log = append(m.log, fmt.Sprintf("\n%d: %s rotates %s grace %d", i, c.Name(), k.ID, grace))
	path := "/v1/keys/" + k.ID + "/rotate"
	a, why := m.predictChange(t, c, "POST", path, k)
	if why == "" && !(k.RevokedAt == nil && m.active(k) && k.RotatedTo == "") {
		why = "target revoked, expired, disabled or rotated"
	}
	if creator, ok := strings.CutPrefix(k.CreatedBy, "key:"); why == "" && ok {
		// A successor is capped by what its creator became: if that key
		// has expired, there is nothing left to cap it by.
		p := m.keys[creator]
		for p != nil && p.RotatedTo != "" {
			p = m.keys[p.RotatedTo]
		}
		if p != nil && p.ExpiresAt != nil && !m.now().Before(*p.ExpiresAt) {
			why = "the creator's current key has expired"
		}
	}
	req := manage.RotateRequest{ID: k.ID, GraceSeconds: &grace}
	if c.Operator {
		req.Tenant = k.Tenant
	}
	now := m.now()
	got, err := m.f.svc.Rotate(context.Background(), m.request(c, "POST", path), req)
	m.outcome(t, "rotate", why, err)
	if err != nil {
		return
	}
	if a != nil && a.RotatedTo == got.ID {
		t.Fatalf("%s acted on its own successor", a.ID)
	}
	m.minted(t, a, &got.Key)
	if got.RotatedFrom != k.ID || got.Role != k.Role || !slices.Equal(got.Scopes, k.Scopes) || !slices.Equal(got.APIs, k.APIs) || got.Owner != k.Owner || lineage(&got.Key) != lineage(k) || got.ParentLineage != k.ParentLineage {
		t.Fatalf("successor %+v is not a copy of %+v", got.Key, *k)
	}
	k.RotatedTo = got.ID
	if end := now.Add(time.Duration(grace) * time.Second); k.ExpiresAt == nil || end.Before(*k.ExpiresAt) {
		k.ExpiresAt = &end
	}
	m.audits[k.Tenant] += 2
	m.snapshot(k)
	m.adopt(t, got.ID)
	m.compare(t, k.ID)
	m.checkAudits(t)
}

func (m *model) updateStep(t *testing.T, i int) {
	c, k := m.actor(), m.target()
	req := manage.UpdateRequest{ID: k.ID}
	if c.Operator {
		req.Tenant = k.Tenant
	}
	next := *k
	var limits string // why the limit rules refuse this update, if it sets a limit
	switch m.rnd.IntN(6) {
	case 0:
		req.Enabled, next.Enabled = ptr(false), false
	case 1:
		req.Enabled, next.Enabled = ptr(true), true
	case 2:
		req.Name, next.Name = ptr(fmt.Sprint("n", i)), fmt.Sprint("n", i)
	case 3:
		if k.Role == keygate.Admin {
			req.Name, next.Name = ptr(fmt.Sprint("n", i)), fmt.Sprint("n", i)
			break
		}
		s := []string{m.pick(k.Scopes)}
		req.Scopes, next.Scopes = s, s
	case 4:
		at := m.now().Add(time.Duration(1+m.rnd.IntN(90)) * time.Minute)
		if k.ExpiresAt != nil && !at.Before(*k.ExpiresAt) {
			at = k.ExpiresAt.Add(-time.Second)
		}
		if !at.After(m.now()) {
			at = m.now().Add(time.Second)
		}
		s := at.Format(time.RFC3339)
		at, _ = time.Parse(time.RFC3339, s)
		req.ExpiresAt, next.ExpiresAt = &s, &at
	case 5:
		// A rate limit set or lowered (never loosened): a covering admin
		// or an operator may, a viewer only on keys it created, nobody on
		// a rotated key (its successor holds the counters).
		limit := int64(1 + m.rnd.IntN(100))
		if k.RateLimit != nil {
			limit = min(limit, k.RateLimit.Limit)
		}
		req.RateLimit = &manage.RateLimitRequest{Limit: limit, Window: "1m"}
		next.RateLimit = &keygate.RateLimit{Limit: limit, Window: time.Minute}
		switch a, p := m.keys[c.KeyID], m.keys[k.RotatedFrom]; {
		case k.RotatedTo != "":
			limits = "limits of a rotated key"
		case p != nil && p.StatusAt(m.now()) == keygate.Active:
			limits = "its predecessor is in its grace, sharing the counters"
		case c.Operator || a.Role == keygate.Admin:
		case k.ParentLineage != lineage(a):
			limits = "a viewer changes the limits of a key it did not create"
		}
	}
	m.log = append(m.log, fmt.Sprintf("\n%d: %s updates %s %+v", i, c.Name(), k.ID, req))
	path := "/v1/keys/" + k.ID
	_, why := m.predictChange(t, c, "PATCH", path, k)
	switch {
	case why != "":
	case k.RevokedAt != nil || (k.ExpiresAt != nil && !m.now().Before(*k.ExpiresAt)):
		why = "target revoked or expired"
	case req.ExpiresAt != nil && k.ExpiresAt != nil && !next.ExpiresAt.Before(*k.ExpiresAt):
		why = "expiry not earlier"
	case req.ExpiresAt != nil && !next.ExpiresAt.After(m.now()):
		why = "expiry not in the future"
	case limits != "":
		why = limits
	}
	_, err := m.f.svc.Update(context.Background(), m.request(c, "PATCH", path), req)
	m.outcome(t, "update", why, err)
	if err != nil {
		return
	}
	*k = next
	m.audits[k.Tenant]++
	m.snapshot(k)
	m.compare(t, k.ID)
	m.checkAudits(t)
}

// leakStep reports a random key's token found in public: the first
// report of a key is recorded, and revokes it if its tenant says so and
// it is neither revoked nor expired; later ones change nothing.
func (m *model) leakStep(t *testing.T, i int) {
	k := m.keys[m.pick(m.order)]
	m.log = append(m.log, fmt.Sprintf("\n%d: leak of %s", i, k.ID))
	r, err := store.New(m.f.db, m.f.table).GetKeyWithVerifier(context.Background(), k.ID)
	if err != nil {
		t.Fatal(err)
	}
	recorded, err := m.f.svc.ReportLeak(context.Background(), r, leak)
	if err != nil || recorded != (k.Leaked == nil) {
		t.Fatalf("ReportLeak = %v, %v; the model says recorded = %v", recorded, err, k.Leaked == nil)
	}
	m.tally[fmt.Sprint("leak recorded=", recorded)]++
	if recorded {
		now := m.now()
		k.Leaked = &keygate.Leak{At: now}
		m.audits[k.Tenant]++
		if k.Tenant == "acme" && k.StatusAt(now) != keygate.Revoked && k.StatusAt(now) != keygate.Expired {
			k.RevokedAt = &now
			m.audits[k.Tenant]++
			m.snapshot(k)
		}
	}
	m.compare(t, k.ID)
	m.checkAudits(t)
}

func (m *model) revokeStep(t *testing.T, i int) {
	c, k := m.actor(), m.target()
	cascade := m.rnd.IntN(3) == 0
	m.log = append(m.log, fmt.Sprintf("\n%d: %s revokes %s cascade=%v", i, c.Name(), k.ID, cascade))
	path := "/v1/keys/" + k.ID
	a, why := m.predictChange(t, c, "DELETE", path, k)
	var revoked []*keygate.Key
	if k.RevokedAt == nil {
		revoked = append(revoked, k)
	}
	if cascade {
		for _, d := range m.descendants(k) {
			if d.RevokedAt != nil {
				continue
			}
			if a != nil && why == "" {
				why = covers(t, a, d) // a descendant it does not cover
			}
			revoked = append(revoked, d)
		}
	}
	req := manage.RevokeRequest{ID: k.ID, Cascade: cascade}
	if c.Operator {
		req.Tenant = k.Tenant
	}
	got, err := m.f.svc.Revoke(context.Background(), m.request(c, "DELETE", path), req)
	m.outcome(t, "revoke", why, err)
	if err != nil {
		return
	}
	var wantDesc []string
	for _, r := range revoked {
		if r.ID != k.ID {
			wantDesc = append(wantDesc, r.ID)
		}
	}
	gotDesc := got.RevokedDescendants
	// A cascade lists the tenant from GSI1, which may lag a write (README:
	// run it again to reach a key minted while it ran). Never more than
	// the model's; what it missed, an operator's repeat must reach.
	for try := 0; try < 10 && len(gotDesc) < len(wantDesc) && !slices.ContainsFunc(gotDesc, func(id string) bool { return !slices.Contains(wantDesc, id) }); try++ {
		time.Sleep(100 * time.Millisecond)
		again, err := m.f.svc.Revoke(context.Background(), operator, manage.RevokeRequest{Tenant: k.Tenant, ID: k.ID, Cascade: true})
		if err != nil {
			t.Fatalf("repeating the cascade: %v", err)
		}
		gotDesc = append(gotDesc, again.RevokedDescendants...)
	}
	if !sameSet(gotDesc, wantDesc) {
		t.Fatalf("cascade revoked %v, the model says %v", gotDesc, wantDesc)
	}
	now := m.now()
	for _, r := range revoked {
		r.RevokedAt = &now
		m.audits[r.Tenant]++
		m.snapshot(r)
		m.compare(t, r.ID)
	}
	m.checkAudits(t)
}

// raceStep runs a create by a key in parallel with an operator's change
// of that key (disable, narrow, revoke or rotate with grace): whichever
// commits first, the child never holds more than the creator held before
// the change, and every success is audited once.
func (m *model) raceStep(t *testing.T, i int) {
	c := m.actor()
	if c.Operator {
		return
	}
	a := m.keys[c.KeyID]
	req := m.createRequest(c)
	if _, why := m.predictCreate(t, c, req); why != "" || a.Tenant != "acme" {
		return
	}
	before := *a
	before.Scopes, before.APIs = slices.Clone(a.Scopes), slices.Clone(a.APIs)
	change := m.rnd.IntN(4)
	m.log = append(m.log, fmt.Sprintf("\n%d: race: %s creates %+v while an operator changes it (%d)", i, c.Name(), req, change))
	var wg sync.WaitGroup
	var created, successor *manage.Created
	var createErr, changeErr error
	ctx := context.Background()
	wg.Add(2)
	go func() {
		defer wg.Done()
		created, createErr = m.f.svc.Create(ctx, m.request(c, "POST", "/v1/keys"), req)
	}()
	go func() {
		defer wg.Done()
		// A transaction conflict with the create is a retryable 503: an
		// operator retries it.
		for range 20 {
			switch change {
			case 0:
				_, changeErr = m.f.svc.Update(ctx, operator, manage.UpdateRequest{Tenant: "acme", ID: a.ID, Enabled: ptr(false)})
			case 1:
				_, changeErr = m.f.svc.Update(ctx, operator, manage.UpdateRequest{Tenant: "acme", ID: a.ID, Name: ptr("raced")})
			case 2:
				_, changeErr = m.f.svc.Revoke(ctx, operator, manage.RevokeRequest{Tenant: "acme", ID: a.ID})
			case 3:
				successor, changeErr = m.f.svc.Rotate(ctx, operator, manage.RotateRequest{Tenant: "acme", ID: a.ID, GraceSeconds: ptr[int64](600)})
			}
			if keygate.ErrorCode(changeErr) != keygate.Unavailable {
				return
			}
		}
	}()
	wg.Wait()
	if changeErr != nil {
		t.Fatalf("the operator's change failed: %v", changeErr)
	}
	if successor != nil {
		m.audits["acme"]++ // the successor's creation (the rotation's own below)
		m.adopt(t, successor.ID)
	}
	m.audits["acme"]++
	if createErr == nil {
		m.minted(t, &before, &created.Key)
		m.audits["acme"]++
		m.adopt(t, created.ID)
	} else if c := keygate.ErrorCode(createErr); c != keygate.Conflict && c != keygate.Unauthorized && c != keygate.Forbidden && c != keygate.Unavailable {
		t.Fatalf("raced create: %v", createErr)
	}
	m.resync(t, a.ID)
	m.checkAudits(t)
}

// --- agreement --------------------------------------------------------------

// outcome checks the service's answer against the model's prediction. A
// refusal must be a client error (never 500) and change nothing, which the
// audit count and the comparisons after each step check.
func (m *model) outcome(t *testing.T, op, why string, err error) {
	t.Helper()
	switch {
	case why == "" && err != nil:
		t.Fatalf("%s refused (%v); the model says it may succeed", op, err)
	case why != "" && err == nil:
		t.Fatalf("%s succeeded; the model says it must be refused: %s", op, why)
	case err != nil && keygate.ErrorCode(err) == keygate.Internal:
		t.Fatalf("%s: internal error %v", op, err)
	}
	if err != nil {
		m.tally[op+" refused"]++
		m.checkAudits(t)
	} else {
		m.tally[op+" ok"]++
	}
}

// adopt reads a key the service made into the model.
func (m *model) adopt(t *testing.T, id string) {
	t.Helper()
	k := m.read(t, id)
	m.keys[id] = k
	m.order = append(m.order, id)
	m.snapshot(k)
}

func (m *model) resync(t *testing.T, id string) {
	t.Helper()
	k := m.read(t, id)
	*m.keys[id] = *k
	m.snapshot(k)
}

func (m *model) read(t *testing.T, id string) *keygate.Key {
	t.Helper()
	for _, tenant := range []string{"acme", "globex"} {
		k, err := m.f.svc.Get(context.Background(), operator, manage.GetRequest{Tenant: tenant, ID: id})
		if err == nil {
			return k
		}
	}
	t.Fatalf("key %s is not in the table", id)
	return nil
}

// compare checks that the table holds key id as the model says.
func (m *model) compare(t *testing.T, id string) {
	t.Helper()
	want, got := m.keys[id], m.read(t, id)
	eqTime := func(a, b *time.Time) bool { return (a == nil) == (b == nil) && (a == nil || a.Equal(*b)) }
	if got.Role != want.Role || got.Owner != want.Owner || got.Enabled != want.Enabled || got.RotatedTo != want.RotatedTo ||
		!slices.Equal(got.Scopes, want.Scopes) || !slices.Equal(got.APIs, want.APIs) || !eqTime(got.ExpiresAt, want.ExpiresAt) ||
		(got.RevokedAt == nil) != (want.RevokedAt == nil) || got.Name != want.Name ||
		got.Lineage != want.Lineage || got.ParentLineage != want.ParentLineage || (got.Leaked == nil) != (want.Leaked == nil) ||
		!reflect.DeepEqual(got.RateLimit, want.RateLimit) {
		t.Fatalf("key %s:\n table %+v\n model %+v", id, *got, *want)
	}
}

func (m *model) compareAll(t *testing.T) {
	t.Helper()
	for _, id := range m.order {
		m.compare(t, id)
	}
	m.checkAudits(t)
}

// checkAudits: every success wrote its audit records, exactly once, and
// no refusal wrote any.
func (m *model) checkAudits(t *testing.T) {
	t.Helper()
	for tenant, want := range m.audits {
		out, err := m.f.db.Query(context.Background(), &dynamodb.QueryInput{
			TableName:                 aws.String(m.f.table),
			KeyConditionExpression:    aws.String("pk = :pk"),
			ExpressionAttributeValues: map[string]types.AttributeValue{":pk": &types.AttributeValueMemberS{Value: "AUDIT#" + tenant}},
			Select:                    types.SelectCount,
			ConsistentRead:            aws.Bool(true),
		})
		if err != nil {
			t.Fatal(err)
		}
		if int(out.Count) != want {
			t.Fatalf("tenant %s has %d audit records, the model says %d", tenant, out.Count, want)
		}
	}
}

func sameSet(a, b []string) bool {
	a, b = slices.Clone(a), slices.Clone(b)
	slices.Sort(a)
	slices.Sort(b)
	return slices.Equal(a, b)
}
