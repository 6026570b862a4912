package middleware_test

import (
	"context"
	"crypto/rand"
	"encoding/json"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/keygate/keygate/infra/dynamotest"
	"github.com/keygate/keygate/infra/testkit"
	"github.com/keygate/keygate/shared/apikey"
	"github.com/keygate/keygate/shared/keygate"
	"github.com/keygate/keygate/shared/manage"
	"github.com/keygate/keygate/shared/middleware"
	"github.com/keygate/keygate/shared/store"
)

// directFixture is the middleware in Direct mode on a DynamoDB Local
// table, with keys minted by the management service as Keygate mints them.
type directFixture struct {
	svc     *manage.Service
	clock   *testkit.Clock
	logs    *testkit.Buffer
	cfg     middleware.Config
	handler http.Handler
	tokens  []string
	// seen is the identity the last admitted request carried.
	seen *middleware.Identity
}

const service = "orders"

func newDirect(t testing.TB, tweak func(*middleware.Config)) *directFixture {
	t.Helper()
	db, table := dynamotest.NewTable(t)
	format, hasher := testkit.Tokens(t)
	f := &directFixture{clock: testkit.NewClock(time.Now().UTC().Truncate(time.Second)), logs: &testkit.Buffer{}}
	f.svc = manage.New(store.New(db, table), manage.Config{
		Format: format, Hasher: hasher, Retention: time.Hour, MaxUserKeys: 50, MaxServiceKeys: 5, Now: f.clock.Now,
	})
	f.cfg = middleware.Config{
		Mode: middleware.Direct, API: service, DynamoDB: db, Table: table, Hasher: hasher,
		Logger: slog.New(slog.NewJSONHandler(f.logs, nil)), Now: f.clock.Now,
		RequestID: func(*http.Request) string { return "rid" },
	}
	if tweak != nil {
		tweak(&f.cfg)
	}
	mw, err := middleware.New(f.cfg)
	if err != nil {
		t.Fatal(err)
	}
	f.handler = mw(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		id, ok := middleware.KeyFrom(r.Context())
		if !ok {
			t.Error("an admitted request has no identity")
		}
		f.seen = &id
		w.WriteHeader(http.StatusNoContent)
	}))
	t.Cleanup(func() {
		for _, tok := range f.tokens {
			if strings.Contains(f.logs.String(), tok[len(apikey.DefaultPrefix):]) {
				t.Error("logs hold a token")
			}
		}
	})
	return f
}

// create mints a key of tenant acme (owner alice unless given), by default
// for this service with the scope GET /orders/*.
func (f *directFixture) create(t testing.TB, req manage.CreateRequest) *manage.Created {
	t.Helper()
	req.Tenant = "acme"
	if req.Owner == "" && req.Type != keygate.Service {
		req.Owner = "alice"
	}
	if req.APIs == nil {
		req.APIs = []string{service}
	}
	if req.Scopes == nil && req.Role != keygate.Admin {
		req.Scopes = []string{"GET /orders/*"}
	}
	c, err := f.svc.Create(context.Background(), keygate.Caller{Operator: true}, req)
	if err != nil {
		t.Fatal(err)
	}
	f.tokens = append(f.tokens, c.Token.Reveal())
	return c
}

func (f *directFixture) update(t *testing.T, req manage.UpdateRequest) {
	t.Helper()
	req.Tenant = "acme"
	if _, err := f.svc.Update(context.Background(), keygate.Caller{Operator: true}, req); err != nil {
		t.Fatal(err)
	}
}

func (f *directFixture) revoke(t *testing.T, id string) {
	t.Helper()
	if _, err := f.svc.Revoke(context.Background(), keygate.Caller{Operator: true}, manage.RevokeRequest{Tenant: "acme", ID: id}); err != nil {
		t.Fatal(err)
	}
}

// serve runs one request through the middleware; headers are name, value
// pairs, added in order (so a name may repeat).
func serve(h http.Handler, method, target string, headers ...string) *httptest.ResponseRecorder {
	r := httptest.NewRequest(method, target, nil)
	for i := 0; i+1 < len(headers); i += 2 {
		r.Header.Add(headers[i], headers[i+1])
	}
	w := httptest.NewRecorder()
	h.ServeHTTP(w, r)
	return w
}

