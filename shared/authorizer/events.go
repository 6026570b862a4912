package authorizer

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"strings"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-lambda-go/lambdacontext"
	"github.com/keygate/keygate/shared/keygate"
	"github.com/keygate/keygate/shared/scope"
)

// Shape is the kind of event API Gateway sent.
type Shape string

const (
	RESTToken   Shape = "rest-token"
	RESTRequest Shape = "rest-request"
	HTTPv1      Shape = "http-v1"
	HTTPv2      Shape = "http-v2"
	// WebSocket is a WebSocket API's $connect: a REQUEST event like a REST
	// API's, whose methodArn is ".../STAGE/$connect", with no method and
	// no path (API Gateway calls a WebSocket API's authorizer on $connect
	// only). It is decided as the request CONNECT /$connect
	// (scope.Connect), takes ?token= whatever AllowQueryToken says, and is
	// answered with a policy on exactly that methodArn.
	WebSocket Shape = "websocket"
)

// ErrUnauthorized is the error REST APIs (and HTTP APIs with payload 1.0)
// turn into a 401: API Gateway matches its exact text.
var ErrUnauthorized = errors.New("Unauthorized")

// errBadEvent is returned for events no API Gateway sends; it becomes a
// 500 at the gateway, never an allow.
var errBadEvent = errors.New("event is not an API Gateway authorizer event")

// Handle is the Lambda entry point for every shape. The event is read
// once, by decodeEvent, and only for the fields a decision needs; what it
// returns for a valid key is built once per cached key and API stage
// (respond.go), so a cache hit allocates little beyond the token and ARN
// strings. Invoke is the same handler answering in JSON bytes.
func (a *Authorizer) Handle(ctx context.Context, event json.RawMessage) (any, error) {
	r, err := a.handle(ctx, event)
	if err != nil {
		return nil, err
	}
	return r.value, nil
}

func (a *Authorizer) handle(ctx context.Context, event []byte) (*response, error) {
	start := time.Now()
	ev, shape, ok := decodeEvent(event)
	var (
		req    Request
		arn    string
		prefix string
	)
	if ok {
		// The ARN and the token are the only strings copied out of the
		// event; the API, stage, method and path are slices of the ARN.
		arn = string(ev.arn(shape))
		if prefix, req.API, req.Stage, req.Method, req.Path, ok = parseARN(arn); ok {
			if shape == RESTRequest && isConnect(arn, req.Method, req.Path) {
				shape, req.Method, req.Path = WebSocket, scope.ConnectMethod, scope.ConnectPath
			}
			req.Token = string(ev.token(shape, a.cfg.AllowQueryToken))
		}
	}
	if !ok {
		a.logDecision(ctx, start, shape, Decision{Reason: "bad event"}, false, errBadEvent)
		return nil, errBadEvent
	}

	d, hit, err := a.Authorize(ctx, req)
	a.logDecision(ctx, start, shape, d, hit, err)
	if err != nil {
		return nil, errors.New("authorizer could not reach its key store")
	}
	if shape == HTTPv2 {
		switch d.Outcome {
		case Allow:
			return simpleAllow(d.entry), nil
		case Deny:
			return simpleDeny(d), nil
		}
		return notAuthorized, nil
	}
	if d.Outcome == Unauthorized {
		return nil, ErrUnauthorized
	}
	if shape == WebSocket {
		return connectPolicy(d, prefix), nil
	}
	if r, ok := a.cachedPolicy(d, prefix); ok {
		return r, nil
	}
	p, err := a.policy(d, prefix, arn, req)
	if err != nil {
		return nil, err
	}
	return &response{value: p}, nil
}

// isConnect reports whether a REST REQUEST event's methodArn, parsed into
// method and path, is a WebSocket API's ".../STAGE/$connect": no REST API
// method is "$connect", and anything after it (".../$connect/x", or a
// trailing "/", which parseARN also reads as the path "/") is not the
// connect route.
func isConnect(arn, method, path string) bool {
	return method == "$connect" && path == "/" && strings.HasSuffix(arn, "/$connect")
}

