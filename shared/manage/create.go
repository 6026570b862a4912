package manage

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/keygate/keygate/shared/apikey"
	"github.com/keygate/keygate/shared/keygate"
	"github.com/keygate/keygate/shared/scope"
)

// CreateRequest is the body of POST /v1/keys.
type CreateRequest struct {
	// Tenant is the tenant an operator acts on; a key acts on its own.
	Tenant string `json:"-"`
	// IdempotencyKey makes the create safe to retry (the Idempotency-Key
	// header, or a direct event's idempotency_key).
	IdempotencyKey string `json:"-"`

	Owner          string       `json:"owner,omitempty"`
	Name           string       `json:"name,omitempty"`
	Type           keygate.Type `json:"type,omitempty"`
	Role           keygate.Role `json:"role,omitempty"`
	Scopes         []string     `json:"scopes,omitempty"`
	APIs           []string     `json:"apis,omitempty"`
	ExpiresAt      *string      `json:"expires_at,omitempty"`
	ExpiresInHours *int64       `json:"expires_in_hours,omitempty"`
	// RateLimit and Credits meter the key's calls; left out, they are
	// the creating key's (an operator's keys are unmetered).
	RateLimit *RateLimitRequest `json:"rate_limit,omitempty"`
	Credits   *CreditsRequest   `json:"credits,omitempty"`
	// Meta and ExternalID are the key holder's own (keygate.ParseMeta,
	// keygate.CheckExternalID); never used for a decision.
	Meta       json.RawMessage `json:"meta,omitempty"`
	ExternalID *string         `json:"external_id,omitempty"`
}

// IdempotencyWindow is how long a create can be replayed with the same
// idempotency key.
const IdempotencyWindow = 24 * time.Hour

// Create mints a key (only operators name its tenant). With an
// idempotency key, retries of the same request within IdempotencyWindow
// return the same key, token included, and write nothing.
//
// The rules run in order, each a named check below: tenant and
// idempotency key, name, type and owner, role and scopes, APIs, expiry,
// usage limits, meta and external_id. A key never gets more than its creator has now (its item
// as read in this request, not the authorizer's possibly stale context):
// not a wider role, scope or API, not looser usage limits (403), and not a
// later expiry (it is capped, and the response says so).
func (s *Service) Create(ctx context.Context, c keygate.Caller, req CreateRequest) (*Created, error) {
	now := s.cfg.Now().UTC().Truncate(time.Millisecond)
	c, actor, err := s.authority(ctx, c, now)
	if err != nil {
		return nil, err
	}
	tenant, err := tenantOf(c, req.Tenant)
	if err != nil {
		return nil, err
	}
	idempotencyKey := req.IdempotencyKey
	if err := checkIdempotencyKey(idempotencyKey); err != nil {
		return nil, err
	}
	k, capped, err := s.newKey(c, actor, tenant, now, req)
	if err != nil {
		return nil, err
	}

	var idem *keygate.Idempotency
	if idempotencyKey != "" {
		if idem, err = s.idempotency(c, tenant, "create", req, idempotencyKey, now); err != nil {
			return nil, err
		}
	}
	rec, tok, err := s.mint(&k, idem)
	if err != nil {
		return nil, fmt.Errorf("create key: %w", err)
	}
	audit := keygate.Audit{Action: keygate.ActionCreated, KeyID: k.ID, Tenant: k.Tenant, Owner: k.Owner, Actor: c.Name(), RequestID: requestID(ctx), At: now}
	replay, err := s.store.CreateKey(ctx, rec, s.limit(k.Type), now, audit, idem, actor)
	if err != nil {
		return nil, err
	}
	if replay != nil {
		return s.replay(ctx, c, idem, replay, capped)
	}
	k.Status = k.StatusAt(now)
	return &Created{Key: k, Token: tok, ExpiryCapped: capped}, nil
}

