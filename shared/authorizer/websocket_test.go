package authorizer_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/keygate/keygate/shared/authorizer"
	"github.com/keygate/keygate/shared/keygate"
	"github.com/keygate/keygate/shared/manage"
	"github.com/keygate/keygate/shared/scope"
)

// The WebSocket fixtures in testdata are the REQUEST event API Gateway
// sends a WebSocket API's authorizer on $connect, as AWS documents it
// (websocket-connect.json: API abcdef123, stage default, no key), and
// variants of it: the key in ?token= (a browser), in Authorization (a
// server), and a message route's methodArn with ?token=, which API Gateway
// never sends an authorizer but stands for any route other than $connect.
const (
	wsConnect       = "websocket-connect.json"
	wsConnectQuery  = "websocket-connect-query.json"
	wsConnectHeader = "websocket-connect-header.json"
	wsMessageQuery  = "websocket-message-query.json"
	wsConnectARN    = "arn:aws:execute-api:us-east-1:123456789012:abcdef123/default/$connect"
)

// wsEvent is a WebSocket fixture with its placeholder token replaced.
func wsEvent(t testing.TB, name, token string) json.RawMessage {
	t.Helper()
	raw, err := os.ReadFile("testdata/" + name)
	if err != nil {
		t.Fatal(err)
	}
	const placeholder = "kg_live_REPLACE_WITH_A_REAL_TOKEN"
	if name != wsConnect && !bytes.Contains(raw, []byte(placeholder)) {
		t.Fatalf("%s has no placeholder token", name)
	}
	return json.RawMessage(strings.ReplaceAll(string(raw), placeholder, token))
}

// withHeader is the $connect fixture without a key, plus one header.
func withHeader(t testing.TB, name, value string) json.RawMessage {
	t.Helper()
	var e map[string]any
	if err := json.Unmarshal(wsEvent(t, wsConnect, ""), &e); err != nil {
		t.Fatal(err)
	}
	e["headers"].(map[string]any)[name] = value
	raw, err := json.Marshal(e)
	if err != nil {
		t.Fatal(err)
	}
	return raw
}

// TestWebSocketConnect: a $connect is allowed for a key whose apis name
// the API (and stage) and whose scopes allow CONNECT /$connect, with a
// policy on exactly the $connect methodArn; denied, as forbidden, for any
// other valid key; unauthorized without a valid key. The key may come in
// ?token= (on by default for $connect) or in either header.
func TestWebSocketConnect(t *testing.T) {
	f := newFixture(t, nil) // AllowQueryToken off: $connect reads ?token= regardless
	mk := func(owner string, apis, scopes []string) string {
		return f.create(t, manage.CreateRequest{Owner: owner, APIs: apis, Scopes: scopes}).Token.Reveal()
	}
	connect := mk("c", []string{"abcdef123"}, []string{scope.Connect})
	admin := f.create(t, manage.CreateRequest{Role: keygate.Admin}).Token.Reveal()
	anyMethod := mk("m", []string{"*"}, []string{"* /$connect"})
	stage := mk("s", []string{"abcdef123/default"}, []string{scope.Connect, "GET /x"})
	otherStage := mk("os", []string{"abcdef123/prod"}, []string{scope.Connect})
	otherAPI := mk("oa", []string{"other1"}, []string{scope.Connect})
	httpOnly := mk("h", []string{"*"}, []string{"GET /*", "* /v1/*"})
	restPath := mk("r", []string{"*"}, []string{"GET /$connect"})
	revoked := f.create(t, manage.CreateRequest{Owner: "rv", APIs: []string{"*"}, Scopes: []string{scope.Connect}})
	if _, err := f.svc.Revoke(context.Background(), keygate.Caller{Operator: true}, manage.RevokeRequest{Tenant: "acme", ID: revoked.ID}); err != nil {
		t.Fatal(err)
	}

	tests := []struct {
		name string
		ev   json.RawMessage
		want string
	}{
		{"query token", wsEvent(t, wsConnectQuery, connect), "allow"},
		{"authorization bearer", wsEvent(t, wsConnectHeader, connect), "allow"},
		{"x-api-key", withHeader(t, "X-API-Key", connect), "allow"},
		{"admin: all routes", wsEvent(t, wsConnectQuery, admin), "allow"},
		{"* /$connect", wsEvent(t, wsConnectQuery, anyMethod), "allow"},
		{"apis name the stage", wsEvent(t, wsConnectQuery, stage), "allow"},
		{"apis name another stage", wsEvent(t, wsConnectQuery, otherStage), "deny"},
		{"apis name another API", wsEvent(t, wsConnectQuery, otherAPI), "deny"},
		{"HTTP methods only", wsEvent(t, wsConnectQuery, httpOnly), "deny"},
		{"GET /$connect is a REST path", wsEvent(t, wsConnectQuery, restPath), "deny"},
		{"no key", wsEvent(t, wsConnect, ""), "unauthorized"},
		{"empty query token", wsEvent(t, wsConnectQuery, ""), "unauthorized"},
		{"malformed", wsEvent(t, wsConnectQuery, "kg_live_nope"), "unauthorized"},
		{"forged", wsEvent(t, wsConnectQuery, forge(t, connect)), "unauthorized"},
		{"revoked", wsEvent(t, wsConnectQuery, revoked.Token.Reveal()), "unauthorized"},
		// Authorization, when present, is the only source, as elsewhere.
		{"basic scheme beside a query token", func() json.RawMessage {
			return json.RawMessage(strings.Replace(string(wsEvent(t, wsConnectQuery, connect)), `"Upgrade": "websocket"`, `"Upgrade": "websocket", "Authorization": "Basic x"`, 1))
		}(), "unauthorized"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, resp := f.outcome(t, tt.ev)
			if got != tt.want {
				t.Fatalf("outcome = %s (%+v), want %s", got, resp, tt.want)
			}
			p, ok := resp.(events.APIGatewayCustomAuthorizerResponse)
			if !ok {
				return
			}
			// Exactly the $connect methodArn, in one statement, never a
			// wildcard.
			st := p.PolicyDocument.Statement
			wantEffect := map[string]string{"allow": "Allow", "deny": "Deny"}[tt.want]
			if p.PolicyDocument.Version != "2012-10-17" || len(st) != 1 || st[0].Effect != wantEffect ||
				len(st[0].Resource) != 1 || st[0].Resource[0] != wsConnectARN || st[0].Action[0] != "execute-api:Invoke" {
				t.Fatalf("policy = %+v, want %s of exactly %s", p.PolicyDocument, wantEffect, wsConnectARN)
			}
			if p.PrincipalID == "" || p.Context["key_id"] != p.PrincipalID || p.Context["tenant"] != "acme" {
				t.Fatalf("principal %q, context %v", p.PrincipalID, p.Context)
			}
			reason, retry := p.Context["reason"], p.Context["retry_after"]
			if tt.want == "deny" && (reason != keygate.ReasonForbidden || retry != int64(0)) {
				t.Fatalf("deny context = %v, want reason forbidden, retry_after 0", p.Context)
			}
			if tt.want == "allow" && (reason != nil || retry != nil) {
				t.Fatalf("allow context = %v", p.Context)
			}
		})
	}
	if !strings.Contains(f.logs.String(), `"shape":"websocket"`) {
		t.Error("decisions not logged with shape websocket")
	}
}

