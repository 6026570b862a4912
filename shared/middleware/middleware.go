// Package middleware checks Keygate API keys in a Go net/http service
// that API Gateway does not front (behind an Application Load Balancer, on
// ECS or App Runner, in a Lambda function URL), with the same decisions as
// Keygate's Lambda authorizer: the same token sources, the same checks of
// status, apis and scopes, the same usage limits.
//
// New returns the middleware. It reads the key from Authorization: Bearer
// (the scheme in any case, then a space or a tab) or, without an
// Authorization header, from X-API-Key; from the query parameter token only
// when Config.AllowQueryToken says so. A request holding two values of the
// header it reads the key from is refused, as is an Authorization header
// that is not Bearer: a decision never rests on a guess. Refusals are
// Keygate's error envelope (shared/apierror):
//
//	401 unauthorized        no key, a malformed, forged or unknown one, a wrong secret;
//	                        a revoked, expired or disabled key
//	403 forbidden           the key's apis do not name Config.API, or its scopes
//	                        do not cover the request's method and path
//	429 rate_limited        the key's rate limit is spent; Retry-After says when to retry
//	429 credits_exhausted   its credits are spent; Retry-After says when they refill
//	                        (absent when they never do)
//	503 unavailable         Keygate (Remote) or DynamoDB (Direct) could not answer:
//	                        the middleware fails closed
//
// An admitted request reaches the next handler with the key's Identity in
// its context (KeyFrom).
//
// There are two modes (docs/middleware.md):
//
//   - Remote, the default: the service asks Keygate's POST /v1/verify with
//     a service key of its own, and holds neither the pepper nor any
//     access to the table. Verdicts that cannot change by being asked again
//     are cached for at most Config.CacheTTL (5 s unless set): a VALID one
//     of a key without usage limits, and NOT_FOUND. A metered key is asked
//     about on every request, since every call must spend.
//   - Direct: the service runs the authorizer's own decision code
//     (shared/authorizer) on the table, with its in-process cache and its
//     usage meter: no network hop when the key is cached, but the service
//     holds the pepper and may read keys and write usage counters.
//
// The path checked against scopes is the request's escaped path
// (url.URL.EscapedPath), as API Gateway puts it in a methodArn: nothing is
// decoded or cleaned, and a path holding a segment a backend could
// normalise differently (dot segments, encoded slashes and dots; see
// shared/scope, "Unsafe segments") is refused by every scope but the
// admin scope "* /*".
package middleware

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/keygate/keygate/shared/apierror"
	"github.com/keygate/keygate/shared/apikey"
	"github.com/keygate/keygate/shared/keygate"
	"github.com/keygate/keygate/shared/store"
)

// Mode is how the middleware decides.
type Mode int

const (
	// Remote asks Keygate's POST /v1/verify (the default).
	Remote Mode = iota
	// Direct decides in process, on the table, with the pepper.
	Direct
)

func (m Mode) String() string {
	switch m {
	case Remote:
		return "remote"
	case Direct:
		return "direct"
	}
	return "mode(" + strconv.Itoa(int(m)) + ")"
}

// DefaultCacheTTL is the longest a verdict is reused when Config.CacheTTL
// is 0: Keygate's own AUTH_CACHE_TTL default, so a revocation takes effect
// as fast as at the authorizer.
const DefaultCacheTTL = 5 * time.Second

// MaxCacheTTL bounds Config.CacheTTL: a revoked key keeps working for up
// to the TTL in every process that cached it.
const MaxCacheTTL = 5 * time.Minute

// DefaultTimeout bounds a Remote verify call when Config.Client is nil.
const DefaultTimeout = 3 * time.Second

