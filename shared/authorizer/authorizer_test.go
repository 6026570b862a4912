package authorizer_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"log/slog"
	"regexp"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/keygate/keygate/infra/ddblocal"
	"github.com/keygate/keygate/infra/dynamotest"
	"github.com/keygate/keygate/infra/testkit"
	"github.com/keygate/keygate/shared/apikey"
	"github.com/keygate/keygate/shared/authorizer"
	"github.com/keygate/keygate/shared/keygate"
	"github.com/keygate/keygate/shared/manage"
	"github.com/keygate/keygate/shared/scope"
	"github.com/keygate/keygate/shared/store"
)

// countingStore is the real store with its calls counted, to prove how many
// reads and writes a decision costs. It is not a fake: every call goes to
// DynamoDB Local.
type countingStore struct {
	*store.Store
	gets, touches, written atomic.Int32
	touchErr               error
}

func (c *countingStore) GetKeyWithVerifier(ctx context.Context, id string) (*keygate.Record, error) {
	c.gets.Add(1)
	return c.Store.GetKeyWithVerifier(ctx, id)
}

func (c *countingStore) TouchLastUsed(ctx context.Context, id string, at time.Time, interval time.Duration) (bool, error) {
	c.touches.Add(1)
	if c.touchErr != nil {
		return false, c.touchErr
	}
	ok, err := c.Store.TouchLastUsed(ctx, id, at, interval)
	if ok {
		c.written.Add(1)
	}
	return ok, err
}

type fixture struct {
	auth  *authorizer.Authorizer
	svc   *manage.Service
	store *countingStore
	clock *testkit.Clock
	logs  *bytes.Buffer
	cfg   authorizer.Config
}

var pepper = bytes.Repeat([]byte("k"), 32)

func newFixture(t testing.TB, tweak func(*authorizer.Config)) *fixture {
	t.Helper()
	db, table := dynamotest.NewTable(t)
	return newFixtureOn(t, store.New(db, table), tweak)
}

func newFixtureOn(t testing.TB, st *store.Store, tweak func(*authorizer.Config)) *fixture {
	t.Helper()
	format, _ := apikey.NewFormat(apikey.DefaultPrefix)
	hasher, err := apikey.NewHasher(pepper, apikey.HMACSHA256, rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	clk := testkit.NewClock(time.Now().UTC().Truncate(time.Second))
	f := &fixture{store: &countingStore{Store: st}, clock: clk, logs: &bytes.Buffer{}}
	f.svc = manage.New(st, manage.Config{
		Format: format, Hasher: hasher, DefaultTTL: 0, Retention: time.Hour,
		MaxUserKeys: 10, MaxServiceKeys: 5, Now: clk.Now,
	})
	f.cfg = authorizer.Config{Format: format, Hasher: hasher, CacheTTL: 5 * time.Second, LastUsedInterval: time.Minute, Now: clk.Now}
	if tweak != nil {
		tweak(&f.cfg)
	}
	f.auth = authorizer.New(f.store, f.cfg, slog.New(slog.NewJSONHandler(f.logs, nil)))
	return f
}

func (f *fixture) create(t testing.TB, req manage.CreateRequest) *manage.Created {
	t.Helper()
	if req.Owner == "" && req.Type != keygate.Service {
		req.Owner = "alice"
	}
	c, err := f.svc.Create(context.Background(), keygate.Caller{Operator: true}, withTenant(req, "acme", ""))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if strings.Contains(f.logs.String(), c.Token.Reveal()[len(apikey.DefaultPrefix):]) {
			t.Errorf("logs contain a token")
		}
	})
	return c
}

// event is a shape's shipped event with a token and route (ShippedEvent).
func event(t testing.TB, shape, token, method, path string) json.RawMessage {
	t.Helper()
	return authorizer.ShippedEvent(t, shape, token, method, path)
}

// outcome runs the handler and reads its answer in the shape's own terms.
func (f *fixture) outcome(t *testing.T, ev json.RawMessage) (string, any) {
	t.Helper()
	resp, err := f.auth.Handle(context.Background(), ev)
	switch {
	case errors.Is(err, authorizer.ErrUnauthorized):
		return "unauthorized", nil
	case err != nil:
		return "error", err
	}
	switch r := resp.(type) {
	case events.APIGatewayV2CustomAuthorizerSimpleResponse:
		if r.IsAuthorized {
			return "allow", r
		}
		return "not authorized", r
	case events.APIGatewayCustomAuthorizerResponse:
		var e struct {
			MethodArn string `json:"methodArn"`
		}
		if err := json.Unmarshal(ev, &e); err != nil || e.MethodArn == "" {
			t.Fatalf("event has no methodArn: %v", err)
		}
		return evaluate(r.PolicyDocument, e.MethodArn), r
	}
	t.Fatalf("unexpected response %T", resp)
	return "", nil
}

// evaluate applies a policy to an ARN as IAM does: an explicit Deny wins,
// then an Allow, else the implicit deny.
func evaluate(p events.APIGatewayCustomAuthorizerPolicy, arn string) string {
	allowed := false
	for _, s := range p.Statement {
		for _, r := range s.Resource {
			if scope.MatchResource(r, arn) {
				if s.Effect == "Deny" {
					return "deny"
				}
				allowed = true
			}
		}
	}
	if allowed {
		return "allow"
	}
	return "deny"
}

var shapes = []string{"rest-token", "rest-request", "http-v1", "http-v2"}

// badChecksum changes token's last checksum digit to another base62 digit.
// Always writing "x" left one token in 62 unchanged, and valid.
func badChecksum(token string) string {
	last := "x"
	if strings.HasSuffix(token, last) {
		last = "y"
	}
	return token[:len(token)-1] + last
}

