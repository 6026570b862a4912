package httpapi

import (
	"encoding/json"
	"errors"
	"maps"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/keygate/keygate/shared/keygate"
	"github.com/keygate/keygate/shared/manage"
)

// Small stand-ins for the request types, with the nesting the real ones
// may grow: a struct, a pointer to one, slices and maps of them, and
// values that decode themselves.
type (
	testItem struct {
		ID    string `json:"id"`
		Label string `json:"label,omitempty"`
	}
	testInner struct {
		Note string `json:"note,omitempty"`
	}
	testBody struct {
		Tenant  string              `json:"tenant"`
		Name    string              `json:"name,omitempty"`
		Scopes  []string            `json:"scopes,omitempty"`
		Limit   int                 `json:"limit,omitempty"`
		Meta    *testItem           `json:"meta,omitempty"`
		Item    testItem            `json:"item"`
		Items   []testItem          `json:"items,omitempty"`
		Tags    map[string]testItem `json:"tags,omitempty"`
		Extra   map[string]string   `json:"extra,omitempty"`
		Raw     json.RawMessage     `json:"raw,omitempty"`
		At      *time.Time          `json:"at,omitempty"`
		Any     any                 `json:"any,omitempty"`
		Plain   string              // no tag: the Go name, exactly
		Ignored string              `json:"-"`
		//lint:ignore U1000 there to show unexported fields are not names
		hidden string
		testInner
	}
	testNode struct {
		Name string     `json:"name"`
		Kids []testNode `json:"kids,omitempty"`
		Next *testNode  `json:"next,omitempty"`
	}
)

