package manage

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/keygate/keygate/shared/keygate"
)

// MaxGraceSeconds bounds a rotation's grace period: seven days.
const MaxGraceSeconds = 7 * 24 * 60 * 60

// RotateRequest names the key to rotate. Tenant is for operators only.
type RotateRequest struct {
	Tenant         string `json:"-"`
	ID             string `json:"-"`
	IdempotencyKey string `json:"-"`
	// GraceSeconds is how long the old key keeps working: 0 (the default)
	// ends it now.
	GraceSeconds *int64 `json:"grace_seconds,omitempty"`
}

// Rotate replaces a key with a new one of the same owner, type, role,
// scopes, APIs and name, whose token is shown once, and makes the old key
// expire after the grace period (never later than it would have). All of it
// is one transaction, audited on both keys; a key is rotated at most once
// (N parallel rotations: one succeeds, the others get 409).
//
// The new key lives as long as the old one was made to (expires_at minus
// created_at, from now; never if the old key never expires), capped at the
// caller's own expiry like any key minted by a key. It takes the old key's
// slot, so a key in its grace period never blocks its successor under the
// per-owner limit. Keys minted from the old key stay linked to it: a
// cascade from the old key still reaches them.
func (s *Service) Rotate(ctx context.Context, c keygate.Caller, req RotateRequest) (*Created, error) {
	if err := checkIdempotencyKey(req.IdempotencyKey); err != nil {
		return nil, err
	}
	var grace int64
	if req.GraceSeconds != nil {
		grace = *req.GraceSeconds
	}
	if grace < 0 || grace > MaxGraceSeconds {
		return nil, keygate.Errorf(keygate.Invalid, "grace_seconds must be between 0 and %d (seven days)", MaxGraceSeconds)
	}
	now := s.cfg.Now().UTC().Truncate(time.Millisecond)
	c, actor, err := s.authority(ctx, c, now)
	if err != nil {
		return nil, err
	}
	var idem *keygate.Idempotency
	if req.IdempotencyKey != "" {
		// A retry of a rotation that committed finds the key already
		// rotated: answer it from the idempotency record first.
		tenant, err := tenantOf(c, req.Tenant)
		if err != nil {
			return nil, err
		}
		idem, err = s.idempotency(c, tenant, "rotate", struct {
			ID    string
			Grace int64
		}{req.ID, grace}, req.IdempotencyKey, now)
		if err != nil {
			return nil, err
		}
		replay, err := s.store.Replay(ctx, idem.PK, now)
		if err != nil {
			return nil, err
		}
		if replay != nil {
			return s.replay(ctx, c, idem, replay, false)
		}
	}
	old, err := s.changeable(ctx, c, actor, req.Tenant, req.ID, "rotate", now)
	if err != nil {
		return nil, err
	}
	switch {
	case old.RotatedTo != "":
		return nil, keygate.Errorf(keygate.Conflict, "the key was already rotated, to %s; rotate that key instead", old.RotatedTo)
	case old.StatusAt(now) == keygate.Disabled:
		return nil, keygate.Errorf(keygate.Conflict, "the key is disabled; enable it before rotating it")
	}

	// The successor takes the old key's place in its lineage (created_by
	// stays the key that minted it, so a cascade from that key reaches the
	// successor; the rotator is in the audit record), and never outlives
	// that key or the caller.
	next := old.Key
	next.CreatedAt, next.RotatedFrom, next.RotatedTo = now, old.ID, ""
	next.LastUsedAt, next.Rev, next.Enabled = nil, 0, true
	// A rotated imported key's successor has a Keygate token: the point
	// of rotating it.
	next.Imported = false
	// The successor joins the old key's rotation chain (ParentLineage,
	// like created_by, stays the minting key's).
	next.Lineage = old.LineageID()
	if old.ExpiresAt != nil {
		at := now.Add(old.ExpiresAt.Sub(old.CreatedAt))
		next.ExpiresAt = &at
	}
	capped := capExpiry(c, &next)
	if parent, ok := strings.CutPrefix(old.CreatedBy, "key:"); ok {
		p, err := s.currentKey(ctx, parent)
		switch {
		case err != nil:
			return nil, fmt.Errorf("rotate key %s: read its creator: %w", old.ID, err)
		case p == nil:
		case p.ExpiresAt != nil && !now.Before(*p.ExpiresAt):
			return nil, keygate.Errorf(keygate.Conflict, "the key that minted this one (%s) has expired, and a successor may not outlive it: create a new key instead", p.ID)
		case p.ExpiresAt != nil && (next.ExpiresAt == nil || next.ExpiresAt.After(*p.ExpiresAt)):
			at := *p.ExpiresAt
			next.ExpiresAt, capped = &at, true
		}
	}
	rec, tok, err := s.mint(&next, idem)
	if err != nil {
		return nil, fmt.Errorf("rotate key %s: %w", old.ID, err)
	}

	oldExpires := now.Add(time.Duration(grace) * time.Second)
	if old.ExpiresAt != nil && old.ExpiresAt.Before(oldExpires) {
		oldExpires = *old.ExpiresAt
	}
	by, rid := c.Name(), requestID(ctx)
	audits := []keygate.Audit{
		{Action: keygate.ActionRotated, KeyID: old.ID, Tenant: old.Tenant, Owner: old.Owner, Actor: by, RequestID: rid, At: now,
			Detail: map[string]string{"rotated_to": next.ID, "grace_seconds": strconv.FormatInt(grace, 10)}},
		{Action: keygate.ActionCreated, KeyID: next.ID, Tenant: next.Tenant, Owner: next.Owner, Actor: by, RequestID: rid, At: now,
			Detail: map[string]string{"rotated_from": old.ID}},
	}
	replay, err := s.store.RotateKey(ctx, old, rec, oldExpires, oldExpires.Add(s.cfg.Retention).Unix(), s.limit(old.Type), now, audits, idem, actor)
	if err != nil {
		return nil, err
	}
	if replay != nil {
		return s.replay(ctx, c, idem, replay, capped)
	}
	next.Status = next.StatusAt(now)
	return &Created{Key: next, Token: tok, ExpiryCapped: capped}, nil
}