func TestShapes(t *testing.T) {
	f := newFixture(t, nil)
	viewer := f.create(t, manage.CreateRequest{APIs: []string{"*"}, Scopes: []string{"GET /buckets/photos/*", "PUT /buckets/*/meta"}})
	admin := f.create(t, manage.CreateRequest{Role: keygate.Admin})
	other, _ := apikey.NewFormat(apikey.DefaultPrefix)
	// Minted with this deployment's pepper (so authentic) but never stored.
	unknown, _ := other.Generate(rand.Reader, f.cfg.Hasher)
	tests := []struct {
		name, token, method, path string
		rest, httpV2              string
	}{
		{"viewer in scope", viewer.Token.Reveal(), "GET", "/buckets/photos/a.jpg", "allow", "allow"},
		{"viewer middle star", viewer.Token.Reveal(), "PUT", "/buckets/x/meta", "allow", "allow"},
		{"viewer out of scope", viewer.Token.Reveal(), "DELETE", "/buckets/photos/a.jpg", "deny", "not authorized"},
		{"viewer parent path", viewer.Token.Reveal(), "GET", "/buckets/photos", "deny", "not authorized"},
		{"admin anywhere", admin.Token.Reveal(), "DELETE", "/anything/at/all", "allow", "allow"},
		{"missing token", "", "GET", "/buckets/photos/a.jpg", "unauthorized", "not authorized"},
		{"malformed token", "kg_live_nope", "GET", "/buckets/photos/a.jpg", "unauthorized", "not authorized"},
		{"bad checksum", badChecksum(viewer.Token.Reveal()), "GET", "/buckets/photos/a.jpg", "unauthorized", "not authorized"},
		{"unknown key", unknown.Reveal(), "GET", "/buckets/photos/a.jpg", "unauthorized", "not authorized"},
		{"forged for a real id", forge(t, viewer.Token.Reveal()), "GET", "/buckets/photos/a.jpg", "unauthorized", "not authorized"},
	}
	for _, shape := range shapes {
		for _, tt := range tests {
			t.Run(shape+"/"+tt.name, func(t *testing.T) {
				want := tt.rest
				if shape == "http-v2" {
					want = tt.httpV2
				}
				got, resp := f.outcome(t, event(t, shape, tt.token, tt.method, tt.path))
				if got != want {
					t.Fatalf("outcome = %s (%v), want %s", got, resp, want)
				}
			})
		}
	}
}

