// Package authorizer turns an API key presented to API Gateway into an
// allow or deny decision. It accepts every event shape API Gateway sends a
// Lambda authorizer (REST TOKEN and REQUEST, HTTP API payload 1.0 and 2.0)
// and answers each in its own format.
//
// Decisions, in order: no token or a malformed one (prefix, length,
// alphabet, checksum) is unauthorized without any storage read; so is a
// well-formed token whose tag this deployment's pepper did not make (a
// forgery for a public key ID), after one HMAC; an unknown,
// revoked or expired key or a wrong secret is unauthorized; a valid key
// whose scopes do not cover the route is denied; anything else is allowed.
// A storage error is an error, never an allow.
//
// Revocation lag is bounded by the in-function cache TTL (AUTH_CACHE_TTL)
// plus the gateway's own authorizer result TTL.
//
// A key with usage limits (a rate limit, credits) is metered on what would
// be an allow (shared/usage): a call over its limits is a deny whose
// context says why (reason rate_limited or credits_exhausted) and when to
// retry (retry_after, seconds). Every deny carries both, a scope or API
// denial as reason forbidden, retry_after 0. Keys without limits never
// reach the meter. A gateway result cache would answer a metered key's
// calls without counting them: metered APIs attach the authorizer with it
// off (docs/usage-limits.md).
package authorizer

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
	"log/slog"
	mrand "math/rand/v2"
	"sync"
	"time"

	"github.com/keygate/keygate/shared/apikey"
	"github.com/keygate/keygate/shared/keygate"
	"github.com/keygate/keygate/shared/scope"
	"github.com/keygate/keygate/shared/usage"
)

// Store is the storage the authorizer needs: one strongly consistent read
// per cache miss, and the throttled last-used write.
type Store interface {
	// GetKeyWithVerifier reads a key and its verifier with a strongly
	// consistent read; NotFound if there is none.
	GetKeyWithVerifier(ctx context.Context, id string) (*keygate.Record, error)
	TouchLastUsed(ctx context.Context, id string, at time.Time, interval time.Duration) (bool, error)
	// RestampVerifier replaces a key's verifier old with next, if it is
	// still old; it reports whether it wrote.
	RestampVerifier(ctx context.Context, id, old, next string) (bool, error)
}

// Meter spends the calls of keys with usage limits, one per execution
// environment (usage.Meter).
type Meter interface {
	Spend(ctx context.Context, k *keygate.Key, rev int64, now time.Time) (usage.Verdict, error)
}

var _ Meter = (*usage.Meter)(nil)

// Config holds the authorizer's settings.
type Config struct {
	Format           apikey.Format
	Hasher           *apikey.Hasher
	CacheTTL         time.Duration // 0 disables the in-function cache
	LastUsedInterval time.Duration
	AllowQueryToken  bool
	// UsageIdentifier names the key field returned as usageIdentifierKey
	// for API Gateway usage plans: "", "id", "tenant" or "owner".
	UsageIdentifier string
	// Meter counts metered keys' calls; a metered key without one is an
	// error (fail closed).
	Meter Meter
	// Imports lists the imported keys (IMPORTED_KEYS=on, docs/import.md);
	// nil refuses every token not of Format without a look, as before.
	Imports Imports
	Now     func() time.Time
}

// Imports is the index of imported keys: the lookup digest of each
// imported value and the key it names (store.ImportedKeys).
type Imports interface {
	ImportedKeys(ctx context.Context) ([]keygate.ImportedKey, error)
}

// ImportsRefresh is how often an execution environment reads the index of
// imported keys again: a key imported since is refused for at most this
// long by an environment that loaded the index before.
const ImportsRefresh = time.Minute

// ImportsRetry is how long an execution environment whose first read of
// the index failed refuses the strings that are no Keygate token (fails
// closed) before it reads again: a failing index (throttling, a missing
// grant) costs one read per ImportsRetry, not one per request.
const ImportsRetry = 5 * time.Second

// errImportsUnavailable is the failure of the requests that arrive while
// a failed first read of the index waits for ImportsRetry.
var errImportsUnavailable = errors.New("the index of imported keys could not be read")

