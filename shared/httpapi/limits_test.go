package httpapi_test

import (
	"strings"
	"testing"

	"github.com/keygate/keygate/shared/httpapi"
	"github.com/keygate/keygate/shared/keygate"
)

// TestLimitsOverHTTP: rate_limit and credits in create and PATCH bodies
// and direct events are decoded strictly and validated, each refusal a
// 400 that names the field and writes nothing; a PATCH null removes a
// limit; a rotate body takes none (rotation carries them over).
func TestLimitsOverHTTP(t *testing.T) {
	e := newEnv(t)
	admin := callerOf(t, e.direct(t, httpapi.Create, `{"tenant":"acme","owner":"alice","role":"admin"}`))
	const key = `"owner":"bob","apis":["*"],"scopes":["GET /x"]`
	status, created := e.proxy(t, httpapi.Create, admin, request{method: "POST", path: "/v1/keys",
		body: `{` + key + `,"rate_limit":{"limit":100,"window":"60s"},"credits":{"remaining":5000,"refill":{"amount":5000,"interval":"month"}}}`})
	if status != 201 {
		t.Fatalf("create: %d %v", status, created)
	}
	if rl, _ := created["rate_limit"].(map[string]any); rl["limit"] != 100.0 || rl["window"] != "1m" {
		t.Fatalf("created rate_limit = %v", created["rate_limit"])
	}
	id := created["id"].(string)
	before := e.itemCount(t)

	for _, tt := range []struct {
		name, limits, field string
	}{
		{"negative limit", `"rate_limit":{"limit":-1,"window":"1m"}`, "rate_limit.limit"},
		{"zero limit", `"rate_limit":{"limit":0,"window":"1m"}`, "rate_limit.limit"},
		{"no limit", `"rate_limit":{"window":"1m"}`, "rate_limit.limit"},
		{"huge limit", `"rate_limit":{"limit":1000000000000,"window":"1m"}`, "rate_limit.limit"},
		{"beyond int64", `"rate_limit":{"limit":100000000000000000000,"window":"1m"}`, "rate_limit.limit"},
		{"float limit", `"rate_limit":{"limit":1.5,"window":"1m"}`, "rate_limit.limit"},
		{"string limit", `"rate_limit":{"limit":"100","window":"1m"}`, "rate_limit.limit"},
		{"zero window", `"rate_limit":{"limit":1,"window":"0s"}`, "rate_limit.window"},
		{"days", `"rate_limit":{"limit":1,"window":"90d"}`, "rate_limit.window"},
		{"fractional window", `"rate_limit":{"limit":1,"window":"1.5s"}`, "rate_limit.window"},
		{"numeric window", `"rate_limit":{"limit":1,"window":60}`, "rate_limit.window"},
		{"no window", `"rate_limit":{"limit":1}`, "rate_limit.window"},
		{"rate not an object", `"rate_limit":"100/1m"`, "rate_limit"},
		{"nested unknown", `"rate_limit":{"limit":1,"window":"1m","burst":5}`, "burst"},
		{"nested case", `"rate_limit":{"Limit":1,"window":"1m"}`, "Limit"},
		{"nested duplicate", `"rate_limit":{"limit":1,"limit":1000,"window":"1m"}`, "limit"},
		{"negative credits", `"credits":{"remaining":-1}`, "credits.remaining"},
		{"huge credits", `"credits":{"remaining":1000000000001}`, "credits.remaining"},
		{"float credits", `"credits":{"remaining":0.5}`, "credits.remaining"},
		{"string credits", `"credits":{"remaining":"5"}`, "credits.remaining"},
		{"no remaining", `"credits":{}`, "credits.remaining"},
		{"refill zero", `"credits":{"remaining":1,"refill":{"amount":0,"interval":"day"}}`, "credits.refill.amount"},
		{"refill weekly", `"credits":{"remaining":1,"refill":{"amount":1,"interval":"week"}}`, "credits.refill.interval"},
		{"refill unknown", `"credits":{"remaining":1,"refill":{"amount":1,"interval":"day","at":"00:00"}}`, "at"},
		{"credits unknown", `"credits":{"remaining":1,"pool":5}`, "pool"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			check := func(how string, body map[string]any) {
				t.Helper()
				e, _ := body["error"].(map[string]any)
				if msg, _ := e["message"].(string); e["code"] != string(keygate.Invalid) || !strings.Contains(msg, tt.field) {
					t.Errorf("%s: %v, want invalid_request naming %s", how, body, tt.field)
				}
			}
			status, body := e.proxy(t, httpapi.Create, admin, request{method: "POST", path: "/v1/keys", body: `{` + key + `,` + tt.limits + `}`})
			if status != 400 {
				t.Errorf("create: %d", status)
			}
			check("create", body)
			status, body = e.proxy(t, httpapi.Revoke, admin, request{method: "PATCH", path: "/v1/keys/" + id, body: `{` + tt.limits + `}`})
			if status != 400 {
				t.Errorf("PATCH: %d", status)
			}
			check("PATCH", body)
			check("direct create", e.direct(t, httpapi.Create, `{"tenant":"acme",`+key+`,`+tt.limits+`}`))
			check("direct update", e.direct(t, httpapi.Revoke, `{"op":"update","tenant":"acme","id":"`+id+`",`+tt.limits+`}`))
		})
	}
	for _, body := range []string{`{"rate_limit":null,"rate_limit":null}`, `{"credits":null,"credits":{"remaining":1}}`} {
		if status, got := e.proxy(t, httpapi.Revoke, admin, request{method: "PATCH", path: "/v1/keys/" + id, body: body}); status != 400 {
			t.Errorf("PATCH %s: %d %v", body, status, got)
		}
	}
	if status, body := e.proxy(t, httpapi.Create, admin, request{method: "POST", path: "/v1/keys/" + id + "/rotate", body: `{"rate_limit":{"limit":1,"window":"1m"}}`}); status != 400 {
		t.Errorf("rotate with limits: %d %v", status, body)
	}
	if after := e.itemCount(t); after != before {
		t.Fatalf("refused limits changed the table: %d items before, %d after", before, after)
	}

	// null removes, over HTTP and in a direct event; get shows usage.
	status, body := e.proxy(t, httpapi.List, admin, request{method: "GET", path: "/v1/keys/" + id})
	if u, _ := body["usage"].(map[string]any); status != 200 || u["credits"] == nil || u["rate_limit"] == nil {
		t.Fatalf("get: %d %v", status, body)
	}
	status, body = e.proxy(t, httpapi.Revoke, admin, request{method: "PATCH", path: "/v1/keys/" + id, body: `{"rate_limit":null}`})
	if _, has := body["rate_limit"]; status != 200 || has || body["credits"] == nil {
		t.Fatalf("PATCH rate_limit null: %d %v", status, body)
	}
	body = e.direct(t, httpapi.Revoke, `{"op":"update","tenant":"acme","id":"`+id+`","credits":null}`)
	if _, has := body["credits"]; has || body["id"] != id {
		t.Fatalf("direct credits null: %v", body)
	}
	status, body = e.proxy(t, httpapi.List, admin, request{method: "GET", path: "/v1/keys/" + id})
	if _, has := body["usage"]; status != 200 || has {
		t.Fatalf("get of an unmetered key: %d %v", status, body)
	}
}