func TestDecodeStrictExactNames(t *testing.T) {
	kelvin := "\u212a" // KELVIN SIGN, which folds to k
	tests := []struct {
		name string
		into func() any
		body string
		msg  string // exact message; "" means accepted
	}{
		// The review's cases: each was accepted before.
		{"name twice, cases differ", newBody, `{"tenant":"a","name":"a","Name":"b"}`,
			`unknown field "Name" (field names are case-sensitive: did you mean "name"?)`},
		{"Tenant overrides tenant", newDirectCreate, `{"tenant":"acme","owner":"bob","Tenant":"victim"}`,
			`unknown field "Tenant" (field names are case-sensitive: did you mean "tenant"?)`},
		{"Tenant alone", newDirectCreate, `{"Tenant":"victim"}`,
			`unknown field "Tenant" (field names are case-sensitive: did you mean "tenant"?)`},
		{"long s folds to s", newDirectCreate, `{"tenant":"acme","ſcopes":["GET /x"]}`,
			`unknown field (not shown) (field names are case-sensitive: did you mean "scopes"?)`},
		{"long s after scopes", newDirectCreate, `{"tenant":"acme","scopes":[],"ſcopes":["*"]}`,
			`unknown field (not shown) (field names are case-sensitive: did you mean "scopes"?)`},
		{"upper case", newBody, `{"NAME":"x"}`,
			`unknown field "NAME" (field names are case-sensitive: did you mean "name"?)`},
		{"Kelvin sign folds to k", newDirectCreate, `{"tenant":"acme","idempotency_` + kelvin + `ey":"k2"}`,
			`unknown field (not shown) (field names are case-sensitive: did you mean "idempotency_key"?)`},
		{"Kelvin sign escaped", newDirectCreate, `{"tenant":"acme","idempotency_\u212aey":"k2"}`,
			`unknown field (not shown) (field names are case-sensitive: did you mean "idempotency_key"?)`},
		{"promoted field folded", newDirectCreate, `{"tenant":"acme","Role":"admin"}`,
			`unknown field "Role" (field names are case-sensitive: did you mean "role"?)`},
		{"direct list Tenant", func() any { return new(directList) }, `{"tenant":"acme","Tenant":"victim"}`,
			`unknown field "Tenant" (field names are case-sensitive: did you mean "tenant"?)`},
		{"direct revoke ID", func() any { return new(directRevoke) }, `{"tenant":"acme","ID":"AAAAAAAAAAAAAAAAA"}`,
			`unknown field "ID" (field names are case-sensitive: did you mean "id"?)`},
		{"proxy body", func() any { return new(manage.CreateRequest) }, `{"owner":"bob","OWNER":"eve"}`,
			`unknown field "OWNER" (field names are case-sensitive: did you mean "owner"?)`},

		// Nesting: every object that decodes into a struct is checked.
		{"nested struct", newBody, `{"item":{"id":"a","Label":"b"}}`,
			`unknown field "Label" (field names are case-sensitive: did you mean "label"?)`},
		{"nested pointer", newBody, `{"meta":{"Id":"a"}}`,
			`unknown field "Id" (field names are case-sensitive: did you mean "id"?)`},
		{"slice of structs", newBody, `{"items":[{"id":"a"},{"iD":"b"}]}`,
			`unknown field "iD" (field names are case-sensitive: did you mean "id"?)`},
		{"map of structs", newBody, `{"tags":{"x":{"id":"a"},"Y":{"ID":"b"}}}`,
			`unknown field "ID" (field names are case-sensitive: did you mean "id"?)`},
		{"recursive type", func() any { return new(testNode) }, `{"name":"a","kids":[{"name":"b","next":{"Name":"c"}}]}`,
			`unknown field "Name" (field names are case-sensitive: did you mean "name"?)`},
		{"nested unknown", newBody, `{"item":{"id":"a","colour":"b"}}`, `unknown field "colour"`},
		{"nested duplicate", newBody, `{"item":{"id":"a","id":"b"}}`, `field "id" appears more than once`},
		{"map duplicate", newBody, `{"extra":{"k":"a","k":"b"}}`, `field "k" appears more than once`},

		// Names encoding/json would also have found.
		{"Go name of a tagged field", newBody, `{"Tenant":"a"}`,
			`unknown field "Tenant" (field names are case-sensitive: did you mean "tenant"?)`},
		{"untagged field folded", newBody, `{"plain":"a"}`,
			`unknown field "plain" (field names are case-sensitive: did you mean "Plain"?)`},
		{"ignored field", newBody, `{"Ignored":"a"}`, `unknown field "Ignored"`},
		{"dash", newBody, `{"-":"a"}`, `unknown field "-"`},
		{"unexported field", newBody, `{"hidden":"a"}`, `unknown field "hidden"`},
		{"embedded struct by name", newDirectCreate, `{"tenant":"acme","CreateRequest":{}}`, `unknown field "CreateRequest"`},
		{"embedded struct folded", newDirectCreate, `{"tenant":"acme","createrequest":{}}`, `unknown field "createrequest"`},
		{"unknown", newBody, `{"admin":true}`, `unknown field "admin"`},
		{"token as a name", newBody, `{"kg_live_0123456789abcdef0123456789abcdef0123":1}`, `unknown field (not shown)`},
		{"name with a space", newBody, `{"not shown":1}`, `unknown field (not shown)`},
		{"exact duplicate", newBody, `{"tenant":"a","tenant":"b"}`, `field "tenant" appears more than once`},
		{"escaped duplicate", newBody, `{"tenant":"a","\u0074enant":"b"}`, `field "tenant" appears more than once`},

		// Everything else decodeStrict did is unchanged.
		{"not an object", newBody, `[]`, `request body must be a JSON object`},
		{"trailing data", newBody, `{"tenant":"a"} {}`, `request body must hold a single JSON object`},
		{"syntax", newBody, `{"tenant":}`, `request body is not valid JSON`},
		{"bad UTF-8", newBody, "{\"tenant\":\"\xff\"}", `request body is not valid UTF-8`},
		{"wrong type", newBody, `{"limit":"5"}`, `field "limit" must be a whole number`},
		{"huge number", newBody, `{"limit":1e400}`, `field "limit" must be a whole number`},
		{"nested wrong type", newBody, `{"item":{"id":5}}`, `field "item.id" must be a string`},
		{"object for a list", newBody, `{"items":{"id":"a"}}`, `field "items" must be an array of strings`},

		// Accepted.
		{"exact", newDirectCreate, `{"tenant":"acme","owner":"bob","name":"n","type":"service","role":"viewer","scopes":["GET /x"],"expires_at":null,"expires_in_hours":24,"idempotency_key":"k1"}`, ""},
		{"escaped exact name", newBody, `{"\u0074enant":"a"}`, ""},
		{"nested exact", newBody, `{"tenant":"a","item":{"id":"a","label":"b"},"meta":null,"items":[{"id":"x"},{}],"tags":{"Any Key":{"id":"y"}}}`, ""},
		{"map keys are data", newBody, `{"extra":{"Tenant":"x","ſ":"y"}}`, ""},
		{"raw and any are data", newBody, `{"raw":{"Tenant":1,"tenant":2},"any":{"Name":[{"NAME":1}]}}`, ""},
		{"self-decoding struct", newBody, `{"at":"2026-01-02T03:04:05Z"}`, ""},
		{"untagged field", newBody, `{"Plain":"a"}`, ""},
		{"promoted from embedded", newBody, `{"note":"a"}`, ""},
		{"recursive exact", func() any { return new(testNode) }, `{"name":"a","kids":[{"name":"b","next":{"name":"c","kids":[]}}]}`, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := decodeStrict([]byte(tt.body), tt.into())
			if tt.msg == "" {
				if err != nil {
					t.Fatalf("%s: %v", tt.body, err)
				}
				return
			}
			var kerr *keygate.Error
			if !errors.As(err, &kerr) {
				t.Fatalf("%s: got %v, want an invalid_request", tt.body, err)
			}
			if kerr.Code != keygate.Invalid || kerr.Message != tt.msg {
				t.Fatalf("%s:\n got %s: %s\nwant %s: %s", tt.body, kerr.Code, kerr.Message, keygate.Invalid, tt.msg)
			}
		})
	}
}

