package httpapi_test

import (
	"testing"

	"github.com/keygate/keygate/shared/httpapi"
	"github.com/keygate/keygate/shared/keygate"
)

// TestRotateUpdateAuditOverHTTP runs the rotate, update and audit routes
// (README, "Management API") through the proxy
// shape and the direct events, and their bad inputs.
func TestRotateUpdateAuditOverHTTP(t *testing.T) {
	e := newEnv(t)
	admin := callerOf(t, e.direct(t, httpapi.Create, `{"tenant":"acme","owner":"alice","role":"admin"}`))
	_, key := e.proxy(t, httpapi.Create, admin, request{method: "POST", path: "/v1/keys", body: `{"owner":"bob","name":"ci","apis":["*"],"scopes":["GET /x/*"]}`})
	id := key["id"].(string)

	status, next := e.proxy(t, httpapi.Create, admin, request{method: "POST", path: "/v1/keys/" + id + "/rotate", body: `{"grace_seconds":60}`,
		headers: map[string]string{"Idempotency-Key": "roll-1"}})
	if status != 201 || next["rotated_from"] != id || next["token"] == nil || next["name"] != "ci" {
		t.Fatalf("rotate = %d %v", status, next)
	}
	status, again := e.proxy(t, httpapi.Create, admin, request{method: "POST", path: "/v1/keys/" + id + "/rotate", body: `{"grace_seconds":60}`,
		headers: map[string]string{"Idempotency-Key": "roll-1"}})
	if status != 201 || again["id"] != next["id"] {
		t.Fatalf("idempotent retry = %d %v", status, again)
	}
	newID := next["id"].(string)
	status, upd := e.proxy(t, httpapi.Revoke, admin, request{method: "PATCH", path: "/v1/keys/" + newID, body: `{"enabled":false,"name":"ci-2"}`})
	if status != 200 || upd["status"] != "disabled" || upd["name"] != "ci-2" || upd["enabled"] != false {
		t.Fatalf("patch = %d %v", status, upd)
	}
	status, page := e.proxy(t, httpapi.List, admin, request{method: "GET", path: "/v1/audit", query: map[string][]string{"key_id": {newID}}})
	events, _ := page["events"].([]any)
	if status != 200 || len(events) != 2 || events[0].(map[string]any)["action"] != "updated" || page["next_cursor"] != nil {
		t.Fatalf("audit = %d %v", status, page)
	}
	if d := events[0].(map[string]any)["detail"].(map[string]any); d["enabled"] != "false" || d["name"] != "ci-2" {
		t.Fatalf("update detail = %v", d)
	}

	// An operator may name themselves: audited as operator:<actor>.
	named := e.direct(t, httpapi.Create, `{"tenant":"acme","owner":"zed","role":"admin","actor":"ops.jane"}`)
	if named["created_by"] != "operator:ops.jane" {
		t.Fatalf("created_by = %v", named["created_by"])
	}
	if got := e.direct(t, httpapi.Create, `{"tenant":"acme","owner":"zed","role":"admin","actor":"a#b"}`); got["error"] == nil {
		t.Fatalf("a bad actor name was accepted: %v", got)
	}

	// Direct events name the operation.
	direct := []struct {
		fn    httpapi.Function
		event string
		check func(map[string]any) bool
	}{
		{httpapi.Revoke, `{"op":"update","tenant":"acme","id":"` + newID + `","enabled":true}`, func(m map[string]any) bool { return m["status"] == "active" }},
		{httpapi.Create, `{"op":"rotate","tenant":"acme","id":"` + newID + `","grace_seconds":3600}`, func(m map[string]any) bool { return m["rotated_from"] == newID }},
		{httpapi.List, `{"op":"audit","tenant":"acme","limit":2}`, func(m map[string]any) bool {
			ev, _ := m["events"].([]any)
			return len(ev) == 2 && m["next_cursor"] != nil
		}},
	}
	for _, d := range direct {
		if got := e.direct(t, d.fn, d.event); !d.check(got) {
			t.Fatalf("%s %s = %v", d.fn, d.event, got)
		}
	}

	before := e.itemCount(t)
	bad := []struct {
		name string
		fn   httpapi.Function
		r    request
		want int
		code keygate.Code
	}{
		{"rotate grace too long", httpapi.Create, request{method: "POST", path: "/v1/keys/" + id + "/rotate", body: `{"grace_seconds":604801}`}, 400, keygate.Invalid},
		{"rotate grace a string", httpapi.Create, request{method: "POST", path: "/v1/keys/" + id + "/rotate", body: `{"grace_seconds":"60"}`}, 400, keygate.Invalid},
		{"rotate unknown field", httpapi.Create, request{method: "POST", path: "/v1/keys/" + id + "/rotate", body: `{"Grace_seconds":60}`}, 400, keygate.Invalid},
		{"rotate rotated", httpapi.Create, request{method: "POST", path: "/v1/keys/" + id + "/rotate", body: `{}`}, 409, keygate.Conflict},
		{"patch nothing", httpapi.Revoke, request{method: "PATCH", path: "/v1/keys/" + newID, body: `{}`}, 400, keygate.Invalid},
		{"patch enabled a string", httpapi.Revoke, request{method: "PATCH", path: "/v1/keys/" + newID, body: `{"enabled":"false"}`}, 400, keygate.Invalid},
		{"patch wider", httpapi.Revoke, request{method: "PATCH", path: "/v1/keys/" + newID, body: `{"scopes":["GET /*"]}`}, 400, keygate.Invalid},
		{"patch status", httpapi.Revoke, request{method: "PATCH", path: "/v1/keys/" + newID, body: `{"status":"active"}`}, 400, keygate.Invalid},
		{"patch unknown key", httpapi.Revoke, request{method: "PATCH", path: "/v1/keys/AAAAAAAAAAAAAAAAA", body: `{"enabled":false}`}, 404, keygate.NotFound},
		{"audit unknown parameter", httpapi.List, request{method: "GET", path: "/v1/audit", query: map[string][]string{"action": {"revoked"}}}, 400, keygate.Invalid},
		{"audit bad key id", httpapi.List, request{method: "GET", path: "/v1/audit", query: map[string][]string{"key_id": {"x"}}}, 400, keygate.Invalid},
	}
	for _, tt := range bad {
		t.Run(tt.name, func(t *testing.T) {
			status, body := e.proxy(t, tt.fn, admin, tt.r)
			if status != tt.want {
				t.Fatalf("status = %d %v, want %d", status, body, tt.want)
			}
			wantError(t, body, tt.code, gatewayRequestID)
		})
	}
	viewer := callerOf(t, e.direct(t, httpapi.Create, `{"tenant":"acme","owner":"vic","apis":["*"],"scopes":["GET /v1/*"]}`))
	if status, body := e.proxy(t, httpapi.List, viewer, request{method: "GET", path: "/v1/audit"}); status != 403 {
		t.Fatalf("viewer reads audit: %d %v", status, body)
	}
	if got := e.direct(t, httpapi.Create, `{"op":"audit","tenant":"acme"}`); got["error"] == nil {
		t.Fatalf("create function served op audit: %v", got)
	}
	if n := e.itemCount(t); n != before+3 { // the viewer key, its audit record and its owner's slots
		t.Fatalf("refused requests changed the table: %d items, want %d", n, before+3)
	}
}