// connectPolicy is the answer to a WebSocket $connect of a valid key: an
// Allow or a Deny of exactly prefix/$connect, the event's methodArn, never
// a wildcard (the connect route is the only one a WebSocket authorizer
// guards, and API Gateway does not cache its answers). An Allow carries the
// key's context, which the backend's $connect integration receives and
// should record with the connection id (docs/attach.md, WebSocket APIs); a
// Deny carries the reason, as every Deny does.
func connectPolicy(d Decision, prefix string) *response {
	build := func() (any, bool) {
		effect, ctx := "Allow", d.entry.context
		if d.Outcome != Allow {
			effect, ctx = "Deny", d.denyContext()
		}
		return events.APIGatewayCustomAuthorizerResponse{
			PrincipalID: d.entry.key.ID,
			PolicyDocument: events.APIGatewayCustomAuthorizerPolicy{Version: "2012-10-17", Statement: []events.IAMPolicyStatement{{
				Action: []string{"execute-api:Invoke"}, Effect: effect, Resource: []string{prefix + "/$connect"},
			}}},
			Context: ctx,
		}, true
	}
	if d.Outcome == Deny && d.Refusal != keygate.ReasonForbidden {
		// A usage refusal's retry_after changes from call to call.
		v, _ := build()
		return &response{value: v}
	}
	r, _ := memoized(memoKey{e: d.entry, prefix: prefix, connect: true, denied: d.Outcome == Deny}, build)
	return r
}

// errWildcardPath refuses, uncached, a request that the key's scopes do not
// cover but an Allow resource of its policy would admit, and whose path
// holds an IAM wildcard, so that no Deny could name it exactly.
var errWildcardPath = errors.New("request path holds * or ?, which an IAM policy cannot deny exactly")

// policy is the IAM policy for a valid key. It allows every resource the
// key's scopes cover, not just this request's methodArn, because API
// Gateway caches the policy per identity and applies it to later requests
// on other routes. On a deny it adds an explicit Deny of this methodArn,
// which stays correct when cached.
//
// IAM's * in an Allow such as ".../GET/files/*" also matches paths that a
// backend resolves out of /files (.., ..;, %2e%2e, %2f, …; see the scope
// package). The matcher refuses those, but a cached policy would admit
// them, so every scoped key's policy also carries an explicit Deny of
// scope.DenyResources: every methodArn holding such a segment.
//
// A "*" in the middle of a scope's path matches one segment, but in an IAM
// resource it would also match "/" and so widen the grant. Such a scope is
// therefore granted only for this request's own methodArn, when it matches:
// a cached policy may then refuse another path under that scope until it
// expires, but it never allows more than the scope.
func (a *Authorizer) policy(d Decision, prefix, methodARN string, r Request) (events.APIGatewayCustomAuthorizerResponse, error) {
	e := d.entry
	if d.wrongAPI || d.Outcome == Deny && d.Refusal != keygate.ReasonForbidden {
		// The key may call nothing on this API and stage, or nothing at
		// all until its usage limits allow it again: deny all of it,
		// which is as true for the key's other requests as for this one.
		return events.APIGatewayCustomAuthorizerResponse{
			PrincipalID: e.key.ID,
			PolicyDocument: events.APIGatewayCustomAuthorizerPolicy{Version: "2012-10-17", Statement: []events.IAMPolicyStatement{{
				Action: []string{"execute-api:Invoke"}, Effect: "Deny", Resource: []string{prefix + "/*"},
			}}},
			Context: d.denyContext(),
		}, nil
	}
	resources := make([]string, 0, len(e.scopes))
	for _, s := range e.scopes {
		switch {
		case !s.InnerWildcard():
			resources = append(resources, s.Resources(prefix)...)
		case s.Match(r.Method, r.Path):
			// Match refuses "*" and "?" in request segments, so this ARN
			// holds no IAM wildcard.
			resources = append(resources, methodARN)
		}
	}
	statements := make([]events.IAMPolicyStatement, 0, 2)
	if len(resources) > 0 {
		statements = append(statements, events.IAMPolicyStatement{
			Action:   []string{"execute-api:Invoke"},
			Effect:   "Allow",
			Resource: resources,
		})
	}
	var deny []string
	if !e.all {
		deny = a.denyResources(prefix)
	}
	if d.Outcome == Deny && matchesAny(resources, methodARN) {
		// An Allow resource admits this route in IAM although the scopes
		// do not (a * that IAM lets cross what Match refuses): name it in
		// an explicit Deny. Without such a resource the implicit deny is
		// enough and nothing is added that a cached policy could apply
		// to the key's other requests.
		if strings.ContainsAny(methodARN, "*?") {
			// IAM has no escape for * and ?: a Deny of this ARN would be
			// a wildcard refusing other routes. A Lambda error is a 500
			// at the gateway and caches nothing.
			return events.APIGatewayCustomAuthorizerResponse{}, errWildcardPath
		}
		deny = append(deny[:len(deny):len(deny)], methodARN)
	}
	if len(deny) > 0 {
		statements = append(statements, events.IAMPolicyStatement{
			Action:   []string{"execute-api:Invoke"},
			Effect:   "Deny",
			Resource: deny,
		})
	}
	context := e.context
	if d.Outcome == Deny {
		context = d.denyContext()
	}
	return events.APIGatewayCustomAuthorizerResponse{
		PrincipalID:        e.key.ID,
		PolicyDocument:     events.APIGatewayCustomAuthorizerPolicy{Version: "2012-10-17", Statement: statements},
		Context:            context,
		UsageIdentifierKey: e.usage,
	}, nil
}

