package verify_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/json"
	"io"
	"log/slog"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/keygate/keygate/infra/dynamotest"
	"github.com/keygate/keygate/infra/testkit"
	"github.com/keygate/keygate/shared/apikey"
	"github.com/keygate/keygate/shared/authorizer"
	"github.com/keygate/keygate/shared/keygate"
	"github.com/keygate/keygate/shared/manage"
	"github.com/keygate/keygate/shared/store"
	"github.com/keygate/keygate/shared/usage"
	"github.com/keygate/keygate/shared/verify"
)

// countingDB is the real DynamoDB Local client counting key reads and
// usage writes: it proves what a verify costs, never answers itself.
type countingDB struct {
	*dynamodb.Client
	keyReads, usageWrites, touches atomic.Int64
}

func pk(key map[string]types.AttributeValue) string {
	s, _ := key[store.AttrPK].(*types.AttributeValueMemberS)
	if s == nil {
		return ""
	}
	return s.Value
}

func (d *countingDB) GetItem(ctx context.Context, in *dynamodb.GetItemInput, opts ...func(*dynamodb.Options)) (*dynamodb.GetItemOutput, error) {
	if strings.HasPrefix(pk(in.Key), "KEY#") {
		d.keyReads.Add(1)
	}
	return d.Client.GetItem(ctx, in, opts...)
}

func (d *countingDB) UpdateItem(ctx context.Context, in *dynamodb.UpdateItemInput, opts ...func(*dynamodb.Options)) (*dynamodb.UpdateItemOutput, error) {
	switch p := pk(in.Key); {
	case strings.HasPrefix(p, "USAGE#"):
		d.usageWrites.Add(1)
	case strings.HasPrefix(p, "KEY#"):
		d.touches.Add(1)
	}
	return d.Client.UpdateItem(ctx, in, opts...)
}

type fixture struct {
	db      *countingDB
	st      *store.Store
	svc     *manage.Service
	clock   *testkit.Clock
	logs    *bytes.Buffer
	auth    *authorizer.Authorizer // the authorizer function's environment
	handler *verify.Handler        // the verify function's
	caller  map[string]any         // the authorizer context of an acme key
	format  apikey.Format
	hasher  *apikey.Hasher
}

