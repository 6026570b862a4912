// Package gateway is a local stand-in for API Gateway, for make run and
// end-to-end tests: the REST API of template.yaml, an HTTP API attached
// as docs/snippets/http-api.yaml attaches one, or make run's metered
// sample REST API (Demo). It does what API Gateway
// does and nothing more: it builds the Lambda authorizer event, calls the
// authorizer, caches its answer under the configured identity sources
// exactly as API Gateway does, enforces it (a REST API's refusal is
// template.yaml's ACCESS_DENIED gateway response, rendered from the
// authorizer's context), builds the proxy event with the
// authorizer context, calls the integration and turns its response back
// into HTTP. The business logic is the functions' own handlers; none of it
// is reimplemented here.
package gateway

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/aws/aws-lambda-go/events"
	"github.com/keygate/keygate/shared/apierror"
	"github.com/keygate/keygate/shared/httpapi"
	"github.com/keygate/keygate/shared/keygate"
	"github.com/keygate/keygate/shared/scope"
)

// AuthorizerFunc is a Lambda authorizer handler.
type AuthorizerFunc func(context.Context, json.RawMessage) (any, error)

// IntegrationFunc is a Lambda proxy integration handler.
type IntegrationFunc func(context.Context, json.RawMessage) (json.RawMessage, error)

// Gateway serves the management routes (RESTAPI), a Proxy resource
// (RESTAPI) or Routes (HTTPAPI).
type Gateway struct {
	// API is the kind of API emulated; the zero value is a REST API.
	API API
	// ID is the API's id in ARNs and events; "" is APIID.
	ID         string
	Authorizer AuthorizerFunc
	// Integrations serve the management routes of a REST API.
	Integrations map[httpapi.Function]IntegrationFunc
	// Open serves a REST API's routes outside the management route table
	// that have no authorizer, by "METHOD path" (the secret-scanning
	// route, whose alerts carry their own signature).
	Open map[string]IntegrationFunc
	// Authorized serves a REST API's routes outside the management route
	// table that are behind the authorizer, by "METHOD path" (POST
	// /v1/verify, served by its own function).
	Authorized map[string]IntegrationFunc
	// Proxy, if set, makes the REST API one greedy resource behind the
	// authorizer in place of the management routes: every method of every
	// path under Proxy.Base.
	Proxy *Proxy
	// Routes are an HTTP API's routes, each behind the authorizer.
	Routes []Route
	// IdentitySources are the authorizer's identity sources in API
	// Gateway's syntax for API, and so the result cache key: nil means
	// DefaultIdentitySources(API), what docs/snippets configure.
	IdentitySources []string
	// ResultTTL is the authorizer result cache TTL. 0 disables caching.
	ResultTTL time.Duration
	// OpenAPI, if set, is served at /openapi.yaml.
	OpenAPI []byte
	Log     *slog.Logger
	Now     func() time.Time

	mu     sync.Mutex
	cache  map[string]cachedPolicy
	simple map[string]cachedSimple
}

type cachedPolicy struct {
	policy  events.APIGatewayCustomAuthorizerResponse
	expires time.Time
}

// Identity of the emulated API, as it appears in ARNs and events.
const (
	Region    = "us-east-1"
	AccountID = "123456789012"
	APIID     = "kglocal001"
	// DemoAPIID is make run's metered sample API (Demo).
	DemoAPIID = "kglocal002"
	Stage     = "local"
	// MaxPayload is API Gateway's request payload limit.
	MaxPayload = 10 << 20
)

// Proxy is a REST API resource ANY <Base>/{proxy+} and its Lambda proxy
// integration: every method, every path below Base.
type Proxy struct {
	Base        string
	Integration IntegrationFunc
}

// resource is the proxy resource for an escaped path, with its proxy path
// parameter (unescaped, as API Gateway passes it).
func (p *Proxy) resource(method, escapedPath string) (httpapi.Route, map[string]string, bool) {
	rest, ok := strings.CutPrefix(escapedPath, p.Base+"/")
	if !ok || rest == "" {
		return httpapi.Route{}, nil, false
	}
	v, err := url.PathUnescape(rest)
	if err != nil {
		return httpapi.Route{}, nil, false
	}
	return httpapi.Route{Method: method, Resource: p.Base + "/{proxy+}"}, map[string]string{"proxy": v}, true
}

