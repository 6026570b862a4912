package httpapi_test

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"log/slog"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-lambda-go/lambda/messages"
	"github.com/aws/aws-lambda-go/lambdacontext"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/keygate/keygate/infra/dynamotest"
	"github.com/keygate/keygate/infra/testkit"
	"github.com/keygate/keygate/shared/apierror"
	"github.com/keygate/keygate/shared/apikey"
	"github.com/keygate/keygate/shared/httpapi"
	"github.com/keygate/keygate/shared/keygate"
	"github.com/keygate/keygate/shared/manage"
	"github.com/keygate/keygate/shared/settings"
	"github.com/keygate/keygate/shared/store"
)

type env struct {
	handlers map[httpapi.Function]*httpapi.Handler
	db       *dynamodb.Client
	table    string
	logs     *bytes.Buffer
	tokens   []string
}

func newEnv(t testing.TB) *env {
	t.Helper()
	db, table := dynamotest.NewTable(t)
	format, hasher := testkit.Tokens(t)
	svc := manage.New(store.New(db, table), manage.Config{
		Format: format, Hasher: hasher, DefaultTTL: 24 * time.Hour, Retention: time.Hour,
		MaxUserKeys: 10, MaxServiceKeys: 5,
	})
	e := &env{db: db, table: table, logs: &bytes.Buffer{}, handlers: map[httpapi.Function]*httpapi.Handler{}}
	log := slog.New(slog.NewJSONHandler(e.logs, nil))
	settings := settings.NewService(store.NewLifecycle(db, table))
	for _, fn := range []httpapi.Function{httpapi.Create, httpapi.List, httpapi.Revoke} {
		e.handlers[fn] = httpapi.New(fn, svc, settings, log)
	}
	// Every token the tests see must never show up in logs or later bodies.
	t.Cleanup(func() {
		for _, tok := range e.tokens {
			secret := tok[len(apikey.DefaultPrefix)+apikey.IDLen:]
			if strings.Contains(e.logs.String(), secret) {
				t.Errorf("logs contain a token secret")
			}
		}
	})
	return e
}

func lambdaCtx() context.Context {
	return lambdacontext.NewContext(context.Background(), &lambdacontext.LambdaContext{AwsRequestID: "lambda-req-1"})
}

// direct invokes fn with a plain JSON event.
func (e *env) direct(t testing.TB, fn httpapi.Function, event string) map[string]any {
	t.Helper()
	out, err := e.handlers[fn].Handle(lambdaCtx(), json.RawMessage(event))
	if err != nil {
		// A failed direct invocation is a function error (errorType the
		// code): shown here as the envelope it replaces, for the checks.
		var fe messages.InvokeResponse_Error
		if !errors.As(err, &fe) || fe.Type == "" || !strings.HasSuffix(fe.Message, "(request lambda-req-1)") {
			t.Fatalf("Handle returned %T %v, want a function error naming the request", err, err)
		}
		if fe.Type == string(keygate.Internal) && fe.Message != "internal error (request lambda-req-1)" {
			t.Fatalf("internal function error shows %q", fe.Message)
		}
		return map[string]any{"error": map[string]any{"code": fe.Type, "message": fe.Message, "request_id": "lambda-req-1"}}
	}
	var body map[string]any
	if err := json.Unmarshal(out, &body); err != nil {
		t.Fatalf("direct response is not JSON: %s", out)
	}
	if tok, ok := body["token"].(string); ok {
		e.tokens = append(e.tokens, tok)
	}
	return body
}

type caller struct{ keyID, tenant, owner, typ, role, scopes, apis, expiresAt string }

// context is what the Keygate authorizer attaches for the caller.
func (c caller) context() map[string]any {
	if c.keyID == "" {
		return map[string]any{}
	}
	return map[string]any{"principalId": c.keyID, "key_id": c.keyID, "tenant": c.tenant, "owner": c.owner, "type": c.typ, "role": c.role,
		"scopes": c.scopes, "apis": c.apis, "expires_at": c.expiresAt, "integrationLatency": 3}
}