func newFixture(t *testing.T) *fixture {
	t.Helper()
	client, table := dynamotest.NewTable(t)
	db := &countingDB{Client: client}
	st := store.New(db, table)
	format, _ := apikey.NewFormat(apikey.DefaultPrefix)
	hasher, err := apikey.NewHasher(bytes.Repeat([]byte("v"), 32), apikey.HMACSHA256, rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	clk := testkit.NewClock(time.Now().UTC().Truncate(time.Minute).Add(5 * time.Second))
	f := &fixture{db: db, st: st, clock: clk, logs: &bytes.Buffer{}, format: format, hasher: hasher}
	f.svc = manage.New(st, manage.Config{Format: format, Hasher: hasher, Retention: time.Hour, MaxUserKeys: 10, MaxServiceKeys: 10, Now: clk.Now})
	log := slog.New(slog.NewJSONHandler(f.logs, nil))
	// Two execution environments, as Lambda runs the two functions:
	// each its own cache and meter, one table. No cache, so every
	// decision's reads are counted.
	env := func() *authorizer.Authorizer {
		return authorizer.New(st, authorizer.Config{Format: format, Hasher: hasher, LastUsedInterval: time.Minute, Meter: usage.NewMeter(st), Now: clk.Now}, log)
	}
	f.auth = env()
	f.handler = verify.New(verify.Config{Checker: env(), Usage: st, Log: log, Now: clk.Now})
	svc := f.create(t, "acme", manage.CreateRequest{Type: keygate.Service, Name: "checker", Scopes: []string{"POST /v1/verify"}})
	f.caller = map[string]any{"key_id": svc.ID, "tenant": "acme", "owner": svc.Owner, "type": "service", "role": "admin",
		"scopes": `["POST /v1/verify"]`, "apis": `["*"]`, "expires_at": "", "principalId": svc.ID}
	t.Cleanup(func() {
		if strings.Contains(f.logs.String(), apikey.DefaultPrefix) {
			t.Errorf("logs contain a token: %s", f.logs)
		}
	})
	return f
}

func (f *fixture) create(t *testing.T, tenant string, req manage.CreateRequest) *manage.Created {
	t.Helper()
	if req.Owner == "" && req.Type != keygate.Service {
		req.Owner = "alice"
	}
	if req.APIs == nil {
		req.APIs = []string{"*"}
	}
	if req.Scopes == nil {
		req.Scopes = []string{"GET /x/*"}
	}
	req.Tenant = tenant
	c, err := f.svc.Create(context.Background(), keygate.Caller{Operator: true}, req)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func restEvent(body string, authorizer map[string]any) json.RawMessage {
	ev, _ := json.Marshal(events.APIGatewayProxyRequest{HTTPMethod: "POST", Resource: verify.Path, Path: verify.Path,
		Headers: map[string]string{"Content-Type": "application/json"}, Body: body,
		RequestContext: events.APIGatewayProxyRequestContext{RequestID: "req-1", Authorizer: authorizer}})
	return ev
}

func v2Event(body string, authorizer map[string]any) json.RawMessage {
	ev, _ := json.Marshal(events.APIGatewayV2HTTPRequest{Version: "2.0", RouteKey: "POST " + verify.Path, RawPath: verify.Path,
		Headers: map[string]string{"content-type": "application/json"}, Body: body,
		RequestContext: events.APIGatewayV2HTTPRequestContext{RequestID: "req-2",
			Authorizer: &events.APIGatewayV2HTTPRequestContextAuthorizerDescription{Lambda: authorizer}}})
	return ev
}

// call runs an event and returns the response's status and body.
func (f *fixture) call(t *testing.T, event json.RawMessage) (int, string) {
	t.Helper()
	out, err := f.handler.Handle(context.Background(), event)
	if err != nil {
		t.Fatalf("Handle returned an error: %v", err)
	}
	var resp struct {
		StatusCode int               `json:"statusCode"`
		Headers    map[string]string `json:"headers"`
		Body       string            `json:"body"`
	}
	if err := json.Unmarshal(out, &resp); err != nil {
		t.Fatal(err)
	}
	if resp.Headers["Cache-Control"] != "no-store" {
		t.Errorf("headers %v: want Cache-Control no-store", resp.Headers)
	}
	return resp.StatusCode, resp.Body
}

// verify posts body as the acme caller and decodes the 200 answer.
func (f *fixture) verify(t *testing.T, body any) (verify.Result, string) {
	t.Helper()
	raw, _ := json.Marshal(body)
	status, out := f.call(t, restEvent(string(raw), f.caller))
	if status != 200 {
		t.Fatalf("status %d: %s", status, out)
	}
	var res verify.Result
	if err := json.Unmarshal([]byte(out), &res); err != nil {
		t.Fatal(err)
	}
	return res, out
}

func ptr[T any](v T) *T { return &v }

const notFound = `{"valid":false,"code":"NOT_FOUND"}`

func TestCodes(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	op := keygate.Caller{Operator: true}
	valid := f.create(t, "acme", manage.CreateRequest{Name: "reader", Scopes: []string{"GET /x/*"}, APIs: []string{"abc123/prod"}})
	expiring := f.create(t, "acme", manage.CreateRequest{ExpiresInHours: ptr[int64](1)})
	revoked := f.create(t, "acme", manage.CreateRequest{})
	if _, err := f.svc.Revoke(ctx, op, manage.RevokeRequest{Tenant: "acme", ID: revoked.ID}); err != nil {
		t.Fatal(err)
	}
	disabled := f.create(t, "acme", manage.CreateRequest{})
	if _, err := f.svc.Update(ctx, op, manage.UpdateRequest{Tenant: "acme", ID: disabled.ID, Enabled: ptr(false)}); err != nil {
		t.Fatal(err)
	}
	limited := f.create(t, "acme", manage.CreateRequest{RateLimit: &manage.RateLimitRequest{Limit: 1, Window: "1m"}})
	credited := f.create(t, "acme", manage.CreateRequest{Credits: &manage.CreditsRequest{Remaining: ptr[int64](1)}})
	f.clock.Add(2 * time.Hour) // the expiring key expired; the limits' windows are fresh
	tests := []struct {
		name  string
		body  verify.Request
		code  string
		calls int // verifies before the one checked
	}{
		{"valid, key only", verify.Request{Key: valid.Token.Reveal()}, verify.Valid, 0},
		{"valid, route and api", verify.Request{Key: valid.Token.Reveal(), API: "abc123/prod", Method: "GET", Path: "/x/1"}, verify.Valid, 0},
		{"valid, route without api checks scopes only", verify.Request{Key: valid.Token.Reveal(), Method: "GET", Path: "/x/1"}, verify.Valid, 0},
		{"valid, api without route checks apis only", verify.Request{Key: valid.Token.Reveal(), API: "abc123/prod"}, verify.Valid, 0},
		{"route not in scopes", verify.Request{Key: valid.Token.Reveal(), Method: "POST", Path: "/x/1"}, verify.Forbidden, 0},
		{"api not in apis", verify.Request{Key: valid.Token.Reveal(), API: "abc123/test", Method: "GET", Path: "/x/1"}, verify.Forbidden, 0},
		{"other api, no route", verify.Request{Key: valid.Token.Reveal(), API: "zzz999"}, verify.Forbidden, 0},
		{"expired", verify.Request{Key: expiring.Token.Reveal()}, verify.Expired, 0},
		{"revoked", verify.Request{Key: revoked.Token.Reveal()}, verify.Revoked, 0},
		{"disabled", verify.Request{Key: disabled.Token.Reveal()}, verify.Disabled, 0},
		{"rate limited", verify.Request{Key: limited.Token.Reveal()}, verify.RateLimited, 1},
		{"credits exhausted", verify.Request{Key: credited.Token.Reveal()}, verify.CreditsExhausted, 1},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			for range tc.calls {
				if res, out := f.verify(t, tc.body); res.Code != verify.Valid {
					t.Fatalf("call before: %s", out)
				}
			}
			res, out := f.verify(t, tc.body)
			if res.Code != tc.code || res.Valid != (tc.code == verify.Valid) {
				t.Fatalf("got %s, want code %s", out, tc.code)
			}
			if res.Key == nil || res.KeyID == "" || res.Owner == "" || res.Scopes == nil || res.APIs == nil {
				t.Errorf("%s: want the key's fields", out)
			}
			for _, field := range []string{`"meta":`, `"usage":`, `"expires_at":`, `"type":`, `"role":`, `"name":`} {
				if !strings.Contains(out, field) {
					t.Errorf("%s: no %s", out, field)
				}
			}
			limitedCode := tc.code == verify.RateLimited || tc.code == verify.CreditsExhausted
			// Credits without a refill never come back: retry_after 0.
			if limitedCode != (res.RetryAfter != nil) || (tc.code == verify.RateLimited && *res.RetryAfter <= 0) {
				t.Errorf("%s: retry_after wrong for %s", out, tc.code)
			}
			if limitedCode && res.Usage == nil {
				t.Errorf("%s: a metered key's usage is missing", out)
			}
		})
	}
	t.Run("fields", func(t *testing.T) {
		res, _ := f.verify(t, verify.Request{Key: valid.Token.Reveal()})
		if res.KeyID != valid.ID || res.Name != "reader" || res.Owner != "alice" || res.Type != keygate.User ||
			strings.Join(res.Scopes, ",") != "GET /x/*" || strings.Join(res.APIs, ",") != "abc123/prod" || res.ExpiresAt != nil || res.Usage != nil {
			t.Errorf("got %+v", *res.Key)
		}
	})
}

