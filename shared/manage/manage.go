// Package manage implements key management: create, list, get and revoke,
// with the rules of tenancy, roles, scopes, expiry and limits. Handlers
// translate events into these calls; the store persists the results.
package manage

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/keygate/keygate/shared/apikey"
	"github.com/keygate/keygate/shared/keygate"
	"github.com/keygate/keygate/shared/scope"
	"github.com/keygate/keygate/shared/store"
)

// Store is the storage the service needs.
type Store interface {
	CreateKey(ctx context.Context, r *store.Record, max int, now time.Time, audit store.Audit, idem *store.Idempotency) (*store.Replay, error)
	GetKey(ctx context.Context, id string) (*store.Record, error)
	ListKeys(ctx context.Context, q store.Query) ([]*store.Record, string, error)
	RevokeKey(ctx context.Context, r *store.Record, at time.Time, ttl int64, audit store.Audit) (bool, error)
}

var _ Store = (*store.Store)(nil)

// Config holds the service's settings. Zero Now and Random mean the real
// clock and crypto/rand.
type Config struct {
	Format         apikey.Format
	Hasher         *apikey.Hasher
	DefaultTTL     time.Duration // 0: keys never expire unless asked
	Retention      time.Duration // how long DynamoDB keeps a dead key
	MaxUserKeys    int
	MaxServiceKeys int
	Now            func() time.Time
	Random         io.Reader
}

// Service manages keys.
type Service struct {
	store Store
	cfg   Config
}

// New returns a Service.
func New(st Store, cfg Config) *Service {
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Random == nil {
		cfg.Random = rand.Reader
	}
	return &Service{store: st, cfg: cfg}
}

// Limits of requests.
const (
	MaxNameLen       = 100
	MaxExpiresInHour = 10 * 366 * 24 // ten years
	DefaultListLimit = 50
	MaxListLimit     = 100
)

// CreateRequest is the body of POST /v1/keys.
type CreateRequest struct {
	Owner          string       `json:"owner,omitempty"`
	Name           string       `json:"name,omitempty"`
	Type           keygate.Type `json:"type,omitempty"`
	Role           keygate.Role `json:"role,omitempty"`
	Scopes         []string     `json:"scopes,omitempty"`
	ExpiresAt      *string      `json:"expires_at,omitempty"`
	ExpiresInHours *int64       `json:"expires_in_hours,omitempty"`
}

// Created is a new key with its token: the only time the token is shown.
type Created struct {
	keygate.Key
	Token string `json:"token"`
}

type requestIDKey struct{}

// WithRequestID returns a context carrying the request ID for audit records.
func WithRequestID(ctx context.Context, id string) context.Context {
	return context.WithValue(ctx, requestIDKey{}, id)
}

func requestID(ctx context.Context) string {
	id, _ := ctx.Value(requestIDKey{}).(string)
	return id
}

// tenantOf resolves the tenant a request acts on: the caller's own, or for
// an operator the one named in the request.
func tenantOf(c keygate.Caller, tenant string) (string, error) {
	if !c.Operator {
		return c.Tenant, nil
	}
	if tenant == "" {
		return "", keygate.Errorf(keygate.Invalid, "tenant is required")
	}
	if !keygate.ValidName(tenant) {
		return "", keygate.Errorf(keygate.Invalid, "tenant must be 1-128 characters of letters, digits and ._@+-, starting with a letter or digit")
	}
	return tenant, nil
}

func callerScopes(c keygate.Caller) ([]scope.Scope, error) {
	if c.Operator || c.Role == keygate.Admin {
		return []scope.Scope{scope.MustParse(scope.All)}, nil
	}
	have, err := scope.ParseList(c.Scopes)
	if err != nil {
		return nil, fmt.Errorf("caller %s has unreadable scopes: %w", c.KeyID, err)
	}
	return have, nil
}

// IdempotencyWindow is how long a create can be replayed with the same
// idempotency key.
const IdempotencyWindow = 24 * time.Hour