func TestPolicy(t *testing.T) {
	f := newFixture(t, func(c *authorizer.Config) { c.UsageIdentifier = "tenant" })
	viewer := f.create(t, manage.CreateRequest{APIs: []string{"*"}, Scopes: []string{"GET /buckets/photos/*", "* /health"}})
	admin := f.create(t, manage.CreateRequest{Role: keygate.Admin})
	const prefix = "arn:aws:execute-api:us-east-1:123456789012:kglocal001/prod"

	_, resp := f.outcome(t, event(t, "rest-request", viewer.Token.Reveal(), "GET", "/buckets/photos/a.jpg"))
	p := resp.(events.APIGatewayCustomAuthorizerResponse)
	if p.PrincipalID != viewer.ID || p.UsageIdentifierKey != authorizer.UsageIdentifier("tenant", &keygate.Key{Tenant: "acme"}) || p.PolicyDocument.Version != "2012-10-17" {
		t.Fatalf("policy = %+v", p)
	}
	allow := p.PolicyDocument.Statement[0]
	health := make([]string, 0, 7)
	for _, m := range []string{"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"} {
		health = append(health, prefix+"/"+m+"/health")
	}
	if want := append([]string{prefix + "/GET/buckets/photos/*"}, health...); strings.Join(allow.Resource, " ") != strings.Join(want, " ") ||
		allow.Effect != "Allow" || allow.Action[0] != "execute-api:Invoke" || len(p.PolicyDocument.Statement) != 2 {
		t.Fatalf("allow statement = %+v, want every scope's resource", p.PolicyDocument.Statement)
	}
	// A scoped key's policy also denies every odd path a backend could
	// resolve differently, which the Allow's trailing * would admit.
	if odd := p.PolicyDocument.Statement[1]; odd.Effect != "Deny" || strings.Join(odd.Resource, " ") != strings.Join(scope.DenyResources(prefix), " ") {
		t.Fatalf("deny statement = %+v, want scope.DenyResources", odd)
	}
	for _, path := range []string{"/buckets/photos/..;/admin", "/buckets/photos/%2e%2e/admin", "/buckets/photos/a%2Fb", "/buckets/photos/x/../../admin",
		// Trailing dots and spaces (Windows), a decoded "#" or "?", and
		// NFKC or IDNA full stops all make "..".
		"/buckets/photos/.../admin", "/buckets/photos/..%20/admin", "/buckets/photos/.%20./admin", "/buckets/photos/..%23/admin",
		"/buckets/photos/..%3f/admin", "/buckets/photos/%EF%BC%8E%EF%BC%8E/admin", "/buckets/photos/..%E3%80%82/admin",
		"/buckets/photos/%20", "/buckets/photos/a%EF%BC%8F..%EF%BC%8Fadmin"} {
		if got := evaluate(p.PolicyDocument, prefix+"/GET"+path); got != "deny" {
			t.Errorf("cached policy applied to GET %s: %s", path, got)
		}
	}
	for _, path := range []string{"/buckets/photos/a.jpg", "/buckets/photos/don%E2%80%99t%20panic.jpg", "/buckets/photos/caf%C3%A9/a..b"} {
		if got := evaluate(p.PolicyDocument, prefix+"/GET"+path); got != "allow" {
			t.Errorf("cached policy applied to GET %s: %s, want allow", path, got)
		}
	}
	wantContext := map[string]any{"key_id": viewer.ID, "tenant": "acme", "owner": "alice", "type": "user", "role": "viewer", "scopes": `["GET /buckets/photos/*","* /health"]`}
	for k, v := range wantContext {
		if p.Context[k] != v {
			t.Errorf("context[%s] = %v, want %v", k, p.Context[k], v)
		}
	}

	// A deny keeps the allow list (so a cached policy still serves the
	// key's routes). A route no Allow admits needs nothing more: the
	// implicit deny refuses it, and no Deny is cached that could refuse
	// anything else.
	_, resp = f.outcome(t, event(t, "rest-request", viewer.Token.Reveal(), "POST", "/buckets/photos/a.jpg"))
	p = resp.(events.APIGatewayCustomAuthorizerResponse)
	if deny := p.PolicyDocument.Statement[1]; len(p.PolicyDocument.Statement) != 2 || deny.Effect != "Deny" ||
		len(deny.Resource) != len(scope.DenyResources(prefix)) || evaluate(p.PolicyDocument, prefix+"/POST/buckets/photos/a.jpg") != "deny" {
		t.Fatalf("deny policy = %+v", p.PolicyDocument.Statement)
	}
	// A route an Allow admits in IAM but the scopes refuse (a * refuses
	// non-ASCII) is named in the explicit Deny.
	_, resp = f.outcome(t, event(t, "rest-request", viewer.Token.Reveal(), "GET", "/buckets/photos/\u00e9"))
	p = resp.(events.APIGatewayCustomAuthorizerResponse)
	if deny := p.PolicyDocument.Statement[1]; deny.Resource[len(deny.Resource)-1] != prefix+"/GET/buckets/photos/\u00e9" {
		t.Fatalf("deny policy = %+v, want this methodArn denied", p.PolicyDocument.Statement)
	}
	// If that route holds * or ?, no Deny can name only it: the answer is
	// an error (a 500 at the gateway), which caches nothing, rather than a
	// wildcard Deny that would refuse the key's other requests.
	for _, path := range []string{"/buckets/photos/a*b", "/buckets/photos/a?b"} {
		if got, err := f.outcome(t, event(t, "rest-request", viewer.Token.Reveal(), "GET", path)); got != "error" {
			t.Fatalf("GET %s = %s (%v), want error", path, got, err)
		}
	}

	// A mid-path "*" would cross "/" in IAM: it is granted per concrete path.
	mid := f.create(t, manage.CreateRequest{APIs: []string{"*"}, Scopes: []string{"GET /buckets/*/meta", "GET /docs/*"}})
	_, resp = f.outcome(t, event(t, "rest-request", mid.Token.Reveal(), "GET", "/buckets/b1/meta"))
	p = resp.(events.APIGatewayCustomAuthorizerResponse)
	if r := p.PolicyDocument.Statement[0].Resource; strings.Join(r, " ") != prefix+"/GET/buckets/b1/meta "+prefix+"/GET/docs/*" {
		t.Fatalf("mid-wildcard resources = %v", r)
	}
	_, resp = f.outcome(t, event(t, "rest-request", mid.Token.Reveal(), "GET", "/buckets/a/b/meta"))
	p = resp.(events.APIGatewayCustomAuthorizerResponse)
	for _, s := range p.PolicyDocument.Statement {
		if s.Effect == "Allow" && strings.Contains(strings.Join(s.Resource, " "), "buckets") {
			t.Fatalf("a path the scope does not match is granted: %v", p.PolicyDocument.Statement)
		}
	}

	_, resp = f.outcome(t, event(t, "rest-token", admin.Token.Reveal(), "GET", "/v1/whoami"))
	p = resp.(events.APIGatewayCustomAuthorizerResponse)
	if r := p.PolicyDocument.Statement[0].Resource; len(r) != 1 || r[0] != prefix+"/*/*" {
		t.Fatalf("admin resources = %v, want the whole API", r)
	}
	_, resp = f.outcome(t, event(t, "http-v2", viewer.Token.Reveal(), "GET", "/buckets/photos/a.jpg"))
	if ctx := resp.(events.APIGatewayV2CustomAuthorizerSimpleResponse).Context; ctx["key_id"] != viewer.ID || ctx["role"] != "viewer" {
		t.Fatalf("v2 context = %v", ctx)
	}
}

func TestTokenSources(t *testing.T) {
	f := newFixture(t, nil)
	key := f.create(t, manage.CreateRequest{APIs: []string{"*"}, Scopes: []string{"GET /x"}})
	withQuery := newFixtureOn(t, f.store.Store, func(c *authorizer.Config) { c.AllowQueryToken = true })
	tests := []struct {
		name    string
		headers map[string]string
		query   map[string]string
		auth    *fixture
		want    string
	}{
		{"bearer", map[string]string{"Authorization": "Bearer " + key.Token.Reveal()}, nil, f, "allow"},
		{"lower-case scheme and header", map[string]string{"authorization": "bearer " + key.Token.Reveal()}, nil, f, "allow"},
		{"upper-case scheme, spaces", map[string]string{"AUTHORIZATION": "  BEARER   " + key.Token.Reveal() + "  "}, nil, f, "allow"},
		{"x-api-key", map[string]string{"X-API-Key": key.Token.Reveal()}, nil, f, "allow"},
		{"x-api-key lower-case", map[string]string{"x-api-key": " " + key.Token.Reveal()}, nil, f, "allow"},
		{"basic scheme", map[string]string{"Authorization": "Basic " + key.Token.Reveal()}, nil, f, "unauthorized"},
		// A present Authorization header is the only source: the gateway
		// caches on it, so an empty one must not borrow X-API-Key.
		{"empty bearer and x-api-key", map[string]string{"Authorization": "Bearer", "X-API-Key": key.Token.Reveal()}, nil, f, "unauthorized"},
		{"basic and x-api-key", map[string]string{"Authorization": "Basic x", "X-API-Key": key.Token.Reveal()}, nil, f, "unauthorized"},
		{"no scheme", map[string]string{"Authorization": key.Token.Reveal()}, nil, f, "unauthorized"},
		{"query when off", nil, map[string]string{"token": key.Token.Reveal()}, f, "unauthorized"},
		{"query when on", nil, map[string]string{"token": key.Token.Reveal()}, withQuery, "allow"},
		{"nothing", nil, nil, f, "unauthorized"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var e events.APIGatewayCustomAuthorizerRequestTypeRequest
			_ = json.Unmarshal(event(t, "rest-request", "", "GET", "/x"), &e)
			e.Headers, e.QueryStringParameters = tt.headers, tt.query
			raw, _ := json.Marshal(e)
			if got, resp := tt.auth.outcome(t, raw); got != tt.want {
				t.Fatalf("outcome = %s (%v), want %s", got, resp, tt.want)
			}
		})
	}
	// TOKEN events carry the header value itself: Bearer or bare.
	for _, v := range []string{"Bearer " + key.Token.Reveal(), key.Token.Reveal(), " bearer " + key.Token.Reveal()} {
		raw, _ := json.Marshal(events.APIGatewayCustomAuthorizerRequest{Type: "TOKEN", AuthorizationToken: v,
			MethodArn: "arn:aws:execute-api:us-east-1:123456789012:kglocal001/prod/GET/x"})
		if got, _ := f.outcome(t, raw); got != "allow" {
			t.Fatalf("TOKEN %q...: %s", v[:10], got)
		}
	}
}