// TestNotFound: every token that is no key of the caller's tenant gets
// exactly the same answer; malformed and forged ones cost no read; a key
// of another tenant is neither metered nor touched.
func TestNotFound(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	// mine's token is made of known bytes, so tokens for its (public) ID
	// can be made: one tagged by this pepper with another secret (a wrong
	// secret), one tagged by another pepper (a forgery).
	id, secret := bytes.Repeat([]byte{7}, 12), bytes.Repeat([]byte{9}, 32)
	seeded := manage.New(f.st, manage.Config{Format: f.format, Hasher: f.hasher, Retention: time.Hour, MaxUserKeys: 10,
		MaxServiceKeys: 10, Now: f.clock.Now, Random: io.MultiReader(bytes.NewReader(append(id, secret...)), rand.Reader)})
	mine, err := seeded.Create(ctx, keygate.Caller{Operator: true}, manage.CreateRequest{Tenant: "acme", Owner: "alice", Scopes: []string{"GET /x/*"}, APIs: []string{"*"}})
	if err != nil {
		t.Fatal(err)
	}
	theirs := f.create(t, "globex", manage.CreateRequest{Credits: &manage.CreditsRequest{Remaining: ptr[int64](5)}})
	minted := mine.Token.Reveal()
	other, _ := apikey.NewHasher(bytes.Repeat([]byte("z"), 32), apikey.HMACSHA256, rand.Reader)
	token := func(secret []byte, h *apikey.Hasher) string {
		tok, err := f.format.Generate(bytes.NewReader(append(append([]byte{}, id...), secret...)), h)
		if err != nil {
			t.Fatal(err)
		}
		return tok.Reveal()
	}
	if token(secret, f.hasher) != minted {
		t.Fatal("the seeded key's token is not made of the seed")
	}
	forged := token(secret, other)
	wrong := token(bytes.Repeat([]byte{8}, 32), f.hasher)
	unknownTok, err := f.format.Generate(rand.Reader, f.hasher)
	if err != nil {
		t.Fatal(err)
	}
	unknown := unknownTok.Reveal()
	last := minted[len(minted)-1]
	badSum := minted[:len(minted)-1] + map[bool]string{true: "1", false: "0"}[last == '0']
	tests := []struct {
		name  string
		token string
		reads int64
	}{
		{"malformed", "not-a-key", 0},
		{"bad checksum", badSum, 0},
		{"forged", forged, 0},
		{"wrong secret", wrong, 1},
		{"unknown", unknown, 1},
		{"another tenant's", theirs.Token.Reveal(), 1},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			before := f.db.keyReads.Load()
			for _, ev := range []json.RawMessage{
				restEvent(`{"key":`+quote(tc.token)+`}`, f.caller),
				v2Event(`{"key":`+quote(tc.token)+`,"method":"GET","path":"/x/1"}`, f.caller),
			} {
				status, out := f.call(t, ev)
				if status != 200 || out != notFound {
					t.Errorf("got %d %s, want 200 %s", status, out, notFound)
				}
			}
			if got := f.db.keyReads.Load() - before; got != 2*tc.reads {
				t.Errorf("%d key reads for two verifies, want %d", got, 2*tc.reads)
			}
		})
	}
	if n := f.db.usageWrites.Load(); n != 0 {
		t.Errorf("%d usage writes: another tenant's key was metered", n)
	}
	if n := f.db.touches.Load(); n != 0 {
		t.Errorf("%d key writes: another tenant's key was touched", n)
	}
	rec, err := f.st.GetKey(ctx, theirs.ID)
	if err != nil {
		t.Fatal(err)
	}
	u, err := f.st.Usage(ctx, &rec.Key, f.clock.Now())
	if err != nil || u == nil || u.Credits.Remaining != 5 || rec.LastUsedAt != nil {
		t.Errorf("another tenant's key: usage %+v (%v), last used %v; want 5 credits, never used", u, err, rec.LastUsedAt)
	}
}

