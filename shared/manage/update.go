package manage

import (
	"context"
	"encoding/json"
	"strconv"
	"strings"
	"time"

	"github.com/keygate/keygate/shared/keygate"
	"github.com/keygate/keygate/shared/scope"
)

// UpdateRequest is the body of PATCH /v1/keys/{id}: each member given is
// changed, each left out is kept. Tenant and ID name the key.
type UpdateRequest struct {
	Tenant string `json:"-"`
	ID     string `json:"-"`

	Name      *string  `json:"name,omitempty"`
	Enabled   *bool    `json:"enabled,omitempty"`
	Scopes    []string `json:"scopes,omitempty"`
	ExpiresAt *string  `json:"expires_at,omitempty"`
	// RateLimit and Credits set the key's limits (credits set its balance
	// too); RemoveRateLimit and RemoveCredits are a member given as null.
	RateLimit       *RateLimitRequest `json:"rate_limit,omitempty"`
	Credits         *CreditsRequest   `json:"credits,omitempty"`
	RemoveRateLimit bool              `json:"-"`
	RemoveCredits   bool              `json:"-"`
	// Meta and ExternalID replace the key's (keygate.ParseMeta,
	// keygate.CheckExternalID); RemoveMeta and RemoveExternalID are a
	// member given as null.
	Meta             json.RawMessage `json:"meta,omitempty"`
	ExternalID       *string         `json:"external_id,omitempty"`
	RemoveMeta       bool            `json:"-"`
	RemoveExternalID bool            `json:"-"`
}

// Update changes a key's name, enables or disables it, narrows its scopes,
// brings its expiry forward, sets its usage limits or its meta and
// external_id (the holder's own, for no decision: any caller that may
// change the key may set them): a key can only ever
// be made narrower or shorter-lived, never wider, its limits loosened only
// within its creator's and the caller's (changeLimits), and the change is
// audited with what was set. Credits given set the balance.
// A disabled key is refused by the authorizer like a revoked one (within
// the same revocation bound) until it is enabled again.
func (s *Service) Update(ctx context.Context, c keygate.Caller, req UpdateRequest) (*keygate.Key, error) {
	limits := req.RateLimit != nil || req.Credits != nil || req.RemoveRateLimit || req.RemoveCredits
	setMeta := len(req.Meta) > 0 || req.RemoveMeta
	setExternalID := req.ExternalID != nil || req.RemoveExternalID
	if req.Name == nil && req.Enabled == nil && req.Scopes == nil && req.ExpiresAt == nil && !limits && !setMeta && !setExternalID {
		return nil, keygate.Errorf(keygate.Invalid, "nothing to update: give name, enabled, scopes, expires_at, rate_limit, credits, meta or external_id")
	}
	if (req.RateLimit != nil && req.RemoveRateLimit) || (req.Credits != nil && req.RemoveCredits) ||
		(len(req.Meta) > 0 && req.RemoveMeta) || (req.ExternalID != nil && req.RemoveExternalID) {
		return nil, keygate.Errorf(keygate.Invalid, "give rate_limit, credits, meta and external_id at most once each")
	}
	// Checked before any read: a malformed meta costs nothing.
	meta, err := parseMeta(req.Meta)
	if err != nil {
		return nil, err
	}
	if req.ExternalID != nil {
		if err := keygate.CheckExternalID(*req.ExternalID); err != nil {
			return nil, err
		}
	}
	now := s.cfg.Now().UTC().Truncate(time.Millisecond)
	// A disabled key is inactive here, so it never re-enables itself: an
	// active key that covers it, or an operator, does.
	c, actor, err := s.authority(ctx, c, now)
	if err != nil {
		return nil, err
	}
	r, err := s.changeable(ctx, c, actor, req.Tenant, req.ID, "update", now)
	if err != nil {
		return nil, err
	}
	next := *r
	detail := map[string]string{}
	if req.Name != nil {
		if err := checkName(*req.Name); err != nil {
			return nil, err
		}
		next.Name, detail["name"] = *req.Name, *req.Name
	}
	if req.Enabled != nil {
		next.Enabled, detail["enabled"] = *req.Enabled, strconv.FormatBool(*req.Enabled)
	}
	if req.Scopes != nil {
		if next.Scopes, err = narrowerScopes(r, req.Scopes); err != nil {
			return nil, err
		}
		detail["scopes"] = strings.Join(next.Scopes, ", ")
	}
	if req.ExpiresAt != nil {
		at, err := earlierExpiry(r, *req.ExpiresAt, now)
		if err != nil {
			return nil, err
		}
		next.ExpiresAt, next.TTL = &at, at.Add(s.cfg.Retention).Unix()
		detail["expires_at"] = at.Format(time.RFC3339Nano)
	}
	if limits {
		rate, credits := r.RateLimit, r.Credits
		if req.RateLimit != nil || req.RemoveRateLimit {
			if rate, err = parseRate(req.RateLimit); err != nil {
				return nil, err
			}
			detail["rate_limit"] = describeRate(rate)
		}
		if req.Credits != nil || req.RemoveCredits {
			if credits, err = parseCredits(req.Credits); err != nil {
				return nil, err
			}
			detail["credits"] = describeCredits(credits)
		}
		if err := s.changeLimits(ctx, c, actor, r, rate, credits); err != nil {
			return nil, err
		}
		// A credits value other than r's tells the store to set the
		// balance (or end it): UpdateKey.
		next.RateLimit, next.Credits = rate, credits
	}
	if setMeta {
		// The audit detail shows the meta as set ("none": removed); it
		// is the holder's own data, never a secret of Keygate's.
		next.Meta, detail["meta"] = meta, "none"
		if meta != nil {
			detail["meta"] = string(meta)
		}
	}
	if setExternalID {
		next.ExternalID, detail["external_id"] = "", "none"
		if req.ExternalID != nil {
			next.ExternalID, detail["external_id"] = *req.ExternalID, *req.ExternalID
		}
	}
	next.Rev = r.Rev + 1
	audit := keygate.Audit{Action: keygate.ActionUpdated, KeyID: r.ID, Tenant: r.Tenant, Owner: r.Owner, Actor: c.Name(), RequestID: requestID(ctx), At: now, Rev: next.Rev, Detail: detail}
	if err := s.store.UpdateKey(ctx, r, &next, audit, now, actor); err != nil {
		return nil, err
	}
	k := s.view(&next, now)
	return &k, nil
}

