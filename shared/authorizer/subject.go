package authorizer

import "github.com/keygate/keygate/shared/keygate"

// Subject is the key an Allow or a Deny is about: a valid key, whether or
// not it may make this call. An Unauthorized decision has none, even when
// a key was read (a wrong secret, a revoked key): what is stored about a
// key is told only to a holder of its token. The key is the cached
// entry's, shared by every decision on it until it is re-read, so callers
// must not modify it (or its slices).
//
// It is what shared/middleware builds its request identity from, without
// a second read or a copy of the checks.
func (d Decision) Subject() (*keygate.Key, bool) {
	if d.Outcome == Unauthorized || d.entry == nil || !d.entry.found {
		return nil, false
	}
	return &d.entry.key, true
}
