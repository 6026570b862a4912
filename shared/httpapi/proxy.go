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
	"github.com/keygate/keygate/shared/apierror"
	"github.com/keygate/keygate/shared/console"
	"github.com/keygate/keygate/shared/keygate"
	"github.com/keygate/keygate/shared/manage"
	"github.com/keygate/keygate/shared/proxyevent"
	"github.com/keygate/keygate/shared/settings"
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
	// The event itself is decoded tolerantly: API Gateway writes it and AWS
	// adds fields over time. The body in it, which the client wrote, is
	// decoded strictly (readBody).
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
		if route, _ := h.route(&req); route != nil && route.Access == Public {
			return h.serveConsole(ctx, requestID, start, &req)
		}
		res = h.serveProxy(manage.WithRequestID(ctx, requestID), &req)
	}
	status, body := h.finish(ctx, requestID, "proxy", req.HTTPMethod+" "+req.Resource, start, res)
	return json.Marshal(events.APIGatewayProxyResponse{
		StatusCode: status,
		Headers:    apierror.Headers(requestID),
		Body:       string(body),
	})
}

// route finds the route of this function a proxy event is for, and the
// key ID in its path. Events without a resource (tests, hand-made events)
// are matched by their path.
func (h *Handler) route(req *events.APIGatewayProxyRequest) (*Route, string) {
	if req.Resource == "" {
		r, params, ok := Match(req.HTTPMethod, req.Path)
		if !ok || r.Function != h.fn {
			return nil, ""
		}
		return &r, params["id"]
	}
	for i, r := range Routes {
		if r.Function == h.fn && r.Method == req.HTTPMethod && r.Resource == req.Resource {
			return &Routes[i], req.PathParameters["id"]
		}
	}
	return nil, ""
}

// serveConsole answers the console's public routes with its page, an
// asset or the route table (RoutesPath) as they are (not the JSON
// envelope), with the console's security headers.
func (h *Handler) serveConsole(ctx context.Context, requestID string, start time.Time, req *events.APIGatewayProxyRequest) (json.RawMessage, error) {
	status, headers, body, _ := console.Response(req.Path)
	if req.Path == RoutesPath {
		status, headers, body = http.StatusOK, console.SecurityHeaders(), routesJSON(req.RequestContext.APIID)
		headers["Content-Type"] = "application/json"
		headers["Content-Length"] = strconv.Itoa(len(body))
	}
	headers["X-Request-Id"] = requestID
	h.finish(ctx, requestID, "proxy", req.HTTPMethod+" "+req.Resource, start, outcome{status: status, body: nil})
	return json.Marshal(events.APIGatewayProxyResponse{StatusCode: status, Headers: headers, Body: string(body)})
}

// call is one proxy request on its route: the caller the authorizer
// vouched for, the key ID in the path and the query parameters.
type call struct {
	req    *events.APIGatewayProxyRequest
	caller keygate.Caller
	id     string
	query  query
}

// fail is the outcome of a request the route refuses.
func (c *call) fail(err error) outcome {
	return outcome{err: err, caller: c.caller, keyID: c.id}
}

// answer is the outcome of a service call: 200 with its result.
func (c *call) answer(body any, err error) outcome {
	return outcome{body: body, err: err, caller: c.caller, keyID: c.id, status: http.StatusOK}
}

func (h *Handler) serveProxy(ctx context.Context, req *events.APIGatewayProxyRequest) outcome {
	route, id := h.route(req)
	if route == nil || route.proxy == nil {
		return failed(keygate.Errorf(keygate.NotFound, "no such route"))
	}
	caller, err := callerFromAuthorizer(req.RequestContext.Authorizer)
	if err != nil {
		return failed(err)
	}
	// The call as the authorizer judged it: a mutation checks that the
	// acting key, read now, still admits it.
	caller.Request = keygate.Request{
		Method: route.Method, Path: strings.Replace(route.Resource, "{id}", id, 1),
		API: req.RequestContext.APIID, Stage: req.RequestContext.Stage,
	}
	q, err := queryOf(req)
	if err != nil {
		return outcome{err: err, caller: caller}
	}
	return route.proxy(h, ctx, &call{req: req, caller: caller, id: id, query: q})
}

func (h *Handler) proxyCreate(ctx context.Context, c *call) outcome {
	if err := c.query.only(); err != nil {
		return c.fail(err)
	}
	var body manage.CreateRequest
	raw, err := requestBody(c.req)
	if err == nil {
		err = decodeKey(raw, &body)
	}
	if err != nil {
		return c.fail(err)
	}
	body.IdempotencyKey = header(c.req, "Idempotency-Key")
	return h.create(ctx, c.caller, body)
}

func (h *Handler) proxyRotate(ctx context.Context, c *call) outcome {
	if err := c.query.only(); err != nil {
		return c.fail(err)
	}
	var body manage.RotateRequest
	if c.req.Body != "" {
		if err := readBody(c.req, &body); err != nil {
			return c.fail(err)
		}
	}
	body.ID, body.IdempotencyKey = c.id, header(c.req, "Idempotency-Key")
	return h.rotate(ctx, c.caller, body)
}

