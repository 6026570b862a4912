// Package verify serves POST /v1/verify: a service holding a Keygate key
// asks whether another key, which a client presented to it, is valid, and
// for what. It lets a service that API Gateway does not front (a
// container, a worker, a middleware in Remote mode) check keys with the
// authorizer's own decision.
//
// The route sits behind the authorizer: the caller's key needs a scope
// covering POST /v1/verify, and it can only verify keys of its own
// tenant. The body is {"key", "api"?, "method"?, "path"?}, strictly
// decoded (at most MaxBody bytes); method and path come together or not
// at all. The decision is the authorizer's ([authorizer.Authorizer.Check]),
// never a second copy of its checks: a malformed token or one whose tag
// this deployment's pepper did not make costs no read; a key of another
// tenant is refused exactly as an unknown one, before any metering; a
// VALID answer spends one call of a metered key like the authorizer does,
// through the same meter. The given api is checked against the key's
// apis (none given: not checked); method and path against its scopes
// (none given: not checked).
//
// Every decision is a 200 with {"valid", "code"}: VALID, or NOT_FOUND
// (malformed, forged, unknown, wrong secret, another tenant's: exactly
// {"valid":false,"code":"NOT_FOUND"}, nothing more), EXPIRED, REVOKED,
// DISABLED, FORBIDDEN (the key's apis or scopes do not cover the call),
// RATE_LIMITED or CREDITS_EXHAUSTED (with retry_after, whole seconds).
// Every code but NOT_FOUND comes with the key's fields (Key). A bad
// body is a 400 in shared/apierror's envelope; a storage failure a 503 or
// 500, never a verdict. The token is never logged; the key's ID is.
package verify

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"mime"
	"net/http"
	"strings"
	"time"

	"github.com/keygate/keygate/shared/apierror"
	"github.com/keygate/keygate/shared/authorizer"
	"github.com/keygate/keygate/shared/keygate"
	"github.com/keygate/keygate/shared/proxyevent"
	"github.com/keygate/keygate/shared/strictjson"
)

// Path is the route, on the management API.
const Path = "/v1/verify"

// MaxBody is the largest body accepted, as on the management routes.
const MaxBody = 16 << 10

// Bounds of the method and path asked about.
const (
	maxMethod = 16
	maxPath   = 2048
)

// Codes of an answer.
const (
	Valid            = "VALID"
	NotFound         = "NOT_FOUND"
	Expired          = "EXPIRED"
	Revoked          = "REVOKED"
	Disabled         = "DISABLED"
	Forbidden        = "FORBIDDEN"
	RateLimited      = "RATE_LIMITED"
	CreditsExhausted = "CREDITS_EXHAUSTED"
)

// Checker is the authorizer's decision, with a tenant guard.
type Checker interface {
	Check(ctx context.Context, r authorizer.Request, tenant string) (authorizer.Decision, error)
}

var _ Checker = (*authorizer.Authorizer)(nil)

// UsageReader reads a metered key's live counters (nil for an unmetered
// key, without a read).
type UsageReader interface {
	Usage(ctx context.Context, k *keygate.Key, now time.Time) (*keygate.Usage, error)
}

// Config is what a Handler needs.
type Config struct {
	Checker Checker
	Usage   UsageReader
	Log     *slog.Logger
	Now     func() time.Time // time.Now if nil
}

// Handler serves POST /v1/verify.
type Handler struct {
	cfg Config
}

// New returns the handler.
func New(cfg Config) *Handler {
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	return &Handler{cfg: cfg}
}

// Request is the body of POST /v1/verify.
type Request struct {
	Key    string `json:"key"`
	API    string `json:"api,omitempty"`
	Method string `json:"method,omitempty"`
	Path   string `json:"path,omitempty"`
}

// Result is the answer. Key is nil for NOT_FOUND, so that answer is
// exactly {"valid":false,"code":"NOT_FOUND"}.
type Result struct {
	Valid bool   `json:"valid"`
	Code  string `json:"code"`
	*Key
	// RetryAfter is set with RATE_LIMITED and CREDITS_EXHAUSTED: whole
	// seconds until the call may succeed (0: unknown or never).
	RetryAfter *int64 `json:"retry_after,omitempty"`
}

// Key is what an answer says of a key of the caller's tenant.
type Key struct {
	KeyID     string          `json:"key_id"`
	Owner     string          `json:"owner"`
	Name      string          `json:"name"`
	Type      keygate.Type    `json:"type"`
	Role      keygate.Role    `json:"role"`
	Scopes    []string        `json:"scopes"`
	APIs      []string        `json:"apis"`
	ExpiresAt *time.Time      `json:"expires_at"`
	Meta      json.RawMessage `json:"meta"`
	Usage     *keygate.Usage  `json:"usage"`
}

