// Package httpapi translates Lambda events for the management functions
// into service calls, and results and errors into responses. It accepts two
// shapes: API Gateway REST proxy events, whose caller is the key the
// authorizer vouched for, and plain JSON events from a direct invocation,
// whose caller is the IAM principal that may invoke the function (an
// operator, across tenants).
package httpapi

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"log/slog"
	"mime"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-lambda-go/lambdacontext"
	"github.com/keygate/keygate/shared/apikey"
	"github.com/keygate/keygate/shared/keygate"
	"github.com/keygate/keygate/shared/manage"
)

// Service is what the handlers call.
type Service interface {
	Create(ctx context.Context, c keygate.Caller, tenant string, req manage.CreateRequest, idempotencyKey string) (*manage.Created, error)
	List(ctx context.Context, c keygate.Caller, req manage.ListRequest) (*manage.List, error)
	Get(ctx context.Context, c keygate.Caller, tenant, id string) (*keygate.Key, error)
	Revoke(ctx context.Context, c keygate.Caller, tenant, id string) (*keygate.Key, error)
}

var _ Service = (*manage.Service)(nil)

// Function names one management function; each serves its own routes and
// its own direct-invocation event.
type Function string

const (
	Create Function = "create"
	List   Function = "list"
	Revoke Function = "revoke"
)

// Route is one management route: method and API Gateway resource path.
type Route struct {
	Function Function
	Method   string
	Resource string
}

// Routes are the management API's routes and the function serving each.
var Routes = []Route{
	{Create, http.MethodPost, "/v1/keys"},
	{List, http.MethodGet, "/v1/keys"},
	{List, http.MethodGet, "/v1/keys/{id}"},
	{List, http.MethodGet, "/v1/whoami"},
	{Revoke, http.MethodDelete, "/v1/keys/{id}"},
}

// Handler serves one management function.
type Handler struct {
	fn  Function
	svc Service
	log *slog.Logger
}

// New returns the handler of fn.
func New(fn Function, svc Service, log *slog.Logger) *Handler {
	return &Handler{fn: fn, svc: svc, log: log}
}

// Handle is the Lambda entry point. It never returns an error for a bad
// request: the error envelope is the response, in the event's own shape.
func (h *Handler) Handle(ctx context.Context, event json.RawMessage) (json.RawMessage, error) {
	var probe struct {
		HTTPMethod *string `json:"httpMethod"`
	}
	if json.Unmarshal(event, &probe) == nil && probe.HTTPMethod != nil {
		return h.handleProxy(ctx, event)
	}
	return h.handleDirect(ctx, event)
}

// result is what a request came to, for the response and the log line.
type result struct {
	status int
	body   any
	err    error
	caller keygate.Caller
	keyID  string
}

func (h *Handler) handleProxy(ctx context.Context, event json.RawMessage) (json.RawMessage, error) {
	start := time.Now()
	var req events.APIGatewayProxyRequest
	var res result
	if err := json.Unmarshal(event, &req); err != nil {
		res.err = keygate.Errorf(keygate.Invalid, "event is not an API Gateway proxy request")
	}
	requestID := req.RequestContext.RequestID
	if requestID == "" {
		requestID = lambdaRequestID(ctx)
	}
	if res.err == nil {
		res = h.serveProxy(manage.WithRequestID(ctx, requestID), &req)
	}
	body := h.finish(ctx, requestID, "proxy", req.HTTPMethod+" "+req.Resource, start, &res)
	resp := events.APIGatewayProxyResponse{
		StatusCode: res.status,
		Headers: map[string]string{
			"Content-Type":  "application/json",
			"Cache-Control": "no-store",
			"X-Request-Id":  requestID,
		},
		Body: string(body),
	}
	return json.Marshal(resp)
}

func (h *Handler) handleDirect(ctx context.Context, event json.RawMessage) (json.RawMessage, error) {
	start := time.Now()
	requestID := lambdaRequestID(ctx)
	res := h.serveDirect(manage.WithRequestID(ctx, requestID), event)
	return h.finish(ctx, requestID, "direct", string(h.fn), start, &res), nil
}