func bearer(token string) []string { return []string{"Authorization", "Bearer " + token} }

// wantRefusal checks a refusal's status and envelope.
func wantRefusal(t *testing.T, w *httptest.ResponseRecorder, status int, code string) {
	t.Helper()
	if w.Code != status {
		t.Fatalf("status %d, want %d (body %s)", w.Code, status, w.Body)
	}
	if status == http.StatusNoContent {
		return
	}
	var env struct {
		Error struct{ Code, Message, RequestID string } `json:"error"`
	}
	if err := json.Unmarshal(w.Body.Bytes(), &env); err != nil {
		t.Fatalf("body is not the envelope: %s", w.Body)
	}
	if env.Error.Code != code || env.Error.Message == "" || w.Header().Get("X-Request-Id") != "rid" ||
		w.Header().Get("Content-Type") != "application/json" || w.Header().Get("Cache-Control") != "no-store" {
		t.Errorf("refusal %s %v, want code %s in the envelope with its headers", w.Body, w.Header(), code)
	}
	if got := w.Header().Get("WWW-Authenticate"); (status == http.StatusUnauthorized) != (got == "Bearer") {
		t.Errorf("WWW-Authenticate %q with status %d", got, status)
	}
}

func ptr[T any](v T) *T { return &v }

// TestDirectStatuses: every kind of key and request gets its status and
// envelope code, on DynamoDB Local, with keys the management service
// minted and changed.
func TestDirectStatuses(t *testing.T) {
	f := newDirect(t, nil)
	valid := f.create(t, manage.CreateRequest{})
	admin := f.create(t, manage.CreateRequest{Role: keygate.Admin, APIs: []string{"*"}})
	billing := f.create(t, manage.CreateRequest{APIs: []string{"billing"}})
	prod := f.create(t, manage.CreateRequest{APIs: []string{service + "/prod"}})
	revoked := f.create(t, manage.CreateRequest{})
	f.revoke(t, revoked.ID)
	disabled := f.create(t, manage.CreateRequest{})
	f.update(t, manage.UpdateRequest{ID: disabled.ID, Enabled: ptr(false)})
	expiring := f.create(t, manage.CreateRequest{ExpiresInHours: ptr(int64(1))})
	format, hasher := testkit.Tokens(t)
	unknown, _ := format.Generate(rand.Reader, hasher) // this pepper's, never stored
	otherHasher, _ := apikey.NewHasher([]byte(strings.Repeat("o", 32)), apikey.HMACSHA256, rand.Reader)
	forged, _ := format.Generate(rand.Reader, otherHasher)
	f.clock.Add(2 * time.Hour) // expiring's hour is over; no other key expires

	tests := []struct {
		name, method, target string
		headers              []string
		status               int
		code                 string
	}{
		{"valid key in scope", "GET", "/orders/42", bearer(valid.Token.Reveal()), 204, ""},
		{"no key", "GET", "/orders/42", nil, 401, "unauthorized"},
		{"malformed key", "GET", "/orders/42", bearer("kg_live_nope"), 401, "unauthorized"},
		{"another prefix", "GET", "/orders/42", bearer("sk_" + valid.Token.Reveal()[len(apikey.DefaultPrefix):]), 401, "unauthorized"},
		{"forged tag", "GET", "/orders/42", bearer(forged.Reveal()), 401, "unauthorized"},
		{"unknown key", "GET", "/orders/42", bearer(unknown.Reveal()), 401, "unauthorized"},
		{"revoked key", "GET", "/orders/42", bearer(revoked.Token.Reveal()), 401, "unauthorized"},
		{"expired key", "GET", "/orders/42", bearer(expiring.Token.Reveal()), 401, "unauthorized"},
		{"disabled key", "GET", "/orders/42", bearer(disabled.Token.Reveal()), 401, "unauthorized"},
		{"method not in scopes", "DELETE", "/orders/42", bearer(valid.Token.Reveal()), 403, "forbidden"},
		{"path not in scopes", "GET", "/invoices/42", bearer(valid.Token.Reveal()), 403, "forbidden"},
		{"parent of the scope", "GET", "/orders", bearer(valid.Token.Reveal()), 403, "forbidden"},
		{"apis name another service", "GET", "/orders/42", bearer(billing.Token.Reveal()), 403, "forbidden"},
		{"apis name another stage", "GET", "/orders/42", bearer(prod.Token.Reveal()), 403, "forbidden"},
		{"dot segment", "GET", "/orders/../admin", bearer(valid.Token.Reveal()), 403, "forbidden"},
		{"encoded dot segment", "GET", "/orders/%2e%2E/admin", bearer(valid.Token.Reveal()), 403, "forbidden"},
		{"encoded slash", "GET", "/orders/a%2Fb", bearer(valid.Token.Reveal()), 403, "forbidden"},
		{"path parameter dot segment", "GET", "/orders/..;x=1/admin", bearer(valid.Token.Reveal()), 403, "forbidden"},
		{"escaped text is matched as sent", "GET", "/orders/caf%C3%A9", bearer(valid.Token.Reveal()), 204, ""},
		{"admin anywhere", "DELETE", "/anything/at/all", bearer(admin.Token.Reveal()), 204, ""},
		{"admin on an odd path", "GET", "/orders/%2e%2e/x", bearer(admin.Token.Reveal()), 204, ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			wantRefusal(t, serve(f.handler, tc.method, tc.target, tc.headers...), tc.status, tc.code)
		})
	}

	t.Run("a stage the key names", func(t *testing.T) {
		g := newDirect(t, func(c *middleware.Config) { c.API = service + "/prod" })
		k := g.create(t, manage.CreateRequest{APIs: []string{service + "/prod"}})
		wantRefusal(t, serve(g.handler, "GET", "/orders/1", bearer(k.Token.Reveal())...), 204, "")
		dev := g.create(t, manage.CreateRequest{APIs: []string{service + "/dev"}})
		wantRefusal(t, serve(g.handler, "GET", "/orders/1", bearer(dev.Token.Reveal())...), 403, "forbidden")
	})
}

