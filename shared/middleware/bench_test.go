package middleware_test

import (
	"context"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/keygate/keygate/infra/dynamotest"
	"github.com/keygate/keygate/infra/testkit"
	"github.com/keygate/keygate/shared/authorizer"
	"github.com/keygate/keygate/shared/keygate"
	"github.com/keygate/keygate/shared/manage"
	"github.com/keygate/keygate/shared/middleware"
	"github.com/keygate/keygate/shared/store"
)

// benchScopes and benchPath are shared/authorizer's BenchmarkDecisionCacheHit
// request, so the figures compare (BENCHMARKS.md).
var benchScopes = []string{"GET /a/*", "GET /b/*", "GET /buckets/photos/*"}

const benchPath = "/buckets/photos/a.jpg"

// discard is a ResponseWriter that keeps nothing: the benchmarks measure
// the middleware, not httptest.ResponseRecorder.
type discard struct{ h http.Header }

func (d *discard) Header() http.Header       { return d.h }
func (*discard) Write(b []byte) (int, error) { return len(b), nil }
func (*discard) WriteHeader(int)             {}

var noop = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
	if _, ok := middleware.KeyFrom(r.Context()); !ok {
		panic("no identity")
	}
})

// BenchmarkDirectCacheHit is a full ServeHTTP through the middleware in
// Direct mode to a no-op handler that reads the identity, on a warm
// cache: token from the header, the authorizer's decision on a hit, the
// identity in the context. Compare with BenchmarkAuthorizerCacheHit below
// and shared/authorizer's BenchmarkDecisionCacheHit (target: at most 2×).
func BenchmarkDirectCacheHit(b *testing.B) {
	f := newDirect(b, func(c *middleware.Config) { c.CacheTTL = middleware.MaxCacheTTL; c.LastUsedInterval = time.Hour })
	k := f.create(b, manage.CreateRequest{Scopes: benchScopes})
	mw, err := middleware.New(f.cfg)
	if err != nil {
		b.Fatal(err)
	}
	h := mw(noop)
	r := httptest.NewRequest("GET", benchPath, nil)
	r.Header.Set("Authorization", "Bearer "+k.Token.Reveal())
	w := &discard{h: http.Header{}}
	h.ServeHTTP(w, r) // warm the cache
	b.ReportAllocs()
	for b.Loop() {
		h.ServeHTTP(w, r)
	}
}

// BenchmarkAuthorizerCacheHit is shared/authorizer's
// BenchmarkDecisionCacheHit (Authorize on a warm cache) on this package's
// table and machine, so the ratio is read from one run.
func BenchmarkAuthorizerCacheHit(b *testing.B) {
	db, table := dynamotest.NewTable(b)
	format, hasher := testkit.Tokens(b)
	st := store.New(db, table)
	svc := manage.New(st, manage.Config{Format: format, Hasher: hasher, Retention: time.Hour, MaxUserKeys: 10, MaxServiceKeys: 5})
	k, err := svc.Create(context.Background(), keygate.Caller{Operator: true},
		manage.CreateRequest{Tenant: "acme", Owner: "alice", APIs: []string{"*"}, Scopes: benchScopes})
	if err != nil {
		b.Fatal(err)
	}
	auth := authorizer.New(st, authorizer.Config{Format: format, Hasher: hasher, CacheTTL: time.Hour, LastUsedInterval: time.Hour},
		slog.New(slog.DiscardHandler))
	req := authorizer.Request{Token: k.Token.Reveal(), Method: "GET", Path: benchPath}
	ctx := context.Background()
	if d, _, err := auth.Authorize(ctx, req); err != nil || d.Outcome != authorizer.Allow {
		b.Fatalf("warm-up: %v %v", d, err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if d, _, _ := auth.Authorize(ctx, req); d.Outcome != authorizer.Allow {
			b.Fatal(d.Reason)
		}
	}
}

// BenchmarkRemoteCacheHit is a full ServeHTTP in Remote mode on a cached
// VALID verdict: no call to Keygate.
func BenchmarkRemoteCacheHit(b *testing.B) {
	tok, serviceKey := mint(), mint()
	keygate := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = w.Write([]byte(`{"valid":true,"code":"VALID","key_id":"k1","owner":"alice","scopes":["GET /buckets/photos/*"],"apis":["orders"]}`))
	}))
	defer keygate.Close()
	mw, err := middleware.New(middleware.Config{API: service, Endpoint: keygate.URL + "/v1/verify", ServiceKey: serviceKey, CacheTTL: time.Minute})
	if err != nil {
		b.Fatal(err)
	}
	h := mw(noop)
	r := httptest.NewRequest("GET", benchPath, nil)
	r.Header.Set("Authorization", "Bearer "+tok)
	w := &discard{h: http.Header{}}
	h.ServeHTTP(w, r)
	b.ReportAllocs()
	for b.Loop() {
		h.ServeHTTP(w, r)
	}
}
