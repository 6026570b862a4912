package gateway

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"regexp"
	"strconv"
	"strings"

	"github.com/aws/aws-lambda-go/events"
)

// AccessDeniedTemplate is the body template of template.yaml's
// ACCESS_DENIED gateway response (a test keeps the two equal): the
// authorizer's Deny says why (context "reason") and when to retry
// ("retry_after", seconds).
const AccessDeniedTemplate = `{"error":{"code":"$context.authorizer.reason","message":"this API key may not make this call now (see code and retry_after)","retry_after":$context.authorizer.retry_after,"request_id":"$context.requestId"}}`

// contextVariable is a variable a gateway response template may name. For
// an authorizer context key API Gateway supports letters, digits and
// underscores only.
var contextVariable = regexp.MustCompile(`\$context\.(requestId|authorizer\.[A-Za-z0-9_]+)`)

// RenderGatewayResponse renders a gateway response body template the way
// API Gateway does: plain substitution, not VTL, and nothing escaped.
// $context.authorizer.<key> is the stringified value of the authorizer's
// context key (a number as its JSON text, a bool as true or false) and
// $context.authorizer.principalId its principal; a key the authorizer did
// not set is the empty string, even where the template relies on a value
// (a bare number then leaves the body invalid JSON, as it does on AWS).
func RenderGatewayResponse(tmpl string, principalID string, authorizer map[string]any, requestID string) string {
	return contextVariable.ReplaceAllStringFunc(tmpl, func(v string) string {
		name := strings.TrimPrefix(v, "$context.")
		if name == "requestId" {
			return requestID
		}
		key := strings.TrimPrefix(name, "authorizer.")
		if key == "principalId" {
			return principalID
		}
		return stringify(authorizer[key])
	})
}

func stringify(v any) string {
	switch v := v.(type) {
	case nil:
		return ""
	case string:
		return v
	case float64:
		return strconv.FormatFloat(v, 'f', -1, 64)
	case bool:
		return strconv.FormatBool(v)
	}
	return fmt.Sprint(v)
}

// accessDenied answers a request the policy denies as template.yaml's
// ACCESS_DENIED gateway response does: 403, its headers, its body rendered
// from the policy's context.
func (g *Gateway) accessDenied(w http.ResponseWriter, policy events.APIGatewayCustomAuthorizerResponse, requestID string) {
	w.Header().Set("Cache-Control", "no-store")
	body := RenderGatewayResponse(AccessDeniedTemplate, policy.PrincipalID, policy.Context, requestID)
	g.write(w, http.StatusForbidden, []byte(body), requestID)
}

// DemoBase is the path of make run's metered sample API (Demo).
const DemoBase = "/demo"

// Demo is make run's metered sample API, DemoAPIID: a REST API of one
// resource, ANY /demo/{proxy+}, behind authorizer with the gateway's
// result cache off (as docs/snippets/metered-rest-api.yaml attaches
// one, so that the authorizer counts every call), whose backend
// (EchoContext) answers 200 with the authorizer's context. Keys call it
// with "apis": [DemoAPIID] and scopes such as "GET /demo/*".
func Demo(authorizer AuthorizerFunc, log *slog.Logger) *Gateway {
	return &Gateway{
		ID:         DemoAPIID,
		Authorizer: authorizer,
		Proxy:      &Proxy{Base: DemoBase, Integration: EchoContext},
		Log:        log,
	}
}

// EchoContext is a Lambda proxy integration (payload format 1.0) that
// answers 200 with the authorizer context it was given, as JSON.
func EchoContext(_ context.Context, raw json.RawMessage) (json.RawMessage, error) {
	var ev events.APIGatewayProxyRequest
	if err := json.Unmarshal(raw, &ev); err != nil {
		return nil, err
	}
	body, err := json.Marshal(ev.RequestContext.Authorizer)
	if err != nil {
		return nil, err
	}
	return json.Marshal(events.APIGatewayProxyResponse{
		StatusCode: http.StatusOK, Headers: map[string]string{"Content-Type": "application/json"}, Body: string(body),
	})
}
