package httpapi

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"maps"
	"slices"
	"testing"

	"github.com/aws/aws-lambda-go/events"
	"github.com/keygate/keygate/shared/console"
)

// Every consumer reads Routes, so the table itself must be whole: one
// route per operation and per method and resource, a proxy handler on
// every route behind the authorizer, and a direct operation wherever one
// is named.
func TestRoutesWellFormed(t *testing.T) {
	ops, keys := map[string]bool{}, map[string]bool{}
	for _, r := range Routes {
		key := r.Method + " " + r.Resource
		if r.Op == "" || ops[r.Op] || keys[key] {
			t.Errorf("%s (op %q): operation or route declared twice", key, r.Op)
		}
		ops[r.Op], keys[key] = true, true
		if (r.Access == Public) != (r.proxy == nil) {
			t.Errorf("%s: access %s with proxy handler %v", key, r.Access, r.proxy != nil)
		}
		if r.invoke != nil && r.Direct != r.Op {
			t.Errorf("%s: serves direct op %q but names %q", key, r.Op, r.Direct)
		}
		if r.Direct != "" && !slices.Contains(DirectOps(r.Function), r.Direct) {
			t.Errorf("%s: direct op %q is not one the %s function serves", key, r.Direct, r.Function)
		}
	}
	// The defaults (first) are what direct events without "op" have always
	// meant.
	want := map[Function][]string{Create: {"create", "rotate", "import"}, List: {"list", "audit"}, Revoke: {"revoke", "update"}}
	for _, fn := range Functions() {
		if got := DirectOps(fn); !slices.Equal(got, want[fn]) {
			t.Errorf("DirectOps(%s) = %q, want %q", fn, got, want[fn])
		}
	}
	if got := Functions(); !slices.Equal(got, slices.Sorted(maps.Keys(want))) {
		t.Errorf("Functions() = %q, want %q", got, slices.Sorted(maps.Keys(want)))
	}
}

func TestMatch(t *testing.T) {
	tests := []struct {
		method, path string
		op           string // "" for no route
		params       map[string]string
	}{
		{"POST", "/v1/keys", "create", map[string]string{}},
		{"GET", "/v1/keys/abc", "get", map[string]string{"id": "abc"}},
		{"PATCH", "/v1/keys/a%2Fb", "update", map[string]string{"id": "a%2Fb"}},
		{"POST", "/v1/keys/abc/rotate", "rotate", map[string]string{"id": "abc"}},
		{"GET", "/console/app.js", "console_asset", map[string]string{"asset": "app.js"}},
		{"GET", "/console", "console", map[string]string{}},
		{"GET", "/v1/keys/", "", nil},
		{"POST", "/v1/keys//rotate", "", nil},
		{"GET", "/v1/keys/a/b", "", nil},
		{"GET", "/console/a/b", "", nil},
		{"PUT", "/v1/keys", "", nil},
		{"GET", "/v1/keys/abc/rotate", "", nil},
	}
	for _, tt := range tests {
		r, params, ok := Match(tt.method, tt.path)
		if ok != (tt.op != "") || r.Op != tt.op || !maps.Equal(params, tt.params) {
			t.Errorf("Match(%s %s) = %q %v %v, want %q %v", tt.method, tt.path, r.Op, params, ok, tt.op, tt.params)
		}
	}
}

// The console learns the API's routes from the list function, under its
// public prefix and with its security headers.
func TestServesRoutes(t *testing.T) {
	h := New(List, nil, nil, slog.New(slog.NewTextHandler(io.Discard, nil)))
	event, _ := json.Marshal(events.APIGatewayProxyRequest{HTTPMethod: "GET", Resource: console.Prefix + "/{asset}", Path: RoutesPath,
		PathParameters: map[string]string{"asset": "routes.json"}, RequestContext: events.APIGatewayProxyRequestContext{APIID: "a1b2c3d4e5"}})
	out, err := h.Handle(context.Background(), event)
	if err != nil {
		t.Fatal(err)
	}
	var resp events.APIGatewayProxyResponse
	var body struct {
		Routes []map[string]string
		APIID  string `json:"api_id"`
	}
	if err := json.Unmarshal(out, &resp); err != nil || json.Unmarshal([]byte(resp.Body), &body) != nil {
		t.Fatalf("not a proxy response with a JSON body: %s", out)
	}
	if resp.StatusCode != 200 || resp.Headers["Content-Type"] != "application/json" || resp.Headers["Content-Security-Policy"] != console.CSP {
		t.Fatalf("GET %s = %d %v", RoutesPath, resp.StatusCode, resp.Headers)
	}
	if body.APIID != "a1b2c3d4e5" {
		t.Fatalf("served api_id %q, want the request context's a1b2c3d4e5", body.APIID)
	}
	var got, want []string
	for _, r := range body.Routes {
		got = append(got, r["op"]+" "+r["method"]+" "+r["path"]+" "+r["access"])
	}
	for _, r := range Routes {
		if r.Access != Public {
			want = append(want, r.Op+" "+r.Method+" "+r.Resource+" "+string(r.Access))
		}
	}
	if !slices.Equal(got, want) {
		t.Fatalf("served routes:\n%q\nwant\n%q", got, want)
	}
}
