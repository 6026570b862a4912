package gateway

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
)

// API is the kind of API Gateway API a Gateway emulates.
type API int

const (
	// RESTAPI is a REST API whose Lambda REQUEST authorizer answers with an
	// IAM policy, serving the management routes (template.yaml).
	RESTAPI API = iota
	// HTTPAPI is an HTTP API whose Lambda authorizer gets payload format
	// 2.0 and answers with a simple response, serving Gateway.Routes
	// (docs/snippets/http-api.yaml).
	HTTPAPI
)

func (a API) String() string {
	if a == HTTPAPI {
		return "HTTP API"
	}
	return "REST API"
}

// DefaultIdentitySources returns the authorizer identity sources the
// snippets in docs/snippets configure for an API of kind api, in API
// Gateway's syntax for that kind. They are the authorizer result cache key,
// so a Gateway caches exactly as a deployed API would; a test checks them
// against the snippets.
func DefaultIdentitySources(api API) []string {
	if api == HTTPAPI {
		return []string{"$request.header.Authorization", "$context.httpMethod", "$context.path"}
	}
	return []string{"method.request.header.Authorization", "context.httpMethod", "context.path"}
}

func (g *Gateway) identitySources() []string {
	if g.IdentitySources != nil {
		return g.IdentitySources
	}
	return DefaultIdentitySources(g.API)
}

// requestFacts is what identity sources may read from a request.
type requestFacts struct {
	r        *http.Request
	path     string // the request path as it appears in the method or route ARN
	resource string // REST: the resource template, e.g. /v1/keys/{id}
	routeKey string // HTTP: the matched route key, e.g. $default
	apiID    string
}

// identityKey evaluates the identity sources against a request. It returns
// the result cache key, and missing=true when a source is absent or empty,
// which API Gateway answers with 401 without calling the authorizer. An
// expression the emulator does not know is an error rather than a silently
// empty value, so a typo cannot turn into a key that matches everything.
func identityKey(api API, sources []string, f requestFacts) (key string, values []string, missing bool, err error) {
	values = make([]string, 0, len(sources))
	for _, src := range sources {
		v, err := identityValue(api, src, f)
		if err != nil {
			return "", nil, false, err
		}
		if v == "" {
			missing = true
		}
		values = append(values, v)
	}
	// JSON keeps the key unambiguous whatever the values hold (a path may
	// hold any byte once decoded).
	b, _ := json.Marshal(values)
	return string(b), values, missing, nil
}

func identityValue(api API, src string, f requestFacts) (string, error) {
	headerPrefix, queryPrefix, contextPrefix, stagePrefix := "method.request.header.", "method.request.querystring.", "context.", "stageVariables."
	if api == HTTPAPI {
		headerPrefix, queryPrefix, contextPrefix, stagePrefix = "$request.header.", "$request.querystring.", "$context.", "$stageVariables."
	}
	switch {
	case strings.HasPrefix(src, headerPrefix):
		// Header names are case-insensitive for both kinds of API.
		return f.r.Header.Get(strings.TrimPrefix(src, headerPrefix)), nil
	case strings.HasPrefix(src, queryPrefix):
		return f.r.URL.Query().Get(strings.TrimPrefix(src, queryPrefix)), nil
	case strings.HasPrefix(src, stagePrefix):
		// The emulated stages define no stage variables.
		return "", nil
	case strings.HasPrefix(src, contextPrefix):
		stage := Stage
		if api == HTTPAPI {
			stage = HTTPStage
		}
		switch strings.TrimPrefix(src, contextPrefix) {
		case "httpMethod":
			return f.r.Method, nil
		case "path":
			return f.path, nil
		case "resourcePath":
			if api == RESTAPI {
				return f.resource, nil
			}
		case "routeKey":
			if api == HTTPAPI {
				return f.routeKey, nil
			}
		case "stage":
			return stage, nil
		case "apiId":
			return f.apiID, nil
		case "accountId":
			return AccountID, nil
		case "identity.sourceIp":
			return sourceIP(f.r), nil
		}
	}
	return "", fmt.Errorf("identity source %q is not one the local %s emulates", src, api)
}