func callerOf(t testing.TB, created map[string]any) caller {
	t.Helper()
	scopes, _ := json.Marshal(created["scopes"])
	apis, _ := json.Marshal(created["apis"])
	expires, _ := created["expires_at"].(string)
	return caller{created["id"].(string), created["tenant"].(string), created["owner"].(string), created["type"].(string), created["role"].(string), string(scopes), string(apis), expires}
}

type request struct {
	method, path, body string
	query              map[string][]string
	headers            map[string]string
	base64             bool
}

// proxy sends a REST proxy event built from testdata/proxy.json.
func (e *env) proxy(t *testing.T, fn httpapi.Function, c caller, r request) (int, map[string]any) {
	t.Helper()
	raw, err := os.ReadFile("testdata/proxy.json")
	if err != nil {
		t.Fatal(err)
	}
	var req events.APIGatewayProxyRequest
	if err := json.Unmarshal(raw, &req); err != nil {
		t.Fatal(err)
	}
	req.HTTPMethod, req.Path, req.Body, req.IsBase64Encoded = r.method, r.path, r.body, r.base64
	req.Resource = r.path
	if rest, ok := strings.CutPrefix(r.path, "/v1/keys/"); ok {
		req.Resource = "/v1/keys/{id}"
		if id, ok := strings.CutSuffix(rest, "/rotate"); ok {
			req.Resource, rest = "/v1/keys/{id}/rotate", id
		}
		req.PathParameters = map[string]string{"id": rest}
	}
	req.MultiValueQueryStringParameters = r.query
	req.Headers["Content-Type"] = "application/json"
	for k, v := range r.headers {
		req.Headers[k] = v
	}
	req.RequestContext.Authorizer = c.context()
	event, _ := json.Marshal(req)
	out, err := e.handlers[fn].Handle(context.Background(), event)
	if err != nil {
		t.Fatalf("Handle returned error: %v", err)
	}
	var resp events.APIGatewayProxyResponse
	if err := json.Unmarshal(out, &resp); err != nil {
		t.Fatalf("response is not a proxy response: %s", out)
	}
	if resp.Headers["Content-Type"] != "application/json" || resp.Headers["Cache-Control"] != "no-store" {
		t.Fatalf("response headers = %v", resp.Headers)
	}
	var body map[string]any
	if err := json.Unmarshal([]byte(resp.Body), &body); err != nil {
		t.Fatalf("body is not JSON: %q", resp.Body)
	}
	if tok, ok := body["token"].(string); ok {
		e.tokens = append(e.tokens, tok)
	} else {
		for _, tok := range e.tokens {
			if strings.Contains(resp.Body, tok[len(apikey.DefaultPrefix)+apikey.IDLen:]) {
				t.Fatalf("a token secret appears in a %s %s response", r.method, r.path)
			}
		}
	}
	return resp.StatusCode, body
}

func (e *env) itemCount(t *testing.T) int {
	t.Helper()
	out, err := e.db.Scan(context.Background(), &dynamodb.ScanInput{TableName: aws.String(e.table), Select: types.SelectCount, ConsistentRead: aws.Bool(true)})
	if err != nil {
		t.Fatal(err)
	}
	return int(out.Count)
}

func wantError(t *testing.T, body map[string]any, code keygate.Code, requestID string) {
	t.Helper()
	e, ok := body["error"].(map[string]any)
	if !ok || len(body) != 1 {
		t.Fatalf("body %v is not an error envelope", body)
	}
	if e["code"] != string(code) || e["message"] == "" || e["request_id"] != requestID || len(e) != 3 {
		t.Fatalf("envelope = %v, want code %s and request_id %s", e, code, requestID)
	}
}

const gatewayRequestID = "c6af9ac6-7b61-11e6-9a41-93e8deadbeef"

