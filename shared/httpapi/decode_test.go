package httpapi

import (
	"reflect"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/keygate/keygate/shared/keygate"
	"github.com/keygate/keygate/shared/manage"
	"github.com/keygate/keygate/shared/settings"
)

// decodeBody is strictjson's decoder (tested there, with stand-ins) plus a
// size limit and keygate's error codes; these tests hold it to the real
// request and event types.
func TestDecodeBody(t *testing.T) {
	tests := []struct {
		name string
		into any
		body string
		code keygate.Code // "" means accepted
		msg  string
	}{
		{"Tenant overrides tenant", new(directCreate), `{"tenant":"acme","owner":"bob","Tenant":"victim"}`,
			keygate.Invalid, `unknown field "Tenant" (field names are case-sensitive: did you mean "tenant"?)`},
		{"direct list Tenant", new(directList), `{"tenant":"acme","Tenant":"victim"}`,
			keygate.Invalid, `unknown field "Tenant" (field names are case-sensitive: did you mean "tenant"?)`},
		{"direct revoke ID", new(directRevoke), `{"tenant":"acme","ID":"AAAAAAAAAAAAAAAAA"}`,
			keygate.Invalid, `unknown field "ID" (field names are case-sensitive: did you mean "id"?)`},
		{"op twice", new(directUpdate), `{"op":"update","tenant":"acme","id":"AAAAAAAAAAAAAAAAA","op":"update"}`,
			keygate.Invalid, `field "op" appears more than once`},
		{"proxy body", new(manage.CreateRequest), `{"owner":"bob","OWNER":"eve"}`,
			keygate.Invalid, `unknown field "OWNER" (field names are case-sensitive: did you mean "owner"?)`},
		{"settings body", new(settings.Change), `{"owner_email":"a@b.example","owner_emaiL":"x@evil.example"}`,
			keygate.Invalid, `unknown field "owner_emaiL" (field names are case-sensitive: did you mean "owner_email"?)`},
		{"settings days", new(settings.Change), `{"reminder_days":"3"}`,
			keygate.Invalid, `field "reminder_days" must be an array of whole numbers`},
		{"one byte too many", new(manage.CreateRequest), `{"name":"` + strings.Repeat("a", MaxBody-10) + `"}`,
			keygate.PayloadTooLarge, "request body is larger than 16384 bytes"},
		{"at the limit", new(manage.CreateRequest), `{"name":"` + strings.Repeat("a", MaxBody-11) + `"}`, "", ""},
		{"exact", new(directCreate), `{"tenant":"acme","owner":"bob","scopes":["GET /x"],"expires_in_hours":24}`, "", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := decodeBody([]byte(tt.body), tt.into)
			if tt.code == "" {
				if err != nil {
					t.Fatal(err)
				}
				return
			}
			if keygate.ErrorCode(err) != tt.code || keygate.ErrorMessage(err) != tt.msg {
				t.Fatalf("got %v, want %s: %s", err, tt.code, tt.msg)
			}
		})
	}
}

// The names each request and event type accepts, written out rather than
// derived: every one is accepted, and no other name the type's fields
// could suggest (Go names, tags of fields that are not members, other
// cases) is.
func TestDecodeBodyNames(t *testing.T) {
	create := []string{"apis", "credits", "expires_at", "expires_in_hours", "external_id", "meta", "name", "owner", "rate_limit", "role", "scopes", "type"}
	for _, tt := range []struct {
		v    any
		want []string
	}{
		{manage.CreateRequest{}, create},
		{manage.RotateRequest{}, []string{"grace_seconds"}},
		{manage.UpdateRequest{}, []string{"credits", "enabled", "expires_at", "external_id", "meta", "name", "rate_limit", "scopes"}},
		{manage.RateLimitRequest{}, []string{"limit", "window"}},
		{manage.CreditsRequest{}, []string{"refill", "remaining"}},
		{settings.Change{}, []string{"leak_action", "leak_cascade", "owner_email", "reminder_days"}},
		{directCreate{}, slices.Concat(create, []string{"actor", "idempotency_key", "op", "tenant"})},
		{directRotate{}, []string{"actor", "grace_seconds", "id", "idempotency_key", "op", "tenant"}},
		{directList{}, []string{"actor", "cursor", "external_id", "id", "limit", "op", "owner", "status", "tenant"}},
		{directAudit{}, []string{"actor", "cursor", "key_id", "limit", "op", "tenant"}},
		{directRevoke{}, []string{"actor", "cascade", "id", "op", "tenant"}},
		{directUpdate{}, []string{"actor", "credits", "enabled", "expires_at", "external_id", "id", "meta", "name", "op", "rate_limit", "scopes", "tenant"}},
	} {
		typ := reflect.TypeOf(tt.v)
		t.Run(typ.Name(), func(t *testing.T) {
			candidates := slices.Clone(tt.want)
			for _, name := range tt.want {
				candidates = append(candidates, strings.ToUpper(name), strings.ToUpper(name[:1])+name[1:])
			}
			candidates = append(candidates, fieldNames(typ)...)
			for _, name := range candidates {
				// A value of any type: a type error would pass the name.
				body := `{` + strconv.Quote(name) + `:null}`
				err := decodeBody([]byte(body), reflect.New(typ).Interface())
				if want := slices.Contains(tt.want, name); (err == nil) != want {
					t.Errorf("%s: err = %v, want accepted = %v", body, err, want)
				}
			}
		})
	}
}

// fieldNames is every Go name and json tag name in t's fields, embedded
// structs' included, and the embedded types' names.
func fieldNames(t reflect.Type) []string {
	var out []string
	for i := range t.NumField() {
		f := t.Field(i)
		out = append(out, f.Name)
		if tag, _, _ := strings.Cut(f.Tag.Get("json"), ","); tag != "" {
			out = append(out, tag)
		}
		if f.Anonymous && f.Type.Kind() == reflect.Struct {
			out = append(out, fieldNames(f.Type)...)
		}
	}
	return out
}
