package usage_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/keygate/keygate/shared/keygate"
	"github.com/keygate/keygate/shared/usage"
)

// These tests check the Meter's arithmetic (slice sizes, verdicts, what it
// remembers) through a counter in memory that grants what it is asked
// while it can. Every bound across environments is proven against
// DynamoDB Local with the real store, in shared/authorizer's metering
// tests.

// memStore is a rate window and a credit pool in memory, recording what it
// was asked.
type memStore struct {
	leased   map[time.Time]int64
	pool     int64
	refillAt time.Time
	asks     []int64
	err      error
}

func (m *memStore) LeaseRate(_ context.Context, _ string, start, _ time.Time, limit, want int64) (int64, int64, error) {
	if m.err != nil {
		return 0, 0, m.err
	}
	m.asks = append(m.asks, want)
	if m.leased[start]+want > limit {
		return 0, max(0, limit-m.leased[start]), nil
	}
	m.leased[start] += want
	return want, limit - m.leased[start], nil
}

func (m *memStore) LeaseCredits(_ context.Context, _ string, want int64, _ time.Time) (int64, int64, time.Time, error) {
	if m.err != nil {
		return 0, 0, time.Time{}, m.err
	}
	m.asks = append(m.asks, want)
	if m.pool < want {
		return 0, m.pool, m.refillAt, nil
	}
	m.pool -= want
	return want, m.pool, m.refillAt, nil
}

func newMem() *memStore { return &memStore{leased: map[time.Time]int64{}} }

var _ usage.Store = (*memStore)(nil)

func TestSlices(t *testing.T) {
	rate := []struct{ limit, left, want int64 }{
		{1000, 1000, 50}, {1000, 500, 50}, {1000, 499, 50}, {1000, 400, 40}, {1000, 95, 10}, {1000, 9, 1}, {1000, 1, 1}, {1000, 0, 1},
		{10, 10, 1}, {21, 21, 2}, {1, 1, 1}, {1_000_000_000, 1_000_000_000, 50_000_000},
	}
	for _, tt := range rate {
		if got := usage.RateSlice(tt.limit, tt.left); got != tt.want {
			t.Errorf("RateSlice(%d, %d) = %d, want %d", tt.limit, tt.left, got, tt.want)
		}
	}
	credits := []struct{ pool, want int64 }{{1e12, 100}, {10000, 100}, {9999, 99}, {500, 5}, {199, 1}, {1, 1}, {0, 1}}
	for _, tt := range credits {
		if got := usage.CreditSlice(tt.pool); got != tt.want {
			t.Errorf("CreditSlice(%d) = %d, want %d", tt.pool, got, tt.want)
		}
	}
}

func rateKey(limit int64, window time.Duration) *keygate.Key {
	return &keygate.Key{ID: "K", RateLimit: &keygate.RateLimit{Limit: limit, Window: window}}
}