func TestMalformedNeverReadsStore(t *testing.T) {
	f := newFixture(t, nil)
	key := f.create(t, manage.CreateRequest{APIs: []string{"*"}, Scopes: []string{"GET /x"}})
	body := key.Token.Reveal()[len(apikey.DefaultPrefix):]
	bad := []string{
		"", "kg_live_", key.Token.Reveal()[:len(key.Token.Reveal())-1], key.Token.Reveal() + "0",
		"sk_live_" + body, "KG_LIVE_" + body,
		key.Token.Reveal()[:20] + "_" + key.Token.Reveal()[21:],
		key.Token.Reveal()[:len(key.Token.Reveal())-1] + string(rune(key.Token.Reveal()[len(key.Token.Reveal())-1]+1)),
		strings.Repeat("A", 10000),
	}
	for _, tok := range bad {
		for _, shape := range shapes {
			if got, _ := f.outcome(t, event(t, shape, tok, "GET", "/x")); got != "unauthorized" && got != "not authorized" {
				t.Fatalf("%s with a malformed token: %s", shape, got)
			}
		}
	}
	if n := f.store.gets.Load(); n != 0 {
		t.Fatalf("malformed tokens caused %d store reads, want 0", n)
	}
}

func TestRevokedExpiredWrongSecret(t *testing.T) {
	f := newFixture(t, func(c *authorizer.Config) { c.CacheTTL = 0 })
	ctx := context.Background()
	revoked := f.create(t, manage.CreateRequest{APIs: []string{"*"}, Scopes: []string{"GET /x"}})
	expiring := f.create(t, manage.CreateRequest{APIs: []string{"*"}, Scopes: []string{"GET /x"}, ExpiresInHours: ptr[int64](1)})
	good := f.create(t, manage.CreateRequest{APIs: []string{"*"}, Scopes: []string{"GET /x"}})
	if _, err := f.svc.Revoke(ctx, keygate.Caller{Operator: true}, manage.RevokeRequest{Tenant: "acme", ID: revoked.ID}); err != nil {
		t.Fatal(err)
	}
	// A token with a valid ID and checksum but another secret.
	forged := forge(t, good.Token.Reveal())
	for _, shape := range shapes {
		if got, _ := f.outcome(t, event(t, shape, expiring.Token.Reveal(), "GET", "/x")); got != "allow" {
			t.Fatalf("%s: key before expiry: %s", shape, got)
		}
	}
	f.clock.Add(time.Hour) // DynamoDB has not deleted the item: the authorizer must check.
	for _, shape := range shapes {
		for name, tok := range map[string]string{"revoked": revoked.Token.Reveal(), "expired": expiring.Token.Reveal(), "forged": forged} {
			if got, _ := f.outcome(t, event(t, shape, tok, "GET", "/x")); got != "unauthorized" && got != "not authorized" {
				t.Fatalf("%s: %s key: %s", shape, name, got)
			}
		}
	}
	for _, reason := range []string{`"reason":"revoked"`, `"reason":"expired"`, `"reason":"not minted by this deployment"`} {
		if !strings.Contains(f.logs.String(), reason) {
			t.Errorf("logs lack %s", reason)
		}
	}
}

// forge keeps a token's ID and tag, swaps in another secret and recomputes
// the checksum, as an attacker who knows a key ID (IDs are public) and the
// token format (public too) could.
func forge(t testing.TB, token string) string {
	t.Helper()
	head := token[:len(apikey.DefaultPrefix)+apikey.IDLen] + strings.Repeat("Z", apikey.SecretLen) +
		token[len(apikey.DefaultPrefix)+apikey.IDLen+apikey.SecretLen:len(token)-apikey.ChecksumLen]
	sum := crc32.ChecksumIEEE([]byte(head))
	const digits = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
	var out [apikey.ChecksumLen]byte
	for i := len(out) - 1; i >= 0; i-- {
		out[i] = digits[sum%62]
		sum /= 62
	}
	forged := head + string(out[:])
	format, _ := apikey.NewFormat(apikey.DefaultPrefix)
	if _, err := format.Parse(forged); err != nil {
		t.Fatalf("forged token does not parse: %v", err)
	}
	return forged
}