// TestDirectIdentity: the next handler sees the key it was called with.
func TestDirectIdentity(t *testing.T) {
	f := newDirect(t, nil)
	k := f.create(t, manage.CreateRequest{Name: "ci", APIs: []string{service, "billing"}, Scopes: []string{"GET /orders/*", "POST /orders"}, ExpiresInHours: ptr(int64(24))})
	wantRefusal(t, serve(f.handler, "POST", "/orders", bearer(k.Token.Reveal())...), 204, "")
	got := f.seen
	if got == nil {
		t.Fatal("no identity")
	}
	if got.KeyID != k.ID || got.Tenant != "acme" || got.Owner != "alice" || got.Name != "ci" || got.Type != keygate.User ||
		got.Role != keygate.Viewer || !slices.Equal(got.Scopes, k.Scopes) || !slices.Equal(got.APIs, k.APIs) ||
		got.ExpiresAt == nil || !got.ExpiresAt.Equal(*k.ExpiresAt) || got.Meta != nil {
		t.Errorf("identity %+v, key %+v", *got, k.Key)
	}
	if _, ok := middleware.KeyFrom(context.Background()); ok {
		t.Error("KeyFrom found an identity in a bare context")
	}
}

// TestDirectRevocation: a revoked key is refused once the cache TTL has
// passed on the injected clock, and not before: the TTL is the bound.
func TestDirectRevocation(t *testing.T) {
	for _, ttl := range []time.Duration{0, 2 * time.Second, -1} {
		t.Run("ttl "+ttl.String(), func(t *testing.T) {
			f := newDirect(t, func(c *middleware.Config) { c.CacheTTL = ttl })
			k := f.create(t, manage.CreateRequest{})
			call := func() *httptest.ResponseRecorder {
				return serve(f.handler, "GET", "/orders/1", bearer(k.Token.Reveal())...)
			}
			wantRefusal(t, call(), 204, "")
			f.revoke(t, k.ID)
			bound := ttl
			switch {
			case ttl == 0:
				bound = middleware.DefaultCacheTTL
			case ttl < 0:
				bound = 0 // no cache: refused at once
			}
			if bound > 0 {
				f.clock.Add(bound / 2)
				// Still cached: the refusal waits for the TTL, no longer.
				wantRefusal(t, call(), 204, "")
				f.clock.Add(bound - bound/2)
			}
			wantRefusal(t, call(), 401, "unauthorized")
		})
	}
}

