// Package usage meters the calls of keys with usage limits (a rate limit
// per fixed window, a balance of credits) across every execution
// environment of the authorizer, with few writes.
//
// Counters are shared, in storage, per key lineage (a rotation chain
// shares one budget). An environment does not write per call: it leases a
// slice of the budget with one conditional write, which never lets the
// slices leased exceed the budget, and spends the slice locally. Slices
// shrink as the budget drains, so that what environments hold unspent when
// it runs out (the only way a call within the budget is refused) stays
// small. An exhausted window is remembered until it ends, without writes;
// exhausted credits are asked again at most once a second per environment,
// since a refill or a new balance can add credits at any time.
//
// Bounds (docs/usage-limits.md, proven against DynamoDB Local in
// shared/authorizer's metering tests):
//
//   - a window admits at most its limit, however many environments;
//   - credits never go below zero: calls admitted ≤ credits set or refilled;
//   - calls refused within the budget ≤ what environments hold unspent:
//     per environment at most ceil(limit/20) of a window (ceil(left/10)
//     near its end) and min(100, 1 % of the pool) of credits;
//   - about one write per 25 allowed calls of a busy key (limit 1,000 a
//     minute over 10 environments, BENCHMARKS.md).
//
// A lease taken under an older revision of a key is discarded when the
// authorizer sees the new one, so a change of limits or a new balance
// applies within AUTH_CACHE_TTL. Store errors are errors: the authorizer
// fails closed.
package usage

import (
	"context"
	"errors"
	"sync"
	"time"

	"github.com/keygate/keygate/shared/keygate"
)

// Store is the shared counters a Meter leases from (shared/store).
type Store interface {
	// LeaseRate leases want calls of lineage's window [start, end) if the
	// window (limit calls) still has them; else it leases nothing. left
	// is what the window has left after.
	LeaseRate(ctx context.Context, lineage string, start, end time.Time, limit, want int64) (granted, left int64, err error)
	// LeaseCredits leases want credits of lineage's pool (refilling it
	// first if a refill is due) if it holds them; else it leases nothing.
	// pool is the pool after; refillAt the next refill (zero: none).
	LeaseCredits(ctx context.Context, lineage string, want int64, now time.Time) (granted, pool int64, refillAt time.Time, err error)
}

// Verdict is a metered call's outcome. A refused call has Reason
// (keygate.ReasonRateLimited or keygate.ReasonCreditsExhausted) and
// RetryAfter, whole seconds: until the window ends (≥ 1s), or until the
// next refill (0 when there is none).
type Verdict struct {
	Allowed    bool
	Reason     string
	RetryAfter time.Duration
}

// maxAttempts bounds the leases one call asks for when other environments
// keep taking what this one sized its slice on; past it the call is an
// error, never an allow.
const maxAttempts = 8

// maxLineages bounds the leases an environment keeps; a full Meter drops
// one arbitrary lease to make room (what it held unspent is under-admitted,
// never over-admitted).
const maxLineages = 10000

// creditsRecheck is how long an environment trusts an empty pool before
// asking again: a refill or a new balance can come at any time.
const creditsRecheck = time.Second

// Meter spends metered calls for one execution environment. It is safe
// for concurrent use; calls of one lineage are serialized.
type Meter struct {
	store Store

	mu     sync.Mutex
	leases map[string]*lease
}

// NewMeter returns a Meter leasing from st.
func NewMeter(st Store) *Meter {
	return &Meter{store: st, leases: map[string]*lease{}}
}

// lease is what one environment holds of one lineage's budgets.
type lease struct {
	mu sync.Mutex
	// revs are the revisions of the lineage's keys seen since the lease
	// started (a rotation chain has one or two keys in use): a newer
	// revision of one of them discards the lease.
	revs []keyRev

	rate    rateLease
	credits creditLease
}

type rateLease struct {
	start time.Time // the window this lease is of (zero: none)
	left  int64     // calls leased, not yet spent
	known int64     // what the window had left at the last lease
	full  bool      // the window is exhausted: refuse until its end
}

type creditLease struct {
	left     int64     // credits leased, not yet spent
	known    int64     // the pool after the last lease (-1: unknown)
	empty    time.Time // when the pool was last found empty (zero: not)
	refillAt time.Time
}

// noCredits is a credit lease before the first: the pool is unknown.
var noCredits = creditLease{known: -1}

type keyRev struct {
	id  string
	rev int64
}

// maxRevs bounds lease.revs: keys of a lineage in use at once (a key and
// its successor, in the predecessor's grace period).
const maxRevs = 4

// stale reports whether key id at rev is newer than when l was leased,
// and records the revision.
func (l *lease) stale(id string, rev int64) bool {
	for i := range l.revs {
		if l.revs[i].id == id {
			return rev > l.revs[i].rev
		}
	}
	if len(l.revs) >= maxRevs {
		l.revs = l.revs[1:]
	}
	l.revs = append(l.revs, keyRev{id, rev})
	return false
}

// errNoWindow is a rate limit whose window is not a whole number of
// seconds: management refuses those, so the item is corrupt.
var errNoWindow = errors.New("rate limit window under one second")

