package strictjson

import (
	"encoding/json"
	"errors"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"
)

// Small stand-ins for the types Keygate decodes, with the nesting they may
// grow: a struct, a pointer to one, slices and maps of them, values that
// decode themselves, and an embedded request whose own tenant the event's
// shadows (as shared/httpapi's direct events embed manage's requests).
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
	// CreateRequest is exported, as embedded requests are: its Go name
	// must still not be a member name.
	CreateRequest struct {
		Tenant         string   `json:"-"`
		Owner          string   `json:"owner,omitempty"`
		Name           string   `json:"name,omitempty"`
		Role           string   `json:"role,omitempty"`
		Scopes         []string `json:"scopes,omitempty"`
		ExpiresAt      *string  `json:"expires_at,omitempty"`
		ExpiresInHours *int64   `json:"expires_in_hours,omitempty"`
	}
	testCreate struct {
		Op             string `json:"op,omitempty"`
		Tenant         string `json:"tenant"`
		IdempotencyKey string `json:"idempotency_key,omitempty"`
		CreateRequest
	}
	testStatus string
	testList   struct {
		Tenant string     `json:"tenant"`
		ID     string     `json:"id,omitempty"`
		Status testStatus `json:"status,omitempty"`
		Limit  int        `json:"limit,omitempty"`
		Cursor string     `json:"cursor,omitempty"`
	}
	testSettings struct {
		Tenant       string  `json:"tenant"`
		OwnerEmail   *string `json:"owner_email"`
		ReminderDays *[]int  `json:"reminder_days"`
	}
)

