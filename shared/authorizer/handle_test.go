package authorizer_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-lambda-go/lambda"
	"github.com/keygate/keygate/shared/authorizer"
	"github.com/keygate/keygate/shared/manage"
)

// TestHandleAllocs keeps the handler's hot path cheap in make test, by
// counting rather than timing (BENCHMARKS.md times it): per event shape, a
// cache hit allocates at most maxHitAllocs times (the token and ARN
// strings, the decision's log line), and refusing a forged or malformed
// token allocates no more than a hit.
func TestHandleAllocs(t *testing.T) {
	const maxHitAllocs = 10
	f := newFixture(t, func(c *authorizer.Config) { c.CacheTTL = time.Hour; c.LastUsedInterval = time.Hour })
	key := f.create(t, manage.CreateRequest{APIs: []string{"*"}, Scopes: []string{"GET /buckets/photos/*"}})
	malformed := key.Token.Reveal()[:len(key.Token.Reveal())-1] + "0"
	if strings.HasSuffix(key.Token.Reveal(), "0") {
		malformed = key.Token.Reveal()[:len(key.Token.Reveal())-1] + "1"
	}
	tokens := []struct {
		kind, token string
		allowed     bool
	}{
		{"hit", key.Token.Reveal(), true},
		{"forged", forge(t, key.Token.Reveal()), false},
		{"malformed", malformed, false},
	}
	ctx := context.Background()
	for _, shape := range shapes {
		hit := 0.0
		for _, tc := range tokens {
			ev := event(t, shape, tc.token, "GET", "/buckets/photos/a.jpg")
			run := func() {
				f.logs.Reset() // the log buffer's growth is not the handler's
				resp, err := f.auth.Handle(ctx, ev)
				r, v2 := resp.(events.APIGatewayV2CustomAuthorizerSimpleResponse)
				refused := errors.Is(err, authorizer.ErrUnauthorized) || v2 && !r.IsAuthorized
				if refused == tc.allowed || err != nil && !refused {
					t.Fatalf("%s %s: %v %v", shape, tc.kind, resp, err)
				}
			}
			run() // warm the cache
			n := testing.AllocsPerRun(200, run)
			switch {
			case tc.kind == "hit":
				hit = n
				if n > maxHitAllocs {
					t.Errorf("%s hit: %v allocations, want ≤ %d", shape, n, maxHitAllocs)
				}
			case n > hit:
				t.Errorf("%s %s: %v allocations, more than a hit's %v", shape, tc.kind, n, hit)
			}
			t.Logf("%s %s: %v allocations", shape, tc.kind, n)
			if tc.kind == "hit" {
				if n := testing.AllocsPerRun(200, func() {
					f.logs.Reset()
					if _, err := f.auth.Invoke(ctx, ev); err != nil {
						t.Fatal(err)
					}
				}); n > maxHitAllocs {
					t.Errorf("%s Invoke hit: %v allocations, want ≤ %d", shape, n, maxHitAllocs)
				}
			}
		}
	}
	if n := f.store.gets.Load(); n != 1 {
		t.Errorf("%d store reads, want 1 (the first hit's miss)", n)
	}
}

// TestInvoke checks that Invoke answers every request as the Lambda
// runtime would have answered Handle: the same error, or the JSON
// aws-lambda-go encodes Handle's value into, byte for byte, whether the
// answer was memoized (allow, wrong API) or built per request (a deny
// naming the request's ARN, a mid-path * scope, HTTP API refusals).
func TestInvoke(t *testing.T) {
	f := newFixture(t, func(c *authorizer.Config) { c.CacheTTL = time.Hour })
	key := f.create(t, manage.CreateRequest{APIs: []string{"kglocal001"}, Scopes: []string{"GET /buckets/photos/*", "GET /buckets/*/meta"}})
	plain := f.create(t, manage.CreateRequest{APIs: []string{"*"}, Scopes: []string{"GET /buckets/photos/*"}})
	other := f.create(t, manage.CreateRequest{APIs: []string{"zzz999"}, Scopes: []string{"GET /x"}})
	tests := []struct {
		name, token, method, path string
	}{
		{"allow", plain.Token.Reveal(), "GET", "/buckets/photos/a.jpg"},
		{"allow again (memoized)", plain.Token.Reveal(), "GET", "/buckets/photos/b.jpg"},
		{"allow, key with a mid-path * scope", key.Token.Reveal(), "GET", "/buckets/photos/a.jpg"},
		{"mid-path * scope", key.Token.Reveal(), "GET", "/buckets/b1/meta"},
		{"route not in scopes", key.Token.Reveal(), "POST", "/buckets/photos/a.jpg"},
		{"api not in key's apis", other.Token.Reveal(), "GET", "/x"},
		{"forged", forge(t, key.Token.Reveal()), "GET", "/x"},
		{"missing", "", "GET", "/x"},
	}
	ctx := context.Background()
	for _, shape := range shapes {
		for _, tt := range tests {
			t.Run(shape+"/"+tt.name, func(t *testing.T) {
				ev := event(t, shape, tt.token, tt.method, tt.path)
				want, wantErr := f.auth.Handle(ctx, ev)
				got, err := f.auth.Invoke(ctx, ev)
				if fmt.Sprint(err) != fmt.Sprint(wantErr) || (err == nil) != (wantErr == nil) {
					t.Fatalf("Invoke error %v, Handle error %v", err, wantErr)
				}
				if err != nil {
					return
				}
				var enc bytes.Buffer
				e := json.NewEncoder(&enc)
				e.SetEscapeHTML(false)
				if err := e.Encode(want); err != nil {
					t.Fatal(err)
				}
				if !bytes.Equal(got, enc.Bytes()) {
					t.Fatalf("Invoke = %s\nruntime encoding of Handle = %s", got, enc.Bytes())
				}
			})
		}
	}
	// Invoke is a lambda.Handler, so lambda.Start uses it directly.
	var _ lambda.Handler = f.auth
}