// finish logs the request and renders its body. Internal errors are logged
// in full and answered with a generic message.
func (h *Handler) finish(ctx context.Context, requestID, mode, route string, start time.Time, res *result) []byte {
	if res.err != nil {
		res.status = Status(keygate.ErrorCode(res.err))
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
		return ErrorBody(res.err, requestID)
	}
	b, err := json.Marshal(res.body)
	if err != nil {
		h.log.LogAttrs(ctx, slog.LevelError, "encode response", slog.String("request_id", requestID), slog.String("error", err.Error()))
		res.status = http.StatusInternalServerError
		return ErrorBody(err, requestID)
	}
	return b
}

func lambdaRequestID(ctx context.Context) string {
	if lc, ok := lambdacontext.FromContext(ctx); ok {
		return lc.AwsRequestID
	}
	return ""
}

func (h *Handler) serveProxy(ctx context.Context, req *events.APIGatewayProxyRequest) result {
	resource := req.Resource
	id := req.PathParameters["id"]
	if resource == "" {
		resource, id = resourceOf(req.Path)
	}
	var route *Route
	for i, r := range Routes {
		if r.Function == h.fn && r.Method == req.HTTPMethod && r.Resource == resource {
			route = &Routes[i]
		}
	}
	if route == nil {
		return result{err: keygate.Errorf(keygate.NotFound, "no such route")}
	}
	caller, err := callerFromAuthorizer(req.RequestContext.Authorizer)
	if err != nil {
		return result{err: err}
	}
	res := result{caller: caller, keyID: id}
	switch route.Resource {
	case "/v1/keys":
		if req.HTTPMethod == http.MethodPost {
			var body manage.CreateRequest
			if res.err = readBody(req, &body); res.err == nil {
				h.create(ctx, &res, "", body, header(req, "Idempotency-Key"))
			}
			return res
		}
		var lr manage.ListRequest
		if lr, res.err = listQuery(req); res.err == nil {
			res.body, res.err = h.svc.List(ctx, caller, lr)
		}
	case "/v1/whoami":
		res.keyID = caller.KeyID
		res.body, res.err = h.svc.Get(ctx, caller, "", caller.KeyID)
	case "/v1/keys/{id}":
		if req.HTTPMethod == http.MethodDelete {
			res.body, res.err = h.svc.Revoke(ctx, caller, "", id)
		} else {
			res.body, res.err = h.svc.Get(ctx, caller, "", id)
		}
	}
	res.status = http.StatusOK
	return res
}

// create runs a create for res's caller, in either event shape.
func (h *Handler) create(ctx context.Context, res *result, tenant string, req manage.CreateRequest, idempotencyKey string) {
	created, err := h.svc.Create(ctx, res.caller, tenant, req, idempotencyKey)
	if err != nil {
		res.err = err
		return
	}
	res.body, res.status, res.keyID = created, http.StatusCreated, created.ID
}

// resourceOf maps a concrete path to its route resource, for events that
// carry no resource (tests, hand-made events).
func resourceOf(path string) (resource, id string) {
	if rest, ok := strings.CutPrefix(path, "/v1/keys/"); ok && rest != "" && !strings.Contains(rest, "/") {
		return "/v1/keys/{id}", rest
	}
	return path, ""
}

// callerFromAuthorizer reads the context the Keygate authorizer attached.
// Without it the request did not pass the authorizer: fail closed.
func callerFromAuthorizer(ctx map[string]any) (keygate.Caller, error) {
	str := func(k string) string { s, _ := ctx[k].(string); return s }
	c := keygate.Caller{
		KeyID:  str("key_id"),
		Tenant: str("tenant"),
		Owner:  str("owner"),
		Type:   keygate.Type(str("type")),
		Role:   keygate.Role(str("role")),
	}
	unauthorized := keygate.Errorf(keygate.Unauthorized, "request was not authorized by the Keygate authorizer")
	if c.KeyID == "" || !keygate.ValidName(c.Tenant) || !keygate.ValidName(c.Owner) {
		return c, unauthorized
	}
	if (c.Type != keygate.User && c.Type != keygate.Service) || (c.Role != keygate.Admin && c.Role != keygate.Viewer) {
		return c, unauthorized
	}
	if err := json.Unmarshal([]byte(str("scopes")), &c.Scopes); err != nil {
		return c, unauthorized
	}
	return c, nil
}