func TestDecodeExactNames(t *testing.T) {
	kelvin := "\u212a" // KELVIN SIGN, which folds to k
	tests := []struct {
		name  string
		into  func() any
		body  string
		msg   string // exact message; "" means accepted
		field string // the Error's Field
	}{
		// The review's cases: encoding/json accepts each.
		{"name twice, cases differ", newBody, `{"tenant":"a","name":"a","Name":"b"}`,
			`unknown field "Name" (field names are case-sensitive: did you mean "name"?)`, "Name"},
		{"Tenant overrides tenant", newCreate, `{"tenant":"acme","owner":"bob","Tenant":"victim"}`,
			`unknown field "Tenant" (field names are case-sensitive: did you mean "tenant"?)`, "Tenant"},
		{"Tenant alone", newCreate, `{"Tenant":"victim"}`,
			`unknown field "Tenant" (field names are case-sensitive: did you mean "tenant"?)`, "Tenant"},
		{"settings Tenant", newSettings, `{"tenant":"acme","Tenant":"victim","owner_email":"x@evil.example"}`,
			`unknown field "Tenant" (field names are case-sensitive: did you mean "tenant"?)`, "Tenant"},
		{"settings tenant twice", newSettings, `{"tenant":"acme","tenant":"victim","owner_email":"x@evil.example"}`,
			`field "tenant" appears more than once`, "tenant"},
		{"long s folds to s", newCreate, `{"tenant":"acme","ſcopes":["GET /x"]}`,
			`unknown field (not shown) (field names are case-sensitive: did you mean "scopes"?)`, ""},
		{"long s after scopes", newCreate, `{"tenant":"acme","scopes":[],"ſcopes":["*"]}`,
			`unknown field (not shown) (field names are case-sensitive: did you mean "scopes"?)`, ""},
		{"upper case", newBody, `{"NAME":"x"}`,
			`unknown field "NAME" (field names are case-sensitive: did you mean "name"?)`, "NAME"},
		{"Kelvin sign folds to k", newCreate, `{"tenant":"acme","idempotency_` + kelvin + `ey":"k2"}`,
			`unknown field (not shown) (field names are case-sensitive: did you mean "idempotency_key"?)`, ""},
		{"Kelvin sign escaped", newCreate, `{"tenant":"acme","idempotency_\u212aey":"k2"}`,
			`unknown field (not shown) (field names are case-sensitive: did you mean "idempotency_key"?)`, ""},
		{"promoted field folded", newCreate, `{"tenant":"acme","Role":"admin"}`,
			`unknown field "Role" (field names are case-sensitive: did you mean "role"?)`, "Role"},
		{"list Tenant", newList, `{"tenant":"acme","Tenant":"victim"}`,
			`unknown field "Tenant" (field names are case-sensitive: did you mean "tenant"?)`, "Tenant"},
		{"list ID", newList, `{"tenant":"acme","ID":"AAAAAAAAAAAAAAAAA"}`,
			`unknown field "ID" (field names are case-sensitive: did you mean "id"?)`, "ID"},
		{"embedded request alone", func() any { return new(CreateRequest) }, `{"owner":"bob","OWNER":"eve"}`,
			`unknown field "OWNER" (field names are case-sensitive: did you mean "owner"?)`, "OWNER"},

		// Nesting: every object that decodes into a struct is checked.
		{"nested struct", newBody, `{"item":{"id":"a","Label":"b"}}`,
			`unknown field "Label" (field names are case-sensitive: did you mean "label"?)`, "Label"},
		{"nested pointer", newBody, `{"meta":{"Id":"a"}}`,
			`unknown field "Id" (field names are case-sensitive: did you mean "id"?)`, "Id"},
		{"slice of structs", newBody, `{"items":[{"id":"a"},{"iD":"b"}]}`,
			`unknown field "iD" (field names are case-sensitive: did you mean "id"?)`, "iD"},
		{"map of structs", newBody, `{"tags":{"x":{"id":"a"},"Y":{"ID":"b"}}}`,
			`unknown field "ID" (field names are case-sensitive: did you mean "id"?)`, "ID"},
		{"recursive type", func() any { return new(testNode) }, `{"name":"a","kids":[{"name":"b","next":{"Name":"c"}}]}`,
			`unknown field "Name" (field names are case-sensitive: did you mean "name"?)`, "Name"},
		{"nested unknown", newBody, `{"item":{"id":"a","colour":"b"}}`, `unknown field "colour"`, "colour"},
		{"nested duplicate", newBody, `{"item":{"id":"a","id":"b"}}`, `field "id" appears more than once`, "id"},
		{"map duplicate", newBody, `{"extra":{"k":"a","k":"b"}}`, `field "k" appears more than once`, "k"},

		// Names encoding/json would also have found.
		{"Go name of a tagged field", newBody, `{"Tenant":"a"}`,
			`unknown field "Tenant" (field names are case-sensitive: did you mean "tenant"?)`, "Tenant"},
		{"untagged field folded", newBody, `{"plain":"a"}`,
			`unknown field "plain" (field names are case-sensitive: did you mean "Plain"?)`, "plain"},
		{"ignored field", newBody, `{"Ignored":"a"}`, `unknown field "Ignored"`, "Ignored"},
		{"dash", newBody, `{"-":"a"}`, `unknown field "-"`, "-"},
		{"unexported field", newBody, `{"hidden":"a"}`, `unknown field "hidden"`, "hidden"},
		{"embedded struct by name", newCreate, `{"tenant":"acme","CreateRequest":{}}`, `unknown field "CreateRequest"`, "CreateRequest"},
		{"embedded struct folded", newCreate, `{"tenant":"acme","createrequest":{}}`, `unknown field "createrequest"`, "createrequest"},
		{"unknown", newBody, `{"admin":true}`, `unknown field "admin"`, "admin"},
		{"token as a name", newBody, `{"kg_live_0123456789abcdef0123456789abcdef0123":1}`, `unknown field (not shown)`, ""},
		{"name with a space", newBody, `{"not shown":1}`, `unknown field (not shown)`, ""},
		{"exact duplicate", newBody, `{"tenant":"a","tenant":"b"}`, `field "tenant" appears more than once`, "tenant"},
		{"escaped duplicate", newBody, `{"tenant":"a","\u0074enant":"b"}`, `field "tenant" appears more than once`, "tenant"},

		// The input as a whole, and values.
		{"not an object", newBody, `[]`, `input must be a JSON object`, ""},
		{"empty", newBody, ` `, `input must be a JSON object`, ""},
		{"trailing data", newBody, `{"tenant":"a"} {}`, `input must hold a single JSON object`, ""},
		{"syntax", newBody, `{"tenant":}`, `input is not valid JSON`, ""},
		{"cut short", newBody, `{"tenant":"a"`, `input is not valid JSON`, ""},
		{"bad UTF-8", newBody, "{\"tenant\":\"\xff\"}", `input is not valid UTF-8`, ""},
		{"lone surrogate", newBody, `{"name":"\ud800"}`, `input is not valid JSON`, ""},
		{"raw duplicate", newBody, `{"raw":{"a":1,"a":2}}`, `field "a" appears more than once`, "a"},
		{"element wrong type", newBody, `{"items":[{"id":"a"},{"id":5}]}`, `field "items.1.id" must be a string`, "items.1.id"},
		{"wrong type", newBody, `{"limit":"5"}`, `field "limit" must be a whole number`, "limit"},
		{"huge number", newBody, `{"limit":1e400}`, `field "limit" must be a whole number`, "limit"},
		{"nested wrong type", newBody, `{"item":{"id":5}}`, `field "item.id" must be a string`, "item.id"},
		{"object for a list", newBody, `{"items":{"id":"a"}}`, `field "items" must be an array`, "items"},
		{"string for strings", newBody, `{"scopes":"GET /x"}`, `field "scopes" must be an array of strings`, "scopes"},
		{"string for days", newSettings, `{"tenant":"a","reminder_days":"3"}`, `field "reminder_days" must be an array of whole numbers`, "reminder_days"},
		{"string for a struct", newBody, `{"item":"a"}`, `field "item" must be an object`, "item"},
		{"number for a named string", newList, `{"status":1}`, `field "status" must be a string`, "status"},
		{"bad time", newBody, `{"at":"yesterday"}`, `field "at" has an invalid value`, "at"},

		// Accepted.
		{"exact", newCreate, `{"tenant":"acme","owner":"bob","name":"n","role":"viewer","scopes":["GET /x"],"expires_at":null,"expires_in_hours":24,"idempotency_key":"k1"}`, "", ""},
		{"escaped exact name", newBody, `{"\u0074enant":"a"}`, "", ""},
		{"nested exact", newBody, `{"tenant":"a","item":{"id":"a","label":"b"},"meta":null,"items":[{"id":"x"},{}],"tags":{"Any Key":{"id":"y"}}}`, "", ""},
		{"map keys are data", newBody, `{"extra":{"Tenant":"x","ſ":"y"}}`, "", ""},
		{"raw and any are data", newBody, `{"raw":{"Tenant":1,"tenant":2},"any":{"Name":[{"NAME":1}]}}`, "", ""},
		{"self-decoding struct", newBody, `{"at":"2026-01-02T03:04:05Z"}`, "", ""},
		{"untagged field", newBody, `{"Plain":"a"}`, "", ""},
		{"promoted from embedded", newBody, `{"note":"a"}`, "", ""},
		{"recursive exact", func() any { return new(testNode) }, `{"name":"a","kids":[{"name":"b","next":{"name":"c","kids":[]}}]}`, "", ""},
		{"settings", newSettings, ` {"tenant":"acme","owner_email":"ops@acme.example","reminder_days":[14,3]}` + "\n", "", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := Decode([]byte(tt.body), tt.into())
			if tt.msg == "" {
				if err != nil {
					t.Fatalf("%s: %v", tt.body, err)
				}
				return
			}
			var e *Error
			if !errors.As(err, &e) {
				t.Fatalf("%s: got %v, want an *Error", tt.body, err)
			}
			if e.Error() != tt.msg || e.Field != tt.field {
				t.Fatalf("%s:\n got %q (field %q)\nwant %q (field %q)", tt.body, e.Error(), e.Field, tt.msg, tt.field)
			}
		})
	}
}

