package gateway_test

import (
	"bytes"
	"context"
	"encoding/json"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"testing"

	"github.com/aws/aws-lambda-go/events"
	"github.com/keygate/keygate/infra/gateway"
	"github.com/keygate/keygate/infra/testkit"
	"github.com/keygate/keygate/shared/keygate"
	"github.com/keygate/keygate/shared/manage"
	"go.yaml.in/yaml/v3"
)

// TestAccessDeniedTemplate keeps the emulator's ACCESS_DENIED body and
// status those of template.yaml and of the REST snippets.
func TestAccessDeniedTemplate(t *testing.T) {
	// path is the YAML path from the document root to the gateway
	// response; its template is ResponseTemplates["application/json"].
	tests := []struct {
		file   string
		path   []string
		status string
	}{
		{"../../template.yaml", []string{"Resources", "Api", "Properties", "GatewayResponses", "ACCESS_DENIED"}, "StatusCode"},
		{"../../docs/snippets/sam-rest-api.yaml", []string{"Resources", "Api", "Properties", "GatewayResponses", "ACCESS_DENIED"}, "StatusCode"},
		{"../../docs/snippets/rest-api.yaml", []string{"Resources", "AccessDeniedResponse", "Properties"}, "StatusCode"},
		{"../../docs/snippets/metered-rest-api.yaml", []string{"Resources", "AccessDeniedResponse", "Properties"}, "StatusCode"},
	}
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			raw, err := os.ReadFile(tt.file)
			if err != nil {
				t.Fatal(err)
			}
			var doc yaml.Node
			if err := yaml.Unmarshal(raw, &doc); err != nil {
				t.Fatal(err)
			}
			n := doc.Content[0]
			for _, k := range tt.path {
				if n = testkit.YAMLChild(n, k); n == nil {
					t.Fatalf("no %s", strings.Join(tt.path, "."))
				}
			}
			if s := testkit.YAMLChild(n, tt.status); s == nil || s.Value != "403" {
				t.Errorf("status %v, want 403", s)
			}
			body := testkit.YAMLChild(testkit.YAMLChild(n, "ResponseTemplates"), "application/json")
			if body == nil || body.Value != gateway.AccessDeniedTemplate {
				t.Errorf("ACCESS_DENIED template\n%v\nwant gateway.AccessDeniedTemplate\n%s", body, gateway.AccessDeniedTemplate)
			}
		})
	}
}

func TestRenderGatewayResponse(t *testing.T) {
	tests := []struct {
		name    string
		context map[string]any
		want    string
	}{
		{"rate limited", map[string]any{"reason": keygate.ReasonRateLimited, "retry_after": float64(42)},
			`{"error":{"code":"rate_limited","message":"this API key may not make this call now (see code and retry_after)","retry_after":42,"request_id":"rid-1"}}`},
		{"forbidden", map[string]any{"reason": keygate.ReasonForbidden, "retry_after": float64(0)},
			`{"error":{"code":"forbidden","message":"this API key may not make this call now (see code and retry_after)","retry_after":0,"request_id":"rid-1"}}`},
		{"a retry_after the authorizer sent as a string is substituted alike", map[string]any{"reason": keygate.ReasonCreditsExhausted, "retry_after": "3600"},
			`{"error":{"code":"credits_exhausted","message":"this API key may not make this call now (see code and retry_after)","retry_after":3600,"request_id":"rid-1"}}`},
		// What AWS does with an authorizer that sets neither: empty
		// strings, and a body that is no longer JSON.
		{"no reason: empty substitutions", map[string]any{"key_id": "k1"},
			`{"error":{"code":"","message":"this API key may not make this call now (see code and retry_after)","retry_after":,"request_id":"rid-1"}}`},
		{"no context", nil,
			`{"error":{"code":"","message":"this API key may not make this call now (see code and retry_after)","retry_after":,"request_id":"rid-1"}}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := gateway.RenderGatewayResponse(gateway.AccessDeniedTemplate, "k1", tt.context, "rid-1"); got != tt.want {
				t.Fatalf("got\n%s\nwant\n%s", got, tt.want)
			}
		})
	}
	t.Run("plain substitution", func(t *testing.T) {
		got := gateway.RenderGatewayResponse(`$context.authorizer.principalId "$context.authorizer.s" $context.authorizer.b $context.authorizer.f $context.authorizer.missing|$context.requestId $context.stage`,
			"k1", map[string]any{"s": `a"b`, "b": true, "f": 1.5}, "rid")
		// Nothing escaped, an unknown key empty, variables it does not
		// emulate left as written.
		if want := `k1 "a"b" true 1.5 |rid $context.stage`; got != want {
			t.Fatalf("got %q, want %q", got, want)
		}
	})
}

// denyingAuthorizer is a REST authorizer that denies every request with
// context ctx, or an HTTP API authorizer that says no with it.
func denyingAuthorizer(api gateway.API, ctx map[string]any) gateway.AuthorizerFunc {
	return func(_ context.Context, raw json.RawMessage) (any, error) {
		if api == gateway.HTTPAPI {
			return map[string]any{"isAuthorized": false, "context": ctx}, nil
		}
		var ev events.APIGatewayCustomAuthorizerRequestTypeRequest
		if err := json.Unmarshal(raw, &ev); err != nil {
			return nil, err
		}
		return events.APIGatewayCustomAuthorizerResponse{
			PrincipalID: "k1",
			PolicyDocument: events.APIGatewayCustomAuthorizerPolicy{Version: "2012-10-17", Statement: []events.IAMPolicyStatement{
				{Action: []string{"execute-api:Invoke"}, Effect: "Deny", Resource: []string{ev.MethodArn}},
			}},
			Context: ctx,
		}, nil
	}
}