func TestLifecycleOverHTTP(t *testing.T) {
	e := newEnv(t)
	admin := callerOf(t, e.direct(t, httpapi.Create, `{"tenant":"acme","owner":"alice","name":"bootstrap","type":"user","role":"admin"}`))

	status, who := e.proxy(t, httpapi.List, admin, request{method: "GET", path: "/v1/whoami"})
	if status != 200 || who["id"] != admin.keyID || who["role"] != "admin" || who["status"] != "active" {
		t.Fatalf("whoami = %d %v", status, who)
	}

	status, created := e.proxy(t, httpapi.Create, admin, request{method: "POST", path: "/v1/keys",
		body: `{"owner":"bob","name":"ci","apis":["*"],"scopes":["GET /buckets/photos/*","* /v1/keys/*"],"expires_in_hours":48}`})
	if status != 201 {
		t.Fatalf("create = %d %v", status, created)
	}
	for _, field := range []string{"id", "token", "hint", "name", "tenant", "owner", "type", "role", "scopes", "created_at", "expires_at"} {
		if _, ok := created[field]; !ok {
			t.Errorf("create response lacks %q", field)
		}
	}
	id := created["id"].(string)
	bob := callerOf(t, created)

	status, list := e.proxy(t, httpapi.List, admin, request{method: "GET", path: "/v1/keys", query: map[string][]string{"owner": {"bob"}, "limit": {"10"}}})
	keys, _ := list["keys"].([]any)
	if status != 200 || len(keys) != 1 || keys[0].(map[string]any)["id"] != id || list["next_cursor"] != nil {
		t.Fatalf("list = %d %v", status, list)
	}
	if _, ok := keys[0].(map[string]any)["token"]; ok {
		t.Fatal("list shows a token")
	}
	status, got := e.proxy(t, httpapi.List, bob, request{method: "GET", path: "/v1/keys/" + id})
	if status != 200 || got["hint"] != created["hint"] {
		t.Fatalf("get by owner = %d %v", status, got)
	}

	status, revoked := e.proxy(t, httpapi.Revoke, bob, request{method: "DELETE", path: "/v1/keys/" + id})
	if status != 200 || revoked["status"] != "revoked" {
		t.Fatalf("revoke = %d %v", status, revoked)
	}
	status, again := e.proxy(t, httpapi.Revoke, admin, request{method: "DELETE", path: "/v1/keys/" + id})
	if status != 200 || again["revoked_at"] != revoked["revoked_at"] {
		t.Fatalf("second revoke = %d %v", status, again)
	}

	// Direct invocation: the same JSON as the HTTP bodies.
	listed := e.direct(t, httpapi.List, `{"tenant":"acme","status":"revoked"}`)
	if keys := listed["keys"].([]any); len(keys) != 1 {
		t.Fatalf("direct list = %v", listed)
	}
	one := e.direct(t, httpapi.List, `{"tenant":"acme","id":"`+id+`"}`)
	if one["id"] != id {
		t.Fatalf("direct get = %v", one)
	}
	rev := e.direct(t, httpapi.Revoke, `{"tenant":"acme","id":"`+admin.keyID+`"}`)
	if rev["status"] != "revoked" {
		t.Fatalf("direct revoke = %v", rev)
	}
	wantError(t, e.direct(t, httpapi.Revoke, `{"tenant":"globex","id":"`+id+`"}`), keygate.NotFound, "lambda-req-1")

	if !strings.Contains(e.logs.String(), `"key_id":"`+id+`"`) || !strings.Contains(e.logs.String(), `"request_id":"`+gatewayRequestID+`"`) {
		t.Fatalf("logs lack key and request IDs:\n%s", e.logs)
	}
}