// Handle is the Lambda entry point for API Gateway proxy events: REST API
// (payload 1.0) and HTTP API (payload 2.0), answered in the event's own
// shape. It never returns an error: failures are the error envelope.
func (h *Handler) Handle(ctx context.Context, event json.RawMessage) (json.RawMessage, error) {
	start := h.cfg.Now()
	req, err := proxyevent.Read(ctx, event)
	attrs := []slog.Attr{slog.String("request_id", req.ID), slog.String("route", "POST "+Path)}
	var res Result
	if err == nil {
		var caller keygate.Caller
		caller, err = proxyevent.Caller(req.Authorizer)
		if err == nil {
			attrs = append(attrs, slog.String("caller", caller.KeyID), slog.String("tenant", caller.Tenant))
			res, err = h.serve(ctx, req, caller.Tenant)
		}
	}
	status, body := http.StatusOK, []byte(nil)
	if err != nil {
		status, body = apierror.Status(keygate.ErrorCode(err)), apierror.Body(err, req.ID)
		attrs = append(attrs, slog.String("error", err.Error()))
	} else {
		body, err = json.Marshal(res)
		if err != nil {
			// Only a stored meta that is not JSON could fail here.
			status, body = http.StatusInternalServerError, apierror.Body(err, req.ID)
			attrs = append(attrs, slog.String("error", err.Error()))
		}
		attrs = append(attrs, slog.String("code", res.Code))
		if res.Key != nil {
			attrs = append(attrs, slog.String("key_id", res.KeyID))
		}
	}
	level := slog.LevelInfo
	if status >= 500 {
		level = slog.LevelError
	}
	attrs = append(attrs, slog.Int("status", status), slog.Int64("duration_ms", h.cfg.Now().Sub(start).Milliseconds()))
	h.cfg.Log.LogAttrs(ctx, level, "request", attrs...)
	return proxyevent.Respond(req, status, body)
}

// serve decodes the body and decides for tenant.
func (h *Handler) serve(ctx context.Context, req proxyevent.Request, tenant string) (Result, error) {
	if ct := req.Header("Content-Type"); len(ct) > 0 {
		mt, _, err := mime.ParseMediaType(ct[0])
		if len(ct) > 1 || err != nil || mt != "application/json" {
			return Result{}, keygate.Errorf(keygate.Invalid, "Content-Type must be application/json")
		}
	}
	body, err := req.Body(MaxBody)
	if err != nil {
		return Result{}, err
	}
	r, err := Decode(body)
	if err != nil {
		return Result{}, err
	}
	return h.Verify(ctx, r, tenant)
}

// Decode decodes and validates a body of POST /v1/verify.
func Decode(body []byte) (authorizer.Request, error) {
	if len(body) > MaxBody {
		return authorizer.Request{}, keygate.Errorf(keygate.PayloadTooLarge, "request body is larger than %d bytes", MaxBody)
	}
	var v Request
	err := strictjson.Decode(body, &v)
	var bad *strictjson.Error
	switch {
	case errors.As(err, &bad):
		return authorizer.Request{}, keygate.Errorf(keygate.Invalid, "%s", bad)
	case err != nil:
		return authorizer.Request{}, err
	case v.Key == "":
		return authorizer.Request{}, keygate.Errorf(keygate.Invalid, "key is required")
	case (v.Method == "") != (v.Path == ""):
		return authorizer.Request{}, keygate.Errorf(keygate.Invalid, "method and path go together: give both or neither")
	case v.Method != "" && !validMethod(v.Method):
		return authorizer.Request{}, keygate.Errorf(keygate.Invalid, "method must be an HTTP method in capitals, such as GET")
	case v.Path != "" && (!strings.HasPrefix(v.Path, "/") || len(v.Path) > maxPath):
		return authorizer.Request{}, keygate.Errorf(keygate.Invalid, "path must start with / and be at most %d bytes", maxPath)
	case v.API == keygate.AllAPIs || (v.API != "" && keygate.CheckAPIs([]string{v.API}) != nil):
		return authorizer.Request{}, keygate.Errorf(keygate.Invalid, "api must be an API id such as \"abc123def4\" or API id/stage such as \"abc123def4/prod\"")
	}
	r := authorizer.Request{Token: v.Key, Method: v.Method, Path: v.Path}
	r.API, r.Stage, _ = strings.Cut(v.API, "/")
	return r, nil
}

func validMethod(m string) bool {
	if len(m) > maxMethod {
		return false
	}
	for i := 0; i < len(m); i++ {
		if c := m[i]; c < 'A' || c > 'Z' {
			return false
		}
	}
	return true
}

// Verify decides r for a caller of tenant: the authorizer's Check, then
// the key's fields and usage for any key of tenant the token proved to
// be. A storage error is an error, never a verdict.
func (h *Handler) Verify(ctx context.Context, r authorizer.Request, tenant string) (Result, error) {
	d, err := h.cfg.Checker.Check(ctx, r, tenant)
	if err != nil {
		return Result{}, err
	}
	k, c := d.Key(), code(d)
	if k == nil || c == NotFound {
		return Result{Code: NotFound}, nil
	}
	res := Result{Code: c, Key: &Key{
		KeyID: k.ID, Owner: k.Owner, Name: k.Name, Type: k.Type, Role: k.Role,
		Scopes: nonNil(k.Scopes), APIs: nonNil(k.APIs), ExpiresAt: k.ExpiresAt, Meta: k.Meta,
	}}
	res.Valid = res.Code == Valid
	if res.Code == RateLimited || res.Code == CreditsExhausted {
		s := int64(d.RetryAfter / time.Second)
		res.RetryAfter = &s
	}
	if res.Key.Usage, err = h.cfg.Usage.Usage(ctx, k, h.cfg.Now()); err != nil {
		return Result{}, err
	}
	return res, nil
}

// code is the answer's code for a decision.
func code(d authorizer.Decision) string {
	if d.Key() == nil {
		return NotFound
	}
	switch d.Outcome {
	case authorizer.Allow:
		return Valid
	case authorizer.Deny:
		switch d.Refusal {
		case keygate.ReasonRateLimited:
			return RateLimited
		case keygate.ReasonCreditsExhausted:
			return CreditsExhausted
		}
		return Forbidden
	}
	switch d.Status() {
	case keygate.Expired:
		return Expired
	case keygate.Revoked:
		return Revoked
	case keygate.Disabled:
		return Disabled
	}
	return NotFound
}

func nonNil(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}
