package httpapi

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"mime"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/keygate/keygate/shared/console"
	"github.com/keygate/keygate/shared/keygate"
	"github.com/keygate/keygate/shared/lifecycle"
	"github.com/keygate/keygate/shared/manage"
)

// gatewayFields are top-level members that only API Gateway events carry
// (REST proxy, HTTP API payload 1.0 and 2.0). An event with any of them is
// never an operator's direct call: it came through a gateway, whose caller
// is whoever the authorizer vouched for, or nobody.
var gatewayFields = []string{
	"httpMethod", "requestContext", "version", "routeKey", "rawPath", "rawQueryString",
	"resource", "path", "headers", "multiValueHeaders", "queryStringParameters",
	"multiValueQueryStringParameters", "pathParameters", "stageVariables", "body", "isBase64Encoded", "cookies",
}

func isGatewayEvent(event json.RawMessage) bool {
	var members map[string]json.RawMessage
	if json.Unmarshal(event, &members) != nil {
		return false
	}
	for _, f := range gatewayFields {
		if _, ok := members[f]; ok {
			return true
		}
	}
	return false
}

// handleProxy answers any gateway event with a proxy response (statusCode,
// headers, body): behind an HTTP API a bare error body would be served as
// a 200. Only REST proxy events (payload 1.0: httpMethod at the top) are
// served; anything else is a 400 in the envelope.
func (h *Handler) handleProxy(ctx context.Context, event json.RawMessage) (json.RawMessage, error) {
	start := time.Now()
	var req events.APIGatewayProxyRequest
	res := outcome{}
	var probe struct {
		Version    string  `json:"version"`
		HTTPMethod *string `json:"httpMethod"`
	}
	switch {
	case json.Unmarshal(event, &probe) != nil || json.Unmarshal(event, &req) != nil:
		res = failed(keygate.Errorf(keygate.Invalid, "event is not an API Gateway proxy request"))
	case probe.Version == "2.0" || probe.HTTPMethod == nil:
		res = failed(keygate.Errorf(keygate.Invalid, "this function serves REST API proxy events (payload format 1.0) only"))
	}
	requestID := req.RequestContext.RequestID
	if requestID == "" {
		requestID = lambdaRequestID(ctx)
	}
	if res.err == nil {
		if route, _ := h.route(&req); route != nil && route.Public {
			return h.serveConsole(ctx, requestID, start, &req)
		}
		res = h.serveProxy(manage.WithRequestID(ctx, requestID), &req)
	}
	status, body := h.finish(ctx, requestID, "proxy", req.HTTPMethod+" "+req.Resource, start, res)
	return json.Marshal(events.APIGatewayProxyResponse{
		StatusCode: status,
		Headers: map[string]string{
			"Content-Type":  "application/json",
			"Cache-Control": "no-store",
			"X-Request-Id":  requestID,
		},
		Body: string(body),
	})
}

// route finds the route of this function a proxy event is for, and the
// key ID in its path.
func (h *Handler) route(req *events.APIGatewayProxyRequest) (*Route, string) {
	resource := req.Resource
	id := req.PathParameters["id"]
	if resource == "" {
		resource, id = resourceOf(req.Path)
	}
	for i, r := range Routes {
		if r.Function == h.fn && r.Method == req.HTTPMethod && r.Resource == resource {
			return &Routes[i], id
		}
	}
	return nil, ""
}

// serveConsole answers the console's public routes with its page or
// asset as they are (not JSON), with the console's security headers.
func (h *Handler) serveConsole(ctx context.Context, requestID string, start time.Time, req *events.APIGatewayProxyRequest) (json.RawMessage, error) {
	status, headers, body, _ := console.Response(req.Path)
	headers["X-Request-Id"] = requestID
	h.finish(ctx, requestID, "proxy", req.HTTPMethod+" "+req.Resource, start, outcome{status: status, body: nil})
	return json.Marshal(events.APIGatewayProxyResponse{StatusCode: status, Headers: headers, Body: string(body)})
}

