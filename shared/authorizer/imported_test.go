package authorizer_test

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/keygate/keygate/infra/dynamotest"
	"github.com/keygate/keygate/shared/apikey"
	"github.com/keygate/keygate/shared/authorizer"
	"github.com/keygate/keygate/shared/keygate"
	"github.com/keygate/keygate/shared/manage"
	"github.com/keygate/keygate/shared/store"
)

// countingImports is the real store's index read, counted; with fail
// set it fails as a read the role may not make would.
type countingImports struct {
	*store.Store
	queries atomic.Int32
	fail    atomic.Bool
}

func (c *countingImports) ImportedKeys(ctx context.Context) ([]keygate.ImportedKey, error) {
	c.queries.Add(1)
	if c.fail.Load() {
		return nil, errors.New("AccessDeniedException: not authorized to perform dynamodb:Query")
	}
	return c.Store.ImportedKeys(ctx)
}

// importedFixture is an authorizer with IMPORTED_KEYS on.
func importedFixture(t testing.TB) (*fixture, *countingImports) {
	t.Helper()
	db, table := dynamotest.NewTable(t)
	st := store.New(db, table)
	imports := &countingImports{Store: st}
	return newFixtureOn(t, st, func(c *authorizer.Config) { c.Imports = imports }), imports
}

// randomValue is an API Gateway-like key value: 40 base62 characters.
func randomValue(t testing.TB) string {
	t.Helper()
	const alphabet = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
	b := make([]byte, 40)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	for i := range b {
		b[i] = alphabet[int(b[i])%len(alphabet)]
	}
	return string(b)
}

func (f *fixture) importKey(t testing.TB, owner, value string) *manage.Imported {
	t.Helper()
	res, err := f.svc.Import(context.Background(), keygate.Caller{Operator: true, Actor: "ops"}, manage.ImportRequest{Tenant: "acme", Value: value,
		CreateRequest: manage.CreateRequest{Owner: owner, Name: "legacy", APIs: []string{"*"}, Scopes: []string{"GET /x"}}})
	if err != nil {
		t.Fatal(err)
	}
	return res
}

// TestImportedKeys: an imported key's old value authenticates (allow,
// then from the cache), the same value again writes nothing, a wrong or
// near value is refused, a revoked imported key is refused, and rotating
// an imported key issues a Keygate token that works while the old value
// stops at the end of the grace.
func TestImportedKeys(t *testing.T) {
	f, _ := importedFixture(t)
	ctx := context.Background()
	value := randomValue(t)
	res := f.importKey(t, "alice", value)
	if res.Result != manage.ResultImported || res.Key == nil || !res.Key.Imported || strings.Contains(res.Key.Hint, value[:8]) {
		t.Fatalf("import: %+v", res)
	}
	if again := f.importKey(t, "bob", value); again.Result != manage.ResultAlreadyImported || again.KeyID != res.KeyID || again.Key != nil {
		t.Fatalf("the same value again: %+v", again)
	}
	rec, err := f.store.Store.GetKeyWithVerifier(ctx, res.KeyID)
	if err != nil || !rec.Imported || strings.Contains(rec.Verifier, value) || !strings.HasPrefix(rec.Verifier, apikey.HMACSHA256+"$") {
		t.Fatalf("stored: %+v %v", rec, err)
	}
	req := authorizer.Request{Token: value, Method: "GET", Path: "/x"}
	if d, hit, err := f.auth.Authorize(ctx, req); err != nil || d.Outcome != authorizer.Allow || hit || d.Key().ID != res.KeyID || !d.Key().Imported {
		t.Fatalf("imported value: %+v hit %v %v", d, hit, err)
	}
	if d, hit, _ := f.auth.Authorize(ctx, req); d.Outcome != authorizer.Allow || !hit {
		t.Fatalf("imported value again: %+v hit %v", d, hit)
	}
	for _, bad := range []string{value[:len(value)-1] + "!", value + "x", strings.ToLower(value), "short"} {
		if d, _, err := f.auth.Authorize(ctx, authorizer.Request{Token: bad, Method: "GET", Path: "/x"}); err != nil || d.Outcome != authorizer.Unauthorized {
			t.Fatalf("%q: %+v %v", bad, d, err)
		}
	}
	// Rotation: the existing path, a Keygate token.
	next, err := f.svc.Rotate(ctx, keygate.Caller{Operator: true}, manage.RotateRequest{Tenant: "acme", ID: res.KeyID})
	if err != nil || next.Imported || !strings.HasPrefix(next.Token.Reveal(), apikey.DefaultPrefix) {
		t.Fatalf("rotate: %+v %v", next, err)
	}
	f.clock.Add(10 * time.Second) // past the cache
	if d, _, err := f.auth.Authorize(ctx, authorizer.Request{Token: next.Token.Reveal(), Method: "GET", Path: "/x"}); err != nil || d.Outcome != authorizer.Allow {
		t.Fatalf("the successor's token: %+v %v", d, err)
	}
	if d, _, err := f.auth.Authorize(ctx, req); err != nil || d.Outcome != authorizer.Unauthorized || d.Reason != string(keygate.Expired) {
		t.Fatalf("the old value after rotation: %+v %v", d, err)
	}
	// Imported again after rotation: still refused (already imported).
	if again := f.importKey(t, "carol", value); again.Result != manage.ResultAlreadyImported {
		t.Fatalf("re-import of a rotated value: %+v", again)
	}
}