// narrowerScopes checks a key's new scopes: each within one of its current
// ones (so an update never widens a key), and admin keys keep every route.
func narrowerScopes(r *keygate.Record, requested []string) ([]string, error) {
	if r.Role == keygate.Admin {
		return nil, keygate.Errorf(keygate.Invalid, "admin keys have every route; their scopes cannot change")
	}
	if len(requested) == 0 {
		return nil, keygate.Errorf(keygate.Invalid, "scopes cannot be empty; revoke or disable the key instead")
	}
	want, err := scope.ParseList(requested)
	if err != nil {
		return nil, keygate.Errorf(keygate.Invalid, "%v", err)
	}
	have, err := scope.ParseList(r.Scopes)
	if err != nil {
		return nil, err
	}
	for i, w := range want {
		if !scope.CoveredBy([]scope.Scope{w}, have) {
			return nil, keygate.Errorf(keygate.Invalid, "scopes[%d] is wider than the key's current scopes: scopes may only be narrowed", i)
		}
	}
	out := make([]string, len(want))
	for i, w := range want {
		out[i] = w.String()
	}
	return out, nil
}

// earlierExpiry parses a new expiry: in the future, and earlier than the
// current one (any future time for a key that never expires).
func earlierExpiry(r *keygate.Record, value string, now time.Time) (time.Time, error) {
	t, err := time.Parse(time.RFC3339, value)
	if err != nil {
		return time.Time{}, keygate.Errorf(keygate.Invalid, "expires_at must be an RFC 3339 time such as 2030-01-02T15:04:05Z")
	}
	at := t.UTC().Truncate(time.Millisecond)
	switch {
	case !at.After(now):
		return time.Time{}, keygate.Errorf(keygate.Invalid, "expires_at must be in the future; revoke the key to end it now")
	case r.ExpiresAt != nil && !at.Before(*r.ExpiresAt):
		return time.Time{}, keygate.Errorf(keygate.Invalid, "expires_at may only be brought forward, to before %s", r.ExpiresAt.UTC().Format(time.RFC3339))
	}
	return at, nil
}
