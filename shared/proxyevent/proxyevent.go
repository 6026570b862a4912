// Package proxyevent reads the API Gateway proxy events of the JSON routes
// served outside shared/httpapi's route table (the secret-scanning route,
// POST /v1/verify) and answers them: REST API (payload 1.0) and HTTP API
// (payload 2.0) events, each answered in its own shape with
// shared/apierror's headers. It also reads the context the Keygate
// authorizer attached to an authorized request (Caller), the one reading
// shared/httpapi uses too, so a function that serves one route needs
// neither the management handlers nor the console.
//
// Events are decoded tolerantly (API Gateway writes them and AWS adds
// fields over time); the bodies in them, which clients wrote, are the
// caller's to decode strictly.
package proxyevent

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"strings"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-lambda-go/lambdacontext"
	"github.com/keygate/keygate/shared/apierror"
	"github.com/keygate/keygate/shared/keygate"
)

// Request is what a route reads of either proxy event shape.
type Request struct {
	// ID is the gateway's request id, or the Lambda invocation's when the
	// event has none.
	ID string
	// V2 is set for an HTTP API payload 2.0 event; Respond answers in the
	// event's shape.
	V2 bool
	// Authorizer is the context a Lambda authorizer attached (nil if
	// none): a REST event's requestContext.authorizer, an HTTP API
	// event's requestContext.authorizer.lambda.
	Authorizer map[string]any

	body     string
	isBase64 bool
	single   map[string]string
	multi    map[string][]string
}

// Read tells the two proxy event shapes apart, as shared/httpapi does:
// payload 2.0 says so in "version", payload 1.0 has "httpMethod".
// Anything else is Invalid, to be answered in the REST shape.
func Read(ctx context.Context, event json.RawMessage) (Request, error) {
	r, err := read(event)
	if r.ID == "" {
		if lc, ok := lambdacontext.FromContext(ctx); ok {
			r.ID = lc.AwsRequestID
		}
	}
	return r, err
}

func read(event json.RawMessage) (Request, error) {
	var probe struct {
		Version    string  `json:"version"`
		HTTPMethod *string `json:"httpMethod"`
	}
	bad := keygate.Errorf(keygate.Invalid, "event is not an API Gateway proxy request")
	if json.Unmarshal(event, &probe) != nil {
		return Request{}, bad
	}
	switch {
	case probe.Version == "2.0":
		var ev events.APIGatewayV2HTTPRequest
		if json.Unmarshal(event, &ev) != nil {
			return Request{V2: true}, bad
		}
		r := Request{ID: ev.RequestContext.RequestID, V2: true, body: ev.Body, isBase64: ev.IsBase64Encoded, single: ev.Headers}
		if a := ev.RequestContext.Authorizer; a != nil {
			r.Authorizer = a.Lambda
		}
		return r, nil
	case probe.HTTPMethod != nil:
		var ev events.APIGatewayProxyRequest
		if json.Unmarshal(event, &ev) != nil {
			return Request{}, bad
		}
		return Request{ID: ev.RequestContext.RequestID, Authorizer: ev.RequestContext.Authorizer,
			body: ev.Body, isBase64: ev.IsBase64Encoded, single: ev.Headers, multi: ev.MultiValueHeaders}, nil
	}
	return Request{}, bad
}

// Header is the distinct values of header name, matched without regard
// to case, in either map of the event.
func (r Request) Header(name string) []string {
	var out []string
	add := func(v string) {
		for _, o := range out {
			if o == v {
				return
			}
		}
		out = append(out, v)
	}
	for k, v := range r.single {
		if strings.EqualFold(k, name) {
			add(v)
		}
	}
	for k, vs := range r.multi {
		if strings.EqualFold(k, name) {
			for _, v := range vs {
				add(v)
			}
		}
	}
	return out
}

// Body is the request's body as sent (base64-decoded if the gateway
// encoded it), PayloadTooLarge past max bytes.
func (r Request) Body(max int) ([]byte, error) {
	tooLarge := keygate.Errorf(keygate.PayloadTooLarge, "request body is larger than %d bytes", max)
	if !r.isBase64 {
		if len(r.body) > max {
			return nil, tooLarge
		}
		return []byte(r.body), nil
	}
	if base64.StdEncoding.DecodedLen(len(r.body)) > max+2 {
		return nil, tooLarge
	}
	raw, err := base64.StdEncoding.DecodeString(r.body)
	if err != nil {
		return nil, keygate.Errorf(keygate.Invalid, "request body is not valid base64")
	}
	if len(raw) > max {
		return nil, tooLarge
	}
	return raw, nil
}

// Respond is the proxy response to r: status and a JSON body with
// apierror's headers, in r's shape.
func Respond(r Request, status int, body []byte) (json.RawMessage, error) {
	if r.V2 {
		return json.Marshal(events.APIGatewayV2HTTPResponse{StatusCode: status, Headers: apierror.Headers(r.ID), Body: string(body)})
	}
	return json.Marshal(events.APIGatewayProxyResponse{StatusCode: status, Headers: apierror.Headers(r.ID), Body: string(body)})
}

// Caller reads the context the Keygate authorizer attached (its
// keyContext). Without it, or with a context it did not write, the
// request did not pass the authorizer: Unauthorized, so callers fail
// closed.
func Caller(ctx map[string]any) (keygate.Caller, error) {
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