// Authorizer decides. It is safe for concurrent use.
type Authorizer struct {
	store       Store
	cfg         Config
	cachePolicy CachePolicy
	log         *slog.Logger

	mu       sync.Mutex
	cache    map[string]*entry
	lastUsed map[string]time.Time
	// deny holds scope.DenyResources per API/stage prefix.
	deny sync.Map

	imports importSet
}

// importSet is an execution environment's copy of the index of imported
// keys: the first 8 bytes of each value's lookup digest, naming its key
// (more than one only on a 64-bit collision). A string that is no
// Keygate token is looked up only if its digest's prefix is here, so
// the strings that are no key cost no read.
type importSet struct {
	mu     sync.Mutex
	ids    map[uint64][]string
	loaded time.Time
	ready  bool
	// failed is when the last first read failed (zero if none did).
	failed time.Time
}

// maxCacheEntries bounds memory if many distinct keys pass through one
// execution environment. A full cache makes room entry by entry (evict),
// never all at once; the last-used times are emptied when full, which
// costs at most one refused conditional write per key afterwards.
const maxCacheEntries = 10000

// lastUsedTimeout bounds the last-used write so it never holds up a
// decision for long; its failure is logged and ignored.
const lastUsedTimeout = 300 * time.Millisecond

// New returns an Authorizer.
func New(st Store, cfg Config, log *slog.Logger) *Authorizer {
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	return &Authorizer{store: st, cfg: cfg, cachePolicy: cfg.CachePolicy(), log: log, cache: map[string]*entry{}, lastUsed: map[string]time.Time{}}
}

// entry is a cached key: what a decision needs, precomputed once.
type entry struct {
	fetched time.Time
	// ttl is this entry's cache lifetime (CachePolicy.EntryTTL): never
	// longer than AUTH_CACHE_TTL, so the revocation bound holds.
	ttl    time.Duration
	found  bool
	digest [sha256.Size]byte // HMAC digest of the valid token
	key    keygate.Key
	scopes []scope.Scope
	// all is set for a key holding scope.All (admin keys): it may call
	// any path, so its policy needs no Deny of odd ones.
	all     bool
	context map[string]any
	// denied is context with the reason of a scope or API denial
	// (forbidden, retry_after 0).
	denied map[string]any
	// metered is set for a key with usage limits: its allows go through
	// the Meter.
	metered bool
	// usage is the usageIdentifierKey, if configured.
	usage string
}

// Outcome is the kind of a decision.
type Outcome int

const (
	Unauthorized Outcome = iota // 401: no valid key
	Deny                        // 403: valid key, route not in its scopes
	Allow
)

func (o Outcome) String() string {
	switch o {
	case Allow:
		return "allow"
	case Deny:
		return "deny"
	default:
		return "unauthorized"
	}
}

// Decision is the result of authorizing one request.
type Decision struct {
	Outcome Outcome
	Reason  string
	// Refusal and RetryAfter are a Deny's context: why
	// (keygate.ReasonForbidden, ReasonRateLimited or
	// ReasonCreditsExhausted) and when the call may succeed (whole
	// seconds, 0 when unknown or never).
	Refusal    string
	RetryAfter time.Duration
	entry      *entry
	// known is set once the token proved to be entry's key (Key).
	known bool
	// wrongAPI is a Deny because the key may not call this API (or
	// stage) at all, rather than this route.
	wrongAPI bool
}

// Request is what a decision depends on, extracted from any event shape.
type Request struct {
	Token string
	// API and Stage are the API Gateway API id and stage the request came
	// through (from its methodArn or routeArn).
	API    string
	Stage  string
	Method string
	Path   string
}

// Authorize decides a request. The error is non-nil only when storage
// failed; callers must then fail closed.
func (a *Authorizer) Authorize(ctx context.Context, r Request) (Decision, bool, error) {
	return a.decide(ctx, r, guard{})
}