// TestWebSocketQueryTokenOnConnectOnly: ?token= is read on a $connect
// whatever ALLOW_QUERY_TOKEN says, and on no other route unless it is on.
// The methodArn decides what a route is: a REST REQUEST event for
// ".../GET/x" with ?token= stays refused, and so does a WebSocket event for
// any route but $connect.
func TestWebSocketQueryTokenOnConnectOnly(t *testing.T) {
	off := newFixture(t, nil)
	on := newFixtureOn(t, off.store.Store, func(c *authorizer.Config) { c.AllowQueryToken = true })
	connect := off.create(t, manage.CreateRequest{APIs: []string{"*"}, Scopes: []string{scope.Connect, "GET /x"}}).Token.Reveal()
	admin := off.create(t, manage.CreateRequest{Role: keygate.Admin}).Token.Reveal()
	restQuery := func(tok string) json.RawMessage {
		var e events.APIGatewayCustomAuthorizerRequestTypeRequest
		_ = json.Unmarshal(event(t, "rest-request", "", "GET", "/x"), &e)
		e.Headers, e.QueryStringParameters = nil, map[string]string{"token": tok}
		raw, _ := json.Marshal(e)
		return raw
	}
	tests := []struct {
		name string
		f    *fixture
		ev   json.RawMessage
		want string
	}{
		{"$connect, query off", off, wsEvent(t, wsConnectQuery, connect), "allow"},
		{"$connect, query on", on, wsEvent(t, wsConnectQuery, connect), "allow"},
		{"message route, query off", off, wsEvent(t, wsMessageQuery, connect), "unauthorized"},
		{"message route, query off, admin", off, wsEvent(t, wsMessageQuery, admin), "unauthorized"},
		// On, the token is read, and the route is an ordinary one that
		// CONNECT /$connect does not cover.
		{"message route, query on", on, wsEvent(t, wsMessageQuery, connect), "deny"},
		{"REST route, query off", off, restQuery(connect), "unauthorized"},
		{"REST route, query on", on, restQuery(connect), "allow"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got, resp := tt.f.outcome(t, tt.ev); got != tt.want {
				t.Fatalf("outcome = %s (%+v), want %s", got, resp, tt.want)
			}
		})
	}
	// Only ".../STAGE/$connect" itself is a connect: a path after it is
	// not, and reads no query token.
	for _, arn := range []string{wsConnectARN + "/", wsConnectARN + "/x", strings.Replace(wsConnectARN, "default/$connect", "default/GET/$connect", 1)} {
		ev := strings.Replace(string(wsEvent(t, wsConnectQuery, admin)), wsConnectARN, arn, 1)
		if got, _ := off.outcome(t, json.RawMessage(ev)); got != "unauthorized" {
			t.Errorf("%s with ?token=: %s, want unauthorized", arn, got)
		}
	}
}

