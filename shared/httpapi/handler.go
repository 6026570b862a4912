// Package httpapi translates Lambda events for the management functions
// into service calls, and results and errors into responses. It accepts two
// kinds of event: API Gateway proxy events (proxy.go), whose caller is the
// key the authorizer vouched for, and plain JSON events from a direct
// invocation (direct.go), whose caller is the IAM principal that may invoke
// the function (an operator, across tenants).
package httpapi

import (
	"context"
	"encoding/json"
	"log/slog"
	"net/http"
	"time"

	"github.com/aws/aws-lambda-go/lambdacontext"
	"github.com/keygate/keygate/shared/apierror"
	"github.com/keygate/keygate/shared/apikey"
	"github.com/keygate/keygate/shared/keygate"
	"github.com/keygate/keygate/shared/manage"
	"github.com/keygate/keygate/shared/settings"
)

// Service is what the handlers call.
type Service interface {
	Create(ctx context.Context, c keygate.Caller, req manage.CreateRequest) (*manage.Created, error)
	List(ctx context.Context, c keygate.Caller, req manage.ListRequest) (*manage.List, error)
	Get(ctx context.Context, c keygate.Caller, req manage.GetRequest) (*keygate.Key, error)
	Revoke(ctx context.Context, c keygate.Caller, req manage.RevokeRequest) (*manage.Revoked, error)
	Rotate(ctx context.Context, c keygate.Caller, req manage.RotateRequest) (*manage.Created, error)
	Update(ctx context.Context, c keygate.Caller, req manage.UpdateRequest) (*keygate.Key, error)
	Audit(ctx context.Context, c keygate.Caller, req manage.AuditRequest) (*manage.AuditPage, error)
	Import(ctx context.Context, c keygate.Caller, req manage.ImportRequest) (*manage.Imported, error)
}

var _ Service = (*manage.Service)(nil)

// SettingsService reads and changes a tenant's notification settings
// (shared/settings): the /v1/settings routes.
type SettingsService interface {
	Get(ctx context.Context, c keygate.Caller, tenant string) (keygate.Settings, error)
	Update(ctx context.Context, c keygate.Caller, tenant string, ch settings.Change) (keygate.Settings, error)
}

var _ SettingsService = (*settings.Service)(nil)

// Handler serves one management function.
type Handler struct {
	fn       Function
	svc      Service
	settings SettingsService
	log      *slog.Logger
}

// New returns the handler of fn; settings serves /v1/settings (nil: those
// routes answer 404).
func New(fn Function, svc Service, settings SettingsService, log *slog.Logger) *Handler {
	return &Handler{fn: fn, svc: svc, settings: settings, log: log}
}

// Handle is the Lambda entry point. It never returns an error for a bad
// request: the error envelope is the response, in the event's own shape.
func (h *Handler) Handle(ctx context.Context, event json.RawMessage) (json.RawMessage, error) {
	if isGatewayEvent(event) {
		return h.handleProxy(ctx, event)
	}
	return h.handleDirect(ctx, event)
}

// outcome is what a request came to, for the response and the log line.
type outcome struct {
	status int
	body   any
	err    error
	caller keygate.Caller
	keyID  string
}

func failed(err error) outcome { return outcome{err: err} }

// finish logs the request and renders its body and status. Internal errors
// are logged in full and answered with a generic message.
func (h *Handler) finish(ctx context.Context, requestID, mode, route string, start time.Time, res outcome) (int, []byte) {
	if res.err != nil {
		res.status = apierror.Status(keygate.ErrorCode(res.err))
	}
	attrs := []slog.Attr{
		slog.String("request_id", requestID),
		slog.String("function", string(h.fn)),
		slog.String("mode", mode),
		slog.String("route", route),
		slog.Int("status", res.status),
		slog.Int64("duration_ms", time.Since(start).Milliseconds()),
	}
	if res.caller.KeyID != "" {
		attrs = append(attrs, slog.String("caller_key_id", res.caller.KeyID), slog.String("tenant", res.caller.Tenant))
	}
	// An ID from the request is logged only if it is shaped like one:
	// people paste whole tokens where IDs belong.
	if apikey.ValidID(res.keyID) {
		attrs = append(attrs, slog.String("key_id", res.keyID))
	}
	level := slog.LevelInfo
	if res.err != nil {
		attrs = append(attrs, slog.String("error", res.err.Error()))
		if res.status >= 500 {
			level = slog.LevelError
		}
	}
	h.log.LogAttrs(ctx, level, "request", attrs...)
	if res.err != nil {
		return res.status, apierror.Body(res.err, requestID)
	}
	b, err := json.Marshal(res.body)
	if err != nil {
		h.log.LogAttrs(ctx, slog.LevelError, "encode response", slog.String("request_id", requestID), slog.String("error", err.Error()))
		return http.StatusInternalServerError, apierror.Body(err, requestID)
	}
	return res.status, b
}

func lambdaRequestID(ctx context.Context) string {
	if lc, ok := lambdacontext.FromContext(ctx); ok {
		return lc.AwsRequestID
	}
	return ""
}