// TestForgedTokensCostNoRead: well-formed tokens for real key IDs that this
// deployment did not mint never reach the store, and a flood of them
// neither grows nor flushes the cache: a cached key still costs no read.
func TestForgedTokensCostNoRead(t *testing.T) {
	f := newFixture(t, nil)
	ctx := context.Background()
	key := f.create(t, manage.CreateRequest{APIs: []string{"*"}, Scopes: []string{"GET /x"}})
	if d, _, err := f.auth.Authorize(ctx, authorizer.Request{Token: key.Token.Reveal(), Method: "GET", Path: "/x"}); err != nil || d.Outcome != authorizer.Allow {
		t.Fatalf("valid key: %v %v", d.Outcome, err)
	}
	reads := f.store.gets.Load()
	otherPepper, _ := apikey.NewHasher(bytes.Repeat([]byte("o"), 32), apikey.HMACSHA256, rand.Reader)
	format, _ := apikey.NewFormat(apikey.DefaultPrefix)
	for i := 0; i < 20000; i++ {
		var tok string
		if i%2 == 0 {
			tok = forge(t, key.Token.Reveal())
		} else {
			other, _ := format.Generate(rand.Reader, otherPepper)
			tok = other.Reveal()
		}
		d, _, err := f.auth.Authorize(ctx, authorizer.Request{Token: tok, Method: "GET", Path: "/x"})
		if err != nil || d.Outcome != authorizer.Unauthorized {
			t.Fatalf("forged token %d: %v %v", i, d.Outcome, err)
		}
	}
	if n := f.store.gets.Load() - reads; n != 0 {
		t.Fatalf("forged tokens caused %d store reads, want 0", n)
	}
	if d, hit, _ := f.auth.Authorize(ctx, authorizer.Request{Token: key.Token.Reveal(), Method: "GET", Path: "/x"}); !hit || d.Outcome != authorizer.Allow {
		t.Fatalf("after the flood the valid key is a cache miss (hit=%v, %v): the cache was flushed", hit, d.Outcome)
	}
	forged := authorizer.Request{Token: forge(t, key.Token.Reveal()), Method: "GET", Path: "/x"}
	if n := testing.AllocsPerRun(100, func() { _, _, _ = f.auth.Authorize(ctx, forged) }); n != 0 {
		t.Fatalf("refusing a forged token allocates %v times", n)
	}
}

func ptr[T any](v T) *T { return &v }

func TestCacheBoundsRevocation(t *testing.T) {
	for _, ttl := range []time.Duration{5 * time.Second, 0} {
		t.Run(ttl.String(), func(t *testing.T) {
			f := newFixture(t, func(c *authorizer.Config) { c.CacheTTL = ttl })
			key := f.create(t, manage.CreateRequest{APIs: []string{"*"}, Scopes: []string{"GET /x"}})
			for i := 0; i < 100; i++ {
				if got, _ := f.outcome(t, event(t, "rest-request", key.Token.Reveal(), "GET", "/x")); got != "allow" {
					t.Fatalf("before revoke: %s", got)
				}
			}
			wantGets := int32(1)
			if ttl == 0 {
				wantGets = 100
			}
			if n := f.store.gets.Load(); n != wantGets {
				t.Fatalf("%d store reads for 100 decisions, want %d", n, wantGets)
			}
			if _, err := f.svc.Revoke(context.Background(), keygate.Caller{Operator: true}, manage.RevokeRequest{Tenant: "acme", ID: key.ID}); err != nil {
				t.Fatal(err)
			}
			got, _ := f.outcome(t, event(t, "rest-request", key.Token.Reveal(), "GET", "/x"))
			if ttl == 0 && got != "unauthorized" {
				t.Fatalf("TTL 0: revoked key still %s", got)
			}
			if ttl > 0 && got != "allow" {
				t.Fatalf("within the cache TTL the cached decision stands, got %s", got)
			}
			f.clock.Add(ttl)
			if got, _ := f.outcome(t, event(t, "rest-request", key.Token.Reveal(), "GET", "/x")); got != "unauthorized" {
				t.Fatalf("after the cache TTL a revoked key is %s", got)
			}
		})
	}
}

func TestLastUsed(t *testing.T) {
	f := newFixture(t, nil)
	key := f.create(t, manage.CreateRequest{APIs: []string{"*"}, Scopes: []string{"GET /x"}})
	ev := event(t, "http-v2", key.Token.Reveal(), "GET", "/x")
	// 10,000 decisions over 100 s of clock: at most one write per 60 s.
	for i := 0; i < 10000; i++ {
		if got, _ := f.outcome(t, ev); got != "allow" {
			t.Fatalf("decision %d: %s", i, got)
		}
		f.clock.Add(10 * time.Millisecond)
	}
	if w := f.store.written.Load(); w != 2 {
		t.Fatalf("%d last-used writes over 100 s with a 60 s interval, want 2", w)
	}
	if n := f.store.touches.Load(); n != 2 {
		t.Fatalf("%d last-used attempts, want 2", n)
	}
	got, err := f.svc.Get(context.Background(), keygate.Caller{Operator: true}, manage.GetRequest{Tenant: "acme", ID: key.ID})
	if err != nil || got.LastUsedAt == nil || f.clock.Now().Sub(*got.LastUsedAt) > 41*time.Second {
		t.Fatalf("last_used_at = %v, %v", got.LastUsedAt, err)
	}
	list, err := f.svc.List(context.Background(), keygate.Caller{Operator: true}, manage.ListRequest{Tenant: "acme"})
	if err != nil || len(list.Keys) != 1 || list.Keys[0].LastUsedAt == nil || !list.Keys[0].LastUsedAt.Equal(*got.LastUsedAt) {
		t.Fatalf("list does not show last_used_at: %+v, %v", list, err)
	}

	// Another execution environment (a fresh authorizer) does not write
	// again within the interval.
	again := newFixtureOn(t, f.store.Store, nil)
	again.clock.Add(f.clock.Now().Sub(again.clock.Now()))
	again.outcome(t, ev)
	// It reads the key (a cache miss) and sees last_used_at is fresh: it
	// does not even try to write.
	if again.store.touches.Load() != 0 || again.store.written.Load() != 0 {
		t.Fatalf("second environment: %d attempts, %d writes; want 0 and 0", again.store.touches.Load(), again.store.written.Load())
	}

	// A failing write never fails the request.
	broken := newFixtureOn(t, f.store.Store, nil)
	broken.clock.Add(f.clock.Now().Sub(broken.clock.Now()) + f.cfg.LastUsedInterval) // a write is due
	broken.store.touchErr = errors.New("throttled")
	if got, _ := broken.outcome(t, ev); got != "allow" {
		t.Fatalf("with failing last-used writes: %s", got)
	}
	if !strings.Contains(broken.logs.String(), "last used not recorded") {
		t.Fatal("failed last-used write not logged")
	}
}