// Spend decides one call of k (at revision rev) at now: allowed if every
// limit of k grants it. The rate limit is checked first; a call the credits
// refuse spends nothing of the window. An unmetered key is always allowed.
func (m *Meter) Spend(ctx context.Context, k *keygate.Key, rev int64, now time.Time) (Verdict, error) {
	rl, cr := k.RateLimit, k.Credits
	if rl == nil && cr == nil {
		return Verdict{Allowed: true}, nil
	}
	if rl != nil && rl.Window < time.Second {
		return Verdict{}, errNoWindow
	}
	l := m.lease(k.LineageID())
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.stale(k.ID, rev) {
		// Leased under an older revision of this key, whose limits or
		// balance may have changed since: start afresh.
		l.revs = append(l.revs[:0], keyRev{k.ID, rev})
		l.rate, l.credits = rateLease{}, noCredits
	}
	lineage := k.LineageID()
	if rl != nil {
		if v, err := l.takeRate(ctx, m.store, lineage, rl, now); err != nil || !v.Allowed {
			return v, err
		}
	}
	if cr != nil {
		if v, err := l.takeCredits(ctx, m.store, lineage, cr, now); err != nil || !v.Allowed {
			return v, err
		}
		l.credits.left--
	}
	if rl != nil {
		l.rate.left--
	}
	return Verdict{Allowed: true}, nil
}

func (m *Meter) lease(lineage string) *lease {
	m.mu.Lock()
	defer m.mu.Unlock()
	l, ok := m.leases[lineage]
	if !ok {
		if len(m.leases) >= maxLineages {
			for id := range m.leases {
				delete(m.leases, id)
				break
			}
		}
		l = &lease{credits: noCredits}
		m.leases[lineage] = l
	}
	return l
}

// takeRate makes sure l holds a call of the window at now, leasing a slice
// if it holds none; it spends nothing.
func (l *lease) takeRate(ctx context.Context, st Store, lineage string, rl *keygate.RateLimit, now time.Time) (Verdict, error) {
	start, end := rl.Span(now)
	if !l.rate.start.Equal(start) {
		// A new window: what was left of the old one's lease is not
		// carried over (it was counted in the old window).
		l.rate = rateLease{start: start, known: rl.Limit}
	}
	if l.rate.left > 0 {
		return Verdict{Allowed: true}, nil
	}
	if !l.rate.full {
		want := RateSlice(rl.Limit, l.rate.known)
		for range maxAttempts {
			granted, left, err := st.LeaseRate(ctx, lineage, start, end, rl.Limit, want)
			if err != nil {
				return Verdict{}, err
			}
			l.rate.known = left
			if granted > 0 {
				l.rate.left = granted
				return Verdict{Allowed: true}, nil
			}
			if left == 0 {
				break
			}
			// Others leased since: ask for a slice of what is left.
			want = min(want, RateSlice(rl.Limit, left))
		}
		if l.rate.known > 0 {
			return Verdict{}, keygate.Errorf(keygate.Unavailable, "rate lease contended")
		}
		l.rate.full = true
	}
	return Verdict{Reason: keygate.ReasonRateLimited, RetryAfter: max(time.Second, ceilSeconds(end.Sub(now)))}, nil
}

// takeCredits makes sure l holds a credit, leasing a slice if it holds
// none; it spends nothing.
func (l *lease) takeCredits(ctx context.Context, st Store, lineage string, cr *keygate.Credits, now time.Time) (Verdict, error) {
	c := &l.credits
	if c.left > 0 {
		return Verdict{Allowed: true}, nil
	}
	if c.empty.IsZero() || now.Sub(c.empty) >= creditsRecheck || now.Before(c.empty) {
		known := c.known
		if known < 0 {
			// Before the first lease: the balance as configured. If the
			// pool holds less, the refusal says so and the slice shrinks.
			known = cr.Remaining
		}
		want := CreditSlice(known)
		for range maxAttempts {
			granted, pool, refillAt, err := st.LeaseCredits(ctx, lineage, want, now)
			if err != nil {
				return Verdict{}, err
			}
			c.known, c.refillAt = pool, refillAt
			if granted > 0 {
				c.left, c.empty = granted, time.Time{}
				return Verdict{Allowed: true}, nil
			}
			if pool == 0 {
				break
			}
			want = min(want, CreditSlice(pool))
		}
		if c.known > 0 {
			return Verdict{}, keygate.Errorf(keygate.Unavailable, "credit lease contended")
		}
		c.empty = now
	}
	v := Verdict{Reason: keygate.ReasonCreditsExhausted}
	if !c.refillAt.IsZero() {
		v.RetryAfter = max(time.Second, ceilSeconds(c.refillAt.Sub(now)))
	}
	return v, nil
}

// RateSlice is how many calls an environment leases of a window of limit
// calls of which left are known to be left: a twentieth of the limit while
// plenty is left, a tenth of what is left near the end, at least one.
func RateSlice(limit, left int64) int64 {
	return max(1, min(ceilDiv(limit, 20), ceilDiv(left, 10)))
}

// CreditSlice is how many credits an environment leases of a pool known to
// hold pool: 1 % of it, at most 100, at least one.
func CreditSlice(pool int64) int64 {
	return max(1, min(100, pool/100))
}

func ceilDiv(a, b int64) int64 {
	if a <= 0 {
		return 0
	}
	return (a + b - 1) / b
}

// ceilSeconds rounds d up to whole seconds.
func ceilSeconds(d time.Duration) time.Duration {
	return (d + time.Second - 1).Truncate(time.Second)
}