func newBody() any     { return new(testBody) }
func newCreate() any   { return new(testCreate) }
func newList() any     { return new(testList) }
func newSettings() any { return new(testSettings) }

// The exact check must not shadow a value encoding/json would have kept,
// nor let an embedded request's own (untagged) tenant be set.
func TestDecodeDecodesExactNames(t *testing.T) {
	var e testCreate
	body := `{"tenant":"acme","\u006fwner":"bob","scopes":["GET /x"],"expires_in_hours":24}`
	if err := Decode([]byte(body), &e); err != nil {
		t.Fatal(err)
	}
	if e.Tenant != "acme" || e.CreateRequest.Tenant != "" || e.Owner != "bob" || len(e.Scopes) != 1 || e.ExpiresInHours == nil || *e.ExpiresInHours != 24 {
		t.Fatalf("decoded %+v", e)
	}
}

// A bad destination is the caller's mistake, not the input's: it is not an
// *Error, so callers do not blame whoever wrote the input.
func TestDecodeBadDestination(t *testing.T) {
	var body testBody
	for name, v := range map[string]any{"nil": nil, "not a pointer": body, "nil pointer": (*testBody)(nil)} {
		t.Run(name, func(t *testing.T) {
			err := Decode([]byte(`{}`), v)
			var e *Error
			if err == nil || errors.As(err, &e) {
				t.Fatalf("got %v, want an error that is not an *Error", err)
			}
		})
	}
}