func TestRateVerdicts(t *testing.T) {
	ctx := context.Background()
	start := time.Date(2026, 12, 5, 10, 0, 0, 0, time.UTC)
	t.Run("slices and exhaustion", func(t *testing.T) {
		st := newMem()
		m := usage.NewMeter(st)
		k := rateKey(100, time.Minute)
		now := start.Add(20*time.Second + 300*time.Millisecond)
		allowed := 0
		for range 150 {
			v, err := m.Spend(ctx, k, 0, now)
			if err != nil {
				t.Fatal(err)
			}
			if v.Allowed {
				allowed++
				continue
			}
			if v.Reason != keygate.ReasonRateLimited || v.RetryAfter != 40*time.Second {
				t.Fatalf("refusal = %+v, want rate_limited after 40s (39.7 rounded up)", v)
			}
		}
		if allowed != 100 {
			t.Fatalf("allowed %d, want the limit 100", allowed)
		}
		// Slices of 5 (a twentieth) while ≥ 50 are left, then a tenth of
		// what is left, then one; one refused ask, then none: the window
		// is remembered as exhausted.
		want := []int64{5, 5, 5, 5, 5, 5, 5, 5, 5, 5, 5, 5, 4, 4, 4, 3, 3, 3, 2, 2, 2, 2, 2, 1, 1, 1, 1, 1, 1, 1, 1, 1}
		if len(st.asks) != len(want)+1 || st.asks[len(st.asks)-1] != 1 {
			t.Fatalf("asks = %v, want %v then one refused 1", st.asks, want)
		}
		for i := range want {
			if st.asks[i] != want[i] {
				t.Fatalf("asks = %v, want %v", st.asks, want)
			}
		}
		// The next window starts afresh, exactly at its boundary.
		if v, err := m.Spend(ctx, k, 0, start.Add(time.Minute)); err != nil || !v.Allowed {
			t.Fatalf("next window: %+v, %v", v, err)
		}
	})
	t.Run("retry after rounds up to at least a second", func(t *testing.T) {
		st := newMem()
		m := usage.NewMeter(st)
		k := rateKey(1, time.Second)
		now := start.Add(999 * time.Millisecond)
		if v, _ := m.Spend(ctx, k, 0, start); !v.Allowed {
			t.Fatal("first call refused")
		}
		if v, _ := m.Spend(ctx, k, 0, now); v.Allowed || v.RetryAfter != time.Second {
			t.Fatalf("verdict = %+v, want refused, retry after 1s", v)
		}
	})
	t.Run("a newer revision discards the lease", func(t *testing.T) {
		st := newMem()
		m := usage.NewMeter(st)
		k := rateKey(100, time.Minute)
		m.Spend(ctx, k, 3, start) // leases 5
		m.Spend(ctx, k, 3, start)
		// An older entry of the same key (another cache) changes nothing.
		m.Spend(ctx, k, 2, start)
		if len(st.asks) != 1 {
			t.Fatalf("asks = %v, want one lease", st.asks)
		}
		k.RateLimit.Limit = 2 // lowered by an update: rev 4
		if v, _ := m.Spend(ctx, k, 4, start); v.Allowed {
			t.Fatalf("the old lease was spent under the lowered limit (asks %v)", st.asks)
		}
		// The successor of a rotation shares the lineage's lease.
		succ := &keygate.Key{ID: "S", Lineage: "K", RateLimit: k.RateLimit}
		if v, _ := m.Spend(ctx, succ, 0, start); v.Allowed {
			t.Fatalf("successor allowed past the shared window")
		}
	})
}

func TestCreditVerdicts(t *testing.T) {
	ctx := context.Background()
	now := time.Date(2026, 12, 5, 10, 0, 0, 0, time.UTC)
	refill := time.Date(2026, 12, 6, 0, 0, 0, 0, time.UTC)
	st := newMem()
	st.pool, st.refillAt = 30, refill
	m := usage.NewMeter(st)
	k := &keygate.Key{ID: "K", Credits: &keygate.Credits{Remaining: 50_000}}
	allowed := 0
	for range 40 {
		v, err := m.Spend(ctx, k, 0, now)
		if err != nil {
			t.Fatal(err)
		}
		if v.Allowed {
			allowed++
		} else if v.Reason != keygate.ReasonCreditsExhausted || v.RetryAfter != 14*time.Hour {
			t.Fatalf("refusal = %+v", v)
		}
	}
	if allowed != 30 || st.pool != 0 {
		t.Fatalf("allowed %d (pool %d), want 30", allowed, st.pool)
	}
	// The configured balance sized the first ask (100); the pool's answer
	// (30) the next ones (1 each).
	if st.asks[0] != 100 || st.asks[1] != 1 {
		t.Fatalf("asks = %v", st.asks)
	}
	// Exhausted: asked again at most once a second.
	asks := len(st.asks)
	m.Spend(ctx, k, 0, now.Add(999*time.Millisecond))
	if len(st.asks) != asks {
		t.Fatalf("asked again within a second")
	}
	st.pool = 5 // a new balance
	if v, _ := m.Spend(ctx, k, 0, now.Add(time.Second)); !v.Allowed {
		t.Fatalf("not asked again after a second")
	}
	// No refill: retry_after 0.
	st2 := newMem()
	m2 := usage.NewMeter(st2)
	if v, _ := m2.Spend(ctx, k, 0, now); v.Allowed || v.RetryAfter != 0 || v.Reason != keygate.ReasonCreditsExhausted {
		t.Fatalf("verdict without refill = %+v", v)
	}
}

