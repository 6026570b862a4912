package gateway

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/aws/aws-lambda-go/events"
)

// HTTPStage is the stage of the emulated HTTP API. With the $default stage
// the URL, $context.path and the routeArn path carry no stage prefix.
const HTTPStage = "$default"

// Route is one route of an emulated HTTP API, behind the authorizer.
type Route struct {
	// Key is the route key: "$default", or a method (or ANY) and a path
	// whose segments may be {name} (one segment) or, last, {name+}
	// (one or more), e.g. "ANY /{proxy+}".
	Key string
	// Integration is a Lambda proxy integration with payload format 2.0.
	Integration IntegrationFunc
}

type cachedSimple struct {
	resp    simpleResponse
	expires time.Time
}

// simpleResponse is an HTTP API authorizer's simple response. IsAuthorized
// is a pointer so that an answer without it is told from "false": API
// Gateway treats such an answer as a failed authorizer (500).
type simpleResponse struct {
	IsAuthorized *bool          `json:"isAuthorized"`
	Context      map[string]any `json:"context"`
}

// HTTP APIs have no gateway responses to reshape; these are their bodies.
const (
	msgUnauthorized = "Unauthorized"
	msgForbidden    = "Forbidden"
	msgNotFound     = "Not Found"
	msgTooLarge     = "Request Entity Too Large"
	msgInternal     = "Internal Server Error"
)

func (g *Gateway) serveHTTPAPI(w http.ResponseWriter, r *http.Request) {
	requestID := newRequestID()
	route, params, ok := g.matchRoute(r.Method, r.URL.EscapedPath())
	if !ok {
		writeMessage(w, http.StatusNotFound, msgNotFound, requestID)
		return
	}
	body, err := io.ReadAll(io.LimitReader(r.Body, MaxPayload+1))
	if err != nil || len(body) > MaxPayload {
		writeMessage(w, http.StatusRequestEntityTooLarge, msgTooLarge, requestID)
		return
	}
	resp, status := g.authorizeSimple(r, route, params, requestID)
	if status != 0 {
		msg := map[int]string{401: msgUnauthorized, 403: msgForbidden}[status]
		if msg == "" {
			msg = msgInternal
		}
		writeMessage(w, status, msg, requestID)
		return
	}
	event := httpEvent(r, route, params, body, g.apiID(), requestID)
	event.RequestContext.Authorizer = &events.APIGatewayV2HTTPRequestContextAuthorizerDescription{Lambda: resp.Context}
	raw, _ := json.Marshal(event)
	out, err := route.Integration(r.Context(), raw)
	if err != nil {
		g.Log.Error("integration failed", "request_id", requestID, "error", err.Error())
		writeMessage(w, http.StatusInternalServerError, msgInternal, requestID)
		return
	}
	writeV2Response(w, out, requestID)
}

// authorizeSimple returns the authorizer's simple response for this
// request, from the result cache or by calling the authorizer, or the
// status API Gateway answers instead (401, 403 or 500).
func (g *Gateway) authorizeSimple(r *http.Request, route Route, params map[string]string, requestID string) (simpleResponse, int) {
	var none simpleResponse
	key, values, missing, err := identityKey(HTTPAPI, g.identitySources(), requestFacts{
		r: r, path: r.URL.EscapedPath(), routeKey: route.Key, apiID: g.apiID(),
	})
	if err != nil {
		g.Log.Error("gateway misconfigured", "request_id", requestID, "error", err.Error())
		return none, http.StatusInternalServerError
	}
	// HTTP APIs require every identity source whether or not caching is on.
	if missing {
		return none, http.StatusUnauthorized
	}
	if g.ResultTTL > 0 {
		g.mu.Lock()
		c, ok := g.simple[key]
		g.mu.Unlock()
		if ok && g.now().Before(c.expires) {
			return c.resp, decisionStatus(c.resp)
		}
	}
	raw, _ := json.Marshal(authorizerEventV2(r, route, params, values, g.apiID(), requestID))
	out, err := g.Authorizer(r.Context(), raw)
	if err != nil {
		g.Log.Error("authorizer failed", "request_id", requestID, "error", err.Error())
		return none, http.StatusInternalServerError
	}
	// Round-trip through JSON, as the Lambda service does.
	b, _ := json.Marshal(out)
	var resp simpleResponse
	if err := json.Unmarshal(b, &resp); err != nil || resp.IsAuthorized == nil {
		g.Log.Error("authorizer returned an invalid simple response", "request_id", requestID)
		return none, http.StatusInternalServerError
	}
	if g.ResultTTL > 0 {
		// A "no" is cached as much as a "yes": API Gateway reuses either for
		// every request with the same identity source values.
		g.mu.Lock()
		if g.simple == nil {
			g.simple = map[string]cachedSimple{}
		}
		g.simple[key] = cachedSimple{resp: resp, expires: g.now().Add(g.ResultTTL)}
		g.mu.Unlock()
	}
	return resp, decisionStatus(resp)
}