// newKey applies Create's rules to req (all but the tenant, the
// idempotency key and the token): name, type and owner, role and scopes,
// APIs, expiry, usage limits, meta and external_id. capped says the
// expiry was lowered to the creator's own.
func (s *Service) newKey(c keygate.Caller, actor *keygate.Record, tenant string, now time.Time, req CreateRequest) (keygate.Key, bool, error) {
	var err error
	k := keygate.Key{Tenant: tenant, Name: req.Name, Type: req.Type, Role: req.Role, CreatedAt: now, CreatedBy: c.Name(), Enabled: true}
	if k.Type == "" {
		k.Type = keygate.User
	}
	if k.Role == "" {
		k.Role = keygate.Viewer
	}
	if err := checkName(k.Name); err != nil {
		return k, false, err
	}
	if k.Owner, err = ownerOf(c, tenant, k.Type, req.Owner); err != nil {
		return k, false, err
	}
	if k.Scopes, err = s.scopesOf(c, k.Role, req.Scopes); err != nil {
		return k, false, err
	}
	if k.APIs, err = apisOf(c, k.Role, req.APIs); err != nil {
		return k, false, err
	}
	if k.ExpiresAt, err = s.expiry(now, req); err != nil {
		return k, false, err
	}
	if k.RateLimit, k.Credits, err = limitsOf(actor, req.RateLimit, req.Credits); err != nil {
		return k, false, err
	}
	if k.Meta, err = parseMeta(req.Meta); err != nil {
		return k, false, err
	}
	if req.ExternalID != nil {
		if err := keygate.CheckExternalID(*req.ExternalID); err != nil {
			return k, false, err
		}
		k.ExternalID = *req.ExternalID
	}
	capped := capExpiry(c, &k)
	if actor != nil {
		k.ParentLineage = actor.LineageID()
	}
	return k, capped, nil
}

// mint gives k a fresh token (its ID and hint) and returns the record that
// stores it: the verifier, never the token, and the TTL. For an idempotent
// request the token is also sealed into idem, so a replay can show it
// again.
func (s *Service) mint(k *keygate.Key, idem *keygate.Idempotency) (*keygate.Record, apikey.Token, error) {
	tok, err := s.cfg.Format.Generate(s.cfg.Random, s.cfg.Hasher)
	if err != nil {
		return nil, apikey.Token{}, err
	}
	verifier, err := s.cfg.Hasher.Verifier(tok)
	if err != nil {
		return nil, apikey.Token{}, err
	}
	k.ID, k.Hint = tok.ID(), s.cfg.Format.Hint(tok.ID())
	rec := &keygate.Record{Key: *k, Verifier: verifier}
	if k.ExpiresAt != nil {
		rec.TTL = k.ExpiresAt.Add(s.cfg.Retention).Unix()
	}
	if idem != nil {
		if idem.Sealed, err = s.cfg.Hasher.Seal([]byte(tok.Reveal()), idem.PK); err != nil {
			return nil, apikey.Token{}, err
		}
	}
	return rec, tok, nil
}

// limit is how many active keys of type t an owner (or, for service
// keys, a tenant) may hold.
func (s *Service) limit(t keygate.Type) int {
	if t == keygate.Service {
		return s.cfg.MaxServiceKeys
	}
	return s.cfg.MaxUserKeys
}

// ownerOf applies the owner rules: a user key belongs to one owner (the
// caller's own unless an admin names another), a service key to its tenant.
func ownerOf(c keygate.Caller, tenant string, t keygate.Type, requested string) (string, error) {
	switch t {
	case keygate.User:
		owner := requested
		if owner == "" {
			if c.Operator {
				return "", keygate.Errorf(keygate.Invalid, "owner is required for user keys")
			}
			owner = c.Owner
		}
		if !keygate.ValidName(owner) {
			return "", keygate.Errorf(keygate.Invalid, "owner must be 1-128 characters of letters, digits and ._@+-, starting with a letter or digit")
		}
		if owner == tenant {
			// The tenant's name is the owner of its service keys.
			return "", keygate.Errorf(keygate.Invalid, "a user key's owner cannot be the tenant's name")
		}
		if !c.IsAdmin() && owner != c.Owner {
			return "", keygate.Errorf(keygate.Forbidden, "only admin keys may create keys for another owner")
		}
		return owner, nil
	case keygate.Service:
		if !c.IsAdmin() {
			return "", keygate.Errorf(keygate.Forbidden, "only admin keys may create service keys")
		}
		if requested != "" && requested != tenant {
			return "", keygate.Errorf(keygate.Invalid, "service keys are owned by their tenant; omit owner")
		}
		return tenant, nil
	}
	return "", keygate.Errorf(keygate.Invalid, "type must be user or service")
}

// scopesOf applies the role rules: admin keys have every route and only
// admins mint them; a viewer key's scopes are within its creator's.
func (s *Service) scopesOf(c keygate.Caller, role keygate.Role, requested []string) ([]string, error) {
	switch role {
	case keygate.Admin:
		if !c.IsAdmin() {
			return nil, keygate.Errorf(keygate.Forbidden, "only admin keys may create admin keys")
		}
		if len(requested) > 0 && !(len(requested) == 1 && requested[0] == scope.All) {
			return nil, keygate.Errorf(keygate.Invalid, "admin keys have every route; omit scopes")
		}
		return []string{scope.All}, nil
	case keygate.Viewer:
		return s.viewerScopes(c, requested)
	}
	return nil, keygate.Errorf(keygate.Invalid, "role must be admin or viewer")
}

