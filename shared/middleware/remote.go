package middleware

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"sync"
	"time"

	"github.com/keygate/keygate/shared/apikey"
	"github.com/keygate/keygate/shared/keygate"
)

// Verdict codes of POST /v1/verify.
const (
	codeValid            = "VALID"
	codeNotFound         = "NOT_FOUND"
	codeExpired          = "EXPIRED"
	codeRevoked          = "REVOKED"
	codeDisabled         = "DISABLED"
	codeForbidden        = "FORBIDDEN"
	codeRateLimited      = "RATE_LIMITED"
	codeCreditsExhausted = "CREDITS_EXHAUSTED"
)

// maxVerifyResponse bounds what is read of a verify answer: a key's meta
// is at most 1 KiB, its scopes 50 of 256 bytes.
const maxVerifyResponse = 64 << 10

// maxRemoteEntries bounds the verdict cache, as the authorizer bounds its
// own.
const maxRemoteEntries = 10000

// remote asks Keygate.
type remote struct {
	endpoint string
	auth     string // "Bearer " + the service key
	api      string
	tenant   string
	client   *http.Client
	format   apikey.Format
	ttl      time.Duration
	now      func() time.Time
	log      *slog.Logger
	mu       sync.Mutex
	cache    map[[sha256.Size]byte]remoteEntry
}

// remoteEntry is a cached verdict.
type remoteEntry struct {
	v       verdict
	expires time.Time
}

// verifyRequest is POST /v1/verify's body.
type verifyRequest struct {
	Key    string `json:"key"`
	API    string `json:"api"`
	Method string `json:"method"`
	Path   string `json:"path"`
}

// verifyResponse is its answer; fields Keygate adds later are ignored (the
// answer is Keygate's, not a person's, as with the authorizer's events).
type verifyResponse struct {
	Valid      bool            `json:"valid"`
	Code       string          `json:"code"`
	KeyID      string          `json:"key_id"`
	Owner      string          `json:"owner"`
	Name       string          `json:"name"`
	Type       keygate.Type    `json:"type"`
	Role       keygate.Role    `json:"role"`
	Scopes     []string        `json:"scopes"`
	APIs       []string        `json:"apis"`
	ExpiresAt  *time.Time      `json:"expires_at"`
	Meta       json.RawMessage `json:"meta"`
	Usage      *verifyUsage    `json:"usage"`
	RetryAfter int64           `json:"retry_after"`
}

type verifyUsage struct {
	RateLimit json.RawMessage `json:"rate_limit"`
	Credits   json.RawMessage `json:"credits"`
}

// metered reports whether the key has usage limits: then every call must
// reach Keygate to spend, and its VALID is never reused.
func (r *verifyResponse) metered() bool {
	set := func(m json.RawMessage) bool { return len(m) > 0 && string(m) != "null" }
	return r.Usage != nil && (set(r.Usage.RateLimit) || set(r.Usage.Credits))
}

func newRemote(cfg Config, format apikey.Format) (*remote, error) {
	u, err := url.Parse(cfg.Endpoint)
	switch {
	case cfg.Endpoint == "" || err != nil || u.Host == "" || (u.Scheme != "https" && u.Scheme != "http"):
		return nil, errors.New("middleware: Remote mode needs Endpoint, the URL of Keygate's POST /v1/verify")
	case u.Scheme == "http" && !loopback(u.Hostname()):
		// The service key would cross the network in clear.
		return nil, errors.New("middleware: Endpoint must be https (http only for a loopback address)")
	case u.User != nil || u.RawQuery != "":
		return nil, errors.New("middleware: Endpoint holds credentials or a query: give the route's URL alone")
	}
	if _, err := format.Parse(cfg.ServiceKey); err != nil {
		// Parse's errors are fixed reasons: they never quote the key.
		return nil, fmt.Errorf("middleware: ServiceKey: %w", err)
	}
	client := &http.Client{Timeout: DefaultTimeout}
	if cfg.Client != nil {
		c := *cfg.Client
		client = &c
	}
	// A redirect would resend the service key where Endpoint does not
	// say: the redirect is answered as it is, and fails closed.
	client.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	return &remote{
		endpoint: cfg.Endpoint, auth: "Bearer " + cfg.ServiceKey, api: cfg.API, tenant: cfg.Tenant,
		client: client, format: format, ttl: cfg.CacheTTL, now: cfg.Now, log: cfg.Logger,
		cache: map[[sha256.Size]byte]remoteEntry{},
	}, nil
}

