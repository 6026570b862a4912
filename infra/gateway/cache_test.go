package gateway_test

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"os"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/keygate/keygate/infra/gateway"
	"github.com/keygate/keygate/infra/testkit"
	"github.com/keygate/keygate/shared/keygate"
	"github.com/keygate/keygate/shared/manage"
	"go.yaml.in/yaml/v3"
)

// routeKeyOnly is the identity source the HTTP API snippets used to
// configure: a cached yes/no was reused on every path one route covers.
var routeKeyOnly = []string{"$request.header.Authorization", "$context.routeKey"}

// headerOnly is a REST authorizer keyed on the token alone (as a TOKEN
// authorizer always is): a cached policy is reused on every route.
var headerOnly = []string{"method.request.header.Authorization"}

type httpStack struct {
	url   string
	token string // scoped to GET /public/*
	calls atomic.Int64
	mu    sync.Mutex
	now   time.Time
	logs  *testkit.Buffer
}

func (s *httpStack) advance(d time.Duration) { s.mu.Lock(); defer s.mu.Unlock(); s.now = s.now.Add(d) }

// newHTTPStack serves routes, each answered by an echo backend, behind the
// real authorizer as an HTTP API with these identity sources (nil: the
// snippets'), a 5 s result TTL and an injected clock.
func newHTTPStack(t *testing.T, sources []string, routeKeys ...string) *httpStack {
	t.Helper()
	env, svc, logs := newEnv(t, nil)
	s := &httpStack{now: time.Now(), logs: logs}
	var routes []gateway.Route
	for _, k := range routeKeys {
		routes = append(routes, gateway.Route{Key: k, Integration: echo})
	}
	gw := gateway.LocalHTTP(env, 5*time.Second, routes)
	gw.IdentitySources = sources
	gw.Now = func() time.Time { s.mu.Lock(); defer s.mu.Unlock(); return s.now }
	authorize := gw.Authorizer
	gw.Authorizer = func(ctx context.Context, ev json.RawMessage) (any, error) {
		s.calls.Add(1)
		return authorize(ctx, ev)
	}
	srv := httptest.NewServer(gw)
	t.Cleanup(srv.Close)
	s.url = srv.URL
	created, err := svc.Create(context.Background(), keygate.Caller{Operator: true}, manage.CreateRequest{Tenant: "demo", Owner: "bob", APIs: []string{"*"}, Scopes: []string{"GET /public/*"}})
	if err != nil {
		t.Fatal(err)
	}
	s.token = created.Token.Reveal()
	return s
}

// echo is a payload 2.0 backend answering with what it was given.
func echo(_ context.Context, raw json.RawMessage) (json.RawMessage, error) {
	var ev struct {
		RouteKey       string `json:"routeKey"`
		RawPath        string `json:"rawPath"`
		RequestContext struct {
			Authorizer struct {
				Lambda map[string]any `json:"lambda"`
			} `json:"authorizer"`
		} `json:"requestContext"`
	}
	if err := json.Unmarshal(raw, &ev); err != nil {
		return nil, err
	}
	body, _ := json.Marshal(map[string]any{"route": ev.RouteKey, "path": ev.RawPath, "key_id": ev.RequestContext.Authorizer.Lambda["key_id"]})
	return json.Marshal(map[string]any{"statusCode": 200, "headers": map[string]string{"content-type": "application/json"}, "body": string(body)})
}

func (s *httpStack) get(t *testing.T, path, authorization string) (int, map[string]any) {
	t.Helper()
	status, _, m := testkit.SendJSON(t, http.MethodGet, s.url+path, authorization, "")
	return status, m
}