func decisionStatus(resp simpleResponse) int {
	if *resp.IsAuthorized {
		return 0
	}
	return http.StatusForbidden
}

// authorizerEventV2 is the payload format 2.0 authorizer event an HTTP API
// sends: headers lower-cased, identitySource the identity source values.
func authorizerEventV2(r *http.Request, route Route, params map[string]string, identity []string, apiID, requestID string) events.APIGatewayV2CustomAuthorizerV2Request {
	ev := events.APIGatewayV2CustomAuthorizerV2Request{
		Version:        "2.0",
		Type:           "REQUEST",
		RouteArn:       fmt.Sprintf("arn:aws:execute-api:%s:%s:%s/%s/%s%s", Region, AccountID, apiID, HTTPStage, r.Method, r.URL.EscapedPath()),
		IdentitySource: identity,
		RouteKey:       route.Key,
		RawPath:        r.URL.EscapedPath(),
		RawQueryString: r.URL.RawQuery,
		Cookies:        cookies(r),
		Headers:        lowerHeaders(r.Header),
		RequestContext: httpRequestContext(r, route, apiID, requestID),
		PathParameters: params,
		StageVariables: map[string]string{},
	}
	if q := r.URL.Query(); len(q) > 0 {
		ev.QueryStringParameters = joinedValues(q)
	}
	return ev
}

// httpEvent is the payload format 2.0 proxy integration event.
func httpEvent(r *http.Request, route Route, params map[string]string, body []byte, apiID, requestID string) events.APIGatewayV2HTTPRequest {
	ev := events.APIGatewayV2HTTPRequest{
		Version:        "2.0",
		RouteKey:       route.Key,
		RawPath:        r.URL.EscapedPath(),
		RawQueryString: r.URL.RawQuery,
		Cookies:        cookies(r),
		Headers:        lowerHeaders(r.Header),
		PathParameters: params,
		RequestContext: httpRequestContext(r, route, apiID, requestID),
	}
	if q := r.URL.Query(); len(q) > 0 {
		ev.QueryStringParameters = joinedValues(q)
	}
	ev.Body, ev.IsBase64Encoded = encodeBody(body)
	return ev
}

func httpRequestContext(r *http.Request, route Route, apiID, requestID string) events.APIGatewayV2HTTPRequestContext {
	now := time.Now()
	return events.APIGatewayV2HTTPRequestContext{
		RouteKey: route.Key, AccountID: AccountID, Stage: HTTPStage, RequestID: requestID, APIID: apiID,
		DomainName: r.Host, DomainPrefix: strings.SplitN(r.Host, ".", 2)[0],
		Time: now.UTC().Format("02/Jan/2006:15:04:05 -0700"), TimeEpoch: now.UnixMilli(),
		HTTP: events.APIGatewayV2HTTPRequestContextHTTPDescription{
			Method: r.Method, Path: r.URL.Path, Protocol: r.Proto, SourceIP: sourceIP(r), UserAgent: r.UserAgent(),
		},
	}
}

// writeV2Response turns a payload format 2.0 integration answer into HTTP.
// As API Gateway does, valid JSON without a statusCode is a 200 whose body
// is that JSON.
func writeV2Response(w http.ResponseWriter, out json.RawMessage, requestID string) {
	var resp events.APIGatewayV2HTTPResponse
	var probe map[string]json.RawMessage
	if json.Unmarshal(out, &probe) != nil || probe["statusCode"] == nil {
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("Apigw-Requestid", requestID)
		_, _ = w.Write(out)
		return
	}
	if err := json.Unmarshal(out, &resp); err != nil {
		writeMessage(w, http.StatusInternalServerError, msgInternal, requestID)
		return
	}
	body := []byte(resp.Body)
	if resp.IsBase64Encoded {
		var err error
		if body, err = base64.StdEncoding.DecodeString(resp.Body); err != nil {
			writeMessage(w, http.StatusInternalServerError, msgInternal, requestID)
			return
		}
	}
	for k, v := range resp.Headers {
		w.Header().Set(k, v)
	}
	for _, c := range resp.Cookies {
		w.Header().Add("Set-Cookie", c)
	}
	w.Header().Set("Apigw-Requestid", requestID)
	w.WriteHeader(resp.StatusCode)
	_, _ = w.Write(body)
}