// TestBothLimits checks that a call refused by credits spends nothing of
// the window, and a call refused by the rate limit asks nothing of the
// credits.
func TestBothLimits(t *testing.T) {
	ctx := context.Background()
	now := time.Date(2026, 12, 5, 10, 0, 0, 0, time.UTC)
	st := newMem()
	st.pool = 3
	m := usage.NewMeter(st)
	k := &keygate.Key{ID: "K", RateLimit: &keygate.RateLimit{Limit: 5, Window: time.Minute}, Credits: &keygate.Credits{Remaining: 3}}
	var got []string
	for range 7 {
		v, err := m.Spend(ctx, k, 0, now)
		if err != nil {
			t.Fatal(err)
		}
		got = append(got, map[bool]string{true: "ok"}[v.Allowed]+v.Reason)
		now = now.Add(2 * time.Second) // credits are re-asked each time
	}
	want := []string{"ok", "ok", "ok", "credits_exhausted", "credits_exhausted", "credits_exhausted", "credits_exhausted"}
	for i := range want {
		if got[i] != want[i] {
			t.Fatalf("verdicts = %v, want %v", got, want)
		}
	}
	st.pool = 100
	for i := range 3 {
		if v, _ := m.Spend(ctx, k, 0, now); (i < 2) != v.Allowed {
			t.Fatalf("call %d after new credits: %+v (the window had 2 left)", i, v)
		}
	}
}

func TestStoreErrorsFailClosed(t *testing.T) {
	st := newMem()
	st.err = errors.New("unreachable")
	m := usage.NewMeter(st)
	for _, k := range []*keygate.Key{rateKey(10, time.Minute), {ID: "C", Credits: &keygate.Credits{Remaining: 10}}} {
		if v, err := m.Spend(context.Background(), k, 0, time.Now()); err == nil || v.Allowed {
			t.Fatalf("Spend = %+v, %v; want an error, not allowed", v, err)
		}
	}
	if v, err := m.Spend(context.Background(), rateKey(10, time.Millisecond), 0, time.Now()); err == nil || v.Allowed {
		t.Fatalf("sub-second window: %+v, %v", v, err)
	}
	if v, err := m.Spend(context.Background(), &keygate.Key{ID: "U"}, 0, time.Now()); err != nil || !v.Allowed {
		t.Fatalf("unmetered: %+v, %v", v, err)
	}
}

func TestSpan(t *testing.T) {
	tests := []struct {
		now        time.Time
		window     time.Duration
		start, end time.Time
	}{
		{time.Unix(120, 0), time.Minute, time.Unix(120, 0), time.Unix(180, 0)},
		{time.Unix(179, 999_999_999), time.Minute, time.Unix(120, 0), time.Unix(180, 0)},
		{time.Unix(180, 0), time.Minute, time.Unix(180, 0), time.Unix(240, 0)},
		{time.Unix(86400*3+5, 0), 24 * time.Hour, time.Unix(86400*3, 0), time.Unix(86400*4, 0)},
		{time.Unix(-1, 0), time.Minute, time.Unix(-60, 0), time.Unix(0, 0)},
	}
	for _, tt := range tests {
		s, e := keygate.RateLimit{Limit: 1, Window: tt.window}.Span(tt.now)
		if !s.Equal(tt.start) || !e.Equal(tt.end) {
			t.Errorf("Span(%v, %v) = %v, %v; want %v, %v", tt.now, tt.window, s, e, tt.start, tt.end)
		}
	}
	for _, tt := range []struct {
		d    time.Duration
		text string
	}{{time.Minute, "1m"}, {time.Hour, "1h"}, {90 * time.Second, "1m30s"}, {90 * time.Minute, "1h30m"}, {3601 * time.Second, "1h1s"}, {time.Second, "1s"}, {24 * time.Hour, "24h"}} {
		if got := keygate.FormatWindow(tt.d); got != tt.text {
			t.Errorf("FormatWindow(%v) = %q, want %q", tt.d, got, tt.text)
		}
		if back, _ := time.ParseDuration(tt.text); back != tt.d {
			t.Errorf("%q reads back as %v", tt.text, back)
		}
	}
	if got := keygate.NextRefill(keygate.RefillMonth, time.Date(2026, 12, 31, 23, 59, 59, 0, time.UTC)); !got.Equal(time.Date(2027, 1, 1, 0, 0, 0, 0, time.UTC)) {
		t.Errorf("NextRefill(month, Dec 31) = %v", got)
	}
	if got := keygate.NextRefill(keygate.RefillDay, time.Date(2026, 12, 31, 0, 0, 0, 0, time.UTC)); !got.Equal(time.Date(2027, 1, 1, 0, 0, 0, 0, time.UTC)) {
		t.Errorf("NextRefill(day, at midnight) = %v", got)
	}
}
