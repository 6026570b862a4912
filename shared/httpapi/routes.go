package httpapi

import (
	"context"
	"encoding/json"
	"net/http"
	"strings"

	"github.com/keygate/keygate/shared/console"
	"github.com/keygate/keygate/shared/keygate"
)

// Function names one management function; each serves its own routes and
// its own direct-invocation event.
type Function string

const (
	Create Function = "create"
	List   Function = "list"
	Revoke Function = "revoke"
)

// Access is who may call a route. The authorizer admits a key to a route
// its scopes and APIs allow; AdminKey routes are further refused by the
// service to any key but a tenant admin's.
type Access string

const (
	Public   Access = "public" // no authorizer: the console's page and assets
	AnyKey   Access = "key"    // any key the authorizer admits
	AdminKey Access = "admin"  // admin keys only
)

// Route is one management route, declared once: the proxy dispatch, the
// direct events, the local gateway, keygatectl and the console (through
// RoutesPath) all read it from Routes.
type Route struct {
	// Op names the operation: keygatectl's command, the console's call.
	Op       string   `json:"op"`
	Function Function `json:"function"`
	Method   string   `json:"method"`
	// Resource is the API Gateway resource path; {name} is one segment.
	Resource string `json:"path"`
	Access   Access `json:"access"`
	// Direct is the "op" of the direct event that runs the operation
	// ("" if none): an operator's get is a list event with an id.
	Direct string `json:"-"`

	proxy  func(*Handler, context.Context, *call) outcome
	invoke func(*Handler, context.Context, keygate.Caller, json.RawMessage) outcome
}

// Routes are the management API's routes and the function serving each:
// create mints keys (create, rotate), list reads (keys, whoami, audit,
// settings, the console), revoke changes them (revoke, update, settings).
// A function's first direct operation is its direct event's default.
var Routes = []Route{
	{Op: "create", Function: Create, Method: http.MethodPost, Resource: "/v1/keys", Access: AnyKey, Direct: "create",
		proxy: (*Handler).proxyCreate, invoke: (*Handler).invokeCreate},
	{Op: "rotate", Function: Create, Method: http.MethodPost, Resource: "/v1/keys/{id}/rotate", Access: AnyKey, Direct: "rotate",
		proxy: (*Handler).proxyRotate, invoke: (*Handler).invokeRotate},
	{Op: "list", Function: List, Method: http.MethodGet, Resource: "/v1/keys", Access: AnyKey, Direct: "list",
		proxy: (*Handler).proxyList, invoke: (*Handler).invokeList},
	{Op: "get", Function: List, Method: http.MethodGet, Resource: "/v1/keys/{id}", Access: AnyKey, Direct: "list",
		proxy: (*Handler).proxyGet},
	{Op: "whoami", Function: List, Method: http.MethodGet, Resource: "/v1/whoami", Access: AnyKey,
		proxy: (*Handler).proxyWhoami},
	{Op: "audit", Function: List, Method: http.MethodGet, Resource: "/v1/audit", Access: AdminKey, Direct: "audit",
		proxy: (*Handler).proxyAudit, invoke: (*Handler).invokeAudit},
	{Op: "settings", Function: List, Method: http.MethodGet, Resource: "/v1/settings", Access: AdminKey,
		proxy: (*Handler).proxySettings},
	{Op: "console", Function: List, Method: http.MethodGet, Resource: console.Prefix, Access: Public},
	{Op: "console_asset", Function: List, Method: http.MethodGet, Resource: console.Prefix + "/{asset}", Access: Public},
	{Op: "revoke", Function: Revoke, Method: http.MethodDelete, Resource: "/v1/keys/{id}", Access: AnyKey, Direct: "revoke",
		proxy: (*Handler).proxyRevoke, invoke: (*Handler).invokeRevoke},
	{Op: "update", Function: Revoke, Method: http.MethodPatch, Resource: "/v1/keys/{id}", Access: AnyKey, Direct: "update",
		proxy: (*Handler).proxyUpdate, invoke: (*Handler).invokeUpdate},
	{Op: "save_settings", Function: Revoke, Method: http.MethodPut, Resource: "/v1/settings", Access: AdminKey,
		proxy: (*Handler).proxySaveSettings},
}

// RoutesPath is where the list function serves Routes as JSON, under the
// console's public route: the console learns the API's paths from the
// deployment that serves it rather than keeping its own copy.
const RoutesPath = console.Prefix + "/routes.json"

// Functions are the management functions, in the order of Routes.
func Functions() []Function {
	var out []Function
	for _, r := range Routes {
		if len(out) == 0 || out[len(out)-1] != r.Function {
			out = append(out, r.Function)
		}
	}
	return out
}

// Operation is the route of the operation op.
func Operation(op string) (Route, bool) {
	for _, r := range Routes {
		if r.Op == op {
			return r, true
		}
	}
	return Route{}, false
}

// DirectOps are the operations fn serves by direct event; the first is
// the default when the event names none.
func DirectOps(fn Function) []string {
	var out []string
	for _, r := range Routes {
		if r.Function == fn && r.invoke != nil {
			out = append(out, r.Op)
		}
	}
	for _, d := range directOnly {
		if d.fn == fn {
			out = append(out, d.op)
		}
	}
	return out
}

// DirectOnly reports the function serving op, an operation served by
// direct event only (no route: "import").
func DirectOnly(op string) (Function, bool) {
	for _, d := range directOnly {
		if d.op == op {
			return d.fn, true
		}
	}
	return "", false
}

// Match finds the route of a method and request path, and its path
// parameters as the path spells them (unescape them if the path is
// escaped). A parameter matches one non-empty segment.
func Match(method, path string) (Route, map[string]string, bool) {
	segs := strings.Split(strings.TrimPrefix(path, "/"), "/")
	for _, r := range Routes {
		if r.Method != method {
			continue
		}
		want := strings.Split(strings.TrimPrefix(r.Resource, "/"), "/")
		if len(want) != len(segs) {
			continue
		}
		params := map[string]string{}
		for i, w := range want {
			if name, ok := strings.CutPrefix(w, "{"); ok && strings.HasSuffix(name, "}") && segs[i] != "" {
				params[strings.TrimSuffix(name, "}")] = segs[i]
			} else if w != segs[i] {
				params = nil
				break
			}
		}
		if params != nil {
			return r, params, true
		}
	}
	return Route{}, nil, false
}

// routesJSON is the body served at RoutesPath: the JSON API's routes and
// the id of the API serving them (the request context's apiId, omitted
// when empty), which the console prefills as a new key's apis: the
// narrowest grant that still reaches this API, whatever domain or stage
// the page was loaded through.
func routesJSON(apiID string) []byte {
	var api []Route
	for _, r := range Routes {
		if r.Access != Public {
			api = append(api, r)
		}
	}
	b, err := json.Marshal(struct {
		Routes []Route `json:"routes"`
		APIID  string  `json:"api_id,omitempty"`
	}{api, apiID})
	if err != nil {
		panic(err)
	}
	return b
}