// TestImportedKeysOff: with IMPORTED_KEYS off (no Imports), an imported
// value is refused like any malformed token, without a read.
func TestImportedKeysOff(t *testing.T) {
	f := newFixture(t, nil)
	value := randomValue(t)
	f.importKey(t, "alice", value)
	if d, _, err := f.auth.Authorize(context.Background(), authorizer.Request{Token: value, Method: "GET", Path: "/x"}); err != nil || d.Outcome != authorizer.Unauthorized || f.store.gets.Load() != 0 {
		t.Fatalf("imported keys off: %+v %v, %d reads", d, err, f.store.gets.Load())
	}
}

// TestImportedKeysNoReadForStrangers: with 1,000 imported keys, 100,000
// random strings that are none of them cost no key read (the bound is
// 99 %; all of them do, barring a 64-bit collision), and the index is
// read once, at the first of them, then again only after
// authorizer.ImportsRefresh.
func TestImportedKeysNoReadForStrangers(t *testing.T) {
	f, imports := importedFixture(t)
	const keys, strangers = 1000, 100_000
	values := make([]string, keys)
	var wg sync.WaitGroup
	sem := make(chan struct{}, 8)
	for i := range values {
		values[i] = randomValue(t)
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer func() { <-sem; wg.Done() }()
			f.importKey(t, fmt.Sprintf("owner%d", i), values[i])
		}()
	}
	wg.Wait()
	ctx := context.Background()
	for i := range strangers {
		s := randomValue(t)
		if i%2 == 1 {
			s = s[:20+i%200%20] // other lengths too
		}
		if d, _, err := f.auth.Authorize(ctx, authorizer.Request{Token: s, Method: "GET", Path: "/x"}); err != nil || d.Outcome != authorizer.Unauthorized {
			t.Fatalf("stranger: %+v %v", d, err)
		}
	}
	reads := f.store.gets.Load()
	if reads*100 > strangers {
		t.Fatalf("%d of %d strangers cost a read, over 1 %%", reads, strangers)
	}
	if reads != 0 || imports.queries.Load() != 1 {
		t.Errorf("%d strangers cost a key read (want 0), the index was read %d times (want 1)", reads, imports.queries.Load())
	}
	// Every imported key is found: one read each.
	for _, v := range values[:50] {
		if d, _, err := f.auth.Authorize(ctx, authorizer.Request{Token: v, Method: "GET", Path: "/x"}); err != nil || d.Outcome != authorizer.Allow {
			t.Fatalf("imported key: %+v %v", d, err)
		}
	}
	if got := f.store.gets.Load(); got != 50 {
		t.Errorf("50 imported keys cost %d reads", got)
	}
	f.clock.Add(authorizer.ImportsRefresh)
	f.auth.Authorize(ctx, authorizer.Request{Token: randomValue(t)})
	if imports.queries.Load() != 2 {
		t.Errorf("after ImportsRefresh the index was read %d times in all, want 2", imports.queries.Load())
	}
}

// TestImportsFirstReadFails: while the index cannot be read, strings that
// are no Keygate token fail closed (an error, never an allow), and the
// index is read once per authorizer.ImportsRetry, not once per request;
// Keygate tokens are not held up by it.
func TestImportsFirstReadFails(t *testing.T) {
	f, imports := importedFixture(t)
	ctx := context.Background()
	value := randomValue(t)
	f.importKey(t, "alice", value)
	imports.fail.Store(true)
	for range 20 {
		if _, _, err := f.auth.Authorize(ctx, authorizer.Request{Token: value, Method: "GET", Path: "/x"}); err == nil {
			t.Fatal("an unreadable index did not fail the request")
		}
	}
	if n := imports.queries.Load(); n != 1 {
		t.Fatalf("20 requests read a failing index %d times, want 1", n)
	}
	imports.fail.Store(false)
	f.clock.Add(authorizer.ImportsRetry)
	if d, _, err := f.auth.Authorize(ctx, authorizer.Request{Token: value, Method: "GET", Path: "/x"}); err != nil || d.Outcome != authorizer.Allow {
		t.Fatalf("after ImportsRetry: %+v %v", d, err)
	}
	if n := imports.queries.Load(); n != 2 {
		t.Fatalf("the index was read %d times in all, want 2", n)
	}
}

// BenchmarkDecisionNotKeygateFormat is Authorize with IMPORTED_KEYS on for
// a 40-character string that is no Keygate token and no imported key
// (1,000 are imported): one HMAC and a map lookup, no read
// (BENCHMARKS.md).
func BenchmarkDecisionNotKeygateFormat(b *testing.B) {
	f, _ := importedFixture(b)
	for i := range 1000 {
		f.importKey(b, fmt.Sprintf("owner%d", i), randomValue(b))
	}
	req := authorizer.Request{Token: randomValue(b), Method: "GET", Path: "/x"}
	ctx := context.Background()
	f.auth.Authorize(ctx, req) // loads the index
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		if d, _, _ := f.auth.Authorize(ctx, req); d.Outcome != authorizer.Unauthorized {
			b.Fatal(d)
		}
	}
}