func writeMessage(w http.ResponseWriter, status int, msg, requestID string) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Apigw-Requestid", requestID)
	w.WriteHeader(status)
	b, _ := json.Marshal(map[string]string{"message": msg})
	_, _ = w.Write(b)
}

// matchRoute selects the route as HTTP APIs do: the most specific match
// wins (fewer greedy and parameter segments, then a named method over
// ANY), and $default only when nothing else matches.
func (g *Gateway) matchRoute(method, escapedPath string) (Route, map[string]string, bool) {
	var (
		best       Route
		bestParams map[string]string
		bestScore  = -1
	)
	for _, rt := range g.Routes {
		if rt.Key == "$default" {
			if bestScore < 0 {
				best, bestParams, bestScore = rt, nil, 0
			}
			continue
		}
		m, tmpl, ok := strings.Cut(rt.Key, " ")
		if !ok || (m != "ANY" && m != method) {
			continue
		}
		params, literals, greedy, ok := matchTemplate(tmpl, escapedPath)
		if !ok {
			continue
		}
		score := 1 + literals*4
		if !greedy {
			score += 2
		}
		if m != "ANY" {
			score++
		}
		if score > bestScore {
			best, bestParams, bestScore = rt, params, score
		}
	}
	return best, bestParams, bestScore >= 0
}

// matchTemplate matches a route path template against an escaped request
// path, returning path parameters (unescaped, as API Gateway passes them),
// the number of literal segments and whether a greedy variable matched.
func matchTemplate(tmpl, escapedPath string) (map[string]string, int, bool, bool) {
	want := strings.Split(strings.TrimPrefix(tmpl, "/"), "/")
	segs := strings.Split(strings.TrimPrefix(escapedPath, "/"), "/")
	params := map[string]string{}
	literals := 0
	for i, w := range want {
		if strings.HasPrefix(w, "{") && strings.HasSuffix(w, "+}") && i == len(want)-1 {
			rest := strings.Join(segs[min(i, len(segs)):], "/")
			if rest == "" {
				return nil, 0, false, false
			}
			v, err := url.PathUnescape(rest)
			if err != nil {
				return nil, 0, false, false
			}
			params[strings.TrimSuffix(strings.TrimPrefix(w, "{"), "+}")] = v
			return params, literals, true, true
		}
		if i >= len(segs) {
			return nil, 0, false, false
		}
		if strings.HasPrefix(w, "{") && strings.HasSuffix(w, "}") {
			if segs[i] == "" {
				return nil, 0, false, false
			}
			v, err := url.PathUnescape(segs[i])
			if err != nil {
				return nil, 0, false, false
			}
			params[strings.Trim(w, "{}")] = v
			continue
		}
		if w != segs[i] {
			return nil, 0, false, false
		}
		literals++
	}
	if len(segs) != len(want) {
		return nil, 0, false, false
	}
	if len(params) == 0 {
		params = nil
	}
	return params, literals, false, true
}

// lowerHeaders joins repeated headers with commas and lower-cases names,
// as HTTP APIs do in payload format 2.0.
func lowerHeaders(h http.Header) map[string]string {
	out := make(map[string]string, len(h))
	for k, v := range h {
		if strings.EqualFold(k, "Cookie") {
			continue
		}
		out[strings.ToLower(k)] = strings.Join(v, ",")
	}
	return out
}

func joinedValues(m map[string][]string) map[string]string {
	out := make(map[string]string, len(m))
	for k, v := range m {
		out[k] = strings.Join(v, ",")
	}
	return out
}

func cookies(r *http.Request) []string {
	var out []string
	for _, c := range r.Cookies() {
		out = append(out, c.String())
	}
	return out
}
