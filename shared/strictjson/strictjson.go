// Package strictjson decodes JSON that people write (API clients' request
// bodies, operators' direct-invocation events) so that it can mean only
// one thing. (The pepper setting is read by apikey with encoding/json's
// tokenizer, to keep this package out of the authorizer.)
//
// encoding/json matches member names to fields case-insensitively and with
// Unicode folding ("ſ" for "s", the Kelvin sign for "k"), keeps the last of
// two members that match the same field, and ignores members it has no
// field for. Each lets a reader see {"tenant":"acme","Tenant":"victim"} as
// acme while encoding/json acts on victim, or lets a misspelt field pass as
// absent. Decode refuses all three.
//
// The decoding is github.com/go-json-experiment/json, the source of Go's
// encoding/json/v2, with exact names, duplicate names refused (in every
// object, map keys and raw values included) and unknown members refused.
// Its API may still change, so it stays behind this package: callers see
// Decode and Error only.
//
// Input that AWS writes (DynamoDB stream records, scheduled events, API
// Gateway's proxy events) is not for this package: AWS adds fields to its
// events over time, and a strict decoder would start refusing them.
package strictjson

import (
	"bytes"
	"encoding"
	"errors"
	"fmt"
	"io"
	"reflect"
	"strconv"
	"strings"
	"unicode/utf8"

	json "github.com/go-json-experiment/json"
	"github.com/go-json-experiment/json/jsontext"
)

// An Error is why Decode refused its input. Its message is fit to show to
// whoever wrote the input, and to log: of the input it quotes only a
// member's name, and that only if the name looks like a field name (people
// paste tokens in the oddest places).
type Error struct {
	// Field is the member at fault (a dotted path when its value has the
	// wrong type), or "" if the input as a whole is at fault or the name is
	// not shown.
	Field string
	msg   string
}

func (e *Error) Error() string { return e.msg }

func errorf(field, format string, args ...any) *Error {
	return &Error{Field: field, msg: fmt.Sprintf(format, args...)}
}

// options are the strict ones. Most are the decoder's defaults, stated so
// that a change of defaults in an unstable API cannot loosen them.
var options = json.JoinOptions(
	json.MatchCaseInsensitiveNames(false),
	json.RejectUnknownMembers(true),
	jsontext.AllowDuplicateNames(false),
	jsontext.AllowInvalidUTF8(false),
)

// Decode decodes the single JSON object in data into v, which must be a
// non-nil pointer. Member names must match a field's JSON name exactly
// (the json tag, else the Go name) at every level that decodes into a
// struct; a name that appears twice in any object, an unknown name, a
// value of the wrong type, trailing data and invalid UTF-8 are refused
// with an *Error. Map keys and values decoded as json.RawMessage, any, or
// by their own UnmarshalJSON are data, not names: only their duplicates
// are refused. Decode does not bound the input's size: callers do, before
// they read it.
func Decode(data []byte, v any) error {
	if rv := reflect.ValueOf(v); rv.Kind() != reflect.Pointer || rv.IsNil() {
		return fmt.Errorf("strictjson: Decode needs a non-nil pointer, not %T", v)
	}
	if !utf8.Valid(data) {
		return errorf("", "input is not valid UTF-8")
	}
	trimmed := bytes.TrimSpace(data)
	if len(trimmed) == 0 || trimmed[0] != '{' {
		return errorf("", "input must be a JSON object")
	}
	dec := jsontext.NewDecoder(bytes.NewReader(trimmed), options)
	if err := json.UnmarshalDecode(dec, v, options); err != nil {
		return decodeError(err)
	}
	if _, err := dec.ReadToken(); err != io.EOF {
		return errorf("", "input must hold a single JSON object")
	}
	return nil
}

// decodeError turns the decoder's error into an *Error that shows no value
// from the input.
func decodeError(err error) *Error {
	var syn *jsontext.SyntacticError
	var sem *json.SemanticError
	switch {
	case errors.As(err, &syn) && errors.Is(syn.Err, jsontext.ErrDuplicateName):
		name := syn.JSONPointer.LastToken()
		return errorf(shown(name), "field %s appears more than once", quoteName(name))
	case errors.As(err, &sem) && errors.Is(sem.Err, json.ErrUnknownName):
		return unknownField(sem.JSONPointer.LastToken(), sem.GoType)
	case errors.As(err, &sem) && sem.JSONPointer == "":
		return errorf("", "input must be a JSON object")
	case errors.As(err, &sem) && sem.GoType != nil:
		field := path(sem.JSONPointer)
		if decodesItself(sem.GoType) && sem.JSONKind == '"' {
			// A malformed time, say: the right JSON type, refused by the
			// value's own decoding, whose error may quote the value.
			return errorf(shown(field), "field %s has an invalid value", quoteName(field))
		}
		return errorf(shown(field), "field %s must be %s", quoteName(field), kindOf(sem.GoType))
	default:
		return errorf("", "input is not valid JSON")
	}
}