// Create mints a key for tenant (only operators name the tenant). With an
// idempotency key, retries of the same request within IdempotencyWindow
// return the same key, token included, and write nothing.
func (s *Service) Create(ctx context.Context, c keygate.Caller, tenant string, req CreateRequest, idempotencyKey string) (*Created, error) {
	tenant, err := tenantOf(c, tenant)
	if err != nil {
		return nil, err
	}
	if err := checkIdempotencyKey(idempotencyKey); err != nil {
		return nil, err
	}
	now := s.cfg.Now().UTC().Truncate(time.Millisecond)
	isAdmin := c.Operator || c.Role == keygate.Admin

	k := keygate.Key{Tenant: tenant, Name: req.Name, Type: req.Type, Role: req.Role, CreatedAt: now, CreatedBy: c.Name()}
	if k.Type == "" {
		k.Type = keygate.User
	}
	if k.Role == "" {
		k.Role = keygate.Viewer
	}
	if err := checkName(k.Name); err != nil {
		return nil, err
	}
	switch k.Type {
	case keygate.User:
		k.Owner = req.Owner
		if k.Owner == "" {
			if c.Operator {
				return nil, keygate.Errorf(keygate.Invalid, "owner is required for user keys")
			}
			k.Owner = c.Owner
		}
		if !keygate.ValidName(k.Owner) {
			return nil, keygate.Errorf(keygate.Invalid, "owner must be 1-128 characters of letters, digits and ._@+-, starting with a letter or digit")
		}
		if k.Owner == tenant {
			// The tenant's name is the owner of its service keys.
			return nil, keygate.Errorf(keygate.Invalid, "a user key's owner cannot be the tenant's name")
		}
		if !isAdmin && k.Owner != c.Owner {
			return nil, keygate.Errorf(keygate.Forbidden, "only admin keys may create keys for another owner")
		}
	case keygate.Service:
		if !isAdmin {
			return nil, keygate.Errorf(keygate.Forbidden, "only admin keys may create service keys")
		}
		if req.Owner != "" && req.Owner != tenant {
			return nil, keygate.Errorf(keygate.Invalid, "service keys are owned by their tenant; omit owner")
		}
		k.Owner = tenant
	default:
		return nil, keygate.Errorf(keygate.Invalid, "type must be user or service")
	}
	switch k.Role {
	case keygate.Admin:
		if !isAdmin {
			return nil, keygate.Errorf(keygate.Forbidden, "only admin keys may create admin keys")
		}
		if len(req.Scopes) > 0 && !(len(req.Scopes) == 1 && req.Scopes[0] == scope.All) {
			return nil, keygate.Errorf(keygate.Invalid, "admin keys have every route; omit scopes")
		}
		k.Scopes = []string{scope.All}
	case keygate.Viewer:
		if k.Scopes, err = s.viewerScopes(c, req.Scopes); err != nil {
			return nil, err
		}
	default:
		return nil, keygate.Errorf(keygate.Invalid, "role must be admin or viewer")
	}
	if k.ExpiresAt, err = s.expiry(now, req); err != nil {
		return nil, err
	}

	tok, err := s.cfg.Format.Generate(s.cfg.Random, s.cfg.Hasher)
	if err != nil {
		return nil, fmt.Errorf("create key: %w", err)
	}
	verifier, err := s.cfg.Hasher.Verifier(tok)
	if err != nil {
		return nil, fmt.Errorf("create key: %w", err)
	}
	k.ID = tok.ID()
	k.Hint = s.cfg.Format.Hint(k.ID)
	rec := &store.Record{Key: k, Verifier: verifier}
	if k.ExpiresAt != nil {
		rec.TTL = k.ExpiresAt.Add(s.cfg.Retention).Unix()
	}
	limit := s.cfg.MaxUserKeys
	if k.Type == keygate.Service {
		limit = s.cfg.MaxServiceKeys
	}
	audit := store.Audit{Action: "create", KeyID: k.ID, Tenant: k.Tenant, Owner: k.Owner, Actor: c.Name(), RequestID: requestID(ctx), At: now}
	var idem *store.Idempotency
	if idempotencyKey != "" {
		if idem, err = s.idempotency(c, tenant, req, idempotencyKey, tok, now); err != nil {
			return nil, err
		}
	}
	replay, err := s.store.CreateKey(ctx, rec, limit, now, audit, idem)
	if err != nil {
		return nil, err
	}
	if replay != nil {
		return s.replay(ctx, idem, replay)
	}
	k.Status = k.StatusAt(now)
	return &Created{Key: k, Token: tok.Reveal()}, nil
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

// idempotency builds the record that makes this create replayable. It is
// scoped to the tenant and the caller, so one caller's key never replays
// another's create; the token is stored only sealed with the server secret.
func (s *Service) idempotency(c keygate.Caller, tenant string, req CreateRequest, key string, tok apikey.Token, now time.Time) (*store.Idempotency, error) {
	scope := sha256.Sum256([]byte(c.Name() + "\x00" + key))
	body, err := json.Marshal(struct {
		Tenant string
		Req    CreateRequest
	}{tenant, req})
	if err != nil {
		return nil, fmt.Errorf("hash request: %w", err)
	}
	hash := sha256.Sum256(body)
	pk := "IDEM#" + tenant + "#" + hex.EncodeToString(scope[:])
	sealed, err := s.cfg.Hasher.Seal(tok, pk)
	if err != nil {
		return nil, err
	}
	return &store.Idempotency{PK: pk, RequestHash: hex.EncodeToString(hash[:]), Sealed: sealed, Expires: now.Add(IdempotencyWindow)}, nil
}

func (s *Service) replay(ctx context.Context, idem *store.Idempotency, r *store.Replay) (*Created, error) {
	if r.RequestHash != idem.RequestHash {
		return nil, keygate.Errorf(keygate.Invalid, "idempotency key was already used for a different request")
	}
	tok, err := s.cfg.Hasher.Open(r.Sealed, idem.PK, s.cfg.Format)
	if err != nil {
		return nil, fmt.Errorf("replay key %s: %w", r.KeyID, err)
	}
	rec, err := s.store.GetKey(ctx, r.KeyID)
	if err != nil {
		return nil, fmt.Errorf("replay key %s: %w", r.KeyID, err)
	}
	return &Created{Key: s.view(rec, s.cfg.Now()), Token: tok.Reveal()}, nil
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
		if c.Operator || c.Role == keygate.Admin {
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

// ListRequest selects keys. Tenant is for operators only.
type ListRequest struct {
	Tenant string
	Owner  string
	Status keygate.Status
	Limit  int
	Cursor string
}

// List is a page of keys.
type List struct {
	Keys       []keygate.Key `json:"keys"`
	NextCursor *string       `json:"next_cursor"`
}

// List returns keys: admins and operators see the tenant, others their own.
func (s *Service) List(ctx context.Context, c keygate.Caller, req ListRequest) (*List, error) {
	tenant, err := tenantOf(c, req.Tenant)
	if err != nil {
		return nil, err
	}
	owner := req.Owner
	if owner != "" && !keygate.ValidName(owner) {
		return nil, keygate.Errorf(keygate.Invalid, "owner is not a valid owner name")
	}
	var mine func(*store.Record) bool
	if !c.Operator && c.Role != keygate.Admin {
		if owner != "" && owner != c.Owner {
			return nil, keygate.Errorf(keygate.Forbidden, "viewer keys may only list their own keys")
		}
		owner = c.Owner
		mine = func(r *store.Record) bool { return ownKey(c, r) }
	}
	switch req.Status {
	case "", keygate.Active, keygate.Revoked, keygate.Expired:
	default:
		return nil, keygate.Errorf(keygate.Invalid, "status must be active, revoked or expired")
	}
	limit := req.Limit
	if limit == 0 {
		limit = DefaultListLimit
	}
	if limit < 1 || limit > MaxListLimit {
		return nil, keygate.Errorf(keygate.Invalid, "limit must be between 1 and %d", MaxListLimit)
	}
	now := s.cfg.Now()
	q := store.Query{Tenant: tenant, Owner: owner, Limit: limit, Cursor: req.Cursor}
	if req.Status != "" || mine != nil {
		q.Keep = func(r *store.Record) bool {
			return (req.Status == "" || r.StatusAt(now) == req.Status) && (mine == nil || mine(r))
		}
	}
	recs, next, err := s.store.ListKeys(ctx, q)
	if err != nil {
		return nil, err
	}
	out := &List{Keys: make([]keygate.Key, 0, len(recs))}
	for _, r := range recs {
		out.Keys = append(out.Keys, s.view(r, now))
	}
	if next != "" {
		out.NextCursor = &next
	}
	return out, nil
}

// view is the caller-facing metadata of a record: no verifier, status derived.
func (s *Service) view(r *store.Record, now time.Time) keygate.Key {
	k := r.Key
	k.Status = k.StatusAt(now)
	return k
}

// visible reads a key the caller may see. Keys of other tenants, and for
// viewers keys of other owners, are NotFound: existence is never revealed.
func (s *Service) visible(ctx context.Context, c keygate.Caller, tenant, id string) (*store.Record, error) {
	tenant, err := tenantOf(c, tenant)
	if err != nil {
		return nil, err
	}
	if !apikey.ValidID(id) {
		return nil, keygate.Errorf(keygate.NotFound, "key not found")
	}
	r, err := s.store.GetKey(ctx, id)
	if err != nil {
		return nil, err
	}
	if r.Tenant != tenant || (!c.Operator && c.Role != keygate.Admin && !ownKey(c, r)) {
		return nil, keygate.Errorf(keygate.NotFound, "key not found")
	}
	return r, nil
}

// ownKey reports whether a viewer caller may see r: its owner's user keys,
// or for a viewer service key only itself. (Service keys are owned by the
// tenant, so comparing owners alone would hand a viewer service key every
// service key of its tenant, admin ones included.)
func ownKey(c keygate.Caller, r *store.Record) bool {
	if c.Type == keygate.Service {
		return r.ID == c.KeyID
	}
	return r.Type == keygate.User && r.Owner == c.Owner
}

// Get returns one key's metadata.
func (s *Service) Get(ctx context.Context, c keygate.Caller, tenant, id string) (*keygate.Key, error) {
	r, err := s.visible(ctx, c, tenant, id)
	if err != nil {
		return nil, err
	}
	k := s.view(r, s.cfg.Now())
	return &k, nil
}

// Revoke revokes a key. Revoking a revoked key changes nothing and is not
// an error.
func (s *Service) Revoke(ctx context.Context, c keygate.Caller, tenant, id string) (*keygate.Key, error) {
	r, err := s.visible(ctx, c, tenant, id)
	if err != nil {
		return nil, err
	}
	if r.RevokedAt != nil {
		k := s.view(r, s.cfg.Now())
		return &k, nil
	}
	now := s.cfg.Now().UTC().Truncate(time.Millisecond)
	ttl := now.Add(s.cfg.Retention).Unix()
	if r.TTL > 0 && r.TTL < ttl {
		ttl = r.TTL
	}
	audit := store.Audit{Action: "revoke", KeyID: r.ID, Tenant: r.Tenant, Owner: r.Owner, Actor: c.Name(), RequestID: requestID(ctx), At: now}
	changed, err := s.store.RevokeKey(ctx, r, now, ttl, audit)
	if err != nil {
		return nil, fmt.Errorf("revoke key %s: %w", id, err)
	}
	if !changed {
		// Someone revoked it between our read and our write: report theirs.
		if r, err = s.store.GetKey(ctx, id); err != nil {
			return nil, err
		}
	} else {
		r.RevokedAt = &now
		r.TTL = ttl
	}
	k := s.view(r, s.cfg.Now())
	return &k, nil
}