func (g *Gateway) apiID() string {
	if g.ID != "" {
		return g.ID
	}
	return APIID
}

func (g *Gateway) now() time.Time {
	if g.Now != nil {
		return g.Now()
	}
	return time.Now()
}

func (g *Gateway) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if g.API == HTTPAPI {
		g.serveHTTPAPI(w, r)
		return
	}
	requestID := newRequestID()
	if r.URL.Path == "/openapi.yaml" && r.Method == http.MethodGet && g.OpenAPI != nil {
		w.Header().Set("Content-Type", "application/yaml")
		_, _ = w.Write(g.OpenAPI)
		return
	}
	if fn, ok := g.Open[r.Method+" "+r.URL.EscapedPath()]; ok {
		body, ok := g.readBody(w, r, requestID)
		if ok {
			// Authorization NONE, as template.yaml declares it.
			route := httpapi.Route{Method: r.Method, Resource: r.URL.Path}
			g.integrate(w, r.Context(), fn, g.proxyEvent(r, route, nil, body, requestID), requestID)
		}
		return
	}
	var (
		route  httpapi.Route
		params map[string]string
		fn     IntegrationFunc
		ok     bool
	)
	if g.Proxy != nil {
		route, params, ok = g.Proxy.resource(r.Method, r.URL.EscapedPath())
		fn = g.Proxy.Integration
	} else if afn, found := g.Authorized[r.Method+" "+r.URL.EscapedPath()]; found {
		route, fn, ok = httpapi.Route{Method: r.Method, Resource: r.URL.Path}, afn, true
	} else {
		route, params, ok = match(r.Method, r.URL.EscapedPath())
		fn = g.Integrations[route.Function]
	}
	if !ok {
		g.fail(w, requestID, keygate.Errorf(keygate.NotFound, "no such route"))
		return
	}
	body, ok := g.readBody(w, r, requestID)
	if !ok {
		return
	}
	if route.Access == httpapi.Public {
		// Authorization NONE, as template.yaml gives the console's routes.
		g.integrate(w, r.Context(), fn, g.proxyEvent(r, route, params, body, requestID), requestID)
		return
	}
	methodARN := fmt.Sprintf("arn:aws:execute-api:%s:%s:%s/%s/%s%s", Region, AccountID, g.apiID(), Stage, r.Method, r.URL.EscapedPath())

	policy, err := g.authorize(r, route, params, methodARN, requestID)
	if err != nil {
		g.fail(w, requestID, err)
		return
	}
	switch evaluate(policy.PolicyDocument, methodARN) {
	case "Deny", "":
		// ACCESS_DENIED: template.yaml's gateway response, rendered from
		// this policy's context.
		g.accessDenied(w, policy, requestID)
		return
	}
	authContext := map[string]any{"principalId": policy.PrincipalID, "integrationLatency": 0}
	for k, v := range policy.Context {
		authContext[k] = v
	}
	event := g.proxyEvent(r, route, params, body, requestID)
	event.RequestContext.Authorizer = authContext
	g.integrate(w, r.Context(), fn, event, requestID)
}

// readBody reads a request body up to API Gateway's payload limit; past
// it, it answers 413 and ok is false.
func (g *Gateway) readBody(w http.ResponseWriter, r *http.Request, requestID string) (body []byte, ok bool) {
	body, err := io.ReadAll(io.LimitReader(r.Body, MaxPayload+1))
	if err != nil || len(body) > MaxPayload {
		g.fail(w, requestID, keygate.Errorf(keygate.PayloadTooLarge, "request body is too large"))
		return nil, false
	}
	return body, true
}