func loopback(host string) bool {
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

func (m *remote) decide(ctx context.Context, token string, r *http.Request) verdict {
	if _, err := m.format.Parse(token); err != nil {
		// Not a token of this deployment at all: Keygate is not asked.
		return unauthorized
	}
	path := r.URL.EscapedPath()
	ck := cacheKey(token, r.Method, path)
	now := m.now()
	if v, ok := m.cached(ck, now); ok {
		return v
	}
	resp, err := m.verify(ctx, verifyRequest{Key: token, API: m.api, Method: r.Method, Path: path})
	if err != nil {
		level := slog.LevelError
		if ctx.Err() != nil {
			// The client went away: nothing is wrong with Keygate.
			level = slog.LevelInfo
		}
		m.log.LogAttrs(ctx, level, "key check failed", slog.String("endpoint", m.endpoint), slog.String("error", err.Error()))
		return unavailable
	}
	v, cacheable := m.verdict(resp)
	if v.status == http.StatusServiceUnavailable {
		m.log.LogAttrs(ctx, slog.LevelError, "key check failed", slog.String("endpoint", m.endpoint),
			slog.String("error", "verify answered an inconsistent verdict"), slog.String("code", resp.Code))
	}
	if cacheable && m.ttl > 0 {
		m.store(ck, v, now)
	}
	return v
}

// verdict maps Keygate's answer; cacheable says whether it may be reused
// for the TTL.
func (m *remote) verdict(resp *verifyResponse) (v verdict, cacheable bool) {
	if resp.Valid != (resp.Code == codeValid) {
		return unavailable, false
	}
	switch resp.Code {
	case codeValid:
		id := Identity{
			KeyID: resp.KeyID, Tenant: m.tenant, Owner: resp.Owner, Name: resp.Name, Type: resp.Type, Role: resp.Role,
			Scopes: resp.Scopes, APIs: resp.APIs, ExpiresAt: resp.ExpiresAt, Meta: resp.Meta,
		}
		if string(id.Meta) == "null" {
			id.Meta = nil
		}
		return verdict{identity: &id}, !resp.metered()
	case codeNotFound:
		return unauthorized, true
	case codeExpired, codeRevoked, codeDisabled:
		return unauthorized, false
	case codeForbidden:
		return forbidden, false
	case codeRateLimited:
		return limited(keygate.ReasonRateLimited, time.Duration(resp.RetryAfter)*time.Second), false
	case codeCreditsExhausted:
		return limited(keygate.ReasonCreditsExhausted, time.Duration(resp.RetryAfter)*time.Second), false
	}
	// A code this version does not know: fail closed.
	return unavailable, false
}

// cacheKey names a verdict by what it depends on; the token itself is not
// kept in memory longer than the request. The input is built on the stack
// for the usual sizes.
func cacheKey(token, method, path string) [sha256.Size]byte {
	var stack [512]byte
	b := append(stack[:0], token...)
	b = append(b, 0)
	b = append(b, method...)
	b = append(b, 0)
	b = append(b, path...)
	return sha256.Sum256(b)
}

func (m *remote) cached(k [sha256.Size]byte, now time.Time) (verdict, bool) {
	if m.ttl <= 0 {
		return verdict{}, false
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	e, ok := m.cache[k]
	if !ok || !now.Before(e.expires) {
		return verdict{}, false
	}
	return e.v, true
}

func (m *remote) store(k [sha256.Size]byte, v verdict, now time.Time) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if len(m.cache) >= maxRemoteEntries {
		// Stale entries first, then arbitrary ones: never all at once.
		for id, e := range m.cache {
			if !now.Before(e.expires) {
				delete(m.cache, id)
			}
		}
		for id := range m.cache {
			if len(m.cache) < maxRemoteEntries {
				break
			}
			delete(m.cache, id)
		}
	}
	m.cache[k] = remoteEntry{v: v, expires: now.Add(m.ttl)}
}

// verify makes one call. Its errors never hold the key or the service
// key: neither is in the URL, and bodies are not quoted.
func (m *remote) verify(ctx context.Context, body verifyRequest) (*verifyResponse, error) {
	b, err := json.Marshal(body)
	if err != nil {
		return nil, err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, m.endpoint, bytes.NewReader(b))
	if err != nil {
		return nil, err
	}
	req.Header.Set("Authorization", m.auth)
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept", "application/json")
	resp, err := m.client.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		// Drain a little so the connection can be reused.
		_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, maxVerifyResponse))
		return nil, fmt.Errorf("verify answered HTTP %d", resp.StatusCode)
	}
	var out verifyResponse
	dec := json.NewDecoder(io.LimitReader(resp.Body, maxVerifyResponse))
	if err := dec.Decode(&out); err != nil {
		return nil, errors.New("verify answered a body that is not its JSON verdict")
	}
	return &out, nil
}