func quote(s string) string {
	b, _ := json.Marshal(s)
	return string(b)
}

// TestSameBudget: a verify spends a metered key's calls from the same
// counters as the authorizer: with 3 a minute, 2 verifies and 1 call
// through the authorizer leave nothing.
func TestSameBudget(t *testing.T) {
	f := newFixture(t)
	key := f.create(t, "acme", manage.CreateRequest{RateLimit: &manage.RateLimitRequest{Limit: 3, Window: "1m"}})
	body := verify.Request{Key: key.Token.Reveal(), Method: "GET", Path: "/x/1"}
	authorize := func() authorizer.Decision {
		d, _, err := f.auth.Authorize(context.Background(), authorizer.Request{Token: key.Token.Reveal(), API: "kglocal001", Stage: "local", Method: "GET", Path: "/x/1"})
		if err != nil {
			t.Fatal(err)
		}
		return d
	}
	for i := range 2 {
		if res, out := f.verify(t, body); res.Code != verify.Valid {
			t.Fatalf("verify %d: %s", i+1, out)
		}
	}
	if d := authorize(); d.Outcome != authorizer.Allow {
		t.Fatalf("authorizer call: %v (%s)", d.Outcome, d.Reason)
	}
	if res, out := f.verify(t, body); res.Code != verify.RateLimited || res.Usage == nil || res.Usage.RateLimit.Remaining != 0 {
		t.Errorf("fourth call, a verify: %s", out)
	}
	if d := authorize(); d.Outcome != authorizer.Deny || d.Refusal != keygate.ReasonRateLimited {
		t.Errorf("fifth call, the authorizer: %v (%s)", d.Outcome, d.Reason)
	}
	f.clock.Add(time.Minute)
	if res, out := f.verify(t, body); res.Code != verify.Valid {
		t.Errorf("next window: %s", out)
	}
}