func matchesAny(patterns []string, arn string) bool {
	for _, p := range patterns {
		if scope.MatchResource(p, arn) {
			return true
		}
	}
	return false
}

// denyResources is scope.DenyResources(prefix), built once per API and
// stage an execution environment serves.
func (a *Authorizer) denyResources(prefix string) []string {
	if v, ok := a.deny.Load(prefix); ok {
		return v.([]string)
	}
	v, _ := a.deny.LoadOrStore(prefix, scope.DenyResources(prefix))
	return v.([]string)
}

// parseARN splits an execute-api ARN,
// arn:aws:execute-api:region:account:api/stage/METHOD/path..., into the
// API/stage prefix that policy resources share, the API id, the stage, the
// method and the path.
func parseARN(arn string) (prefix, api, stage, method, path string, ok bool) {
	if !strings.HasPrefix(arn, "arn:") {
		return "", "", "", "", "", false
	}
	// The resource part starts after the fifth colon.
	i, colons := 0, 0
	for ; i < len(arn) && colons < 5; i++ {
		if arn[i] == ':' {
			colons++
		}
	}
	if colons < 5 {
		return "", "", "", "", "", false
	}
	rest := arn[i:] // api/stage/METHOD/path
	api, rest, ok1 := strings.Cut(rest, "/")
	stage, rest, ok2 := strings.Cut(rest, "/")
	method, path, _ = strings.Cut(rest, "/")
	if !ok1 || !ok2 || api == "" || stage == "" || method == "" {
		return "", "", "", "", "", false
	}
	// The prefix is a slice of the ARN, not a concatenation: the same
	// bytes, without an allocation.
	return arn[:i+len(api)+1+len(stage)], api, stage, method, "/" + path, true
}

// token finds the token in the event: for TOKEN events the
// authorizationToken, Bearer or bare; otherwise Authorization: Bearer
// first, then X-API-Key, then ?token= when allowed, and always on a
// WebSocket $connect: browsers cannot set headers on a WebSocket, so a
// query parameter is their only way to present a key. Header names are
// matched case-insensitively (HTTP APIs lower-case them, REST APIs do
// not).
//
// If an Authorization header is present it is the only source: the gateway
// caches decisions keyed on it, so a decision must never rest on another
// header that a later request with the same Authorization may lack.
func (f *eventFields) token(shape Shape, allowQuery bool) []byte {
	switch {
	case shape == RESTToken:
		if tok, ok := bearer(f.str[fAuthorizationToken]); ok {
			return tok
		}
		return bytes.TrimSpace(f.str[fAuthorizationToken])
	case f.headers.hasAuthorization:
		tok, _ := bearer(f.headers.authorization)
		return tok
	case f.headers.hasAPIKey:
		return bytes.TrimSpace(f.headers.apiKey)
	case allowQuery || shape == WebSocket:
		return bytes.TrimSpace(f.query.token)
	}
	return nil
}

// bearer parses "Bearer <token>" with any case of the scheme and any
// surrounding spaces.
func bearer(v []byte) ([]byte, bool) {
	v = bytes.TrimSpace(v)
	if len(v) < 7 || !bytes.EqualFold(v[:6], []byte("bearer")) || (v[6] != ' ' && v[6] != '\t') {
		return nil, false
	}
	return bytes.TrimSpace(v[7:]), true
}

// logDecision writes one line per decision. It never logs the token: the
// key ID is logged only once a key was found for it.
func (a *Authorizer) logDecision(ctx context.Context, start time.Time, shape Shape, d Decision, hit bool, err error) {
	var buf [9]slog.Attr // on the stack: the line costs no slice
	attrs := buf[:0]
	if lc, ok := lambdacontext.FromContext(ctx); ok {
		attrs = append(attrs, slog.String("request_id", lc.AwsRequestID))
	}
	decision := d.Outcome.String()
	if err != nil {
		decision = "error"
	}
	attrs = append(attrs,
		slog.String("shape", string(shape)),
		slog.String("decision", decision),
		slog.String("reason", d.Reason),
		slog.Bool("cache_hit", hit),
		slog.Int64("duration_us", time.Since(start).Microseconds()),
	)
	if d.entry != nil && d.entry.found {
		attrs = append(attrs, slog.String("key_id", d.entry.key.ID), slog.String("tenant", d.entry.key.Tenant))
	}
	level := slog.LevelInfo
	if err != nil {
		level = slog.LevelError
		attrs = append(attrs, slog.String("error", err.Error()))
	}
	a.log.LogAttrs(ctx, level, "authorize", attrs...)
}