// Check decides whether the token in r may make the call r describes, for
// a party other than API Gateway (POST /v1/verify, a middleware), with the
// same checks as Authorize and the same meter, so a check spends a
// metered key's call like the authorizer does. It differs in three ways:
//
//   - a key of another tenant than tenant is refused exactly as an
//     unknown key is, before any metering or last-used write, so it
//     neither spends nor is touched;
//   - r.API "" checks no API (the caller names none);
//   - r.Method and r.Path both "" check no scope.
//
// The error is non-nil only when storage failed.
func (a *Authorizer) Check(ctx context.Context, r Request, tenant string) (Decision, error) {
	d, _, err := a.decide(ctx, r, guard{tenant: tenant, tenantSet: true, anyAPI: r.API == "", anyRoute: r.Method == "" && r.Path == ""})
	return d, err
}

// guard is what Check adds to Authorize's decision: the zero guard is
// Authorize's.
type guard struct {
	tenant    string
	tenantSet bool
	anyAPI    bool
	anyRoute  bool
}

// decide is the one decision of Authorize and Check: parse, tag, cache or
// one consistent read, verifier, tenant guard, status, apis, scopes,
// meter.
func (a *Authorizer) decide(ctx context.Context, r Request, g guard) (Decision, bool, error) {
	if r.Token == "" {
		return Decision{Outcome: Unauthorized, Reason: "missing token"}, false, nil
	}
	now := a.cfg.Now()
	var cred credential
	var digest [sha256.Size]byte
	tok, err := a.cfg.Format.Parse(r.Token)
	switch {
	case err != nil && a.cfg.Imports != nil:
		// Not a Keygate token: perhaps an imported key's value
		// (IMPORTED_KEYS=on), read only if the index has its digest.
		parseErr, found := err, false
		if cred, digest, found, err = a.imported(ctx, r.Token, now); err != nil {
			return Decision{Reason: "store error"}, false, err
		}
		if !found {
			return Decision{Outcome: Unauthorized, Reason: parseErr.Error()}, false, nil
		}
	case err != nil:
		// err is one of Parse's preallocated errors: its message is the
		// reason, without allocating.
		return Decision{Outcome: Unauthorized, Reason: err.Error()}, false, nil
	default:
		var authentic bool
		if digest, authentic = a.cfg.Hasher.Authenticate(tok); !authentic {
			// Not minted with this pepper: refused before the cache and
			// the store, so forged tokens for real (public) IDs cost one
			// HMAC and can neither read the table nor touch the cache.
			return Decision{Outcome: Unauthorized, Reason: apikey.ErrForged.Reason}, false, nil
		}
		cred = credential{tok: tok, id: tok.ID()}
	}
	e, hit := a.cached(cred.id, now)
	if !hit {
		if e, err = a.fetch(ctx, cred, digest, now); err != nil {
			return Decision{Reason: "store error"}, false, err
		}
	}
	d := Decision{Outcome: Unauthorized, entry: e}
	switch {
	case !e.found || (g.tenantSet && e.key.Tenant != g.tenant):
		// Another tenant's key is unknown to the caller: the same
		// answer, and nothing spent or written.
		d.Reason = "unknown key"
	case subtle.ConstantTimeCompare(digest[:], e.digest[:]) != 1:
		d.Reason = "wrong secret"
	case e.key.StatusAt(now) != keygate.Active:
		d.known = true
		d.Reason = string(e.key.StatusAt(now))
	case !g.anyAPI && !keygate.APIAllowed(e.key.APIs, r.API, r.Stage):
		d.known = true
		d.Outcome, d.Reason, d.Refusal, d.wrongAPI = Deny, "api not in key's apis", keygate.ReasonForbidden, true
	case !g.anyRoute && !scope.Allowed(e.scopes, r.Method, r.Path):
		d.known = true
		d.Outcome, d.Reason, d.Refusal = Deny, "route not in scopes", keygate.ReasonForbidden
	case e.metered:
		d.known = true
		v, err := a.spend(ctx, e, now)
		if err != nil {
			return Decision{Reason: "meter error", entry: e}, hit, err
		}
		if !v.Allowed {
			d.Outcome, d.Reason, d.Refusal, d.RetryAfter = Deny, v.Reason, v.Reason, v.RetryAfter
			break
		}
		fallthrough
	default:
		d.known = true
		d.Outcome, d.Reason = Allow, "ok"
		a.touch(ctx, e.key.ID, e.key.LastUsedAt, now)
	}
	return d, hit, nil
}