func TestDecisionLogs(t *testing.T) {
	f := newFixture(t, nil)
	key := f.create(t, manage.CreateRequest{APIs: []string{"*"}, Scopes: []string{"GET /x"}})
	f.outcome(t, event(t, "rest-request", key.Token.Reveal(), "GET", "/x"))
	f.outcome(t, event(t, "rest-request", key.Token.Reveal(), "GET", "/y"))
	f.outcome(t, event(t, "rest-request", "kg_live_short", "GET", "/x"))
	lines := strings.Split(strings.TrimSpace(f.logs.String()), "\n")
	if len(lines) != 3 {
		t.Fatalf("want one line per decision, got:\n%s", f.logs)
	}
	want := []struct{ decision, reason string }{{"allow", "ok"}, {"deny", "route not in scopes"}, {"unauthorized", "malformed token: wrong length"}}
	for i, line := range lines {
		var m map[string]any
		if err := json.Unmarshal([]byte(line), &m); err != nil {
			t.Fatal(err)
		}
		if m["decision"] != want[i].decision || m["reason"] != want[i].reason || m["shape"] != "rest-request" {
			t.Errorf("line %d = %s", i, line)
		}
		if i < 2 && m["key_id"] != key.ID {
			t.Errorf("line %d lacks the key ID: %s", i, line)
		}
	}
}

func TestBadEvents(t *testing.T) {
	f := newFixture(t, nil)
	key := f.create(t, manage.CreateRequest{APIs: []string{"*"}, Scopes: []string{"GET /x"}})
	for _, ev := range []string{`{}`, `[]`, `"x"`, `{"type":"TOKEN","authorizationToken":"Bearer ` + key.Token.Reveal() + `","methodArn":"not-an-arn"}`,
		`{"type":"REQUEST","methodArn":"arn:aws:execute-api:us-east-1:1:abc"}`, `{"version":"2.0","routeArn":5}`} {
		if got, _ := f.outcome(t, json.RawMessage(ev)); got != "error" {
			t.Errorf("event %s: %s, want an error (never an allow)", ev, got)
		}
	}
}

// TestFailsClosed points the authorizer at a DynamoDB Local that has been
// stopped: every decision must be an error, never an allow.
func TestFailsClosed(t *testing.T) {
	testkit.SkipShort(t, "DynamoDB Local")
	srv, err := ddblocal.Start(context.Background(), io.Discard)
	if err != nil {
		t.Fatalf("DynamoDB Local is required: %v", err)
	}
	defer srv.Stop()
	db := dynamotest.Client(srv.Endpoint)
	if err := store.EnsureTable(context.Background(), db, "keygate"); err != nil {
		t.Fatal(err)
	}
	f := newFixtureOn(t, store.New(db, "keygate"), func(c *authorizer.Config) { c.CacheTTL = 0 })
	key := f.create(t, manage.CreateRequest{APIs: []string{"*"}, Scopes: []string{"GET /x"}})
	if got, _ := f.outcome(t, event(t, "rest-request", key.Token.Reveal(), "GET", "/x")); got != "allow" {
		t.Fatalf("while running: %s", got)
	}
	if err := srv.Stop(); err != nil {
		t.Fatal(err)
	}
	for _, shape := range shapes {
		got, err := f.outcome(t, event(t, shape, key.Token.Reveal(), "GET", "/x"))
		if got != "error" {
			t.Fatalf("%s with storage down: %s, want an error", shape, got)
		}
		if strings.Contains(err.(error).Error(), "127.0.0.1") {
			t.Fatalf("error leaks internals: %v", err)
		}
	}
	if !strings.Contains(f.logs.String(), `"decision":"error"`) {
		t.Fatal("store failure not logged as an error decision")
	}
}

// TestHostileTokens tries tokens of every wrong length and every byte at
// every position class: all are unauthorized, none reaches storage.
func TestHostileTokens(t *testing.T) {
	f := newFixture(t, nil)
	key := f.create(t, manage.CreateRequest{APIs: []string{"*"}, Scopes: []string{"GET /x"}})
	var tried int
	check := func(tok string) {
		tried++
		d, _, err := f.auth.Authorize(context.Background(), authorizer.Request{Token: tok, Method: "GET", Path: "/x"})
		if err != nil || d.Outcome != authorizer.Unauthorized {
			t.Fatalf("token of %d bytes: %v %v", len(tok), d.Outcome, err)
		}
	}
	for n := 0; n <= len(key.Token.Reveal())+20; n++ {
		if n == len(key.Token.Reveal()) {
			continue
		}
		check(strings.Repeat("A", n))
		if n < len(key.Token.Reveal()) {
			check(key.Token.Reveal()[:n])
		} else {
			check(key.Token.Reveal() + strings.Repeat("0", n-len(key.Token.Reveal())))
		}
	}
	// Every non-base62 byte in the ID, the secret and the checksum.
	for _, pos := range []int{len(apikey.DefaultPrefix), len(apikey.DefaultPrefix) + apikey.IDLen + 3, len(key.Token.Reveal()) - 1} {
		for c := 0; c < 256; c++ {
			if ('0' <= c && c <= '9') || ('a' <= c && c <= 'z') || ('A' <= c && c <= 'Z') {
				continue
			}
			check(key.Token.Reveal()[:pos] + string([]byte{byte(c)}) + key.Token.Reveal()[pos+1:])
		}
	}
	if n := f.store.gets.Load(); n != 0 {
		t.Fatalf("%d hostile tokens reached storage", n)
	}
	t.Logf("hostile tokens: %d tried, all unauthorized, 0 storage reads", tried)
}