// TestSettingsOverHTTP: tenant admins read and change their tenant's
// settings (notifications, leak action); viewers cannot; bad values change
// nothing.
func TestSettingsOverHTTP(t *testing.T) {
	e := newEnv(t)
	admin := callerOf(t, e.direct(t, httpapi.Create, `{"tenant":"acme","owner":"alice","role":"admin"}`))
	viewer := callerOf(t, e.direct(t, httpapi.Create, `{"tenant":"acme","owner":"vic","apis":["*"],"scopes":["* /v1/*"]}`))
	status, got := e.proxy(t, httpapi.Revoke, admin, request{method: "PUT", path: "/v1/settings", body: `{"owner_email":"ops@acme.example","reminder_days":[30,7]}`})
	if status != 200 || got["owner_email"] != "ops@acme.example" {
		t.Fatalf("put = %d %v", status, got)
	}
	if status, got = e.proxy(t, httpapi.List, admin, request{method: "GET", path: "/v1/settings"}); status != 200 || got["owner_email"] != "ops@acme.example" ||
		got["leak_action"] != "revoke" || got["leak_cascade"] != false {
		t.Fatalf("get = %d %v", status, got)
	}
	status, got = e.proxy(t, httpapi.Revoke, admin, request{method: "PUT", path: "/v1/settings", body: `{"leak_action":"notify","leak_cascade":true}`})
	if status != 200 || got["leak_action"] != "notify" || got["leak_cascade"] != true || got["owner_email"] != "ops@acme.example" {
		t.Fatalf("put leak settings = %d %v", status, got)
	}
	for name, tt := range map[string]struct {
		fn     httpapi.Function
		c      caller
		r      request
		status int
		code   keygate.Code
	}{
		"viewer reads":         {httpapi.List, viewer, request{method: "GET", path: "/v1/settings"}, 403, keygate.Forbidden},
		"viewer changes":       {httpapi.Revoke, viewer, request{method: "PUT", path: "/v1/settings", body: `{"owner_email":"x@y.example"}`}, 403, keygate.Forbidden},
		"bad e-mail":           {httpapi.Revoke, admin, request{method: "PUT", path: "/v1/settings", body: `{"owner_email":"not an address"}`}, 400, keygate.Invalid},
		"unknown field":        {httpapi.Revoke, admin, request{method: "PUT", path: "/v1/settings", body: `{"Owner_email":"a@b.example"}`}, 400, keygate.Invalid},
		"bad leak action":      {httpapi.Revoke, admin, request{method: "PUT", path: "/v1/settings", body: `{"leak_action":"ignore"}`}, 400, keygate.Invalid},
		"leak cascade as text": {httpapi.Revoke, admin, request{method: "PUT", path: "/v1/settings", body: `{"leak_cascade":"true"}`}, 400, keygate.Invalid},
	} {
		t.Run(name, func(t *testing.T) {
			status, body := e.proxy(t, tt.fn, tt.c, tt.r)
			if status != tt.status {
				t.Fatalf("status = %d %v, want %d", status, body, tt.status)
			}
			wantError(t, body, tt.code, gatewayRequestID)
		})
	}
	if _, got = e.proxy(t, httpapi.List, admin, request{method: "GET", path: "/v1/settings"}); got["owner_email"] != "ops@acme.example" ||
		got["leak_action"] != "notify" || got["leak_cascade"] != true {
		t.Fatalf("refused changes changed the settings: %v", got)
	}
}