func TestBadRequestsChangeNothing(t *testing.T) {
	e := newEnv(t)
	admin := callerOf(t, e.direct(t, httpapi.Create, `{"tenant":"acme","owner":"alice","role":"admin"}`))
	viewer := callerOf(t, e.direct(t, httpapi.Create, `{"tenant":"acme","owner":"vic","apis":["*"],"scopes":["GET /v1/*"]}`))
	before := e.itemCount(t)
	big := `{"name":"` + strings.Repeat("a", httpapi.MaxBody) + `"}`
	tests := []struct {
		name   string
		fn     httpapi.Function
		caller caller
		req    request
		status int
		code   keygate.Code
	}{
		{"malformed JSON", httpapi.Create, admin, request{method: "POST", path: "/v1/keys", body: `{"owner":`}, 400, keygate.Invalid},
		{"not an object", httpapi.Create, admin, request{method: "POST", path: "/v1/keys", body: `["owner"]`}, 400, keygate.Invalid},
		{"empty body", httpapi.Create, admin, request{method: "POST", path: "/v1/keys", body: ``}, 400, keygate.Invalid},
		{"trailing data", httpapi.Create, admin, request{method: "POST", path: "/v1/keys", body: `{"owner":"bob"} {}`}, 400, keygate.Invalid},
		{"wrong type", httpapi.Create, admin, request{method: "POST", path: "/v1/keys", body: `{"owner":"bob","expires_in_hours":"24"}`}, 400, keygate.Invalid},
		{"fractional hours", httpapi.Create, admin, request{method: "POST", path: "/v1/keys", body: `{"owner":"bob","expires_in_hours":1.5}`}, 400, keygate.Invalid},
		{"scopes not array", httpapi.Create, admin, request{method: "POST", path: "/v1/keys", body: `{"owner":"bob","scopes":"GET /x"}`}, 400, keygate.Invalid},
		{"unknown field", httpapi.Create, admin, request{method: "POST", path: "/v1/keys", body: `{"owner":"bob","apis":["*"],"scopes":["GET /x"],"admin":true}`}, 400, keygate.Invalid},
		{"tenant in body", httpapi.Create, admin, request{method: "POST", path: "/v1/keys", body: `{"tenant":"globex","owner":"bob","apis":["*"],"scopes":["GET /x"]}`}, 400, keygate.Invalid},
		{"duplicate field", httpapi.Create, viewer, request{method: "POST", path: "/v1/keys", body: `{"role":"viewer","role":"admin"}`}, 400, keygate.Invalid},
		{"invalid UTF-8", httpapi.Create, admin, request{method: "POST", path: "/v1/keys", body: base64.StdEncoding.EncodeToString([]byte("{\"owner\":\"bob\",\"name\":\"\xff\",\"scopes\":[\"GET /x\"]}")), base64: true}, 400, keygate.Invalid},
		{"wrong content type", httpapi.Create, admin, request{method: "POST", path: "/v1/keys", body: `{"owner":"bob","apis":["*"],"scopes":["GET /x"]}`, headers: map[string]string{"Content-Type": "text/plain"}}, 400, keygate.Invalid},
		{"oversize", httpapi.Create, admin, request{method: "POST", path: "/v1/keys", body: big}, 413, keygate.PayloadTooLarge},
		{"oversize base64", httpapi.Create, admin, request{method: "POST", path: "/v1/keys", body: base64.StdEncoding.EncodeToString([]byte(big)), base64: true}, 413, keygate.PayloadTooLarge},
		{"bad base64", httpapi.Create, admin, request{method: "POST", path: "/v1/keys", body: "!!!", base64: true}, 400, keygate.Invalid},
		{"viewer escalates", httpapi.Create, viewer, request{method: "POST", path: "/v1/keys", body: `{"role":"admin"}`}, 403, keygate.Forbidden},
		{"no authorizer context", httpapi.Create, caller{}, request{method: "POST", path: "/v1/keys", body: `{"owner":"bob","apis":["*"],"scopes":["GET /x"]}`}, 401, keygate.Unauthorized},
		{"forged role", httpapi.Create, caller{admin.keyID, "acme", "alice", "user", "root", `["* /*"]`, `["*"]`, ""}, request{method: "POST", path: "/v1/keys", body: `{}`}, 401, keygate.Unauthorized},
		{"bad limit", httpapi.List, admin, request{method: "GET", path: "/v1/keys", query: map[string][]string{"limit": {"0"}}}, 400, keygate.Invalid},
		{"limit not a number", httpapi.List, admin, request{method: "GET", path: "/v1/keys", query: map[string][]string{"limit": {"ten"}}}, 400, keygate.Invalid},
		{"repeated param", httpapi.List, admin, request{method: "GET", path: "/v1/keys", query: map[string][]string{"owner": {"a", "b"}}}, 400, keygate.Invalid},
		{"unknown param", httpapi.List, admin, request{method: "GET", path: "/v1/keys", query: map[string][]string{"tenant": {"globex"}}}, 400, keygate.Invalid},
		{"bad cursor", httpapi.List, admin, request{method: "GET", path: "/v1/keys", query: map[string][]string{"cursor": {"Zm9v"}}}, 400, keygate.Invalid},
		{"unknown key", httpapi.Revoke, admin, request{method: "DELETE", path: "/v1/keys/AAAAAAAAAAAAAAAAA"}, 404, keygate.NotFound},
		{"path traversal id", httpapi.Revoke, admin, request{method: "DELETE", path: "/v1/keys/..%2F..%2Fetc"}, 404, keygate.NotFound},
		{"wrong function", httpapi.Revoke, admin, request{method: "GET", path: "/v1/keys"}, 404, keygate.NotFound},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			status, body := e.proxy(t, tt.fn, tt.caller, tt.req)
			if status != tt.status {
				t.Fatalf("status = %d %v, want %d", status, body, tt.status)
			}
			wantError(t, body, tt.code, gatewayRequestID)
		})
	}

	directs := []struct {
		name  string
		fn    httpapi.Function
		event string
		code  keygate.Code
	}{
		{"no tenant", httpapi.Create, `{"owner":"bob","apis":["*"],"scopes":["GET /x"]}`, keygate.Invalid},
		{"bad tenant", httpapi.Create, `{"tenant":"a#b","owner":"bob","apis":["*"],"scopes":["GET /x"]}`, keygate.Invalid},
		{"unknown field", httpapi.List, `{"tenant":"acme","everything":true}`, keygate.Invalid},
		{"not JSON", httpapi.Revoke, `"revoke all"`, keygate.Invalid},
		{"null", httpapi.Revoke, `null`, keygate.Invalid},
		{"no id", httpapi.Revoke, `{"tenant":"acme"}`, keygate.Invalid},
		{"oversize", httpapi.Create, `{"tenant":"acme","name":"` + strings.Repeat("a", httpapi.MaxBody) + `"}`, keygate.PayloadTooLarge},
	}
	for _, tt := range directs {
		t.Run("direct "+tt.name, func(t *testing.T) {
			wantError(t, e.direct(t, tt.fn, tt.event), tt.code, "lambda-req-1")
		})
	}
	if after := e.itemCount(t); after != before {
		t.Fatalf("bad requests changed the table: %d items before, %d after", before, after)
	}
}

