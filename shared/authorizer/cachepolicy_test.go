package authorizer_test

import (
	"testing"
	"time"

	"github.com/keygate/keygate/shared/authorizer"
)

func TestCachePolicy(t *testing.T) {
	p := authorizer.Config{CacheTTL: 5 * time.Second, LastUsedInterval: time.Minute}.CachePolicy()
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	ago := func(d time.Duration) *time.Time { at := t0.Add(-d); return &at }
	// The draw's extremes bound every lifetime to [4/5, 1] of the TTL.
	if lo, hi := p.EntryTTL(func(n int64) int64 { return n - 1 }), p.EntryTTL(func(int64) int64 { return 0 }); lo != 4*time.Second || hi != 5*time.Second {
		t.Fatalf("EntryTTL in [%v, %v], want [4s, 5s]", lo, hi)
	}
	if p.Fresh(t0, 4*time.Second, t0.Add(4*time.Second)) || !p.Fresh(t0, 4*time.Second, t0.Add(3999*time.Millisecond)) ||
		(authorizer.CachePolicy{}).Fresh(t0, time.Hour, t0) {
		t.Fatal("Fresh")
	}
	tests := []struct {
		name   string
		last   time.Time
		seen   bool
		stored *time.Time
		trust  bool
		due    bool
		keep   time.Time
	}{
		{"first sight, never used", time.Time{}, false, nil, true, true, t0},
		{"first sight, written within the interval", time.Time{}, false, ago(10 * time.Second), true, false, t0.Add(-10 * time.Second)},
		{"first sight, written an interval ago", time.Time{}, false, ago(time.Minute), true, true, t0},
		{"first sight, stored not trusted", time.Time{}, false, ago(10 * time.Second), false, true, t0},
		{"own attempt within the interval", t0.Add(-30 * time.Second), true, nil, true, false, t0.Add(-30 * time.Second)},
		{"own attempt an interval ago, stored ignored", t0.Add(-time.Minute), true, ago(time.Second), true, true, t0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			q := p
			q.TrustStored = tt.trust
			due, keep := q.TouchDue(tt.last, tt.seen, tt.stored, t0)
			if due != tt.due || !keep.Equal(tt.keep) {
				t.Fatalf("due %v keep %v, want %v %v", due, keep, tt.due, tt.keep)
			}
		})
	}
}