// path is a JSON pointer as a dotted path: /items/1/id is items.1.id.
func path(p jsontext.Pointer) string {
	var tokens []string
	for t := range p.Tokens() {
		tokens = append(tokens, t)
	}
	return strings.Join(tokens, ".")
}

// hidden stands in for a name quoteName will not show.
const hidden = "(not shown)"

// quoteName quotes a name from the input for an error message only if it
// looks like a field name: messages are shown and logged, and people paste
// tokens in the oddest places.
func quoteName(name string) string {
	if len(name) == 0 || len(name) > 40 {
		return hidden
	}
	for _, c := range name {
		if !(c == '_' || c == '-' || c == '.' || '0' <= c && c <= '9' || 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z') {
			return hidden
		}
	}
	return strconv.Quote(name)
}

// shown is name if quoteName shows it, else "".
func shown(name string) string {
	if quoteName(name) == hidden {
		return ""
	}
	return name
}

var (
	jsonUnmarshaler = reflect.TypeFor[interface{ UnmarshalJSON([]byte) error }]()
	textUnmarshaler = reflect.TypeFor[encoding.TextUnmarshaler]()
)

// decodesItself reports whether values of t decode through their own
// method (time.Time and the like).
func decodesItself(t reflect.Type) bool {
	if t.Implements(jsonUnmarshaler) || t.Implements(textUnmarshaler) {
		return true
	}
	if t.Kind() != reflect.Pointer && t.Kind() != reflect.Interface {
		p := reflect.PointerTo(t)
		return p.Implements(jsonUnmarshaler) || p.Implements(textUnmarshaler)
	}
	return false
}

// kindOf says, for a message, what JSON a value of Go type t must be.
func kindOf(t reflect.Type) string {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	if decodesItself(t) {
		return "a string" // time.Time and the like, from text
	}
	switch t.Kind() {
	case reflect.Slice, reflect.Array:
		if t.Kind() == reflect.Slice && t.Elem().Kind() == reflect.Uint8 {
			return "a base64 string"
		}
		if e := kindOf(t.Elem()); e == "a string" || e == "a whole number" {
			return "an array of " + strings.TrimPrefix(e, "a ") + "s"
		}
		return "an array"
	case reflect.Map, reflect.Struct:
		return "an object"
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64, reflect.Uintptr:
		return "a whole number"
	case reflect.Float32, reflect.Float64:
		return "a number"
	case reflect.Bool:
		return "true or false"
	default:
		return "a string"
	}
}

// unknownField names the member; if it folds to a field of st, the struct
// it was meant for, the message says which, since that name is ours to
// show.
func unknownField(key string, st reflect.Type) *Error {
	if known := foldsTo(key, st); known != "" {
		return errorf(shown(key), "unknown field %s (field names are case-sensitive: did you mean %q?)", quoteName(key), known)
	}
	return errorf(shown(key), "unknown field %s", quoteName(key))
}

// foldsTo returns the least field name of struct type st that key matches
// under Unicode case folding, or "". It only words a hint: the candidates
// are the json tags and Go names of st's fields, embedded ones included,
// and each is kept only if the decoder itself takes it as a name of st.
func foldsTo(key string, st reflect.Type) string {
	for st != nil && st.Kind() == reflect.Pointer {
		st = st.Elem()
	}
	if st == nil || st.Kind() != reflect.Struct {
		return ""
	}
	var known string
	for _, name := range candidateNames(st, 0) {
		if strings.EqualFold(key, name) && (known == "" || name < known) && takes(st, name) {
			known = name
		}
	}
	return known
}

// candidateNames lists the names st's fields might go by; embedded
// structs are followed a few levels deep.
func candidateNames(st reflect.Type, depth int) []string {
	var out []string
	for i := range st.NumField() {
		f := st.Field(i)
		tag := f.Tag.Get("json")
		if tag == "-" {
			continue
		}
		name, _, _ := strings.Cut(tag, ",")
		ft := f.Type
		for ft.Kind() == reflect.Pointer {
			ft = ft.Elem()
		}
		switch {
		case name != "":
			out = append(out, name)
		case f.Anonymous && ft.Kind() == reflect.Struct && depth < 8:
			out = append(out, candidateNames(ft, depth+1)...)
		case f.IsExported():
			out = append(out, f.Name)
		}
	}
	return out
}

// takes reports whether the decoder accepts name as a member of st.
func takes(st reflect.Type, name string) bool {
	obj, err := json.Marshal(map[string]any{name: nil})
	if err != nil {
		return false
	}
	var sem *json.SemanticError
	err = json.Unmarshal(obj, reflect.New(st).Interface(), options)
	return !errors.As(err, &sem) || !errors.Is(sem.Err, json.ErrUnknownName)
}
