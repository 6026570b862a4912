package authorizer_test

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/keygate/keygate/shared/authorizer"
	"github.com/keygate/keygate/shared/keygate"
	"github.com/keygate/keygate/shared/manage"
)

// BenchmarkFloor is the least work any correct verification does:
// HMAC-SHA-256 of one secret with crypto/hmac.
func BenchmarkFloor(b *testing.B) {
	secret := []byte("1bofjwtTQfqOkCrh0TRIqodyMgGebgWq3ZWF3VzKBhMtbvMpcXENOyHf7e0e")
	b.ReportAllocs()
	for b.Loop() {
		m := hmac.New(sha256.New, pepper)
		m.Write(secret)
		m.Sum(nil)
	}
}

// BenchmarkDecisionCacheHit is Authorize on a warm cache: parse, checksum,
// digest, constant-time compare, expiry and scope check.
func BenchmarkDecisionCacheHit(b *testing.B) {
	f := newFixture(b, func(c *authorizer.Config) { c.CacheTTL = time.Hour; c.LastUsedInterval = time.Hour })
	key := f.create(b, manage.CreateRequest{APIs: []string{"*"}, Scopes: []string{"GET /a/*", "GET /b/*", "GET /buckets/photos/*"}})
	req := authorizer.Request{Token: key.Token.Reveal(), Method: "GET", Path: "/buckets/photos/a.jpg"}
	ctx := context.Background()
	if d, _, err := f.auth.Authorize(ctx, req); err != nil || d.Outcome != authorizer.Allow {
		b.Fatalf("warm-up: %v %v", d, err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if d, _, _ := f.auth.Authorize(ctx, req); d.Outcome != authorizer.Allow {
			b.Fatal(d.Reason)
		}
	}
}

// BenchmarkDecisionMalformed is Authorize on a token whose checksum is
// wrong: rejected by apikey.Parse without a cache lookup or storage read.
// Compare with apikey's BenchmarkCRC32Token (BENCHMARKS.md).
func BenchmarkDecisionMalformed(b *testing.B) {
	benchRefusal(b, func(token string) string {
		last := "0" // a different last checksum digit, still base62
		if strings.HasSuffix(token, last) {
			last = "1"
		}
		return token[:len(token)-1] + last
	})
}

// BenchmarkDecisionForged is Authorize on a well-formed token for a real
// key ID whose tag this deployment did not make: refused after one HMAC,
// without a cache lookup or storage read. Compare with BenchmarkFloor.
func BenchmarkDecisionForged(b *testing.B) {
	benchRefusal(b, func(token string) string { return forge(b, token) })
}

// benchRefusal measures Authorize refusing spoil(a real key's token), and
// checks the refusal never read the store.
func benchRefusal(b *testing.B, spoil func(token string) string) {
	f := newFixture(b, nil)
	key := f.create(b, manage.CreateRequest{APIs: []string{"*"}, Scopes: []string{"GET /x"}})
	req := authorizer.Request{Token: spoil(key.Token.Reveal()), Method: "GET", Path: "/x"}
	ctx := context.Background()
	if d, _, err := f.auth.Authorize(ctx, req); err != nil || d.Outcome != authorizer.Unauthorized {
		b.Fatalf("refusal: %v %v", d, err)
	}
	b.ReportAllocs()
	for b.Loop() {
		f.auth.Authorize(ctx, req)
	}
	if n := f.store.gets.Load(); n != 0 {
		b.Fatalf("%d store reads for refused tokens", n)
	}
}

// BenchmarkHandle runs the Lambda handler per event shape: on a cache hit,
// on a miss (one GetItem against DynamoDB Local), and refusing a forged
// token (well-formed, real key ID, wrong tag: one HMAC) and a malformed
// one (bad checksum). The fixture's log buffer is emptied every iteration:
// the decision line is still formatted and written, but a buffer holding
// every line of the run would grow to hundreds of MB, and its growth, not
// the handler, would be measured.
func BenchmarkHandle(b *testing.B) {
	for _, kind := range []string{"hit", "miss", "forged", "malformed"} {
		for _, shape := range shapes {
			b.Run(shape+"/"+kind, func(b *testing.B) {
				ttl := time.Hour
				if kind == "miss" {
					ttl = 0
				}
				f := newFixture(b, func(c *authorizer.Config) { c.CacheTTL = ttl; c.LastUsedInterval = time.Hour })
				key := f.create(b, manage.CreateRequest{APIs: []string{"*"}, Scopes: []string{"GET /buckets/photos/*"}})
				token := key.Token.Reveal()
				switch kind {
				case "forged":
					token = forge(b, token)
				case "malformed":
					token = token[:len(token)-1] + map[bool]string{true: "1", false: "0"}[strings.HasSuffix(token, "0")]
				}
				ev := event(b, shape, token, "GET", "/buckets/photos/a.jpg")
				ctx := context.Background()
				refused := kind == "forged" || kind == "malformed"
				check := func(resp any, err error) {
					r, v2 := resp.(events.APIGatewayV2CustomAuthorizerSimpleResponse)
					if refused != (errors.Is(err, authorizer.ErrUnauthorized) || v2 && !r.IsAuthorized) {
						b.Fatalf("%s: %v %v", kind, resp, err)
					}
				}
				check(f.auth.Handle(ctx, ev))
				b.ReportAllocs()
				for b.Loop() {
					f.logs.Reset()
					check(f.auth.Handle(ctx, ev))
				}
				if refused && f.store.gets.Load() != 0 {
					b.Fatalf("%s tokens read the store", kind)
				}
			})
		}
	}
}

// BenchmarkHandleResponse is what the Lambda runtime does with Handle's
// answer on a cache hit: encode it as JSON, as aws-lambda-go's handler
// does (json.Encoder, HTML escaping off). The allowed HTTP API answer and
// a REST policy carry the key's context, a map, which encoding/json sorts.
func BenchmarkHandleResponse(b *testing.B) {
	for _, shape := range shapes {
		b.Run(shape, func(b *testing.B) {
			f := newFixture(b, func(c *authorizer.Config) { c.CacheTTL = time.Hour; c.LastUsedInterval = time.Hour })
			key := f.create(b, manage.CreateRequest{APIs: []string{"*"}, Scopes: []string{"GET /buckets/photos/*"}})
			resp, err := f.auth.Handle(context.Background(), event(b, shape, key.Token.Reveal(), "GET", "/buckets/photos/a.jpg"))
			if err != nil {
				b.Fatal(err)
			}
			var out bytes.Buffer
			b.ReportAllocs()
			for b.Loop() {
				out.Reset()
				enc := json.NewEncoder(&out)
				enc.SetEscapeHTML(false)
				if err := enc.Encode(resp); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkInvoke is the handler as lambda.Handler on a cache hit: event
// bytes in, response JSON out, what the runtime would otherwise do around
// Handle (BenchmarkHandle plus BenchmarkHandleResponse) included.
func BenchmarkInvoke(b *testing.B) {
	for _, shape := range shapes {
		b.Run(shape+"/hit", func(b *testing.B) {
			f := newFixture(b, func(c *authorizer.Config) { c.CacheTTL = time.Hour; c.LastUsedInterval = time.Hour })
			key := f.create(b, manage.CreateRequest{APIs: []string{"*"}, Scopes: []string{"GET /buckets/photos/*"}})
			ev := event(b, shape, key.Token.Reveal(), "GET", "/buckets/photos/a.jpg")
			ctx := context.Background()
			if _, err := f.auth.Invoke(ctx, ev); err != nil {
				b.Fatal(err)
			}
			b.ReportAllocs()
			for b.Loop() {
				f.logs.Reset()
				if _, err := f.auth.Invoke(ctx, ev); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkDecisionCacheHitMetered is BenchmarkDecisionCacheHit's request
// for a key with a rate limit, on a lease the environment holds: the Meter
// spends the call locally, without a write (a limit of 10⁹ a day leases
// 5·10⁷ calls at a time), next to the same key unmetered in the same
// setting (several authorizers, one table).
func BenchmarkDecisionCacheHitMetered(b *testing.B) {
	for _, metered := range []bool{false, true} {
		name := map[bool]string{false: "unmetered", true: "rate-limited"}[metered]
		b.Run(name, func(b *testing.B) {
			c := newCluster(b, 1, windowStart)
			key := c.f.create(b, manage.CreateRequest{APIs: []string{"*"}, Scopes: []string{"GET /a/*", "GET /b/*", "GET /buckets/photos/*"}})
			if metered {
				c.limits.set(key.ID, keygate.Key{RateLimit: &keygate.RateLimit{Limit: 1_000_000_000, Window: 24 * time.Hour}})
			}
			req := authorizer.Request{Token: key.Token.Reveal(), Method: "GET", Path: "/buckets/photos/a.jpg"}
			ctx := context.Background()
			if d, _, err := c.envs[0].Authorize(ctx, req); err != nil || d.Outcome != authorizer.Allow {
				b.Fatalf("warm-up: %v %v", d, err)
			}
			writes := c.db.writes.Load()
			b.ReportAllocs()
			for b.Loop() {
				if d, _, _ := c.envs[0].Authorize(ctx, req); d.Outcome != authorizer.Allow {
					b.Fatal(d.Reason)
				}
			}
			if n := c.db.writes.Load() - writes; n != 0 {
				b.Fatalf("%d usage writes on held leases", n)
			}
		})
	}
}

// BenchmarkMeteredWrites is the usage writes per allowed call of a key
// limited to 1,000 calls a minute, called by 10 execution environments
// (4 goroutines each) until each is refused and has made 200 calls: one
// window per iteration, against DynamoDB Local. It reports
// usage-writes/allowed (BENCHMARKS.md prices it) and allowed/limit.
func BenchmarkMeteredWrites(b *testing.B) {
	c := newCluster(b, 10, windowStart)
	key := c.key(b, keygate.Key{RateLimit: &keygate.RateLimit{Limit: 1000, Window: time.Minute}})
	var allowed int64
	for b.Loop() {
		refused := make([]atomic.Bool, len(c.envs))
		_, n := c.run(b, key.Token.Reveal(), 4, func(env int, calls int64, d authorizer.Decision) bool {
			if d.Outcome == authorizer.Deny {
				refused[env].Store(true)
			}
			return refused[env].Load() && calls >= 200
		})
		allowed += n
		c.clock.Add(time.Minute)
	}
	b.ReportMetric(float64(c.db.writes.Load())/float64(allowed), "usage-writes/allowed")
	b.ReportMetric(float64(allowed)/float64(1000*b.N), "allowed/limit")
}