// apisOf applies the API rules (README, "Management API", Rules): a key calls only the APIs it
// names, within its creator's. Viewer keys must name them (a viewer
// creator passes on its own); admin keys default to their creator's, which
// for an operator is every API.
func apisOf(c keygate.Caller, role keygate.Role, requested []string) ([]string, error) {
	have := c.APIs
	if c.Operator {
		have = []string{keygate.AllAPIs}
	}
	if len(requested) == 0 {
		switch {
		case role == keygate.Viewer && c.IsAdmin():
			return nil, keygate.Errorf(keygate.Invalid, "apis are required for viewer keys, e.g. [\"abc123def4\"] or [\"abc123def4/prod\"]")
		case len(have) == 0:
			return nil, keygate.Errorf(keygate.Forbidden, "the creating key may call no API, so it cannot pass one on")
		}
		return slices.Clone(have), nil
	}
	if err := keygate.CheckAPIs(requested); err != nil {
		return nil, keygate.Errorf(keygate.Invalid, "%v", err)
	}
	if !keygate.APIsCovered(requested, have) {
		return nil, keygate.Errorf(keygate.Forbidden, "a key cannot have apis its creator lacks")
	}
	out := make([]string, 0, len(requested))
	for _, a := range requested {
		if !slices.Contains(out, a) {
			out = append(out, a)
		}
	}
	return out, nil
}

// capExpiry keeps a key minted by a key from outliving it, and reports
// whether it had to.
func capExpiry(c keygate.Caller, k *keygate.Key) bool {
	if c.Operator || c.ExpiresAt == nil {
		return false
	}
	if k.ExpiresAt != nil && !k.ExpiresAt.After(*c.ExpiresAt) {
		return false
	}
	at := c.ExpiresAt.UTC()
	k.ExpiresAt = &at
	return true
}

func checkIdempotencyKey(key string) error {
	if len(key) > 255 {
		return keygate.Errorf(keygate.Invalid, "idempotency key must be 1-255 printable ASCII characters")
	}
	for i := 0; i < len(key); i++ {
		if key[i] < 0x21 || key[i] > 0x7e {
			return keygate.Errorf(keygate.Invalid, "idempotency key must be 1-255 printable ASCII characters")
		}
	}
	return nil
}

// idempotency builds the record that makes a create or rotation
// replayable (the caller seals the new token into it). It is scoped to the
// tenant and the caller, so one caller's key never replays another's
// request; the token is stored only sealed with the server secret.
//
// op names the operation ("create", "rotate"), so one idempotency key
// never replays a create as a rotation or the other way round.
func (s *Service) idempotency(c keygate.Caller, tenant, op string, req any, key string, now time.Time) (*keygate.Idempotency, error) {
	scope := sha256.Sum256([]byte(c.Name() + "\x00" + key))
	// Tenant and IdempotencyKey are not in req's JSON: tenant is hashed
	// on its own, and the key is what selects this record.
	body, err := json.Marshal(struct {
		Op     string
		Tenant string
		Req    any
	}{op, tenant, req})
	if err != nil {
		return nil, fmt.Errorf("hash request: %w", err)
	}
	hash := sha256.Sum256(body)
	pk := "IDEM#" + tenant + "#" + hex.EncodeToString(scope[:])
	return &keygate.Idempotency{PK: pk, RequestHash: hex.EncodeToString(hash[:]), Expires: now.Add(IdempotencyWindow)}, nil
}