// TestWebSocketConnectMetered: usage limits apply at connect, where a
// metered key's connection spends one call; a refusal is a Deny of the
// $connect with the reason and when to retry.
func TestWebSocketConnectMetered(t *testing.T) {
	c := newCluster(t, 1, windowStart.Add(15*time.Second))
	k := c.f.create(t, manage.CreateRequest{APIs: []string{"abcdef123"}, Scopes: []string{scope.Connect}})
	c.limits.set(k.ID, keygate.Key{RateLimit: &keygate.RateLimit{Limit: 2, Window: time.Hour}})
	a := c.envs[0]
	for i, want := range []string{"allow", "allow", "deny"} {
		got, resp := outcomeOf(t, a, wsEvent(t, wsConnectQuery, k.Token.Reveal()))
		if got != want {
			t.Fatalf("connect %d: %s, want %s", i+1, got, want)
		}
		p := resp.(events.APIGatewayCustomAuthorizerResponse)
		if r := p.PolicyDocument.Statement[0].Resource; len(r) != 1 || r[0] != wsConnectARN {
			t.Fatalf("connect %d: resources %v", i+1, r)
		}
		if want == "deny" && (p.Context["reason"] != keygate.ReasonRateLimited || p.Context["retry_after"] != int64(3600-15)) {
			t.Fatalf("refusal context = %v", p.Context)
		}
	}
	if n := c.meters[0].calls.Load(); n != 3 {
		t.Fatalf("%d meter calls, want one per connect", n)
	}
}

// TestWebSocketEvents: what is not an authorizer event for $connect is an
// error, never an allow: aws-lambda-go's sample of the $connect event a
// WebSocket integration receives (no type, no methodArn) among them.
func TestWebSocketEvents(t *testing.T) {
	f := newFixture(t, nil)
	admin := f.create(t, manage.CreateRequest{Role: keygate.Admin}).Token.Reveal()
	integration, err := os.ReadFile("testdata/aws-lambda-go-apigw-websocket-request.json")
	if err != nil {
		t.Fatal(err)
	}
	bad := []json.RawMessage{
		integration,
		json.RawMessage(strings.Replace(string(wsEvent(t, wsConnectQuery, admin)), wsConnectARN, "arn:aws:execute-api:us-east-1:123456789012:abcdef123/$connect", 1)),
		json.RawMessage(strings.Replace(string(wsEvent(t, wsConnectQuery, admin)), `"type": "REQUEST"`, `"type": "CONNECT"`, 1)),
	}
	for i, ev := range bad {
		if _, err := f.auth.Handle(context.Background(), ev); err == nil || errors.Is(err, authorizer.ErrUnauthorized) {
			t.Errorf("bad event %d: %v, want an error", i, err)
		}
	}
}

// TestWebSocketInvoke: Invoke answers a $connect as the Lambda runtime
// would have answered Handle, byte for byte, memoized or not, and a cache
// hit allocates no more than the other shapes' (TestHandleAllocs).
func TestWebSocketInvoke(t *testing.T) {
	f := newFixture(t, func(c *authorizer.Config) { c.CacheTTL = time.Hour; c.LastUsedInterval = time.Hour })
	connect := f.create(t, manage.CreateRequest{APIs: []string{"abcdef123"}, Scopes: []string{scope.Connect}}).Token.Reveal()
	other := f.create(t, manage.CreateRequest{APIs: []string{"other1"}, Scopes: []string{scope.Connect}}).Token.Reveal()
	ctx := context.Background()
	for _, tok := range []string{connect, connect, other, other} {
		ev := wsEvent(t, wsConnectQuery, tok)
		want, err := f.auth.Handle(ctx, ev)
		if err != nil {
			t.Fatal(err)
		}
		got, err := f.auth.Invoke(ctx, ev)
		if err != nil {
			t.Fatal(err)
		}
		var enc bytes.Buffer
		e := json.NewEncoder(&enc)
		e.SetEscapeHTML(false)
		if err := e.Encode(want); err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(got, enc.Bytes()) {
			t.Fatalf("Invoke = %s\nruntime encoding of Handle = %s", got, enc.Bytes())
		}
	}
	const maxHitAllocs = 10
	for _, ev := range []json.RawMessage{wsEvent(t, wsConnectQuery, connect), wsEvent(t, wsConnectHeader, connect)} {
		n := testing.AllocsPerRun(200, func() {
			f.logs.Reset()
			if _, err := f.auth.Invoke(ctx, ev); err != nil {
				t.Fatal(err)
			}
		})
		if n > maxHitAllocs {
			t.Errorf("$connect Invoke hit: %v allocations, want ≤ %d", n, maxHitAllocs)
		}
		t.Logf("$connect Invoke hit: %v allocations", n)
	}
}