// TestAccessDenied: a REST API answers the authorizer's Deny with the
// ACCESS_DENIED gateway response rendered from the Deny's context; an HTTP
// API answers a "no" with its own 403, whatever the context says.
func TestAccessDenied(t *testing.T) {
	log := slog.New(slog.DiscardHandler)
	limited := map[string]any{"key_id": "k1", "reason": keygate.ReasonRateLimited, "retry_after": 17}
	tests := []struct {
		name     string
		gw       *gateway.Gateway
		wantBody func(requestID string) string
	}{
		{"REST, rate limited", gateway.Demo(denyingAuthorizer(gateway.RESTAPI, limited), log), func(id string) string {
			return `{"error":{"code":"rate_limited","message":"this API key may not make this call now (see code and retry_after)","retry_after":17,"request_id":"` + id + `"}}`
		}},
		{"REST, an authorizer that gives no reason", gateway.Demo(denyingAuthorizer(gateway.RESTAPI, map[string]any{"key_id": "k1"}), log), func(id string) string {
			return `{"error":{"code":"","message":"this API key may not make this call now (see code and retry_after)","retry_after":,"request_id":"` + id + `"}}`
		}},
		{"HTTP API, rate limited", &gateway.Gateway{API: gateway.HTTPAPI, Authorizer: denyingAuthorizer(gateway.HTTPAPI, limited), Log: log,
			Routes: []gateway.Route{{Key: "ANY /{proxy+}", Integration: echo}}}, func(string) string {
			return `{"message":"Forbidden"}`
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := httptest.NewServer(tt.gw)
			t.Cleanup(srv.Close)
			req, _ := http.NewRequest(http.MethodGet, srv.URL+"/demo/hello", nil)
			req.Header.Set("Authorization", "Bearer kg_live_whatever")
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			var b bytes.Buffer
			if _, err := b.ReadFrom(resp.Body); err != nil {
				t.Fatal(err)
			}
			id := resp.Header.Get("X-Request-Id") + resp.Header.Get("Apigw-Requestid")
			if resp.StatusCode != 403 || resp.Header.Get("Content-Type") != "application/json" || id == "" || b.String() != tt.wantBody(id) {
				t.Fatalf("got %d %s %q, want 403 %s", resp.StatusCode, resp.Header.Get("Content-Type"), b.String(), tt.wantBody(id))
			}
		})
	}
}

// TestDemo is make run's metered sample API with the real authorizer:
// every method and path under /demo/ goes through it, and the backend
// answers with the authorizer's context.
func TestDemo(t *testing.T) {
	env, svc, _ := newEnv(t, map[string]string{"AUTH_CACHE_TTL": "0"})
	gw := gateway.Demo(gateway.Local(env, 0, nil).Authorizer, env.Logger)
	srv := httptest.NewServer(gw)
	t.Cleanup(srv.Close)
	ctx := context.Background()
	mint := func(apis []string, scopes ...string) (token, id string) {
		k, err := svc.Create(ctx, keygate.Caller{Operator: true}, manage.CreateRequest{Tenant: "demo", Owner: "bob", APIs: apis, Scopes: scopes})
		if err != nil {
			t.Fatal(err)
		}
		return k.Token.Reveal(), k.ID
	}
	demo, id := mint([]string{gateway.DemoAPIID}, "GET /demo/*", "POST /demo/orders")
	management, _ := mint([]string{gateway.APIID}, "GET /demo/*")

	tests := []struct {
		name, method, path, token string
		status                    int
		code                      string // the error code of a refusal
	}{
		{"scoped GET", "GET", "/demo/hello", demo, 200, ""},
		{"greedy path", "GET", "/demo/a/b", demo, 200, ""},
		{"another method", "POST", "/demo/orders", demo, 200, ""},
		{"outside the scopes", "DELETE", "/demo/hello", demo, 403, keygate.ReasonForbidden},
		{"a key for another API", "GET", "/demo/hello", management, 403, keygate.ReasonForbidden},
		{"no key", "GET", "/demo/hello", "", 401, string(keygate.Unauthorized)},
		{"not under /demo/", "GET", "/demo/", demo, 404, string(keygate.NotFound)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			status, _, body := testkit.SendJSON(t, tt.method, srv.URL+tt.path, testkit.Bearer(tt.token), "")
			if status != tt.status {
				t.Fatalf("%s %s = %d %v, want %d", tt.method, tt.path, status, body, tt.status)
			}
			if tt.status == 200 {
				if body["key_id"] != id || body["tenant"] != "demo" || body["principalId"] != id {
					t.Fatalf("backend got the context %v, want key %s's", body, id)
				}
				return
			}
			e, _ := body["error"].(map[string]any)
			if e == nil || e["code"] != tt.code || e["request_id"] == "" {
				t.Fatalf("refusal %v, want code %s", body, tt.code)
			}
			if retry, ok := e["retry_after"]; tt.status == 403 && (!ok || retry != float64(0)) {
				t.Fatalf("a forbidden call's retry_after = %v, want 0", retry)
			}
		})
	}
}