func (h *Handler) serveProxy(ctx context.Context, req *events.APIGatewayProxyRequest) outcome {
	route, id := h.route(req)
	if route == nil {
		return failed(keygate.Errorf(keygate.NotFound, "no such route"))
	}
	caller, err := callerFromAuthorizer(req.RequestContext.Authorizer)
	if err != nil {
		return failed(err)
	}
	q, err := queryOf(req)
	if err != nil {
		return outcome{err: err, caller: caller}
	}
	res := outcome{caller: caller, keyID: id, status: http.StatusOK}
	switch route.Method + " " + route.Resource {
	case "POST /v1/keys":
		if err := q.only(); err != nil {
			return outcome{err: err, caller: caller}
		}
		var body manage.CreateRequest
		if err := readBody(req, &body); err != nil {
			return outcome{err: err, caller: caller}
		}
		body.IdempotencyKey = header(req, "Idempotency-Key")
		return h.create(ctx, caller, body)
	case "GET /v1/keys":
		lr, err := listRequest(q)
		if err != nil {
			return outcome{err: err, caller: caller}
		}
		res.body, res.err = h.svc.List(ctx, caller, lr)
	case "GET /v1/whoami":
		res.keyID = caller.KeyID
		if res.err = q.only(); res.err == nil {
			res.body, res.err = h.svc.Get(ctx, caller, manage.GetRequest{Tenant: "", ID: caller.KeyID})
		}
	case "GET /v1/keys/{id}":
		if res.err = q.only(); res.err == nil {
			res.body, res.err = h.svc.Get(ctx, caller, manage.GetRequest{Tenant: "", ID: id})
		}
	case "POST /v1/keys/{id}/rotate":
		if err := q.only(); err != nil {
			return outcome{err: err, caller: caller, keyID: id}
		}
		var body manage.RotateRequest
		if req.Body != "" {
			if err := readBody(req, &body); err != nil {
				return outcome{err: err, caller: caller, keyID: id}
			}
		}
		body.ID, body.IdempotencyKey = id, header(req, "Idempotency-Key")
		return h.rotate(ctx, caller, body)
	case "PATCH /v1/keys/{id}":
		if err := q.only(); err != nil {
			return outcome{err: err, caller: caller, keyID: id}
		}
		var body manage.UpdateRequest
		if err := readBody(req, &body); err != nil {
			return outcome{err: err, caller: caller, keyID: id}
		}
		body.ID = id
		res.body, res.err = h.svc.Update(ctx, caller, body)
	case "GET /v1/audit":
		ar, err := auditRequest(q)
		if err != nil {
			return outcome{err: err, caller: caller}
		}
		res.keyID = ar.KeyID
		res.body, res.err = h.svc.Audit(ctx, caller, ar)
	case "GET /v1/settings", "PUT /v1/settings":
		if h.settings == nil {
			return failed(keygate.Errorf(keygate.NotFound, "no such route"))
		}
		if err := q.only(); err != nil {
			return outcome{err: err, caller: caller}
		}
		if route.Method == http.MethodGet {
			res.body, res.err = h.settings.Get(ctx, caller, caller.Tenant)
			break
		}
		var ch lifecycle.SettingsChange
		if err := readBody(req, &ch); err != nil {
			return outcome{err: err, caller: caller}
		}
		res.body, res.err = h.settings.Update(ctx, caller, caller.Tenant, ch)
	case "DELETE /v1/keys/{id}":
		cascade, err := q.boolean("cascade")
		if err == nil {
			err = q.only("cascade")
		}
		if err != nil {
			return outcome{err: err, caller: caller, keyID: id}
		}
		res.body, res.err = h.svc.Revoke(ctx, caller, manage.RevokeRequest{ID: id, Cascade: cascade})
	}
	return res
}

// create runs a create for caller, in either event shape.
func (h *Handler) create(ctx context.Context, caller keygate.Caller, req manage.CreateRequest) outcome {
	created, err := h.svc.Create(ctx, caller, req)
	if err != nil {
		return outcome{err: err, caller: caller}
	}
	return revealed(created, caller)
}

// rotate runs a rotation for caller, in either event shape.
func (h *Handler) rotate(ctx context.Context, caller keygate.Caller, req manage.RotateRequest) outcome {
	created, err := h.svc.Rotate(ctx, caller, req)
	if err != nil {
		return outcome{err: err, caller: caller, keyID: req.ID}
	}
	return revealed(created, caller)
}

