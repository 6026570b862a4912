package manage

import (
	"context"
	"fmt"
	"time"

	"github.com/keygate/keygate/shared/keygate"
)

// ListRequest selects keys. Tenant is for operators only.
type ListRequest struct {
	Tenant string
	Owner  string
	// ExternalID selects the keys with this external_id ("" for any).
	ExternalID string
	Status     keygate.Status
	Limit      int
	Cursor     string
}

// List is a page of keys.
type List struct {
	Keys       []keygate.Key `json:"keys"`
	NextCursor *string       `json:"next_cursor"`
}

// List returns keys: admins and operators see the tenant, others their own.
//
// Cursors are sealed (AES-GCM keyed from the pepper) and bound to the
// listing they continue: tenant, owner and status filter, and caller. A
// cursor is opaque, cannot be forged or moved to another listing (that is
// a 400), and only ever holds the position of a key the caller could see.
// With an external_id the listing is of the keys holding it (storage pages
// over its own index for them, with cursors of their own form).
func (s *Service) List(ctx context.Context, c keygate.Caller, req ListRequest) (*List, error) {
	tenant, err := tenantOf(c, req.Tenant)
	if err != nil {
		return nil, err
	}
	owner := req.Owner
	if owner != "" && !keygate.ValidName(owner) {
		return nil, keygate.Errorf(keygate.Invalid, "owner is not a valid owner name")
	}
	if !c.IsAdmin() && owner != "" && owner != c.Owner {
		return nil, keygate.Errorf(keygate.Forbidden, "viewer keys may only list their own keys")
	}
	switch req.Status {
	case "", keygate.Active, keygate.Revoked, keygate.Expired, keygate.Disabled:
	default:
		return nil, keygate.Errorf(keygate.Invalid, "status must be active, disabled, revoked or expired")
	}
	if req.ExternalID != "" {
		if err := keygate.CheckExternalID(req.ExternalID); err != nil {
			return nil, err
		}
	}
	limit, err := pageLimit(req.Limit)
	if err != nil {
		return nil, err
	}
	now := s.cfg.Now()
	if !c.IsAdmin() && c.Type == keygate.Service {
		// A viewer service key sees only itself (see ownKey): answered
		// without a query, so no listing ever passes over keys it may not
		// see, and no cursor can come from one.
		return s.listSelf(ctx, c, tenant, req.Status, req.ExternalID, now)
	}
	if !c.IsAdmin() {
		// Within one owner's partition of GSI1 every key is the owner's
		// own user key: all visible.
		owner = c.Owner
	}
	binding := cursorBinding(c, tenant, owner, req.Status, req.ExternalID)
	q := keygate.KeyQuery{Tenant: tenant, Owner: owner, ExternalID: req.ExternalID, Status: req.Status, At: now, Limit: limit}
	if q.Cursor, err = s.openCursor(req.Cursor, binding); err != nil {
		return nil, err
	}
	recs, next, err := s.store.ListKeys(ctx, q)
	if err != nil {
		return nil, err
	}
	out := &List{Keys: make([]keygate.Key, 0, len(recs))}
	for _, r := range recs {
		k := s.view(r, now)
		// Like every listing (GSI1 carries no limits): limits are shown
		// by get and whoami.
		k.RateLimit, k.Credits = nil, nil
		out.Keys = append(out.Keys, k)
	}
	if out.NextCursor, err = s.sealCursor(next, binding); err != nil {
		return nil, fmt.Errorf("list keys: %w", err)
	}
	return out, nil
}

// pageLimit is a listing's page size: DefaultListLimit unless asked, at
// most MaxListLimit.
func pageLimit(n int) (int, error) {
	if n == 0 {
		return DefaultListLimit, nil
	}
	if n < 1 || n > MaxListLimit {
		return 0, keygate.Errorf(keygate.Invalid, "limit must be between 1 and %d", MaxListLimit)
	}
	return n, nil
}

// openCursor reads a client's cursor ("" for the first page). Cursors are
// sealed to their binding, so one can neither be forged nor continue
// another caller's or another filter's listing.
func (s *Service) openCursor(cursor, binding string) (string, error) {
	if cursor == "" {
		return "", nil
	}
	plain, err := s.cfg.Hasher.Open(cursor, binding)
	if err != nil {
		return "", keygate.Errorf(keygate.Invalid, "cursor is not valid for this listing")
	}
	return string(plain), nil
}

// sealCursor is the cursor a client gets for the store's next position:
// nil when the listing is complete.
func (s *Service) sealCursor(next, binding string) (*string, error) {
	if next == "" {
		return nil, nil
	}
	sealed, err := s.cfg.Hasher.Seal([]byte(next), binding)
	if err != nil {
		return nil, err
	}
	return &sealed, nil
}

// cursorBinding is what a cursor is sealed to: it continues only the
// listing that made it. (The external_id is appended only when given, so
// the cursors of listings without one stay as they were.)
func cursorBinding(c keygate.Caller, tenant, owner string, status keygate.Status, externalID string) string {
	b := "cursor\x00" + c.Name() + "\x00" + tenant + "\x00" + owner + "\x00" + string(status)
	if externalID != "" {
		b += "\x00external_id\x00" + externalID
	}
	return b
}

func (s *Service) listSelf(ctx context.Context, c keygate.Caller, tenant string, status keygate.Status, externalID string, now time.Time) (*List, error) {
	out := &List{Keys: []keygate.Key{}}
	r, err := s.store.GetKey(ctx, c.KeyID)
	switch {
	case keygate.ErrorCode(err) == keygate.NotFound:
		return out, nil
	case err != nil:
		return nil, err
	}
	if r.Tenant == tenant && (status == "" || r.StatusAt(now) == status) && (externalID == "" || r.ExternalID == externalID) {
		k := s.view(r, now)
		// Like every listing (GSI1 carries no limits): limits are shown
		// by get and whoami.
		k.RateLimit, k.Credits = nil, nil
		out.Keys = append(out.Keys, k)
	}
	return out, nil
}

// GetRequest names a key. Tenant is for operators only.
type GetRequest struct {
	Tenant string
	ID     string
}

// Get returns one key's metadata and, for a metered key, its usage: what
// is left of its current rate window and of its credits.
func (s *Service) Get(ctx context.Context, c keygate.Caller, req GetRequest) (*keygate.Key, error) {
	r, err := s.visible(ctx, c, req.Tenant, req.ID)
	if err != nil {
		return nil, err
	}
	now := s.cfg.Now()
	k := s.view(r, now)
	if k.Usage, err = s.store.Usage(ctx, &k, now); err != nil {
		return nil, fmt.Errorf("get key %s: %w", k.ID, err)
	}
	return &k, nil
}
