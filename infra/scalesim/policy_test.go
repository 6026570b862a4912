package main

import (
	"context"
	"crypto/rand"
	"io"
	"log/slog"
	"math"
	mrand "math/rand/v2"
	"testing"
	"time"

	"github.com/keygate/keygate/shared/apikey"
	"github.com/keygate/keygate/shared/authorizer"
	"github.com/keygate/keygate/shared/keygate"
)

// itemStore is one key's item: what the authorizer reads and writes,
// counted.
type itemStore struct {
	rec             keygate.Record
	reads, attempts int
}

func (s *itemStore) GetKeyWithVerifier(context.Context, string) (*keygate.Record, error) {
	s.reads++
	r := s.rec
	return &r, nil
}

func (s *itemStore) TouchLastUsed(_ context.Context, _ string, at time.Time, interval time.Duration) (bool, error) {
	s.attempts++
	if last := s.rec.LastUsedAt; last != nil && at.Sub(*last) < interval {
		return false, nil // the condition fails
	}
	s.rec.LastUsedAt = &at
	return true, nil
}

func (s *itemStore) RestampVerifier(context.Context, string, string, string) (bool, error) {
	return false, nil
}

// TestModelRunsTheAuthorizersPolicy drives the real Authorizer and one
// model environment (envCache) through the same requests for one key and
// checks that they read the item and attempt last-used on the same
// requests: if either stops following authorizer.CachePolicy, they
// diverge. Request times keep clear of the jitter window (0.8 to 1 TTL
// after a read), where each side draws its own random lifetime.
func TestModelRunsTheAuthorizersPolicy(t *testing.T) {
	format, _ := apikey.NewFormat(apikey.DefaultPrefix)
	hasher, err := apikey.NewHasher([]byte("scalesim-policy-test-pepper-0123456789"), apikey.HMACSHA256, rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tok, err := format.Generate(rand.Reader, hasher)
	if err != nil {
		t.Fatal(err)
	}
	verifier, err := hasher.Verifier(tok)
	if err != nil {
		t.Fatal(err)
	}
	const ttl, interval = 5 * time.Second, time.Minute
	rng := mrand.New(mrand.NewPCG(1, 2))
	for trial := range 20 {
		// Each trial is a new execution environment, meeting a key last
		// used at some time in the last two intervals, or never.
		st := &itemStore{rec: keygate.Record{Verifier: verifier, Key: keygate.Key{
			ID: tok.ID(), Tenant: "acme", Owner: "alice", Type: keygate.User, Role: keygate.Viewer,
			Enabled: true, Scopes: []string{"GET /x"}, APIs: []string{"*"},
		}}}
		if trial%5 != 0 {
			last := at(-2 * interval.Seconds() * rng.Float64())
			st.rec.LastUsedAt = &last
		}
		now := 0.0
		cfg := authorizer.Config{Format: format, Hasher: hasher, CacheTTL: ttl, LastUsedInterval: interval,
			Now: func() time.Time { return at(now) }}
		auth := authorizer.New(st, cfg, slog.New(slog.NewTextHandler(io.Discard, nil)))
		env := newEnvCache(cfg.CachePolicy(), rng, 1)

		lastRead := math.Inf(-1)
		for i := range 300 {
			// The next request: a hit well inside the shortest lifetime,
			// or a miss past the longest.
			var next float64
			switch {
			case i == 0:
			case rng.IntN(3) > 0 && now-lastRead < 3.9:
				next = max(now, lastRead) + rng.Float64()*(3.9-(now-lastRead))
			default:
				next = lastRead + ttl.Seconds()*(1+2*rng.Float64())
			}
			now = next
			stored := math.Inf(-1)
			if st.rec.LastUsedAt != nil {
				stored = st.rec.LastUsedAt.Sub(epoch).Seconds()
			}
			reads, attempts := st.reads, st.attempts
			d, _, err := auth.Authorize(context.Background(), authorizer.Request{Token: tok.Reveal(), API: "a", Stage: "s", Method: "GET", Path: "/x"})
			if err != nil || d.Outcome != authorizer.Allow {
				t.Fatalf("trial %d, request %d: %v %v", trial, i, d, err)
			}
			read, attempt, _ := env.invoke(0, now, stored, false)
			if gotRead, gotAttempt := st.reads > reads, st.attempts > attempts; read != gotRead || attempt != gotAttempt {
				t.Fatalf("trial %d, request %d at %.3f s: model read %v attempted %v, authorizer read %v attempted %v",
					trial, i, now, read, attempt, gotRead, gotAttempt)
			}
			if read {
				lastRead = now
			}
		}
	}
}