// TestKeysBoundToAPIs: a key calls only the APIs (and stages) it names,
// whatever its scopes, in every event shape; a cached policy denies the
// whole API/stage, which stays true for the key's next request there.
func TestKeysBoundToAPIs(t *testing.T) {
	f := newFixture(t, nil)
	// The REST events come through API kglocal001, stage prod.
	tests := []struct {
		apis []string
		want string
	}{
		{[]string{"*"}, "allow"},
		{[]string{"kglocal001"}, "allow"},
		{[]string{"kglocal001/prod"}, "allow"},
		{[]string{"kglocal001/dev"}, "deny"},
		{[]string{"other1"}, "deny"},
		{[]string{"other1", "kglocal001/prod"}, "allow"},
		{[]string{"kglocal00"}, "deny"},
	}
	// The HTTP API events come through the same API, stage $default.
	httpAPIs := strings.NewReplacer("/prod", "/$default")
	for _, tt := range tests {
		for _, shape := range shapes {
			apis := tt.apis
			if strings.HasPrefix(shape, "http") {
				apis = make([]string, len(tt.apis))
				for i, a := range tt.apis {
					apis[i] = httpAPIs.Replace(a)
				}
			}
			// A data-API key scoped to everything, as in the review:
			// without API binding it could call the management API too.
			key := f.create(t, manage.CreateRequest{Owner: "o-" + shape, APIs: apis, Scopes: []string{"* /*"}})
			t.Run(strings.Join(tt.apis, ",")+"/"+shape, func(t *testing.T) {
				got, resp := f.outcome(t, event(t, shape, key.Token.Reveal(), "GET", "/v1/keys"))
				want := tt.want
				if shape == "http-v2" && want == "deny" {
					want = "not authorized"
				}
				if got != want {
					t.Fatalf("outcome = %s (%+v), want %s", got, resp, want)
				}
				if p, ok := resp.(events.APIGatewayCustomAuthorizerResponse); ok && want == "deny" {
					stage := "arn:aws:execute-api:us-east-1:123456789012:" + httpAPIs.Replace("kglocal001/prod")
					if !strings.HasPrefix(shape, "http") {
						stage = "arn:aws:execute-api:us-east-1:123456789012:kglocal001/prod"
					}
					for _, other := range []string{"/GET/", "/POST/anything", "/DELETE/v1/keys/x"} {
						if evaluate(p.PolicyDocument, stage+other) != "deny" {
							t.Errorf("cached policy admits %s", other)
						}
					}
				}
			})
		}
	}
}

// TestUsageIdentifier: every mode gives a value API Gateway accepts as an
// API key (20-128 alphanumerics), distinct across tenants for the same
// owner, and equal to the documented sha256sum recipe.
func TestUsageIdentifier(t *testing.T) {
	valid := regexp.MustCompile(`^[A-Za-z0-9]{20,128}$`)
	a := &keygate.Key{ID: "0wjfyYDZHtumHlgsO", Tenant: "acme", Owner: "alice@example.com"}
	b := &keygate.Key{ID: "0wjfyYDZHtumHlgsO", Tenant: "globex", Owner: "alice@example.com"}
	for _, mode := range []string{"id", "tenant", "owner"} {
		va, vb := authorizer.UsageIdentifier(mode, a), authorizer.UsageIdentifier(mode, b)
		if !valid.MatchString(va) || !valid.MatchString(vb) {
			t.Errorf("%s: %q / %q is not a valid API key value", mode, va, vb)
		}
		if va == vb {
			t.Errorf("%s: the same value for two tenants", mode)
		}
	}
	// printf 'owner:acme:alice@example.com' | sha256sum | cut -c1-40
	sum := sha256.Sum256([]byte("owner:acme:alice@example.com"))
	if got, want := authorizer.UsageIdentifier("owner", a), "kg"+hex.EncodeToString(sum[:])[:40]; got != want {
		t.Errorf("owner value = %s, want %s", got, want)
	}
	if authorizer.UsageIdentifier("", a) != "" {
		t.Error("no mode gives a value")
	}
}

// withTenant is req with the tenant an operator acts on and an
// idempotency key.
func withTenant(req manage.CreateRequest, tenant, idempotencyKey string) manage.CreateRequest {
	req.Tenant, req.IdempotencyKey = tenant, idempotencyKey
	return req
}

// TestDisabledKeys: a disabled key is refused like a revoked one, in every
// shape, within the cache TTL; enabled again, it works again.
func TestDisabledKeys(t *testing.T) {
	f := newFixture(t, nil)
	ctx := context.Background()
	key := f.create(t, manage.CreateRequest{APIs: []string{"*"}, Scopes: []string{"GET /x"}})
	for _, shape := range shapes {
		if got, _ := f.outcome(t, event(t, shape, key.Token.Reveal(), "GET", "/x")); got != "allow" {
			t.Fatalf("%s before disable: %s", shape, got)
		}
	}
	if _, err := f.svc.Update(ctx, keygate.Caller{Operator: true}, manage.UpdateRequest{Tenant: "acme", ID: key.ID, Enabled: ptr(false)}); err != nil {
		t.Fatal(err)
	}
	f.clock.Add(f.cfg.CacheTTL) // the in-function cache bounds the lag
	for _, shape := range shapes {
		if got, _ := f.outcome(t, event(t, shape, key.Token.Reveal(), "GET", "/x")); got != "unauthorized" && got != "not authorized" {
			t.Fatalf("%s while disabled: %s", shape, got)
		}
	}
	if !strings.Contains(f.logs.String(), `"reason":"disabled"`) {
		t.Error(`logs lack "reason":"disabled"`)
	}
	if _, err := f.svc.Update(ctx, keygate.Caller{Operator: true}, manage.UpdateRequest{Tenant: "acme", ID: key.ID, Enabled: ptr(true)}); err != nil {
		t.Fatal(err)
	}
	f.clock.Add(f.cfg.CacheTTL)
	for _, shape := range shapes {
		if got, _ := f.outcome(t, event(t, shape, key.Token.Reveal(), "GET", "/x")); got != "allow" {
			t.Fatalf("%s enabled again: %s", shape, got)
		}
	}
}

