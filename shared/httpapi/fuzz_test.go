package httpapi_test

import (
	"encoding/json"
	"errors"
	"os"
	"testing"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-lambda-go/lambda/messages"
	"github.com/keygate/keygate/shared/httpapi"
)

// FuzzDirect feeds arbitrary direct-invocation events to every management
// function: no panic, always JSON, and never a 5xx-class code for input.
func FuzzDirect(f *testing.F) {
	for _, seed := range []string{
		`{"tenant":"acme","owner":"alice","role":"admin"}`,
		`{"tenant":"acme","owner":"bob","scopes":["GET /x"],"expires_in_hours":24,"idempotency_key":"k1"}`,
		`{"tenant":"acme"}`, `{"tenant":"acme","id":"AAAAAAAAAAAAAAAAA"}`, `{"tenant":"acme","status":"revoked","limit":5}`,
		`{"tenant":"acme","cursor":"Zm9v"}`, `[]`, `null`, `{"tenant":1}`, `{"tenant":"a","tenant":"b"}`,
	} {
		for fn := range 3 {
			f.Add(uint8(fn), []byte(seed))
		}
	}
	e := newEnv(f)
	fns := []httpapi.Function{httpapi.Create, httpapi.List, httpapi.Revoke}
	f.Fuzz(func(t *testing.T, fn uint8, event []byte) {
		out, err := e.handlers[fns[int(fn)%3]].Handle(lambdaCtx(), json.RawMessage(event))
		var fe messages.InvokeResponse_Error
		switch {
		case errors.As(err, &fe):
			// A refused direct invocation is a function error, typed by
			// its code; a client's input is never internal or unavailable.
			if fe.Type == "internal" || fe.Type == "unavailable" || fe.Type == "" {
				t.Fatalf("client input caused %q: %s -> %s", fe.Type, event, fe.Message)
			}
		case err != nil:
			t.Fatalf("Handle returned %T %v, want a function error", err, err)
		default:
			var body map[string]any
			if err := json.Unmarshal(out, &body); err != nil {
				t.Fatalf("response is not a JSON object: %s", out)
			}
			if code := errorCodeOf(body); code != "" {
				t.Fatalf("a direct failure answered as a body: %s", out)
			}
		}
	})
}

// FuzzProxy feeds arbitrary bodies, query strings and paths through the
// REST proxy shape.
func FuzzProxy(f *testing.F) {
	raw, err := os.ReadFile("testdata/proxy.json")
	if err != nil {
		f.Fatal(err)
	}
	f.Add("POST", "/v1/keys", `{"owner":"bob","scopes":["GET /x"]}`, "owner", "bob")
	f.Add("GET", "/v1/keys", ``, "limit", "5")
	f.Add("GET", "/v1/keys/AAAAAAAAAAAAAAAAA", ``, "", "")
	f.Add("DELETE", "/v1/keys/..%2F", ``, "", "")
	f.Add("GET", "/v1/whoami", ``, "cursor", "!!")
	e := newEnv(f)
	admin := callerOf(f, e.direct(f, httpapi.Create, `{"tenant":"acme","owner":"alice","role":"admin"}`))
	fns := map[string]httpapi.Function{"POST": httpapi.Create, "GET": httpapi.List, "DELETE": httpapi.Revoke}
	f.Fuzz(func(t *testing.T, method, path, body, qk, qv string) {
		fn, ok := fns[method]
		if !ok {
			fn = httpapi.List
		}
		var req events.APIGatewayProxyRequest
		_ = json.Unmarshal(raw, &req)
		req.HTTPMethod, req.Path, req.Resource, req.Body = method, path, "", body
		if qk != "" {
			req.MultiValueQueryStringParameters = map[string][]string{qk: {qv}}
		}
		req.RequestContext.Authorizer = admin.context()
		event, _ := json.Marshal(req)
		out, err := e.handlers[fn].Handle(lambdaCtx(), event)
		if err != nil {
			t.Fatalf("Handle returned an error: %v", err)
		}
		var resp events.APIGatewayProxyResponse
		if err := json.Unmarshal(out, &resp); err != nil || resp.StatusCode >= 500 {
			t.Fatalf("%s %s %q -> %s", method, path, body, out)
		}
	})
}

func errorCodeOf(body map[string]any) string {
	e, _ := body["error"].(map[string]any)
	c, _ := e["code"].(string)
	return c
}