func newBody() any         { return new(testBody) }
func newDirectCreate() any { return new(directCreate) }

// The exact check must not shadow a value encoding/json would have kept.
func TestDecodeStrictDecodesExactNames(t *testing.T) {
	var e directCreate
	body := `{"tenant":"acme","\u006fwner":"bob","scopes":["GET /x"],"expires_in_hours":24}`
	if err := decodeStrict([]byte(body), &e); err != nil {
		t.Fatal(err)
	}
	if e.Tenant != "acme" || e.Owner != "bob" || len(e.Scopes) != 1 || e.ExpiresInHours == nil || *e.ExpiresInHours != 24 {
		t.Fatalf("decoded %+v", e)
	}
}

func TestDecodeStrictSizeLimit(t *testing.T) {
	body := `{"name":"` + strings.Repeat("a", MaxBody) + `"}`
	err := decodeStrict([]byte(body), new(testBody))
	if keygate.ErrorCode(err) != keygate.PayloadTooLarge {
		t.Fatalf("got %v", err)
	}
}

// The names each request type accepts, written out rather than derived,
// so a change to the types or to structFields shows up here.
func TestDecodeStrictKnownNames(t *testing.T) {
	create := []string{"apis", "expires_at", "expires_in_hours", "name", "owner", "role", "scopes", "type"}
	for _, tt := range []struct {
		v    any
		want []string
	}{
		{manage.CreateRequest{}, create},
		{directCreate{}, slices.Concat(create, []string{"actor", "idempotency_key", "op", "tenant"})},
		{directRotate{}, []string{"actor", "grace_seconds", "id", "idempotency_key", "op", "tenant"}},
		{directList{}, []string{"actor", "cursor", "id", "limit", "op", "owner", "status", "tenant"}},
		{directAudit{}, []string{"actor", "cursor", "key_id", "limit", "op", "tenant"}},
		{directRevoke{}, []string{"actor", "cascade", "id", "op", "tenant"}},
		{directUpdate{}, []string{"actor", "enabled", "expires_at", "id", "name", "op", "scopes", "tenant"}},
		{testBody{}, []string{"Plain", "any", "at", "extra", "item", "items", "limit", "meta", "name", "note", "raw", "scopes", "tags", "tenant"}},
	} {
		typ := reflect.TypeOf(tt.v)
		got := slices.Sorted(maps.Keys(shapeOf(typ).fields))
		want := slices.Sorted(slices.Values(tt.want))
		if !slices.Equal(got, want) {
			t.Errorf("%s: names %q, want %q", typ, got, want)
		}
		// Every name accepted must be one encoding/json maps to a field.
		for _, name := range got {
			body := `{` + strconv.Quote(name) + `:null}`
			if err := decodeStrict([]byte(body), reflect.New(typ).Interface()); err != nil {
				t.Errorf("%s: %s: %v", typ, body, err)
			}
		}
	}
}