func (h *Handler) proxyList(ctx context.Context, c *call) outcome {
	lr, err := listRequest(c.query)
	if err != nil {
		return c.fail(err)
	}
	return c.answer(h.svc.List(ctx, c.caller, lr))
}

func (h *Handler) proxyGet(ctx context.Context, c *call) outcome {
	if err := c.query.only(); err != nil {
		return c.fail(err)
	}
	return c.answer(h.svc.Get(ctx, c.caller, manage.GetRequest{Tenant: "", ID: c.id}))
}

func (h *Handler) proxyWhoami(ctx context.Context, c *call) outcome {
	c.id = c.caller.KeyID
	if err := c.query.only(); err != nil {
		return c.fail(err)
	}
	return c.answer(h.svc.Get(ctx, c.caller, manage.GetRequest{Tenant: "", ID: c.caller.KeyID}))
}

func (h *Handler) proxyAudit(ctx context.Context, c *call) outcome {
	ar, err := auditRequest(c.query)
	if err != nil {
		return c.fail(err)
	}
	c.id = ar.KeyID
	return c.answer(h.svc.Audit(ctx, c.caller, ar))
}

func (h *Handler) proxyRevoke(ctx context.Context, c *call) outcome {
	cascade, err := c.query.boolean("cascade")
	if err == nil {
		err = c.query.only("cascade")
	}
	if err != nil {
		return c.fail(err)
	}
	return c.answer(h.svc.Revoke(ctx, c.caller, manage.RevokeRequest{ID: c.id, Cascade: cascade}))
}

func (h *Handler) proxyUpdate(ctx context.Context, c *call) outcome {
	if err := c.query.only(); err != nil {
		return c.fail(err)
	}
	var body manage.UpdateRequest
	if err := readUpdate(c.req, &body); err != nil {
		return c.fail(err)
	}
	body.ID = c.id
	return c.answer(h.svc.Update(ctx, c.caller, body))
}

// proxySettings and proxySaveSettings serve /v1/settings when the handler
// has a settings service; without one the routes are not found.
func (h *Handler) proxySettings(ctx context.Context, c *call) outcome {
	if h.settings == nil {
		return failed(keygate.Errorf(keygate.NotFound, "no such route"))
	}
	if err := c.query.only(); err != nil {
		return c.fail(err)
	}
	return c.answer(h.settings.Get(ctx, c.caller, c.caller.Tenant))
}

func (h *Handler) proxySaveSettings(ctx context.Context, c *call) outcome {
	if h.settings == nil {
		return failed(keygate.Errorf(keygate.NotFound, "no such route"))
	}
	if err := c.query.only(); err != nil {
		return c.fail(err)
	}
	var ch settings.Change
	if err := readBody(c.req, &ch); err != nil {
		return c.fail(err)
	}
	return c.answer(h.settings.Update(ctx, c.caller, c.caller.Tenant, ch))
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

// callerFromAuthorizer reads the context the Keygate authorizer attached
// (proxyevent.Caller). Without it the request did not pass the
// authorizer: fail closed.
func callerFromAuthorizer(ctx map[string]any) (keygate.Caller, error) {
	return proxyevent.Caller(ctx)
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
	body, err := requestBody(req)
	if err != nil {
		return err
	}
	return decodeBody(body, v)
}

// readUpdate reads a PATCH body, its nulls included (decodeUpdate).
func readUpdate(req *events.APIGatewayProxyRequest, v *manage.UpdateRequest) error {
	body, err := requestBody(req)
	if err != nil {
		return err
	}
	return decodeUpdate(body, v, v)
}

// requestBody is a request's JSON body, base64-decoded if need be.
func requestBody(req *events.APIGatewayProxyRequest) ([]byte, error) {
	if ct := header(req, "Content-Type"); ct != "" {
		mt, _, err := mime.ParseMediaType(ct)
		if err != nil || mt != "application/json" {
			return nil, keygate.Errorf(keygate.Invalid, "Content-Type must be application/json")
		}
	}
	body := []byte(req.Body)
	if req.IsBase64Encoded {
		if base64.StdEncoding.DecodedLen(len(req.Body)) > MaxBody+3 {
			return nil, keygate.Errorf(keygate.PayloadTooLarge, "request body is larger than %d bytes", MaxBody)
		}
		var err error
		if body, err = base64.StdEncoding.DecodeString(req.Body); err != nil {
			return nil, keygate.Errorf(keygate.Invalid, "request body is not valid base64")
		}
	}
	return body, nil
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

// listRequest reads ?owner=&external_id=&status=&limit=&cursor=.
func listRequest(q query) (manage.ListRequest, error) {
	var lr manage.ListRequest
	if err := q.only("owner", "external_id", "status", "limit", "cursor"); err != nil {
		return lr, err
	}
	lr.Owner, _ = q.get("owner")
	if ext, ok := q.get("external_id"); ok {
		// Given empty, it is refused, not read as "any".
		if err := keygate.CheckExternalID(ext); err != nil {
			return lr, err
		}
		lr.ExternalID = ext
	}
	status, _ := q.get("status")
	lr.Status = keygate.Status(status)
	lr.Cursor, _ = q.get("cursor")
	var err error
	lr.Limit, err = q.limit()
	return lr, err
}