// Key is the key the decision's token proved to be (its secret matched,
// and, for Check, of the tenant asked about), whatever the outcome; nil
// when the token is no key's, or not provably this one's. The key is
// shared with the cache: callers must not modify it.
func (d Decision) Key() *keygate.Key {
	if !d.known {
		return nil
	}
	return &d.entry.key
}

// Status is the status of the decision's Key when it was made: the
// reason a known key is Unauthorized, else Active; "" without a Key.
func (d Decision) Status() keygate.Status {
	switch {
	case !d.known:
		return ""
	case d.Outcome == Unauthorized:
		return keygate.Status(d.Reason)
	}
	return keygate.Active
}

// errNoMeter fails a metered key's call closed when no Meter is configured.
var errNoMeter = errors.New("key has usage limits but the authorizer has no meter")

// spend meters one call of e's key.
func (a *Authorizer) spend(ctx context.Context, e *entry, now time.Time) (usage.Verdict, error) {
	if a.cfg.Meter == nil {
		return usage.Verdict{}, errNoMeter
	}
	return a.cfg.Meter.Spend(ctx, &e.key, e.key.Rev, now)
}

func (a *Authorizer) cached(id string, now time.Time) (*entry, bool) {
	if a.cfg.CacheTTL <= 0 {
		return nil, false
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	e, ok := a.cache[id]
	if !ok || !a.cachePolicy.Fresh(e.fetched, e.ttl, now) {
		return nil, false
	}
	return e, true
}

// credential is what a request presented: a Keygate token, or (value
// set) an imported key's value, and the ID of the key it claims to be.
type credential struct {
	tok   apikey.Token
	value string
	id    string
}

// verify checks c against a stored verifier. A key is proved only by
// what it was made with: a Keygate token never matches an imported key,
// nor an imported value a Keygate key.
func (a *Authorizer) verify(c credential, rec *keygate.Record) (bool, error) {
	if rec.Imported != (c.value != "") {
		return false, nil
	}
	if c.value != "" {
		return a.cfg.Hasher.VerifyImported(c.value, rec.Verifier)
	}
	return a.cfg.Hasher.Verify(c.tok, rec.Verifier)
}

// imported finds the imported key value names, if the index of imported
// keys has its digest's prefix (no read otherwise): the key's credential
// and the value's lookup digest, which stands for a token's digest in the
// cache comparison.
func (a *Authorizer) imported(ctx context.Context, value string, now time.Time) (credential, [sha256.Size]byte, bool, error) {
	if apikey.CheckImported(value) != "" {
		return credential{}, [sha256.Size]byte{}, false, nil
	}
	digest := a.cfg.Hasher.ImportDigest(value)
	ids, err := a.importedIDs(ctx, binary.BigEndian.Uint64(digest[:8]), now)
	if err != nil || len(ids) == 0 {
		return credential{}, digest, false, err
	}
	// More than one ID only on a 64-bit collision of two imported
	// values' digests: the first is tried, the others are refused, which
	// rotating either key ends.
	return credential{value: value, id: ids[0]}, digest, true, nil
}

// importedIDs returns the keys whose lookup digests start with prefix,
// reading the index first if this environment has not yet, or not for
// ImportsRefresh. A failed refresh keeps the index as it was (and is
// logged); a failed first read is an error, so the request fails closed.
func (a *Authorizer) importedIDs(ctx context.Context, prefix uint64, now time.Time) ([]string, error) {
	s := &a.imports
	s.mu.Lock()
	defer s.mu.Unlock()
	if !s.ready && !s.failed.IsZero() && now.Sub(s.failed) < ImportsRetry && !now.Before(s.failed) {
		return nil, errImportsUnavailable
	}
	if !s.ready || now.Sub(s.loaded) >= ImportsRefresh || now.Before(s.loaded) {
		keys, err := a.cfg.Imports.ImportedKeys(ctx)
		switch {
		case err != nil && !s.ready:
			s.failed = now
			return nil, err
		case err != nil:
			a.log.LogAttrs(ctx, slog.LevelWarn, "imported keys not refreshed", slog.String("error", err.Error()))
		default:
			ids := make(map[uint64][]string, len(keys))
			for _, k := range keys {
				p := binary.BigEndian.Uint64(k.Digest[:8])
				ids[p] = append(ids[p], k.KeyID)
			}
			s.ids, s.ready = ids, true
		}
		s.loaded = now
	}
	return s.ids[prefix], nil
}

// fetch reads a key with one strongly consistent GetItem and builds its
// cache entry. The stored verifier is checked once here; later hits only
// compare HMAC digests, in constant time.
func (a *Authorizer) fetch(ctx context.Context, cred credential, digest [sha256.Size]byte, now time.Time) (*entry, error) {
	e := &entry{fetched: now, ttl: a.cachePolicy.EntryTTL(mrand.Int64N)}
	rec, err := a.store.GetKeyWithVerifier(ctx, cred.id)
	switch {
	case keygate.ErrorCode(err) == keygate.NotFound:
	case err != nil:
		return nil, err
	default:
		ok, err := a.verify(cred, rec)
		switch {
		case errors.Is(err, apikey.ErrRetiredPepper):
			// Stamped under a pepper version this deployment retired: it
			// cannot be verified, so it is refused (and logged).
			a.log.LogAttrs(ctx, slog.LevelWarn, "key stamped under a retired pepper", slog.String("key_id", rec.ID))
			ok = false
		case err != nil:
			return nil, err
		}
		e.found, e.key = true, rec.Key
		if !ok {
			// Leave the digest zero so nothing matches, and do not cache:
			// a wrong secret must not shadow the right one.
			return e, nil
		}
		e.digest = digest
		if a.cfg.Hasher.Stale(rec.Verifier) {
			a.restamp(ctx, cred, rec.Verifier)
		}
		if e.scopes, err = scope.ParseList(rec.Scopes); err != nil {
			return nil, err
		}
		for _, sc := range e.scopes {
			e.all = e.all || sc.String() == scope.All
		}
		e.context = keyContext(&rec.Key)
		e.denied = refusalContext(e.context, keygate.ReasonForbidden, 0)
		e.metered = rec.RateLimit != nil || rec.Credits != nil
		e.usage = UsageIdentifier(a.cfg.UsageIdentifier, &rec.Key)
	}
	if a.cfg.CacheTTL > 0 {
		a.mu.Lock()
		if len(a.cache) >= maxCacheEntries {
			a.evict(now)
		}
		a.cache[cred.id] = e
		a.mu.Unlock()
	}
	return e, nil
}

// evict makes room in a full cache: stale entries go first, else one
// arbitrary entry. Only tokens this deployment minted reach the cache, and
// the cache is never emptied at once, so no flood of requests can flush
// the hot keys and turn every request into a read. a.mu must be held.
func (a *Authorizer) evict(now time.Time) {
	for id, e := range a.cache {
		if !a.cachePolicy.Fresh(e.fetched, e.ttl, now) {
			delete(a.cache, id)
		}
	}
	for id := range a.cache {
		if len(a.cache) < maxCacheEntries {
			return
		}
		delete(a.cache, id)
	}
}

// keyContext is the authorizer context the integration receives. API
// Gateway only passes strings, numbers and booleans, so scopes and apis
// travel as JSON arrays in strings, and expires_at as RFC 3339 ("" for
// never): keys the caller mints are capped at it.
func keyContext(k *keygate.Key) map[string]any {
	scopes, _ := json.Marshal(k.Scopes)
	apis, _ := json.Marshal(k.APIs)
	expires := ""
	if k.ExpiresAt != nil {
		expires = k.ExpiresAt.UTC().Format(time.RFC3339Nano)
	}
	return map[string]any{
		"key_id":     k.ID,
		"tenant":     k.Tenant,
		"owner":      k.Owner,
		"type":       string(k.Type),
		"role":       string(k.Role),
		"scopes":     string(scopes),
		"apis":       string(apis),
		"expires_at": expires,
		"meta":       string(k.Meta), // the holder's JSON object as text, "" for none
	}
}

// refusalContext is a Deny's context: the key's context with why it was
// refused and after how many whole seconds to retry (0: not applicable),
// a number, which the REST ACCESS_DENIED gateway response renders.
func refusalContext(keyContext map[string]any, reason string, retryAfter time.Duration) map[string]any {
	c := make(map[string]any, len(keyContext)+2)
	for k, v := range keyContext {
		c[k] = v
	}
	c["reason"] = reason
	c["retry_after"] = int64(retryAfter / time.Second)
	return c
}

// denyContext is d's (a Deny's) context.
func (d Decision) denyContext() map[string]any {
	if d.Refusal == keygate.ReasonForbidden {
		return d.entry.denied
	}
	return refusalContext(d.entry.context, d.Refusal, d.RetryAfter)
}

// UsageIdentifier is the usageIdentifierKey returned for a key under
// USAGE_IDENTIFIER mode ("" for none): the value of the usage-plan API key
// an operator creates for it. API Gateway requires 20-128 alphanumeric
// characters, and tenant and owner names repeat across tenants and hold
// other characters, so every mode is "kg" followed by the first 40 hex
// digits of SHA-256 over the mode and the tenant-qualified name:
//
//	id:     SHA-256("id:" + tenant + ":" + key id)
//	tenant: SHA-256("tenant:" + tenant)
//	owner:  SHA-256("owner:" + tenant + ":" + owner)
//
// so `printf 'owner:acme:alice' | sha256sum | cut -c1-40` with "kg" in
// front is the value for alice of acme (README, "Usage plans").
func UsageIdentifier(mode string, k *keygate.Key) string {
	var name string
	switch mode {
	case "id":
		name = "id:" + k.Tenant + ":" + k.ID
	case "tenant":
		name = "tenant:" + k.Tenant
	case "owner":
		name = "owner:" + k.Tenant + ":" + k.Owner
	default:
		return ""
	}
	sum := sha256.Sum256([]byte(name))
	return "kg" + hex.EncodeToString(sum[:20])
}

// restamp moves a key verified under an older pepper version to the
// current one, so that the old version can be retired once no key needs
// it. It runs on a cache miss, so at most once per AUTH_CACHE_TTL per
// execution environment while the key is stale, and the write is
// conditioned on the verifier read, so environments racing write once. A
// failure is logged, never returned: the key was verified.
func (a *Authorizer) restamp(ctx context.Context, cred credential, old string) {
	var verifier string
	var err error
	if cred.value != "" {
		verifier, err = a.cfg.Hasher.ImportedVerifier(cred.value)
	} else {
		verifier, err = a.cfg.Hasher.Verifier(cred.tok)
	}
	if err == nil {
		ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), lastUsedTimeout)
		defer cancel()
		_, err = a.store.RestampVerifier(ctx, cred.id, old, verifier)
	}
	if err != nil {
		a.log.LogAttrs(ctx, slog.LevelWarn, "verifier not re-stamped", slog.String("key_id", cred.id), slog.String("error", err.Error()))
	}
}

// touch records use of a key at most once per interval per execution
// environment, and the conditional write keeps it to once per interval
// across environments. A failure is logged, never returned.
func (a *Authorizer) touch(ctx context.Context, id string, stored *time.Time, now time.Time) {
	a.mu.Lock()
	last, ok := a.lastUsed[id]
	// On first sight in this environment the item as read already says
	// when the key was last used: if that is within the interval, another
	// environment wrote it, and writing again would only be refused.
	due, keep := a.cachePolicy.TouchDue(last, ok, stored, now)
	if len(a.lastUsed) >= maxCacheEntries {
		clear(a.lastUsed)
	}
	a.lastUsed[id] = keep
	a.mu.Unlock()
	if !due {
		return
	}
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), lastUsedTimeout)
	defer cancel()
	if _, err := a.store.TouchLastUsed(ctx, id, now, a.cfg.LastUsedInterval); err != nil {
		a.log.LogAttrs(ctx, slog.LevelWarn, "last used not recorded", slog.String("key_id", id), slog.String("error", err.Error()))
	}
}