// TestHTTPAPICacheKey is the regression test for cached simple responses
// crossing paths: a key scoped to GET /public/* is allowed on /public/x,
// and under the old identity source (header + route key) the cached "yes"
// then let it reach /admin/x on a $default or {proxy+} route, and a cached
// "no" refused its own /public/x. Under the snippets' identity source
// (header, method, path) every request gets its own answer.
func TestHTTPAPICacheKey(t *testing.T) {
	type step struct {
		path    string
		advance bool // let the cached answers expire first
		want    int  // with the snippets' identity sources
		wantOld int  // with routeKeyOnly: the leak
	}
	sequences := []struct {
		name  string
		steps []step
	}{
		{"cached yes", []step{
			{path: "/public/x", want: 200, wantOld: 200},
			{path: "/admin/x", want: 403, wantOld: 200},
			{path: "/admin/x", advance: true, want: 403, wantOld: 403},
		}},
		{"cached no", []step{
			{path: "/admin/x", want: 403, wantOld: 403},
			{path: "/public/x", want: 200, wantOld: 403},
			{path: "/public/x", advance: true, want: 200, wantOld: 200},
		}},
	}
	configs := []struct {
		name    string
		sources []string
		old     bool
	}{
		{"snippet identity sources", nil, false},
		{"route key identity sources", routeKeyOnly, true},
	}
	for _, routeKey := range []string{"$default", "ANY /{proxy+}", "GET /{proxy+}"} {
		for _, cfg := range configs {
			for _, seq := range sequences {
				t.Run(routeKey+"/"+cfg.name+"/"+seq.name, func(t *testing.T) {
					s := newHTTPStack(t, cfg.sources, routeKey)
					for _, st := range seq.steps {
						if st.advance {
							s.advance(5 * time.Second)
						}
						want := st.want
						if cfg.old {
							want = st.wantOld
						}
						status, body := s.get(t, st.path, "Bearer "+s.token)
						if status != want {
							t.Fatalf("GET %s = %d %v, want %d", st.path, status, body, want)
						}
						if status == 200 && body["path"] != st.path {
							t.Fatalf("GET %s reached the backend as %v", st.path, body)
						}
					}
				})
			}
		}
	}
}

// TestHTTPAPIRequests covers the rest of what the HTTP API emulation does:
// caching still spares the authorizer, missing identity sources are
// refused without a call, and refusals have API Gateway's own bodies.
func TestHTTPAPIRequests(t *testing.T) {
	type step struct {
		path, authorization string
		advance             bool
		status              int
		message             string // API Gateway's body, for refusals
		calls               int64  // authorizer invocations so far
	}
	tests := []struct {
		name    string
		sources []string
		routes  []string
		steps   []step
	}{
		{"one call per method and path within the TTL", nil, []string{"$default"}, []step{
			{path: "/public/x", authorization: "token", status: 200, calls: 1},
			{path: "/public/x", authorization: "token", status: 200, calls: 1},
			{path: "/public/y", authorization: "token", status: 200, calls: 2},
			{path: "/public/x", authorization: "token", advance: true, status: 200, calls: 3},
		}},
		{"missing header: 401 without a call", nil, []string{"$default"}, []step{
			{path: "/public/x", status: 401, message: "Unauthorized", calls: 0},
		}},
		{"bad key: the authorizer's no is a 403", nil, []string{"$default"}, []step{
			{path: "/public/x", authorization: "Bearer kg_live_nope", status: 403, message: "Forbidden", calls: 1},
		}},
		{"no route", nil, []string{"GET /public/{id}"}, []step{
			{path: "/public/x/y", authorization: "token", status: 404, message: "Not Found", calls: 0},
			{path: "/public/x", authorization: "token", status: 200, calls: 1},
		}},
		{"unknown identity source fails closed", []string{"$request.header.Authorization", "$context.nope"}, []string{"$default"}, []step{
			{path: "/public/x", authorization: "token", status: 500, message: "Internal Server Error", calls: 0},
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := newHTTPStack(t, tt.sources, tt.routes...)
			for _, st := range tt.steps {
				if st.advance {
					s.advance(5 * time.Second)
				}
				auth := st.authorization
				if auth == "token" {
					auth = "Bearer " + s.token
				}
				status, body := s.get(t, st.path, auth)
				if status != st.status || (st.message != "" && body["message"] != st.message) {
					t.Fatalf("GET %s = %d %v, want %d %q", st.path, status, body, st.status, st.message)
				}
				if status == 200 && body["key_id"] == nil {
					t.Fatalf("the backend got no authorizer context: %v", body)
				}
				if got := s.calls.Load(); got != st.calls {
					t.Fatalf("after GET %s the authorizer ran %d times, want %d", st.path, got, st.calls)
				}
			}
			if strings.Contains(s.logs.String(), s.token[8:]) {
				t.Fatal("logs contain a token")
			}
		})
	}
}