// TestPepperRotation runs the documented rotation on DynamoDB Local: keys
// stamped under pepper 1 keep working when pepper 2 is added and made
// current, are re-stamped under 2 on use (by a write conditioned on the
// verifier read, so environments racing do not clash), and once 1 is
// retired only the keys never used since are refused: what the operator's
// scan (docs/pepper-rotation.md) finds beforehand.
func TestPepperRotation(t *testing.T) {
	db, table := dynamotest.NewTable(t)
	st := store.New(db, table)
	ctx := context.Background()
	seed, p2 := bytes.Repeat([]byte("k"), 32), bytes.Repeat([]byte("2"), 32) // the fixture's pepper is the seed and version 1
	f := newFixtureOn(t, st, nil)
	used := f.create(t, manage.CreateRequest{APIs: []string{"*"}, Scopes: []string{"GET /x"}})
	idle := f.create(t, manage.CreateRequest{Owner: "bob", APIs: []string{"*"}, Scopes: []string{"GET /x"}})
	verifier := func(id string) string {
		t.Helper()
		r, err := st.GetKeyWithVerifier(ctx, id)
		if err != nil {
			t.Fatal(err)
		}
		return r.Verifier
	}
	if strings.HasPrefix(verifier(used.ID), "k") {
		t.Fatal("a version 1 verifier carries a version prefix")
	}
	withPeppers := func(p apikey.Peppers) func(*authorizer.Config) {
		return func(c *authorizer.Config) {
			h, err := apikey.NewVersionedHasher(p, apikey.HMACSHA256, rand.Reader)
			if err != nil {
				t.Fatal(err)
			}
			c.Hasher, c.CacheTTL = h, 0
		}
	}
	// Step 2 of docs/pepper-rotation.md: version 2 current, 1 still accepted;
	// two environments see the key.
	rotated := apikey.Peppers{TagSeed: seed, Current: 2, Versions: map[int]apikey.Secret{1: seed, 2: p2}}
	for i := range 2 {
		env := newFixtureOn(t, st, withPeppers(rotated))
		if got, _ := env.outcome(t, event(t, "rest-request", used.Token.Reveal(), "GET", "/x")); got != "allow" {
			t.Fatalf("environment %d, during rotation: %s", i, got)
		}
	}
	if v := verifier(used.ID); !strings.HasPrefix(v, "k2$hmac-sha256$") {
		t.Fatalf("the used key was not re-stamped: %.12s...", v)
	}
	if strings.HasPrefix(verifier(idle.ID), "k") {
		t.Fatal("a key nobody used was re-stamped")
	}
	// New keys are stamped under 2 from the start.
	svc := manage.New(st, manage.Config{Format: f.cfg.Format, Hasher: mustHasher(t, rotated), DefaultTTL: 0, Retention: time.Hour, MaxUserKeys: 10, MaxServiceKeys: 5})
	fresh, err := svc.Create(ctx, keygate.Caller{Operator: true}, manage.CreateRequest{Tenant: "acme", Owner: "carol", APIs: []string{"*"}, Scopes: []string{"GET /x"}})
	if err != nil || !strings.HasPrefix(verifier(fresh.ID), "k2$") {
		t.Fatalf("a new key under pepper 2: %v", err)
	}
	// Step 4: version 1 retired.
	retired := newFixtureOn(t, st, withPeppers(apikey.Peppers{TagSeed: seed, Current: 2, Versions: map[int]apikey.Secret{2: p2}}))
	for name, tc := range map[string]struct {
		token, want string
	}{"re-stamped": {used.Token.Reveal(), "allow"}, "new": {fresh.Token.Reveal(), "allow"}, "never used since": {idle.Token.Reveal(), "unauthorized"}} {
		if got, _ := retired.outcome(t, event(t, "rest-request", tc.token, "GET", "/x")); got != tc.want {
			t.Errorf("%s key after retiring pepper 1: %s, want %s", name, got, tc.want)
		}
	}
	if !strings.Contains(retired.logs.String(), "retired pepper") {
		t.Error("refusing a key of a retired pepper is not logged")
	}
}

func mustHasher(t *testing.T, p apikey.Peppers) *apikey.Hasher {
	t.Helper()
	h, err := apikey.NewVersionedHasher(p, apikey.HMACSHA256, rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return h
}

// TestCacheJitter: a cached key lives between four fifths of AUTH_CACHE_TTL
// and AUTH_CACHE_TTL, never longer (the revocation bound), so environments
// that read a hot key together do not read it again together.
func TestCacheJitter(t *testing.T) {
	f := newFixture(t, func(c *authorizer.Config) { c.CacheTTL = 5 * time.Second; c.LastUsedInterval = time.Hour })
	ctx := context.Background()
	var keys []string
	for i := range 40 {
		keys = append(keys, f.create(t, manage.CreateRequest{Owner: fmt.Sprint("o", i%4), APIs: []string{"*"}, Scopes: []string{"GET /x"}}).Token.Reveal())
	}
	start := f.clock.Now()
	hits := func() int {
		n := 0
		for _, k := range keys {
			if _, hit, err := f.auth.Authorize(ctx, authorizer.Request{Token: k, API: "a", Stage: "s", Method: "GET", Path: "/x"}); err == nil && hit {
				n++
			}
		}
		return n
	}
	hits() // fill the cache
	f.clock.Add(4*time.Second - time.Millisecond)
	if n := hits(); n != len(keys) {
		t.Fatalf("%d of %d keys left the cache before 4/5 of the TTL", len(keys)-n, len(keys))
	}
	f.clock.Add(start.Add(5 * time.Second).Sub(f.clock.Now()))
	if n := hits(); n != 0 {
		t.Fatalf("%d keys outlived AUTH_CACHE_TTL in the cache", n)
	}
}