// TestBadRequests: bodies that are not a verify request, and events the
// authorizer did not pass, are refused in the envelope, deciding nothing.
func TestBadRequests(t *testing.T) {
	f := newFixture(t)
	key := f.create(t, "acme", manage.CreateRequest{}).Token.Reveal()
	q := quote(key)
	tests := []struct {
		name   string
		event  json.RawMessage
		status int
	}{
		{"unknown field", restEvent(`{"key":`+q+`,"scope":"x"}`, f.caller), 400},
		{"case-folded field", restEvent(`{"KEY":`+q+`}`, f.caller), 400},
		{"duplicate field", restEvent(`{"key":`+q+`,"key":`+q+`}`, f.caller), 400},
		{"not JSON", restEvent(`key=`+key, f.caller), 400},
		{"array", restEvent(`[`+q+`]`, f.caller), 400},
		{"empty", restEvent(``, f.caller), 400},
		{"trailing data", restEvent(`{"key":`+q+`}{}`, f.caller), 400},
		{"key a number", restEvent(`{"key":12}`, f.caller), 400},
		{"key an object", restEvent(`{"key":{"token":`+q+`}}`, f.caller), 400},
		{"key missing", restEvent(`{"method":"GET","path":"/x"}`, f.caller), 400},
		{"key null", restEvent(`{"key":null}`, f.caller), 400},
		{"method without path", restEvent(`{"key":`+q+`,"method":"GET"}`, f.caller), 400},
		{"path without method", v2Event(`{"key":`+q+`,"path":"/x"}`, f.caller), 400},
		{"lowercase method", restEvent(`{"key":`+q+`,"method":"get","path":"/x"}`, f.caller), 400},
		{"relative path", restEvent(`{"key":`+q+`,"method":"GET","path":"x"}`, f.caller), 400},
		{"bad api", restEvent(`{"key":`+q+`,"api":"ABC/prod"}`, f.caller), 400},
		{"api star", restEvent(`{"key":`+q+`,"api":"*"}`, f.caller), 400},
		{"huge", restEvent(`{"key":`+q+`,"api":"`+strings.Repeat("a", verify.MaxBody)+`"}`, f.caller), 413},
		{"not a proxy event", json.RawMessage(`{"key":` + q + `}`), 400},
		{"no authorizer context", restEvent(`{"key":`+q+`}`, nil), 401},
		{"forged authorizer context", restEvent(`{"key":`+q+`}`, map[string]any{"tenant": "acme"}), 401},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			before := f.db.keyReads.Load()
			status, out := f.call(t, tc.event)
			var env struct {
				Error struct {
					Code      string `json:"code"`
					Message   string `json:"message"`
					RequestID string `json:"request_id"`
				} `json:"error"`
			}
			if status != tc.status || json.Unmarshal([]byte(out), &env) != nil || env.Error.Code == "" || env.Error.Message == "" {
				t.Errorf("got %d %s, want %d in the envelope", status, out, tc.status)
			}
			if strings.Contains(out, key[len(apikey.DefaultPrefix):]) {
				t.Errorf("the answer shows the token: %s", out)
			}
			if f.db.keyReads.Load() != before {
				t.Errorf("a refused request read a key")
			}
		})
	}
}

// TestV2 answers an HTTP API event in its shape.
func TestV2(t *testing.T) {
	f := newFixture(t)
	key := f.create(t, "acme", manage.CreateRequest{})
	out, err := f.handler.Handle(context.Background(), v2Event(`{"key":`+quote(key.Token.Reveal())+`}`, f.caller))
	if err != nil {
		t.Fatal(err)
	}
	var resp events.APIGatewayV2HTTPResponse
	if err := json.Unmarshal(out, &resp); err != nil || resp.StatusCode != 200 || !strings.Contains(resp.Body, `"code":"VALID"`) {
		t.Errorf("got %s (%v)", out, err)
	}
}
