package keygate

import (
	"context"
	"fmt"
	"time"
)

// Authority reads the calling key's item now (get: a strongly consistent
// read; NotFound if it is gone) and returns the caller as that item says it
// is (ActingAs) with the item for the write to be conditioned on. An
// operator, whom IAM vouches for, is returned as is, with no item.
func Authority(ctx context.Context, c Caller, now time.Time, get func(context.Context, string) (*Record, error)) (Caller, *Record, error) {
	if c.Operator {
		return c, nil, nil
	}
	r, err := get(ctx, c.KeyID)
	if ErrorCode(err) == NotFound {
		return Caller{}, nil, Errorf(Unauthorized, "the calling key no longer exists")
	}
	if err != nil {
		return Caller{}, nil, fmt.Errorf("read the calling key %s: %w", c.KeyID, err)
	}
	cur, err := r.ActingAs(c, now)
	if err != nil {
		return Caller{}, nil, err
	}
	return cur, r, nil
}

// ActingAs is the caller a mutation decides with: c as its key's item r,
// read now, says it is. The authorizer's context (c) may be up to its
// cache TTL old, so role, scopes, APIs and expiry come from r, and a key
// that is revoked, expired, disabled or in a rotation's grace acts on
// nothing. The request c was admitted for must still be within r's APIs
// (its scopes are the caller's to check: keygate does not parse them).
func (r *Record) ActingAs(c Caller, now time.Time) (Caller, error) {
	if r.ID != c.KeyID || r.Tenant != c.Tenant {
		return Caller{}, Errorf(Unauthorized, "the calling key no longer exists")
	}
	switch r.StatusAt(now) {
	case Revoked:
		return Caller{}, Errorf(Unauthorized, "the calling key is revoked")
	case Expired:
		return Caller{}, Errorf(Unauthorized, "the calling key has expired")
	case Disabled:
		return Caller{}, Errorf(Unauthorized, "the calling key is disabled")
	}
	if r.RotatedTo != "" {
		// It was replaced, most often because it leaked: its grace lets
		// clients move, it does not let its holder manage anything,
		// least of all its successor.
		return Caller{}, Errorf(Forbidden, "the calling key was rotated (to %s): in its grace period it still calls APIs but manages nothing; use its successor", r.RotatedTo)
	}
	if c.Request.Method != "" && (c.Request.API == "" || !APIAllowed(r.APIs, c.Request.API, c.Request.Stage)) {
		return Caller{}, Errorf(Forbidden, "the calling key may no longer call this API")
	}
	return Caller{
		KeyID: r.ID, Tenant: r.Tenant, Owner: r.Owner, Type: r.Type, Role: r.Role,
		Scopes: r.Scopes, APIs: r.APIs, ExpiresAt: r.ExpiresAt, Request: c.Request,
	}, nil
}

// Covers reports whether c may act on k beyond its scopes: k's role is no
// higher than c's, its APIs are within c's, and it expires no later than
// c. Operators cover everything; scopes are checked by the caller (keygate
// does not parse them).
func (c Caller) Covers(k *Key) bool {
	if c.Operator {
		return true
	}
	if k.Role == Admin && c.Role != Admin {
		return false
	}
	if !APIsCovered(k.APIs, c.APIs) {
		return false
	}
	return c.ExpiresAt == nil || (k.ExpiresAt != nil && !k.ExpiresAt.After(*c.ExpiresAt))
}