// c is the caller as it is now: a key that has been narrowed since the
// first request never sees again the token of a key it no longer covers.
func (s *Service) replay(ctx context.Context, c keygate.Caller, idem *keygate.Idempotency, r *keygate.Replay, capped bool) (*Created, error) {
	if r.RequestHash != idem.RequestHash {
		return nil, keygate.Errorf(keygate.Invalid, "idempotency key was already used for a different request")
	}
	plain, err := s.cfg.Hasher.Open(r.Sealed, idem.PK)
	if errors.Is(err, apikey.ErrRetiredSeal) {
		// The pepper that sealed the token was retired
		// (docs/pepper-rotation.md): the key stands, its token is gone.
		return nil, &keygate.Error{Code: keygate.Conflict, Err: err, Message: fmt.Sprintf(
			"this request already made key %s, but its token can no longer be shown: the server secret it was kept under has been retired; rotate the key for a new token", r.KeyID)}
	}
	if err != nil {
		return nil, fmt.Errorf("replay key %s: %w", r.KeyID, err)
	}
	tok, err := s.cfg.Format.Parse(string(plain))
	if err != nil {
		return nil, fmt.Errorf("replay key %s: %w", r.KeyID, err)
	}
	rec, err := s.store.GetKey(ctx, r.KeyID)
	if err != nil {
		return nil, fmt.Errorf("replay key %s: %w", r.KeyID, err)
	}
	if ok, err := covers(c, &rec.Key); err != nil || !ok {
		return nil, keygate.Errorf(keygate.Forbidden, "this request already made key %s, which the calling key no longer covers: its token is not shown again", r.KeyID)
	}
	return &Created{Key: s.view(rec, s.cfg.Now()), Token: tok, ExpiryCapped: capped}, nil
}

// parseMeta validates a requested meta (nil or null: none) and returns it
// compacted.
func parseMeta(raw json.RawMessage) (json.RawMessage, error) {
	if len(raw) == 0 || string(raw) == "null" {
		return nil, nil
	}
	return keygate.ParseMeta(raw)
}

func checkName(name string) error {
	if name == "" {
		return nil
	}
	if !utf8.ValidString(name) || utf8.RuneCountInString(name) > MaxNameLen {
		return keygate.Errorf(keygate.Invalid, "name must be 1-%d characters of valid UTF-8", MaxNameLen)
	}
	if strings.IndexFunc(name, unicode.IsControl) >= 0 {
		return keygate.Errorf(keygate.Invalid, "name must not contain control characters")
	}
	return nil
}

// viewerScopes checks a viewer key's scopes against its creator's: a key
// never gets a route its creator lacks. A viewer creating a key without
// scopes passes on its own; admins must say what the key is for.
func (s *Service) viewerScopes(c keygate.Caller, requested []string) ([]string, error) {
	have, err := callerScopes(c)
	if err != nil {
		return nil, err
	}
	if len(requested) == 0 {
		if c.IsAdmin() {
			return nil, keygate.Errorf(keygate.Invalid, "scopes are required for viewer keys, e.g. [\"GET /v1/whoami\"]")
		}
		requested = c.Scopes
	}
	want, err := scope.ParseList(requested)
	if err != nil {
		return nil, keygate.Errorf(keygate.Invalid, "%v", err)
	}
	if !scope.CoveredBy(want, have) {
		return nil, keygate.Errorf(keygate.Forbidden, "a key cannot have scopes its creator lacks")
	}
	out := make([]string, len(want))
	for i, w := range want {
		out[i] = w.String()
	}
	return out, nil
}

// expiry applies the expiry rules: expires_at or expires_in_hours (0 =
// never), else the default TTL (0 = never). The past is rejected.
func (s *Service) expiry(now time.Time, req CreateRequest) (*time.Time, error) {
	var at time.Time
	switch {
	case req.ExpiresAt != nil && req.ExpiresInHours != nil:
		return nil, keygate.Errorf(keygate.Invalid, "give expires_at or expires_in_hours, not both")
	case req.ExpiresAt != nil:
		t, err := time.Parse(time.RFC3339, *req.ExpiresAt)
		if err != nil {
			return nil, keygate.Errorf(keygate.Invalid, "expires_at must be an RFC 3339 time such as 2030-01-02T15:04:05Z")
		}
		at = t.UTC()
	case req.ExpiresInHours != nil:
		h := *req.ExpiresInHours
		if h < 0 || h > MaxExpiresInHour {
			return nil, keygate.Errorf(keygate.Invalid, "expires_in_hours must be between 0 (never) and %d", MaxExpiresInHour)
		}
		if h == 0 {
			return nil, nil
		}
		at = now.Add(time.Duration(h) * time.Hour)
	case s.cfg.DefaultTTL == 0:
		return nil, nil
	default:
		at = now.Add(s.cfg.DefaultTTL)
	}
	if !at.After(now) {
		return nil, keygate.Errorf(keygate.Invalid, "expiry must be in the future")
	}
	if at.After(now.Add(MaxExpiresInHour * time.Hour)) {
		return nil, keygate.Errorf(keygate.Invalid, "expiry must be within ten years; use expires_in_hours 0 for a key that never expires")
	}
	at = at.Truncate(time.Millisecond)
	return &at, nil
}