// Config configures New.
type Config struct {
	Mode Mode
	// API is the service as keys name it in their apis: an id of
	// lowercase letters and digits such as "orders", or "orders/prod"
	// (a key with "orders" or "orders/prod" may call it; one with
	// "orders/dev" may not). Required.
	API string

	// Remote mode.

	// Endpoint is the full URL of Keygate's verify route, such as
	// https://abc123.execute-api.eu-west-1.amazonaws.com/prod/v1/verify.
	Endpoint string
	// ServiceKey is this service's own Keygate key, a service key of the
	// tenant whose keys it accepts, with the scope "POST /v1/verify".
	// It is sent only to Endpoint and never logged.
	ServiceKey string
	// Tenant is the tenant whose keys the service accepts. In Remote mode
	// it is reported as Identity.Tenant (Keygate verifies keys of the
	// service key's own tenant only, and its verdict does not repeat it);
	// in Direct mode a key of any other tenant is refused like an unknown
	// one, before it spends any usage. Optional in both; without it Direct
	// mode accepts any tenant's key whose apis name API.
	Tenant string
	// Client makes the verify calls; nil is a client with DefaultTimeout.
	Client *http.Client

	// Direct mode.

	// DynamoDB is the client of Keygate's table (a *dynamodb.Client), and
	// Table its name.
	DynamoDB store.DB
	Table    string
	// Hasher holds the pepper (apikey.NewVersionedHasher over the pepper
	// setting, as Keygate's functions build it).
	Hasher *apikey.Hasher
	// LastUsedInterval is how often a key's last_used_at is written at
	// most (0: a minute, LAST_USED_INTERVAL's default).
	LastUsedInterval time.Duration

	// Both modes.

	// TokenPrefix is the deployment's TOKEN_PREFIX ("" for
	// apikey.DefaultPrefix). Tokens are checked offline (prefix, length,
	// alphabet, checksum) before anything is asked.
	TokenPrefix string
	// CacheTTL is the longest a verdict is reused: 0 for
	// DefaultCacheTTL, negative for no cache, at most MaxCacheTTL.
	CacheTTL time.Duration
	// AllowQueryToken lets the key come from ?token= when no header
	// carries one (URLs are logged by proxies: off by default).
	AllowQueryToken bool
	// Logger receives one line per error (never a token); nil discards.
	Logger *slog.Logger
	// RequestID names a refused request in the envelope and the
	// X-Request-Id header; nil draws 16 random hex digits from Rand.
	RequestID func(*http.Request) string
	Rand      io.Reader        // nil: crypto/rand
	Now       func() time.Time // nil: time.Now
}

// Identity is the key an admitted request was made with. Its slices and
// Meta are shared with the middleware's cache: read them, do not modify
// them.
type Identity struct {
	KeyID  string
	Tenant string
	Owner  string
	Name   string
	Type   keygate.Type
	Role   keygate.Role
	Scopes []string
	APIs   []string
	// ExpiresAt is nil for a key that never expires.
	ExpiresAt *time.Time
	// Meta is the key's own JSON object (keygate.Key.Meta), nil if none.
	Meta json.RawMessage
}

func identityOf(k *keygate.Key) Identity {
	return Identity{
		KeyID: k.ID, Tenant: k.Tenant, Owner: k.Owner, Name: k.Name, Type: k.Type, Role: k.Role,
		Scopes: k.Scopes, APIs: k.APIs, ExpiresAt: k.ExpiresAt, Meta: k.Meta,
	}
}

type identityKey struct{}

// KeyFrom is the identity the middleware put in an admitted request's
// context.
func KeyFrom(ctx context.Context) (Identity, bool) {
	switch v := ctx.Value(identityKey{}).(type) {
	case *Identity:
		return *v, true
	case *keygate.Key:
		return identityOf(v), true
	}
	return Identity{}, false
}

// verdict is a decision in the middleware's terms.
type verdict struct {
	// status is 0 to admit, else the refusal's HTTP status.
	status int
	code   keygate.Code
	// retryAfter is a 429's wait (0: none given).
	retryAfter time.Duration
	// identity is an admitted request's key: an *Identity (Remote, one
	// per cached verdict) or the authorizer's cached *keygate.Key
	// (Direct), which KeyFrom copies from. Either is a pointer, so putting
	// it in the context allocates nothing for it.
	identity any
}

// decider is a mode.
type decider interface {
	decide(ctx context.Context, token string, r *http.Request) verdict
}

var (
	_ decider = (*direct)(nil)
	_ decider = (*remote)(nil)
)

// Refusals, one per kind: nothing in them says more about the key than the
// status and code do.
var (
	unauthorized = verdict{status: http.StatusUnauthorized, code: keygate.Unauthorized}
	forbidden    = verdict{status: http.StatusForbidden, code: keygate.Forbidden}
	unavailable  = verdict{status: http.StatusServiceUnavailable, code: keygate.Unavailable}
	refusalTexts = map[keygate.Code]string{
		keygate.Unauthorized:                         "a valid API key is required",
		keygate.Forbidden:                            "this API key may not call this route",
		keygate.Code(keygate.ReasonRateLimited):      "this API key may not make this call now (see code and Retry-After)",
		keygate.Code(keygate.ReasonCreditsExhausted): "this API key may not make this call now (see code and Retry-After)",
		keygate.Unavailable:                          "API keys cannot be checked now; try again later",
	}
)

// limited is a 429 for a usage limit refusal (reason
// keygate.ReasonRateLimited or ReasonCreditsExhausted).
func limited(reason string, retryAfter time.Duration) verdict {
	return verdict{status: http.StatusTooManyRequests, code: keygate.Code(reason), retryAfter: retryAfter}
}

