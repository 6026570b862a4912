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
	"errors"
	"fmt"
	"io"
	"log/slog"
	"slices"
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
	RevokeKeys(ctx context.Context, at time.Time, revs []store.Revocation) error
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
	APIs           []string     `json:"apis,omitempty"`
	ExpiresAt      *string      `json:"expires_at,omitempty"`
	ExpiresInHours *int64       `json:"expires_in_hours,omitempty"`
}

// Created is a new key with its token: the only time the token is shown.
// Its JSON is the create response and carries the token; every other way
// of printing it (fmt verbs, slog) leaves the token out.
type Created struct {
	keygate.Key
	Token string `json:"token"`
	// ExpiryCapped says expires_at was lowered to the creating key's own:
	// a key never outlives the key that minted it.
	ExpiryCapped bool `json:"expiry_capped,omitempty"`
}

// Format prints the key's ID and a placeholder for the token, whatever
// the verb.
func (c Created) Format(f fmt.State, verb rune) {
	fmt.Fprintf(f, "{id:%s token:[token]}", c.ID)
}

// LogValue keeps the token out of structured logs.
func (c Created) LogValue() slog.Value {
	return slog.GroupValue(slog.String("id", c.ID), slog.String("token", "[token]"))
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
	if c.IsAdmin() {
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
//
// The rules run in order, each a named check below: tenant and
// idempotency key, name, type and owner, role and scopes, APIs, expiry.
// A key never gets more than its creator has: not a wider role, scope or
// API, and not a later expiry (it is capped, and the response says so).
func (s *Service) Create(ctx context.Context, c keygate.Caller, tenant string, req CreateRequest, idempotencyKey string) (*Created, error) {
	tenant, err := tenantOf(c, tenant)
	if err != nil {
		return nil, err
	}
	if err := checkIdempotencyKey(idempotencyKey); err != nil {
		return nil, err
	}
	now := s.cfg.Now().UTC().Truncate(time.Millisecond)
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
	if k.Owner, err = ownerOf(c, tenant, k.Type, req.Owner); err != nil {
		return nil, err
	}
	if k.Scopes, err = s.scopesOf(c, k.Role, req.Scopes); err != nil {
		return nil, err
	}
	if k.APIs, err = apisOf(c, k.Role, req.APIs); err != nil {
		return nil, err
	}
	if k.ExpiresAt, err = s.expiry(now, req); err != nil {
		return nil, err
	}
	capped := capExpiry(c, &k)

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
		return s.replay(ctx, idem, replay, capped)
	}
	k.Status = k.StatusAt(now)
	return &Created{Key: k, Token: tok.Reveal(), ExpiryCapped: capped}, nil
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

// apisOf applies the API rules (SPEC §9): a key calls only the APIs it
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
	sealed, err := s.cfg.Hasher.Seal([]byte(tok.Reveal()), pk)
	if err != nil {
		return nil, err
	}
	return &store.Idempotency{PK: pk, RequestHash: hex.EncodeToString(hash[:]), Sealed: sealed, Expires: now.Add(IdempotencyWindow)}, nil
}

func (s *Service) replay(ctx context.Context, idem *store.Idempotency, r *store.Replay, capped bool) (*Created, error) {
	if r.RequestHash != idem.RequestHash {
		return nil, keygate.Errorf(keygate.Invalid, "idempotency key was already used for a different request")
	}
	plain, err := s.cfg.Hasher.Open(r.Sealed, idem.PK)
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
	return &Created{Key: s.view(rec, s.cfg.Now()), Token: tok.Reveal(), ExpiryCapped: capped}, nil
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
//
// Cursors are sealed (AES-GCM keyed from the pepper) and bound to the
// listing they continue: tenant, owner and status filter, and caller. A
// cursor is opaque, cannot be forged or moved to another listing (that is
// a 400), and only ever holds the position of a key the caller could see.
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
	if !c.IsAdmin() && c.Type == keygate.Service {
		// A viewer service key sees only itself (see ownKey): answered
		// without a query, so no listing ever passes over keys it may not
		// see, and no cursor can come from one.
		return s.listSelf(ctx, c, tenant, req.Status, now)
	}
	if !c.IsAdmin() {
		// Within one owner's partition of GSI1 every key is the owner's
		// own user key: all visible.
		owner = c.Owner
	}
	binding := cursorBinding(c, tenant, owner, req.Status)
	q := store.Query{Tenant: tenant, Owner: owner, Limit: limit}
	if req.Cursor != "" {
		plain, err := s.cfg.Hasher.Open(req.Cursor, binding)
		if err != nil {
			return nil, keygate.Errorf(keygate.Invalid, "cursor is not valid for this listing")
		}
		q.Cursor = string(plain)
	}
	if req.Status != "" {
		q.Keep = func(r *store.Record) bool { return r.StatusAt(now) == req.Status }
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
		sealed, err := s.cfg.Hasher.Seal([]byte(next), binding)
		if err != nil {
			return nil, fmt.Errorf("list keys: %w", err)
		}
		out.NextCursor = &sealed
	}
	return out, nil
}

// cursorBinding is what a cursor is sealed to: it continues only the
// listing that made it.
func cursorBinding(c keygate.Caller, tenant, owner string, status keygate.Status) string {
	return "cursor\x00" + c.Name() + "\x00" + tenant + "\x00" + owner + "\x00" + string(status)
}

func (s *Service) listSelf(ctx context.Context, c keygate.Caller, tenant string, status keygate.Status, now time.Time) (*List, error) {
	out := &List{Keys: []keygate.Key{}}
	r, err := s.store.GetKey(ctx, c.KeyID)
	switch {
	case keygate.ErrorCode(err) == keygate.NotFound:
		return out, nil
	case err != nil:
		return nil, err
	}
	if r.Tenant == tenant && (status == "" || r.StatusAt(now) == status) {
		out.Keys = append(out.Keys, s.view(r, now))
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
	if r.Tenant != tenant || (!c.IsAdmin() && !ownKey(c, r)) {
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

// covers reports whether c may change k (revoke it now; later rotate or
// update it): only a key whose role, scopes and APIs c covers, so a narrow
// viewer key cannot revoke its owner's admin key or a wider sibling.
func covers(c keygate.Caller, k *keygate.Key) (bool, error) {
	if c.IsAdmin() {
		return true, nil
	}
	if k.Role == keygate.Admin {
		return false, nil
	}
	have, err := callerScopes(c)
	if err != nil {
		return false, err
	}
	want, err := scope.ParseList(k.Scopes)
	if err != nil {
		return false, fmt.Errorf("key %s has unreadable scopes: %w", k.ID, err)
	}
	return scope.CoveredBy(want, have) && keygate.APIsCovered(k.APIs, c.APIs), nil
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

// RevokeRequest names the key to revoke. Tenant is for operators only.
// With Cascade, every key minted from it, transitively, is revoked too.
type RevokeRequest struct {
	Tenant  string
	ID      string
	Cascade bool
}

// Revoked is the revoked key's metadata and, for a cascade, the IDs of the
// descendants this call revoked.
type Revoked struct {
	keygate.Key
	RevokedDescendants []string `json:"revoked_descendants,omitempty"`
}

// maxRevokeRetries bounds the re-reads when keys of a cascade are revoked
// by someone else meanwhile.
const maxRevokeRetries = 5

// Revoke revokes a key, and with req.Cascade its descendants. Revoking a
// revoked key changes nothing and is not an error (a cascade still reaches
// descendants that are not yet revoked).
//
// A cascade reads the tenant's keys once (GSI1), follows created_by links
// from the key down, and revokes the unrevoked ones in batches of
// store.MaxRevokeBatch keys, each batch one transaction with an audit
// record per key (cause "cascade:<id>"). The root goes in the first batch.
func (s *Service) Revoke(ctx context.Context, c keygate.Caller, req RevokeRequest) (*Revoked, error) {
	r, err := s.visible(ctx, c, req.Tenant, req.ID)
	if err != nil {
		return nil, err
	}
	ok, err := covers(c, &r.Key)
	if err != nil {
		return nil, err
	}
	if !ok {
		return nil, keygate.Errorf(keygate.Forbidden, "a key may only revoke keys whose role, scopes and apis it covers")
	}
	targets := []*store.Record{r}
	if req.Cascade {
		desc, err := s.descendants(ctx, r)
		if err != nil {
			return nil, fmt.Errorf("revoke key %s: %w", r.ID, err)
		}
		targets = append(targets, desc...)
	}
	now := s.cfg.Now().UTC().Truncate(time.Millisecond)
	var revoked []string
	for attempt := 0; ; attempt++ {
		pending := make([]*store.Record, 0, len(targets))
		for _, t := range targets {
			if t.RevokedAt == nil {
				pending = append(pending, t)
			}
		}
		done, err := s.revokeBatches(ctx, c, r.ID, pending, now)
		revoked = append(revoked, done...)
		var changed *store.ChangedError
		if !errors.As(err, &changed) {
			if err != nil {
				return nil, fmt.Errorf("revoke key %s: %w", r.ID, err)
			}
			break
		}
		if attempt+1 >= maxRevokeRetries {
			return nil, keygate.Errorf(keygate.Unavailable, "keys are being changed, try again")
		}
		// Someone revoked a key of ours meanwhile: read it again, leave it
		// out, and go on with the rest.
		for i, t := range targets {
			if t.ID == changed.ID {
				if targets[i], err = s.store.GetKey(ctx, t.ID); err != nil {
					return nil, fmt.Errorf("revoke key %s: %w", r.ID, err)
				}
			}
		}
		for _, id := range done {
			for _, t := range targets {
				if t.ID == id {
					t.RevokedAt = &now
				}
			}
		}
	}
	root, err := s.store.GetKey(ctx, r.ID)
	if err != nil {
		return nil, fmt.Errorf("revoke key %s: %w", r.ID, err)
	}
	out := &Revoked{Key: s.view(root, s.cfg.Now())}
	for _, id := range revoked {
		if id != r.ID {
			out.RevokedDescendants = append(out.RevokedDescendants, id)
		}
	}
	return out, nil
}

// revokeBatches revokes recs in transactions of at most store.MaxRevokeBatch
// keys, returning the IDs of those revoked before an error.
func (s *Service) revokeBatches(ctx context.Context, c keygate.Caller, rootID string, recs []*store.Record, now time.Time) ([]string, error) {
	var done []string
	for start := 0; start < len(recs); start += store.MaxRevokeBatch {
		batch := recs[start:min(start+store.MaxRevokeBatch, len(recs))]
		revs := make([]store.Revocation, len(batch))
		for i, r := range batch {
			ttl := now.Add(s.cfg.Retention).Unix()
			if r.TTL > 0 && r.TTL < ttl {
				ttl = r.TTL
			}
			audit := store.Audit{Action: "revoke", KeyID: r.ID, Tenant: r.Tenant, Owner: r.Owner, Actor: c.Name(), RequestID: requestID(ctx), At: now}
			if r.ID != rootID {
				audit.Cause = "cascade:" + rootID
			}
			revs[i] = store.Revocation{Record: r, TTL: ttl, Audit: audit}
		}
		if err := s.store.RevokeKeys(ctx, now, revs); err != nil {
			return done, err
		}
		for _, r := range batch {
			done = append(done, r.ID)
		}
	}
	return done, nil
}

// descendants returns every key minted from root, transitively, in
// breadth-first order. Keys are minted within their creator's tenant, so
// one pass over the tenant's keys finds them all.
func (s *Service) descendants(ctx context.Context, root *store.Record) ([]*store.Record, error) {
	children := map[string][]*store.Record{}
	cursor := ""
	for {
		recs, next, err := s.store.ListKeys(ctx, store.Query{Tenant: root.Tenant, Limit: MaxListLimit, Cursor: cursor})
		if err != nil {
			return nil, err
		}
		for _, r := range recs {
			children[r.CreatedBy] = append(children[r.CreatedBy], r)
		}
		if next == "" {
			break
		}
		cursor = next
	}
	var out []*store.Record
	seen := map[string]bool{root.ID: true}
	queue := []string{root.ID}
	for len(queue) > 0 {
		id := queue[0]
		queue = queue[1:]
		for _, child := range children[keygate.CreatedByKey(id)] {
			if !seen[child.ID] {
				seen[child.ID] = true
				out = append(out, child)
				queue = append(queue, child.ID)
			}
		}
	}
	return out, nil
}
