package authorizer

import "time"

// CachePolicy is what the in-function cache keeps and when a key's last use
// is written. The Authorizer runs Config.CachePolicy(); the scale model
// (infra/scalesim, docs/scale.md) runs the same methods, so its figures
// follow this code rather than a description of it. The maxCacheEntries
// bound is not part of it: the model's environments never hold that many
// keys.
type CachePolicy struct {
	// TTL is AUTH_CACHE_TTL, the longest an entry answers; 0 disables
	// the cache.
	TTL time.Duration
	// Jitter is the largest fraction of TTL an entry loses at random, so
	// environments that read a hot key together do not all read it again
	// together. It only shortens entries, so the revocation bound holds.
	Jitter float64
	// LastUsedInterval is LAST_USED_INTERVAL: an environment attempts at
	// most one last-used write per key per interval.
	LastUsedInterval time.Duration
	// TrustStored: on an environment's first sight of a key, the
	// last_used_at read with it counts as its last write, so a key another
	// environment wrote within the interval is not written again.
	TrustStored bool
}

// CacheJitter is the authorizer's Jitter: up to a fifth of the TTL, which
// keeps the number of re-reads within 12 % of none (docs/scale.md).
const CacheJitter = 0.2

// CachePolicy is the policy an Authorizer with this configuration runs.
func (c Config) CachePolicy() CachePolicy {
	return CachePolicy{TTL: c.CacheTTL, Jitter: CacheJitter, LastUsedInterval: c.LastUsedInterval, TrustStored: true}
}

// EntryTTL is the lifetime of an entry read now: TTL less a uniform draw
// from [0, Jitter×TTL]. int64n(n) draws uniformly from [0, n), as
// math/rand/v2's Int64N.
func (p CachePolicy) EntryTTL(int64n func(int64) int64) time.Duration {
	if p.TTL <= 0 {
		return 0
	}
	return p.TTL - time.Duration(int64n(int64(float64(p.TTL)*p.Jitter)+1))
}

// Fresh reports whether an entry fetched at fetched with lifetime ttl
// (from EntryTTL) still answers at now.
func (p CachePolicy) Fresh(fetched time.Time, ttl time.Duration, now time.Time) bool {
	return p.TTL > 0 && now.Sub(fetched) < ttl
}

// TouchDue reports whether a last-used write is due at now for a key this
// environment last attempted at last (seen false: never), stored being
// the last_used_at read with the key (nil: never used), and what the
// environment keeps as its last attempt from then on.
func (p CachePolicy) TouchDue(last time.Time, seen bool, stored *time.Time, now time.Time) (due bool, keep time.Time) {
	if !seen && stored != nil && p.TrustStored {
		last, seen = *stored, true
	}
	if !seen || now.Sub(last) >= p.LastUsedInterval {
		return true, now
	}
	return false, last
}