// authorize returns the policy for this request: from the result cache, or
// by calling the authorizer with the REQUEST event API Gateway would build.
func (g *Gateway) authorize(r *http.Request, route httpapi.Route, params map[string]string, methodARN, requestID string) (events.APIGatewayCustomAuthorizerResponse, error) {
	var none events.APIGatewayCustomAuthorizerResponse
	unauthorized := keygate.Errorf(keygate.Unauthorized, "missing or invalid API key")
	var identity string
	if g.ResultTTL > 0 {
		// With caching on, API Gateway requires every identity source and
		// answers 401 without calling the authorizer when one is absent.
		key, _, missing, err := identityKey(RESTAPI, g.identitySources(), requestFacts{
			r: r, path: "/" + Stage + r.URL.EscapedPath(), resource: route.Resource, apiID: g.apiID(),
		})
		if err != nil {
			return none, err
		}
		if missing {
			return none, unauthorized
		}
		identity = key
		g.mu.Lock()
		c, ok := g.cache[identity]
		g.mu.Unlock()
		if ok && g.now().Before(c.expires) {
			return c.policy, nil
		}
	}
	ev := events.APIGatewayCustomAuthorizerRequestTypeRequest{
		Type:                            "REQUEST",
		MethodArn:                       methodARN,
		Resource:                        route.Resource,
		Path:                            r.URL.Path,
		HTTPMethod:                      r.Method,
		Headers:                         firstValues(r.Header),
		MultiValueHeaders:               r.Header,
		QueryStringParameters:           firstValues(r.URL.Query()),
		MultiValueQueryStringParameters: r.URL.Query(),
		PathParameters:                  params,
		StageVariables:                  map[string]string{},
		RequestContext: events.APIGatewayCustomAuthorizerRequestTypeRequestContext{
			Path: "/" + Stage + r.URL.Path, AccountID: AccountID, Stage: Stage, RequestID: requestID,
			ResourcePath: route.Resource, HTTPMethod: r.Method, APIID: g.apiID(),
			Identity: events.APIGatewayCustomAuthorizerRequestTypeRequestIdentity{SourceIP: sourceIP(r)},
		},
	}
	raw, _ := json.Marshal(ev)
	out, err := g.Authorizer(r.Context(), raw)
	if err != nil {
		if err.Error() == "Unauthorized" {
			return none, unauthorized
		}
		g.Log.Error("authorizer failed", "request_id", requestID, "error", err.Error())
		return none, &keygate.Error{Code: keygate.Internal, Message: "authorizer failure", Err: err}
	}
	// Round-trip through JSON, as the Lambda service does.
	b, _ := json.Marshal(out)
	var policy events.APIGatewayCustomAuthorizerResponse
	if err := json.Unmarshal(b, &policy); err != nil || policy.PrincipalID == "" {
		return none, fmt.Errorf("authorizer returned an invalid policy: %s", b)
	}
	if g.ResultTTL > 0 {
		g.mu.Lock()
		if g.cache == nil {
			g.cache = map[string]cachedPolicy{}
		}
		g.cache[identity] = cachedPolicy{policy: policy, expires: g.now().Add(g.ResultTTL)}
		g.mu.Unlock()
	}
	return policy, nil
}

func (g *Gateway) integrate(w http.ResponseWriter, ctx context.Context, fn IntegrationFunc, event events.APIGatewayProxyRequest, requestID string) {
	raw, _ := json.Marshal(event)
	out, err := fn(ctx, raw)
	var resp events.APIGatewayProxyResponse
	if err == nil {
		err = json.Unmarshal(out, &resp)
	}
	if err != nil {
		// API Gateway answers a failed integration with 502.
		g.Log.Error("integration failed", "request_id", requestID, "error", err.Error())
		g.write(w, http.StatusBadGateway, apierror.Body(err, requestID), requestID)
		return
	}
	for k, v := range resp.Headers {
		w.Header().Set(k, v)
	}
	body := []byte(resp.Body)
	if resp.IsBase64Encoded {
		if body, err = base64.StdEncoding.DecodeString(resp.Body); err != nil {
			g.write(w, http.StatusBadGateway, apierror.Body(err, requestID), requestID)
			return
		}
	}
	w.WriteHeader(resp.StatusCode)
	_, _ = w.Write(body)
}