// TestDirectUsageLimits: a metered key spends on every call, cache hits
// included, and is refused with 429, Retry-After and the reason's code.
func TestDirectUsageLimits(t *testing.T) {
	f := newDirect(t, nil)
	t.Run("rate limit", func(t *testing.T) {
		k := f.create(t, manage.CreateRequest{RateLimit: &manage.RateLimitRequest{Limit: 2, Window: "1m"}})
		for range 2 {
			wantRefusal(t, serve(f.handler, "GET", "/orders/1", bearer(k.Token.Reveal())...), 204, "")
		}
		w := serve(f.handler, "GET", "/orders/1", bearer(k.Token.Reveal())...)
		wantRefusal(t, w, 429, "rate_limited")
		if s, err := strconv.Atoi(w.Header().Get("Retry-After")); err != nil || s < 1 || s > 60 {
			t.Errorf("Retry-After %q, want 1 to 60 seconds", w.Header().Get("Retry-After"))
		}
		f.clock.Add(time.Minute)
		wantRefusal(t, serve(f.handler, "GET", "/orders/1", bearer(k.Token.Reveal())...), 204, "")
	})
	t.Run("credits", func(t *testing.T) {
		k := f.create(t, manage.CreateRequest{Credits: &manage.CreditsRequest{Remaining: ptr(int64(1))}})
		wantRefusal(t, serve(f.handler, "GET", "/orders/1", bearer(k.Token.Reveal())...), 204, "")
		w := serve(f.handler, "GET", "/orders/1", bearer(k.Token.Reveal())...)
		wantRefusal(t, w, 429, "credits_exhausted")
		if ra := w.Header().Get("Retry-After"); ra != "" {
			t.Errorf("Retry-After %q for credits that never refill", ra)
		}
	})
	t.Run("credits refilled daily", func(t *testing.T) {
		k := f.create(t, manage.CreateRequest{Credits: &manage.CreditsRequest{Remaining: ptr(int64(1)), Refill: &keygate.Refill{Amount: 1, Interval: keygate.RefillDay}}})
		wantRefusal(t, serve(f.handler, "GET", "/orders/1", bearer(k.Token.Reveal())...), 204, "")
		w := serve(f.handler, "GET", "/orders/1", bearer(k.Token.Reveal())...)
		wantRefusal(t, w, 429, "credits_exhausted")
		if s, err := strconv.Atoi(w.Header().Get("Retry-After")); err != nil || s < 1 || s > 86400 {
			t.Errorf("Retry-After %q, want up to a day", w.Header().Get("Retry-After"))
		}
	})
}

