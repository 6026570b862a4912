// Package manage implements key management: create, list, get, update,
// rotate, revoke, leak reports and the audit trail, with the rules of
// tenancy, roles, scopes, APIs, expiry, lineage and limits. Every mutation decides with the
// acting key's item as it is now and conditions its write on it. Handlers
// translate events into these calls; the store persists the results.
package manage

import (
	"context"
	"crypto/rand"
	"fmt"
	"io"
	"time"

	"github.com/keygate/keygate/shared/apikey"
	"github.com/keygate/keygate/shared/keygate"
	"github.com/keygate/keygate/shared/scope"
)

// Store is the storage the service needs, in the domain's terms;
// shared/store implements it on DynamoDB.
type Store interface {
	// CreateKey stores r with its audit record (and idem, if set) in one
	// transaction, within max active keys of r's owner (or tenant, for a
	// service key); a LimitExceeded error if they are taken. If idem's
	// record exists it writes nothing and returns it.
	// actor is the acting key's item as the service read it (nil for an
	// operator): every mutation below commits only if that item is still
	// at the same revision and active, unrotated and unexpired at now.
	CreateKey(ctx context.Context, r *keygate.Record, max int, now time.Time, audit keygate.Audit, idem *keygate.Idempotency, actor *keygate.Record) (*keygate.Replay, error)
	// GetKey reads a key's metadata with a strongly consistent read, never
	// its verifier (management has no use for it); NotFound if none.
	GetKey(ctx context.Context, id string) (*keygate.Record, error)
	// ListKeys returns a page of keys and the cursor of the next ("" at
	// the end). Records from it carry no verifier and no lineage.
	ListKeys(ctx context.Context, q keygate.KeyQuery) ([]*keygate.Record, string, error)
	// FillLineage sets the lineage fields of listed records from their
	// items (strongly consistent).
	FillLineage(ctx context.Context, recs []*keygate.Record) error
	// RevokeKeys revokes keys in atomic batches with their audit records,
	// returning the IDs revoked before an error; a *keygate.ChangedError
	// if one was revoked meanwhile, a Conflict if actor changed.
	RevokeKeys(ctx context.Context, at time.Time, revs []keygate.Revocation, actor *keygate.Record) ([]string, error)
	// RotateKey stores next, old's successor, shortens old's expiry and
	// passes old's slot to next, with audit records, in one transaction; a
	// Conflict if old changed since it was read.
	RotateKey(ctx context.Context, old, next *keygate.Record, oldExpires time.Time, oldTTL int64, max int, now time.Time, audits []keygate.Audit, idem *keygate.Idempotency, actor *keygate.Record) (*keygate.Replay, error)
	// UpdateKey writes next, r's changed metadata, with its audit record;
	// a Conflict if r changed since it was read.
	UpdateKey(ctx context.Context, r, next *keygate.Record, audit keygate.Audit, now time.Time, actor *keygate.Record) error
	// Usage reads a key's live counters at now (what is left of its rate
	// window and credits); nil for an unmetered key.
	Usage(ctx context.Context, k *keygate.Key, now time.Time) (*keygate.Usage, error)
	// Replay returns the unexpired idempotency record pk, or nil.
	Replay(ctx context.Context, pk string, now time.Time) (*keygate.Replay, error)
	// ListAudit returns audit records newest first and the next cursor.
	ListAudit(ctx context.Context, q keygate.AuditQuery) ([]keygate.Audit, string, error)
	// Settings reads a tenant's settings (the zero value if it has none):
	// its leak action.
	Settings(ctx context.Context, tenant string) (keygate.Settings, error)
	// RecordLeak records l, the first report of r's token found in public,
	// with its leaked audit record and, if revoke is set, r's revocation
	// (as RevokeKeys writes it), in one transaction. It reports whether it
	// wrote: (false, nil) if r was reported before or is gone; a
	// *keygate.ChangedError if revoke is set and r was revoked meanwhile.
	RecordLeak(ctx context.Context, r *keygate.Record, l keygate.Leak, leaked keygate.Audit, revoke *keygate.Revocation, now time.Time) (bool, error)
	// ImportKey stores an imported key as CreateKey does, with index (its
	// value's lookup digest) in the same transaction;
	// keygate.ErrAlreadyImported, writing nothing, if the digest is
	// indexed already.
	ImportKey(ctx context.Context, r *keygate.Record, index keygate.ImportedKey, max int, now time.Time, audit keygate.Audit) error
	// ImportedKeyID returns the key a value of digest was imported as,
	// ok false if none (strongly consistent).
	ImportedKeyID(ctx context.Context, digest [32]byte) (id string, ok bool, err error)
}

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

// view is the caller-facing metadata of a record: no verifier, status derived.
func (s *Service) view(r *keygate.Record, now time.Time) keygate.Key {
	k := r.Key
	k.Status = k.StatusAt(now)
	return k
}

// visible reads a key the caller may see. Keys of other tenants, and for
// viewers keys of other owners, are NotFound: existence is never revealed.
func (s *Service) visible(ctx context.Context, c keygate.Caller, tenant, id string) (*keygate.Record, error) {
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
func ownKey(c keygate.Caller, r *keygate.Record) bool {
	if c.Type == keygate.Service {
		return r.ID == c.KeyID
	}
	return r.Type == keygate.User && r.Owner == c.Owner
}

// authority reads the acting key's item now and returns the caller as that
// item says it is, with the item for the store to condition the write on
// (nil for an operator, whom IAM vouches for). The authorizer's context may
// be up to its cache TTL stale: a key narrowed, shortened, disabled,
// revoked or rotated since then acts with what it holds now, or not at all.
func (s *Service) authority(ctx context.Context, c keygate.Caller, now time.Time) (keygate.Caller, *keygate.Record, error) {
	if !c.Operator && !apikey.ValidID(c.KeyID) {
		return keygate.Caller{}, nil, keygate.Errorf(keygate.Unauthorized, "the calling key no longer exists")
	}
	cur, r, err := keygate.Authority(ctx, c, now, s.store.GetKey)
	if err != nil {
		return keygate.Caller{}, nil, err
	}
	if q := c.Request; q.Method != "" && !cur.IsAdmin() {
		have, err := callerScopes(cur)
		if err != nil {
			return keygate.Caller{}, nil, err
		}
		if !scope.Allowed(have, q.Method, q.Path) {
			return keygate.Caller{}, nil, keygate.Errorf(keygate.Forbidden, "the calling key's scopes no longer allow %s %s", q.Method, q.Path)
		}
	}
	return cur, r, nil
}

// covers reports whether c may change k (revoke, rotate or update it):
// only a key whose role, scopes, APIs and expiry c covers, so a narrow
// viewer key cannot revoke its owner's admin key or a wider sibling, and
// an admin bound to one API cannot take over a key of another by rotating
// it.
func covers(c keygate.Caller, k *keygate.Key) (bool, error) {
	if !c.Covers(k) {
		return false, nil
	}
	if c.IsAdmin() {
		return true, nil
	}
	have, err := callerScopes(c)
	if err != nil {
		return false, err
	}
	want, err := scope.ParseList(k.Scopes)
	if err != nil {
		return false, fmt.Errorf("key %s has unreadable scopes: %w", k.ID, err)
	}
	return scope.CoveredBy(want, have), nil
}