// TestErrorEnvelopeGolden pins the exact bytes clients parse.
func TestErrorEnvelopeGolden(t *testing.T) {
	e := newEnv(t)
	// Over HTTP: the envelope.
	status, body := e.proxy(t, httpapi.Revoke, caller{}, request{method: "DELETE", path: "/v1/keys/AAAAAAAAAAAAAAAAA"})
	out, _ := json.Marshal(body)
	want, err := os.ReadFile("testdata/unauthorized.golden.json")
	if err != nil {
		t.Fatal(err)
	}
	if status != 401 || string(out) != strings.TrimSpace(string(want)) {
		t.Fatalf("envelope = %d %s\nwant       %s", status, out, want)
	}
	// Directly: a function error as the Lambda runtime reports it.
	_, ferr := e.handlers[httpapi.Revoke].Handle(lambdaCtx(), json.RawMessage(`{"tenant":"acme","id":"AAAAAAAAAAAAAAAAA"}`))
	reported, _ := json.Marshal(ferr)
	if want, err = os.ReadFile("testdata/not_found.golden.json"); err != nil {
		t.Fatal(err)
	}
	if string(reported) != strings.TrimSpace(string(want)) {
		t.Fatalf("function error = %s\nwant             %s", reported, want)
	}
}

func TestInternalErrorsAreNotShown(t *testing.T) {
	body := apierror.Body(context.DeadlineExceeded, "r1")
	if string(body) != `{"error":{"code":"internal","message":"internal error","request_id":"r1"}}` {
		t.Fatalf("internal error body = %s", body)
	}
}