// New returns the middleware cfg describes, or why cfg is not valid.
func New(cfg Config) (func(http.Handler) http.Handler, error) {
	if err := keygate.CheckAPIs([]string{cfg.API}); err != nil || cfg.API == "" || cfg.API == keygate.AllAPIs {
		return nil, errors.New(`middleware: API must name this service as keys name it in apis: "id" or "id/stage", lowercase letters and digits`)
	}
	switch {
	case cfg.CacheTTL == 0:
		cfg.CacheTTL = DefaultCacheTTL
	case cfg.CacheTTL < 0:
		cfg.CacheTTL = 0
	case cfg.CacheTTL > MaxCacheTTL:
		return nil, fmt.Errorf("middleware: CacheTTL is at most %s (a revoked key works for up to the TTL)", MaxCacheTTL)
	}
	if cfg.TokenPrefix == "" {
		cfg.TokenPrefix = apikey.DefaultPrefix
	}
	format, err := apikey.NewFormat(cfg.TokenPrefix)
	if err != nil {
		return nil, fmt.Errorf("middleware: TokenPrefix: %w", err)
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.Rand == nil {
		cfg.Rand = rand.Reader
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	var d decider
	switch cfg.Mode {
	case Remote:
		d, err = newRemote(cfg, format)
	case Direct:
		d, err = newDirect(cfg, format)
	default:
		err = fmt.Errorf("middleware: unknown mode %d", int(cfg.Mode))
	}
	if err != nil {
		return nil, err
	}
	m := &checker{cfg: cfg, decider: d}
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { m.serve(w, r, next) })
	}, nil
}

type checker struct {
	cfg     Config
	decider decider
}

func (m *checker) serve(w http.ResponseWriter, r *http.Request, next http.Handler) {
	token, ok := m.token(r)
	v := unauthorized
	switch {
	case ok && r.Method == http.MethodConnect:
		// The scope method CONNECT names a WebSocket API's $connect route
		// (scope.Connect), not HTTP's proxy method: a key that may only
		// open WebSockets must not reach an HTTP handler this way.
		v = forbidden
	case ok:
		v = m.decider.decide(r.Context(), token, r)
	}
	if v.status != 0 {
		m.refuse(w, r, v)
		return
	}
	next.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), identityKey{}, v.identity)))
}

// Canonical header names, indexed directly: net/http canonicalises the
// names it reads, and a map index costs no allocation.
const (
	hAuthorization = "Authorization"
	hAPIKey        = "X-Api-Key"
)

// token finds the key as the authorizer does: if there is an Authorization
// header it is the only source (a cache keyed on it must never be answered
// from another header), then X-API-Key, then ?token= when allowed. ok is
// false for no key, or for an ambiguous one (a repeated header or
// parameter).
func (m *checker) token(r *http.Request) (string, bool) {
	if v, present := r.Header[hAuthorization]; present {
		if len(v) != 1 {
			return "", false
		}
		return bearer(v[0])
	}
	if v, present := r.Header[hAPIKey]; present {
		if len(v) != 1 {
			return "", false
		}
		tok := strings.TrimSpace(v[0])
		return tok, tok != ""
	}
	if !m.cfg.AllowQueryToken || r.URL.RawQuery == "" {
		return "", false
	}
	v := r.URL.Query()["token"]
	if len(v) != 1 {
		return "", false
	}
	tok := strings.TrimSpace(v[0])
	return tok, tok != ""
}

// bearer parses "Bearer <token>": the scheme in any case, then a space or a
// tab, surrounding whitespace ignored, as the authorizer parses it.
func bearer(v string) (string, bool) {
	v = strings.TrimSpace(v)
	if len(v) < 7 || !strings.EqualFold(v[:6], "bearer") || (v[6] != ' ' && v[6] != '\t') {
		return "", false
	}
	tok := strings.TrimSpace(v[7:])
	return tok, tok != ""
}

// refuse answers v in the error envelope.
func (m *checker) refuse(w http.ResponseWriter, r *http.Request, v verdict) {
	id := m.requestID(r)
	h := w.Header()
	for k, val := range apierror.Headers(id) {
		h.Set(k, val)
	}
	if v.status == http.StatusUnauthorized {
		// RFC 9110 section 11.6.1: a 401 names the scheme it wants.
		h.Set("WWW-Authenticate", "Bearer")
	}
	if v.retryAfter > 0 {
		h.Set("Retry-After", strconv.FormatInt(int64((v.retryAfter+time.Second-1)/time.Second), 10))
	}
	w.WriteHeader(v.status)
	_, _ = w.Write(apierror.Body(&keygate.Error{Code: v.code, Message: refusalTexts[v.code]}, id))
}

func (m *checker) requestID(r *http.Request) string {
	if m.cfg.RequestID != nil {
		return m.cfg.RequestID(r)
	}
	var b [8]byte
	if _, err := io.ReadFull(m.cfg.Rand, b[:]); err != nil {
		return "unknown"
	}
	return hex.EncodeToString(b[:])
}