// TestRESTCachedDeny: a request whose path holds * (an IAM wildcard) that
// an Allow resource would admit in IAM but the key's scopes refuse. An
// explicit Deny of its methodArn would itself be a wildcard, and keyed on
// the header alone, that cached Deny refused the key's other requests. The
// authorizer now answers such a request with an error (500, nothing
// cached), so under either cache key the key's own routes still work.
func TestRESTCachedDeny(t *testing.T) {
	tests := []struct {
		name    string
		sources []string
	}{
		{"snippet identity sources", nil},
		{"header only", headerOnly},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var calls atomic.Int64
			s := newStackWith(t, 5*time.Second, nil, func(gw *gateway.Gateway) {
				gw.IdentitySources = tt.sources
				authorize := gw.Authorizer
				gw.Authorizer = func(ctx context.Context, ev json.RawMessage) (any, error) {
					calls.Add(1)
					return authorize(ctx, ev)
				}
			})
			status, created := s.do(t, "POST", "/v1/keys", s.admin, `{"owner":"bob","apis":["*"],"scopes":["GET /v1/keys/*"]}`)
			if status != 201 {
				t.Fatalf("create = %d %v", status, created)
			}
			bob, id := created["token"].(string), created["id"].(string)

			status, body := s.do(t, "GET", "/v1/keys/*", bob, "")
			wantEnvelope(t, status, body, 500, keygate.Internal)
			before := calls.Load()
			status, body = s.do(t, "GET", "/v1/keys/"+id, bob, "")
			if status != 200 {
				t.Fatalf("GET /v1/keys/{own id} after GET /v1/keys/* = %d %v, want 200", status, body)
			}
			if calls.Load() == before {
				t.Fatal("the error was cached: the authorizer was not called again")
			}
			s.advance(5 * time.Second)
			if status, body = s.do(t, "GET", "/v1/keys/"+id, bob, ""); status != 200 {
				t.Fatalf("after the TTL GET /v1/keys/{own id} = %d %v", status, body)
			}
		})
	}
}

// TestSnippetIdentitySources keeps the emulator's cache key and the
// documented configurations from drifting apart: every snippet configures
// exactly DefaultIdentitySources for its kind of API.
func TestSnippetIdentitySources(t *testing.T) {
	tests := []struct {
		file string
		api  gateway.API
	}{
		{"rest-api.yaml", gateway.RESTAPI},
		{"sam-rest-api.yaml", gateway.RESTAPI},
		{"http-api.yaml", gateway.HTTPAPI},
		{"sam-http-api.yaml", gateway.HTTPAPI},
	}
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			raw, err := os.ReadFile("../../docs/snippets/" + tt.file)
			if err != nil {
				t.Fatal(err)
			}
			var doc yaml.Node
			if err := yaml.Unmarshal(raw, &doc); err != nil {
				t.Fatal(err)
			}
			got := snippetIdentitySources(t, &doc, tt.api)
			want := gateway.DefaultIdentitySources(tt.api)
			slices.Sort(got)
			slices.Sort(want)
			if !slices.Equal(got, want) {
				t.Fatalf("%s configures identity sources %q, the emulator caches on %q", tt.file, got, want)
			}
		})
	}
}

// snippetIdentitySources reads the authorizer's identity sources from a
// snippet: IdentitySource of AWS::ApiGateway(V2)::Authorizer, or the
// expressions SAM writes from Auth.Authorizers.*.Identity.
func snippetIdentitySources(t *testing.T, doc *yaml.Node, api gateway.API) []string {
	t.Helper()
	resources := testkit.YAMLChild(doc.Content[0], "Resources")
	if resources == nil {
		t.Fatal("no Resources")
	}
	var out []string
	found := 0
	for i := 1; i < len(resources.Content); i += 2 {
		res := resources.Content[i]
		typ := testkit.YAMLChild(res, "Type")
		props := testkit.YAMLChild(res, "Properties")
		if typ == nil || props == nil {
			continue
		}
		switch typ.Value {
		case "AWS::ApiGateway::Authorizer":
			found++
			for _, s := range strings.Split(testkit.YAMLChild(props, "IdentitySource").Value, ",") {
				out = append(out, strings.TrimSpace(s))
			}
		case "AWS::ApiGatewayV2::Authorizer":
			found++
			for _, n := range testkit.YAMLChild(props, "IdentitySource").Content {
				out = append(out, n.Value)
			}
		case "AWS::Serverless::Api", "AWS::Serverless::HttpApi":
			authorizers := testkit.YAMLChild(testkit.YAMLChild(props, "Auth"), "Authorizers")
			for j := 1; authorizers != nil && j < len(authorizers.Content); j += 2 {
				found++
				identity := testkit.YAMLChild(authorizers.Content[j], "Identity")
				prefixes := map[string]string{"Headers": "method.request.header.", "QueryStrings": "method.request.querystring.", "StageVariables": "stageVariables.", "Context": "context."}
				if api == gateway.HTTPAPI {
					prefixes = map[string]string{"Headers": "$request.header.", "QueryStrings": "$request.querystring.", "StageVariables": "$stageVariables.", "Context": "$context."}
				}
				for field, prefix := range prefixes {
					if list := testkit.YAMLChild(identity, field); list != nil {
						for _, n := range list.Content {
							out = append(out, prefix+n.Value)
						}
					}
				}
			}
		}
	}
	if found != 1 {
		t.Fatalf("found %d authorizers, want 1", found)
	}
	return out
}