// maxChain bounds how far currentKey follows a rotation chain: each link is
// one read, and a chain is as long as its key was rotated.
const maxChain = 16

// currentKey reads key id and follows its rotated_to links to the chain's
// current key: the minting key a successor is capped by is the one its
// creator became, not the creator's rotated item, which expires with its
// grace. nil if the chain's items are gone (DynamoDB's TTL).
func (s *Service) currentKey(ctx context.Context, id string) (*keygate.Record, error) {
	var last *keygate.Record
	for range maxChain {
		r, err := s.store.GetKey(ctx, id)
		if keygate.ErrorCode(err) == keygate.NotFound {
			return last, nil
		}
		if err != nil {
			return nil, err
		}
		if last = r; r.RotatedTo == "" {
			return r, nil
		}
		id = r.RotatedTo
	}
	return last, nil
}

// coverable reads a key the caller can see and whose role, scopes, APIs
// and expiry it covers: the keys it may revoke, rotate or update. A key
// acting on itself gets its own item as read for its authority (actor), so
// the write is conditioned on the one revision both decisions saw.
func (s *Service) coverable(ctx context.Context, c keygate.Caller, actor *keygate.Record, tenant, id, verb string) (*keygate.Record, error) {
	r, err := s.visible(ctx, c, tenant, id)
	if err != nil {
		return nil, err
	}
	if actor != nil && r.ID == actor.ID {
		r = actor
	}
	ok, err := covers(c, &r.Key)
	if err != nil {
		return nil, err
	}
	if !ok {
		return nil, keygate.Errorf(keygate.Forbidden, "a key may only %s keys whose role, scopes, apis and expiry it covers", verb)
	}
	return r, nil
}

// changeable reads a key the caller may change: one it can see, whose role,
// scopes, APIs and expiry it covers, and that is neither revoked nor
// expired. verb names the change for the messages.
func (s *Service) changeable(ctx context.Context, c keygate.Caller, actor *keygate.Record, tenant, id, verb string, now time.Time) (*keygate.Record, error) {
	r, err := s.coverable(ctx, c, actor, tenant, id, verb)
	if err != nil {
		return nil, err
	}
	switch r.StatusAt(now) {
	case keygate.Revoked:
		return nil, keygate.Errorf(keygate.Conflict, "the key is revoked; a revoked key cannot be changed or rotated")
	case keygate.Expired:
		return nil, keygate.Errorf(keygate.Conflict, "the key has expired; an expired key cannot be changed or rotated")
	}
	return r, nil
}