// The names each type accepts, written out rather than derived: each is
// taken, a case variant of each is refused with a hint naming it, and the
// hint's candidates (candidateNames, kept if the decoder takes them) are
// exactly these.
func TestDecodeKnownNames(t *testing.T) {
	for _, tt := range []struct {
		v    any
		want []string
	}{
		{CreateRequest{}, []string{"expires_at", "expires_in_hours", "name", "owner", "role", "scopes"}},
		{testCreate{}, []string{"expires_at", "expires_in_hours", "idempotency_key", "name", "op", "owner", "role", "scopes", "tenant"}},
		{testList{}, []string{"cursor", "id", "limit", "status", "tenant"}},
		{testSettings{}, []string{"owner_email", "reminder_days", "tenant"}},
		{testBody{}, []string{"Plain", "any", "at", "extra", "item", "items", "limit", "meta", "name", "note", "raw", "scopes", "tags", "tenant"}},
	} {
		typ := reflect.TypeOf(tt.v)
		t.Run(typ.Name(), func(t *testing.T) {
			var got []string
			for _, name := range candidateNames(typ, 0) {
				if takes(typ, name) {
					got = append(got, name)
				}
			}
			slices.Sort(got)
			want := slices.Sorted(slices.Values(tt.want))
			if !slices.Equal(got, want) {
				t.Errorf("names %q, want %q", got, want)
			}
			for _, name := range want {
				if err := Decode([]byte(`{`+strconv.Quote(name)+`:null}`), reflect.New(typ).Interface()); err != nil {
					t.Errorf("%s: %v", name, err)
				}
				variant := strings.ToUpper(name)
				if variant == name {
					variant = strings.ToLower(name)
				}
				var e *Error
				err := Decode([]byte(`{`+strconv.Quote(variant)+`:null}`), reflect.New(typ).Interface())
				if !errors.As(err, &e) || !strings.Contains(e.Error(), "did you mean "+strconv.Quote(name)) {
					t.Errorf("%s: %v, want a refusal naming %q", variant, err, name)
				}
			}
		})
	}
}

// Promoted names follow Go's embedding: the shallowest wins, a tag breaks
// a tie, and an unbroken tie drops the name (so it is unknown). The types
// are built with reflect because vet rightly refuses repeated tags in
// source.
func TestDecodeEmbeddedConflicts(t *testing.T) {
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
	v := reflect.New(d)
	if err := Decode([]byte(`{"x":"1","y":"2","w":"3","Y":"4"}`), v.Interface()); err != nil {
		t.Fatal(err)
	}
	at := func(index ...int) string { return v.Elem().FieldByIndex(index).String() }
	if at(1) != "1" || at(0, 0, 1) != "2" || at(0, 2) != "3" || at(0, 1, 1) != "4" || at(0, 0, 0) != "" {
		t.Fatalf("decoded %+v", v.Elem().Interface())
	}
	var e *Error
	if err := Decode([]byte(`{"Z":"1"}`), v.Interface()); !errors.As(err, &e) || e.Field != "Z" {
		t.Fatalf("ambiguous Z: %v", err)
	}
}

func BenchmarkDecode(b *testing.B) {
	body := []byte(`{"tenant":"acme","owner":"bob","name":"n","role":"viewer","scopes":["GET /x","POST /y/*"],"expires_in_hours":24,"idempotency_key":"k1"}`)
	b.ReportAllocs()
	for b.Loop() {
		var e testCreate
		if err := Decode(body, &e); err != nil {
			b.Fatal(err)
		}
	}
}