// revealed is the answer to a create or rotate: the new key with its
// token, the one response that shows it. A Created on its own marshals
// the token as "[token]".
func revealed(created *manage.Created, caller keygate.Caller) outcome {
	b, err := created.Response()
	if err != nil {
		return outcome{err: err, caller: caller, keyID: created.ID}
	}
	return outcome{body: json.RawMessage(b), status: http.StatusCreated, caller: caller, keyID: created.ID}
}

// resourceOf maps a concrete path to its route resource, for events that
// carry no resource (tests, hand-made events).
func resourceOf(path string) (resource, id string) {
	if asset, ok := strings.CutPrefix(path, console.Prefix+"/"); ok && asset != "" {
		return console.Prefix + "/{asset}", ""
	}
	if rest, ok := strings.CutPrefix(path, "/v1/keys/"); ok && rest != "" {
		if id, ok := strings.CutSuffix(rest, "/rotate"); ok && id != "" && !strings.Contains(id, "/") {
			return "/v1/keys/{id}/rotate", id
		}
		if !strings.Contains(rest, "/") {
			return "/v1/keys/{id}", rest
		}
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
	if err := json.Unmarshal([]byte(str("apis")), &c.APIs); err != nil {
		return c, unauthorized
	}
	if exp := str("expires_at"); exp != "" {
		t, err := time.Parse(time.RFC3339Nano, exp)
		if err != nil {
			return c, unauthorized
		}
		c.ExpiresAt = &t
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

// query is a request's query parameters. Every route refuses parameters it
// does not know and parameters given more than once (README, OpenAPI):
// silently ignoring one would let a typo such as ?cascde=true pass as a
// plain revoke.
type query map[string][]string

func queryOf(req *events.APIGatewayProxyRequest) (query, error) {
	params := req.MultiValueQueryStringParameters
	if params == nil {
		params = map[string][]string{}
		for k, v := range req.QueryStringParameters {
			params[k] = []string{v}
		}
	}
	for k, vs := range params {
		if len(vs) != 1 {
			return nil, keygate.Errorf(keygate.Invalid, "query parameter %s is repeated", quoteName(k))
		}
	}
	return query(params), nil
}

// only fails on any parameter not in known.
func (q query) only(known ...string) error {
	for k := range q {
		found := false
		for _, n := range known {
			found = found || k == n
		}
		if !found {
			return keygate.Errorf(keygate.Invalid, "unknown query parameter %s", quoteName(k))
		}
	}
	return nil
}

func (q query) get(name string) (string, bool) {
	v, ok := q[name]
	if !ok {
		return "", false
	}
	return v[0], true
}

// boolean reads an optional true/false parameter; anything else is a 400.
func (q query) boolean(name string) (bool, error) {
	v, ok := q.get(name)
	switch {
	case !ok || v == "false":
		return false, nil
	case v == "true":
		return true, nil
	}
	return false, keygate.Errorf(keygate.Invalid, "query parameter %s must be true or false", name)
}

// auditRequest reads ?key_id=&limit=&cursor=.
func auditRequest(q query) (manage.AuditRequest, error) {
	var ar manage.AuditRequest
	if err := q.only("key_id", "limit", "cursor"); err != nil {
		return ar, err
	}
	ar.KeyID, _ = q.get("key_id")
	ar.Cursor, _ = q.get("cursor")
	var err error
	ar.Limit, err = q.limit()
	return ar, err
}

// limit reads an optional ?limit= (0 when absent).
func (q query) limit() (int, error) {
	v, ok := q.get("limit")
	if !ok {
		return 0, nil
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < 1 || n > manage.MaxListLimit {
		return 0, keygate.Errorf(keygate.Invalid, "limit must be a whole number from 1 to %d", manage.MaxListLimit)
	}
	return n, nil
}

// listRequest reads ?owner=&status=&limit=&cursor=.
func listRequest(q query) (manage.ListRequest, error) {
	var lr manage.ListRequest
	if err := q.only("owner", "status", "limit", "cursor"); err != nil {
		return lr, err
	}
	lr.Owner, _ = q.get("owner")
	status, _ := q.get("status")
	lr.Status = keygate.Status(status)
	lr.Cursor, _ = q.get("cursor")
	var err error
	lr.Limit, err = q.limit()
	return lr, err
}