// TestHostileHeaders: the key is read as the authorizer reads it, and an
// ambiguous request is refused rather than guessed at.
func TestHostileHeaders(t *testing.T) {
	f := newDirect(t, nil)
	q := newDirect(t, func(c *middleware.Config) { c.AllowQueryToken = true })
	k := f.create(t, manage.CreateRequest{})
	qk := q.create(t, manage.CreateRequest{})
	tok := k.Token.Reveal()
	tests := []struct {
		name    string
		h       http.Handler
		target  string
		headers []string
		status  int
	}{
		{"Bearer", f.handler, "/orders/1", []string{"Authorization", "Bearer " + tok}, 204},
		{"lowercase scheme", f.handler, "/orders/1", []string{"Authorization", "bearer " + tok}, 204},
		{"uppercase scheme", f.handler, "/orders/1", []string{"Authorization", "BEARER " + tok}, 204},
		{"tab after the scheme", f.handler, "/orders/1", []string{"Authorization", "Bearer\t" + tok}, 204},
		{"tabs and spaces around", f.handler, "/orders/1", []string{"Authorization", " \tBearer \t " + tok + "\t "}, 204},
		{"two Authorization headers", f.handler, "/orders/1", []string{"Authorization", "Bearer " + tok, "Authorization", "Bearer " + tok}, 401},
		{"Bearer without a token", f.handler, "/orders/1", []string{"Authorization", "Bearer"}, 401},
		{"Bearer and spaces", f.handler, "/orders/1", []string{"Authorization", "Bearer    "}, 401},
		{"no space after the scheme", f.handler, "/orders/1", []string{"Authorization", "Bearer" + tok}, 401},
		{"another scheme", f.handler, "/orders/1", []string{"Authorization", "Basic " + tok}, 401},
		{"bare token in Authorization", f.handler, "/orders/1", []string{"Authorization", tok}, 401},
		{"token and more", f.handler, "/orders/1", []string{"Authorization", "Bearer " + tok + " x"}, 401},
		{"Authorization is the only source", f.handler, "/orders/1", []string{"Authorization", "Bearer nope", "X-API-Key", tok}, 401},
		{"X-API-Key", f.handler, "/orders/1", []string{"X-API-Key", tok}, 204},
		{"x-api-key in lowercase", f.handler, "/orders/1", []string{"x-api-key", " " + tok + " "}, 204},
		{"two X-API-Key headers", f.handler, "/orders/1", []string{"X-API-Key", tok, "X-API-Key", tok}, 401},
		{"empty X-API-Key", f.handler, "/orders/1", []string{"X-API-Key", ""}, 401},
		{"query token when not allowed", f.handler, "/orders/1?token=" + tok, nil, 401},
		{"query token when allowed", q.handler, "/orders/1?token=" + qk.Token.Reveal(), nil, 204},
		{"two query tokens", q.handler, "/orders/1?token=" + qk.Token.Reveal() + "&token=" + qk.Token.Reveal(), nil, 401},
		{"a header wins over the query", q.handler, "/orders/1?token=" + qk.Token.Reveal(), []string{"X-API-Key", "nope"}, 401},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			code := map[int]string{401: "unauthorized"}[tc.status]
			wantRefusal(t, serve(tc.h, "GET", tc.target, tc.headers...), tc.status, code)
		})
	}
}

// TestDirectTenant: with Tenant set, a key of another tenant is refused
// like an unknown one and spends nothing; without it, any tenant's key
// whose apis name the service is admitted.
func TestDirectTenant(t *testing.T) {
	f := newDirect(t, func(c *middleware.Config) { c.Tenant = "acme" })
	own := f.create(t, manage.CreateRequest{})
	other, err := f.svc.Create(context.Background(), keygate.Caller{Operator: true}, manage.CreateRequest{
		Tenant: "globex", Owner: "bob", APIs: []string{service}, Scopes: []string{"GET /orders/*"},
		Credits: &manage.CreditsRequest{Remaining: ptr(int64(1))},
	})
	if err != nil {
		t.Fatal(err)
	}
	f.tokens = append(f.tokens, other.Token.Reveal())
	wantRefusal(t, serve(f.handler, "GET", "/orders/1", bearer(own.Token.Reveal())...), 204, "")
	for range 2 {
		wantRefusal(t, serve(f.handler, "GET", "/orders/1", bearer(other.Token.Reveal())...), 401, "unauthorized")
	}
	// The refusals spent none of its one credit: a service on the same
	// table without the restriction admits it once, then refuses.
	cfg := f.cfg
	cfg.Tenant = ""
	mw, err := middleware.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	open := mw(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(http.StatusNoContent) }))
	wantRefusal(t, serve(open, "GET", "/orders/1", bearer(other.Token.Reveal())...), 204, "")
	wantRefusal(t, serve(open, "GET", "/orders/1", bearer(other.Token.Reveal())...), 429, "credits_exhausted")
}

// TestConnectMethod: a key whose only scope is the WebSocket connect
// route (CONNECT /$connect) does not reach an HTTP handler through HTTP's
// own CONNECT method, and no key does.
func TestConnectMethod(t *testing.T) {
	f := newDirect(t, nil)
	ws := f.create(t, manage.CreateRequest{Scopes: []string{"CONNECT /$connect"}})
	admin := f.create(t, manage.CreateRequest{Role: keygate.Admin, APIs: []string{"*"}})
	for _, tok := range []string{ws.Token.Reveal(), admin.Token.Reveal()} {
		wantRefusal(t, serve(f.handler, http.MethodConnect, "/$connect", bearer(tok)...), 403, "forbidden")
	}
	wantRefusal(t, serve(f.handler, "GET", "/orders/1", bearer(admin.Token.Reveal())...), 204, "")
}