// proxyEvent is the REST proxy integration event for r.
func (g *Gateway) proxyEvent(r *http.Request, route httpapi.Route, params map[string]string, body []byte, requestID string) events.APIGatewayProxyRequest {
	ev := events.APIGatewayProxyRequest{
		Resource:          route.Resource,
		Path:              r.URL.Path,
		HTTPMethod:        r.Method,
		Headers:           firstValues(r.Header),
		MultiValueHeaders: r.Header,
		PathParameters:    params,
		RequestContext: events.APIGatewayProxyRequestContext{
			AccountID: AccountID, ResourcePath: route.Resource, Stage: Stage, RequestID: requestID,
			HTTPMethod: r.Method, APIID: g.apiID(), Path: "/" + Stage + r.URL.Path, Protocol: r.Proto,
			RequestTimeEpoch: time.Now().UnixMilli(),
			Identity:         events.APIGatewayRequestIdentity{SourceIP: sourceIP(r), UserAgent: r.UserAgent()},
		},
	}
	// API Gateway sends null rather than {} when there are no parameters.
	if q := r.URL.Query(); len(q) > 0 {
		ev.QueryStringParameters, ev.MultiValueQueryStringParameters = firstValues(q), q
	}
	ev.Body, ev.IsBase64Encoded = encodeBody(body)
	return ev
}

// encodeBody is a request body as API Gateway puts it in an event: as it
// is when it is UTF-8 text, else base64-encoded.
func encodeBody(body []byte) (string, bool) {
	if utf8.Valid(body) {
		return string(body), false
	}
	return base64.StdEncoding.EncodeToString(body), true
}

// match finds the route for a method and escaped path (httpapi.Match).
// Path parameters are unescaped, as API Gateway does.
func match(method, escapedPath string) (httpapi.Route, map[string]string, bool) {
	route, params, ok := httpapi.Match(method, escapedPath)
	if !ok {
		return httpapi.Route{}, nil, false
	}
	if len(params) == 0 {
		return route, nil, true
	}
	for k, v := range params {
		u, err := url.PathUnescape(v)
		if err != nil {
			return httpapi.Route{}, nil, false
		}
		params[k] = u
	}
	return route, params, true
}

// evaluate applies a policy to one methodArn the way IAM does: an explicit
// Deny wins, then any Allow; no match is "" (an implicit deny).
func evaluate(doc events.APIGatewayCustomAuthorizerPolicy, arn string) string {
	effect := ""
	for _, s := range doc.Statement {
		if !actionMatches(s.Action) {
			continue
		}
		for _, res := range s.Resource {
			if scope.MatchResource(res, arn) {
				if s.Effect == "Deny" {
					return "Deny"
				}
				if s.Effect == "Allow" {
					effect = "Allow"
				}
			}
		}
	}
	return effect
}

func actionMatches(actions []string) bool {
	for _, a := range actions {
		if scope.MatchResource(a, "execute-api:Invoke") {
			return true
		}
	}
	return false
}

// fail answers with the error envelope, as template.yaml's
// GatewayResponses make API Gateway do.
func (g *Gateway) fail(w http.ResponseWriter, requestID string, err error) {
	var kerr *keygate.Error
	if !errors.As(err, &kerr) {
		g.Log.Error("gateway error", "request_id", requestID, "error", err.Error())
	}
	g.write(w, apierror.Status(keygate.ErrorCode(err)), apierror.Body(err, requestID), requestID)
}

func (g *Gateway) write(w http.ResponseWriter, status int, body []byte, requestID string) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("X-Request-Id", requestID)
	w.WriteHeader(status)
	_, _ = w.Write(body)
}

func firstValues(m map[string][]string) map[string]string {
	out := make(map[string]string, len(m))
	for k, v := range m {
		if len(v) > 0 {
			out[k] = v[0]
		}
	}
	return out
}

func sourceIP(r *http.Request) string {
	host := r.RemoteAddr
	if i := strings.LastIndexByte(host, ':'); i >= 0 {
		host = host[:i]
	}
	return strings.Trim(host, "[]")
}

func newRequestID() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	h := hex.EncodeToString(b[:])
	return h[:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:]
}