func header(req *events.APIGatewayProxyRequest, name string) string {
	for k, v := range req.Headers {
		if strings.EqualFold(k, name) {
			return v
		}
	}
	return ""
}

func readBody(req *events.APIGatewayProxyRequest, v any) error {
	if ct := header(req, "Content-Type"); ct != "" {
		mt, _, err := mime.ParseMediaType(ct)
		if err != nil || mt != "application/json" {
			return keygate.Errorf(keygate.Invalid, "Content-Type must be application/json")
		}
	}
	body := []byte(req.Body)
	if req.IsBase64Encoded {
		if base64.StdEncoding.DecodedLen(len(req.Body)) > MaxBody+3 {
			return keygate.Errorf(keygate.PayloadTooLarge, "request body is larger than %d bytes", MaxBody)
		}
		var err error
		if body, err = base64.StdEncoding.DecodeString(req.Body); err != nil {
			return keygate.Errorf(keygate.Invalid, "request body is not valid base64")
		}
	}
	return decodeStrict(body, v)
}

// listQuery reads ?owner=&status=&limit=&cursor=. Unknown or repeated
// parameters are errors rather than silently ignored.
func listQuery(req *events.APIGatewayProxyRequest) (manage.ListRequest, error) {
	var lr manage.ListRequest
	params := req.MultiValueQueryStringParameters
	if params == nil {
		params = map[string][]string{}
		for k, v := range req.QueryStringParameters {
			params[k] = []string{v}
		}
	}
	for k, vs := range params {
		if len(vs) != 1 {
			return lr, keygate.Errorf(keygate.Invalid, "query parameter %s is repeated", quoteName(k))
		}
		v := vs[0]
		switch k {
		case "owner":
			lr.Owner = v
		case "status":
			lr.Status = keygate.Status(v)
		case "cursor":
			lr.Cursor = v
		case "limit":
			n, err := strconv.Atoi(v)
			if err != nil || n < 1 || n > manage.MaxListLimit {
				return lr, keygate.Errorf(keygate.Invalid, "limit must be a whole number from 1 to %d", manage.MaxListLimit)
			}
			lr.Limit = n
		default:
			return lr, keygate.Errorf(keygate.Invalid, "unknown query parameter %s", quoteName(k))
		}
	}
	return lr, nil
}

// Direct-invocation events. Tenant is required: an operator acts on one
// tenant at a time.
type (
	directCreate struct {
		Tenant         string `json:"tenant"`
		IdempotencyKey string `json:"idempotency_key,omitempty"`
		manage.CreateRequest
	}
	directList struct {
		Tenant string         `json:"tenant"`
		ID     string         `json:"id,omitempty"` // get one key
		Owner  string         `json:"owner,omitempty"`
		Status keygate.Status `json:"status,omitempty"`
		Limit  int            `json:"limit,omitempty"`
		Cursor string         `json:"cursor,omitempty"`
	}
	directRevoke struct {
		Tenant string `json:"tenant"`
		ID     string `json:"id"`
	}
)

func (h *Handler) serveDirect(ctx context.Context, event json.RawMessage) result {
	op := keygate.Caller{Operator: true}
	res := result{caller: op, status: http.StatusOK}
	switch h.fn {
	case Create:
		var e directCreate
		if res.err = decodeStrict(event, &e); res.err == nil {
			h.create(ctx, &res, e.Tenant, e.CreateRequest, e.IdempotencyKey)
		}
	case List:
		var e directList
		if res.err = decodeStrict(event, &e); res.err == nil {
			res.keyID = e.ID
			if e.ID != "" {
				res.body, res.err = h.svc.Get(ctx, op, e.Tenant, e.ID)
			} else {
				res.body, res.err = h.svc.List(ctx, op, manage.ListRequest{Tenant: e.Tenant, Owner: e.Owner, Status: e.Status, Limit: e.Limit, Cursor: e.Cursor})
			}
		}
	case Revoke:
		var e directRevoke
		if res.err = decodeStrict(event, &e); res.err == nil {
			res.keyID = e.ID
			if e.ID == "" {
				res.err = keygate.Errorf(keygate.Invalid, "id is required")
			} else {
				res.body, res.err = h.svc.Revoke(ctx, op, e.Tenant, e.ID)
			}
		}
	}
	return res
}
