package authorizer_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
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
	malformed := key.Token[:len(key.Token)-1] + "0"
	if strings.HasSuffix(key.Token, "0") {
		malformed = key.Token[:len(key.Token)-1] + "1"
	}
	tokens := []struct {
		kind, token string
		allowed     bool
	}{
		{"hit", key.Token, true},
		{"forged", forge(t, key.Token), false},
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
		}
	}
	if n := f.store.gets.Load(); n != 1 {
		t.Errorf("%d store reads, want 1 (the first hit's miss)", n)
	}
}