// TestStatus: every error code openapi.yaml documents has the HTTP status
// written here, and no other code is documented; an unknown code is 500.
func TestStatus(t *testing.T) {
	want := map[keygate.Code]int{
		keygate.Invalid: 400, keygate.Unauthorized: 401, keygate.Forbidden: 403, keygate.NotFound: 404,
		keygate.LimitExceeded: 409, keygate.Conflict: 409, keygate.PayloadTooLarge: 413,
		keygate.Internal: 500, keygate.Unavailable: 503,
	}
	node := parseYAML(t, read(t, "../../openapi.yaml"))
	for _, key := range []string{"components", "schemas", "Error", "properties", "error", "properties", "code", "enum"} {
		node = testkit.YAMLChild(node, key)
	}
	if node == nil {
		t.Fatal("openapi.yaml has no Error code enum")
	}
	documented := map[keygate.Code]bool{}
	for _, n := range node.Content {
		code := keygate.Code(n.Value)
		documented[code] = true
		if _, ok := want[code]; !ok {
			t.Errorf("openapi.yaml documents %s, which has no status here", code)
		}
	}
	for code, status := range want {
		if !documented[code] {
			t.Errorf("%s is not in openapi.yaml's Error code enum", code)
		}
		if got := apierror.Status(code); got != status {
			t.Errorf("Status(%s) = %d, want %d", code, got, status)
		}
	}
	if got := apierror.Status("no_such_code"); got != 500 {
		t.Errorf("Status of an unknown code = %d, want 500", got)
	}
}

func TestIdempotencyKey(t *testing.T) {
	e := newEnv(t)
	admin := callerOf(t, e.direct(t, httpapi.Create, `{"tenant":"acme","owner":"alice","role":"admin"}`))
	post := request{method: "POST", path: "/v1/keys", body: `{"owner":"bob","apis":["*"],"scopes":["GET /x"]}`, headers: map[string]string{"Idempotency-Key": "abc-123"}}
	_, first := e.proxy(t, httpapi.Create, admin, post)
	status, again := e.proxy(t, httpapi.Create, admin, post)
	if status != 201 || again["id"] != first["id"] || again["token"] != first["token"] {
		t.Fatalf("retry = %d %v, want the first key %v", status, again["id"], first["id"])
	}
	d1 := e.direct(t, httpapi.Create, `{"tenant":"acme","owner":"carol","apis":["*"],"scopes":["GET /x"],"idempotency_key":"boot-1"}`)
	d2 := e.direct(t, httpapi.Create, `{"tenant":"acme","owner":"carol","apis":["*"],"scopes":["GET /x"],"idempotency_key":"boot-1"}`)
	if d1["id"] != d2["id"] || d1["token"] != d2["token"] {
		t.Fatalf("direct retry made a second key: %v, %v", d1["id"], d2["id"])
	}
	post.headers["Idempotency-Key"] = "bad key"
	status, body := e.proxy(t, httpapi.Create, admin, post)
	if status != 400 {
		t.Fatalf("invalid idempotency key = %d %v", status, body)
	}
}

// TestStaleContextOverHTTP: the proxy passes the route and API the
// authorizer admitted, and the service checks them against the calling
// key's item as it is now. A viewer whose scopes were narrowed (its
// context still cached at the gateway) cannot create any more, and one
// whose apis no longer name this API cannot act through it.
func TestStaleContextOverHTTP(t *testing.T) {
	e := newEnv(t)
	created := e.direct(t, httpapi.Create, `{"tenant":"acme","owner":"carol","apis":["*"],"scopes":["POST /v1/keys","GET /x"],"expires_in_hours":0}`)
	stale := callerOf(t, created)
	id := created["id"].(string)
	if status, body := e.proxy(t, httpapi.Create, stale, request{method: "POST", path: "/v1/keys", body: `{"scopes":["GET /x"]}`}); status != 201 {
		t.Fatalf("create before the change = %d %v", status, body)
	}
	e.direct(t, httpapi.Revoke, `{"op":"update","tenant":"acme","id":"`+id+`","scopes":["GET /x"]}`)
	status, body := e.proxy(t, httpapi.Create, stale, request{method: "POST", path: "/v1/keys", body: `{"scopes":["GET /x"]}`})
	if status != 403 {
		t.Fatalf("create with a stale context = %d %v, want 403", status, body)
	}
	wantError(t, body, keygate.Forbidden, gatewayRequestID)

	// A key whose apis do not name the API the request came through
	// (abc123 in the fixture) acts on nothing, whatever reached it.
	other := callerOf(t, e.direct(t, httpapi.Create, `{"tenant":"acme","owner":"carol","apis":["zzz999"],"scopes":["POST /v1/keys"]}`))
	status, body = e.proxy(t, httpapi.Create, other, request{method: "POST", path: "/v1/keys", body: `{}`})
	if status != 403 {
		t.Fatalf("create through an API the key does not name = %d %v, want 403", status, body)
	}
}