// Promoted names follow encoding/json: the shallowest wins, a tag breaks a
// tie, and an unbroken tie drops the name (so it is unknown). The types are
// built with reflect because vet rightly refuses repeated tags in source.
func TestDecodeStrictEmbeddedConflicts(t *testing.T) {
	str := reflect.TypeFor[string]()
	field := func(name, tag string) reflect.StructField {
		return reflect.StructField{Name: name, Type: str, Tag: reflect.StructTag(tag)}
	}
	embed := func(name string, typ reflect.Type) reflect.StructField {
		return reflect.StructField{Name: name, Type: typ, Anonymous: true}
	}
	a := reflect.StructOf([]reflect.StructField{field("X", `json:"x"`), field("Y", `json:"y"`), field("Z", "")})
	b := reflect.StructOf([]reflect.StructField{field("X", `json:"x"`), field("Y", ""), field("Z", "")})
	c := reflect.StructOf([]reflect.StructField{embed("A", a), embed("B", b), field("Y", `json:"w"`)})
	d := reflect.StructOf([]reflect.StructField{embed("C", c), field("X", `json:"x"`)}) // shallower than C's x
	got := slices.Sorted(maps.Keys(shapeOf(d).fields))
	want := []string{"Y", "w", "x", "y"} // Z is an unbroken tie; B's Y is not A's y
	if !slices.Equal(got, want) {
		t.Fatalf("names %q, want %q", got, want)
	}
	v := reflect.New(d)
	if err := decodeStrict([]byte(`{"x":"1","y":"2","w":"3","Y":"4"}`), v.Interface()); err != nil {
		t.Fatal(err)
	}
	at := func(index ...int) string { return v.Elem().FieldByIndex(index).String() }
	if at(1) != "1" || at(0, 0, 1) != "2" || at(0, 2) != "3" || at(0, 1, 1) != "4" || at(0, 0, 0) != "" {
		t.Fatalf("decoded %+v", v.Elem().Interface())
	}
	if err := decodeStrict([]byte(`{"Z":"1"}`), v.Interface()); keygate.ErrorCode(err) != keygate.Invalid {
		t.Fatalf("ambiguous Z: %v", err)
	}
}

func BenchmarkDecodeStrict(b *testing.B) {
	body := []byte(`{"tenant":"acme","owner":"bob","name":"n","type":"service","role":"viewer","scopes":["GET /x","POST /y/*"],"expires_in_hours":24,"idempotency_key":"k1"}`)
	b.ReportAllocs()
	for b.Loop() {
		var e directCreate
		if err := decodeStrict(body, &e); err != nil {
			b.Fatal(err)
		}
	}
}
