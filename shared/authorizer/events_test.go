package authorizer

import (
	"bytes"
	"encoding/json"
	"os"
	"strings"
	"testing"
)

// ShippedEvent is a shape's shipped event (events/authorizer, the ones make
// invoke and sam local invoke use) with its placeholder token replaced by
// token and its route, GET /v1/whoami, by method and path. The REST events
// come through API kglocal001 stage prod, the HTTP API ones through
// kglocal001 stage $default. The tests read these rather than fixtures of
// their own, so the events people run are the ones the tests hold true.
func ShippedEvent(t testing.TB, shape, token, method, path string) json.RawMessage {
	t.Helper()
	name := "../../events/authorizer/" + shape + ".json"
	raw, err := os.ReadFile(name)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Contains(raw, []byte("kg_live_REPLACE_WITH_A_REAL_TOKEN")) || !bytes.Contains(raw, []byte("GET/v1/whoami")) {
		t.Fatalf("%s no longer has the placeholder token and route GET /v1/whoami that ShippedEvent replaces", name)
	}
	s := strings.NewReplacer(
		"kg_live_REPLACE_WITH_A_REAL_TOKEN", token,
		"GET/v1/whoami", method+path, // ARNs
		"GET /v1/whoami", method+" "+path, // route keys, resource ids
		"/v1/whoami", path,
		`"GET"`, `"`+method+`"`,
	).Replace(string(raw))
	return json.RawMessage(s)
}
