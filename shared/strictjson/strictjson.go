// Package strictjson decodes JSON that people write (API clients' request
// bodies, operators' direct-invocation events, the pepper setting) so that
// it can mean only one thing.
//
// encoding/json, which does the decoding, matches member names to fields
// case-insensitively and with Unicode folding ("ſ" for "s", the Kelvin
// sign for "k"), keeps the last of two members that match the same field,
// and ignores members it has no field for. Each lets a reader see
// {"tenant":"acme","Tenant":"victim"} as acme while encoding/json acts on
// victim, or lets a misspelt field pass as absent. Decode checks every name
// exactly before encoding/json sees the input.
//
// Input that AWS writes (DynamoDB stream records, scheduled events, API
// Gateway's proxy events) is not for this package: AWS adds fields to its
// events over time, and a strict decoder would start refusing them.
package strictjson

import (
	"bytes"
	"encoding"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"reflect"
	"strconv"
	"strings"
	"sync"
	"unicode"
	"unicode/utf8"
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

// Decode decodes the single JSON object in data into v, which must be a
// non-nil pointer. Member names must match a field's JSON name exactly
// (as encoding/json names fields: the json tag, else the Go name) at every
// level that decodes into a struct; a name that appears twice in any
// object, an unknown name, a value of the wrong type, trailing data and
// invalid UTF-8 are refused with an *Error. Map keys and values decoded as
// json.RawMessage, any, or by their own UnmarshalJSON are data, not names,
// and are not checked. Decode does not bound the input's size: callers
// do, before they read it.
func Decode(data []byte, v any) error {
	if rv := reflect.ValueOf(v); rv.Kind() != reflect.Pointer || rv.IsNil() {
		return &json.InvalidUnmarshalError{Type: reflect.TypeOf(v)}
	}
	if !utf8.Valid(data) {
		return errorf("", "input is not valid UTF-8")
	}
	trimmed := bytes.TrimSpace(data)
	if len(trimmed) == 0 || trimmed[0] != '{' {
		return errorf("", "input must be a JSON object")
	}
	if err := checkNames(trimmed, shapeOf(reflect.TypeOf(v))); err != nil {
		return err
	}
	dec := json.NewDecoder(bytes.NewReader(trimmed))
	// Still on: it catches names checkNames lets through but encoding/json
	// would not map to a field (ambiguous embedded fields).
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return decodeError(err)
	}
	if _, err := dec.Token(); err != io.EOF {
		return errorf("", "input must hold a single JSON object")
	}
	return nil
}

func decodeError(err error) error {
	var typeErr *json.UnmarshalTypeError
	var syntaxErr *json.SyntaxError
	switch {
	case errors.As(err, &typeErr):
		if typeErr.Field == "" {
			return errorf("", "input must be a JSON object")
		}
		return errorf(shown(typeErr.Field), "field %s must be %s", quoteName(typeErr.Field), kindOf(typeErr.Type))
	case errors.As(err, &syntaxErr), errors.Is(err, io.ErrUnexpectedEOF):
		return errorf("", "input is not valid JSON")
	case strings.HasPrefix(err.Error(), "json: unknown field "):
		name, _ := strconv.Unquote(strings.TrimPrefix(err.Error(), "json: unknown field "))
		return unknownField(name, nil)
	default:
		// A value's own UnmarshalJSON or UnmarshalText refused it (a
		// malformed time, say); its error may quote the value.
		return errorf("", "input is not valid JSON")
	}
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
			return "a base64 string" // as encoding/json reads []byte
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

// shape is what checkNames knows of the Go type a JSON value decodes into.
// A nil *shape accepts anything: scalars, interfaces, and types that decode
// themselves.
type shape struct {
	kind   shapeKind
	fields map[string]*shape // kindStruct: exact JSON names
	elem   *shape            // kindMap, kindList: each value
}

type shapeKind uint8

const (
	kindStruct shapeKind = iota + 1
	kindMap
	kindList
)

var shapes sync.Map // reflect.Type -> *shape

var (
	jsonUnmarshaler = reflect.TypeFor[json.Unmarshaler]()
	textUnmarshaler = reflect.TypeFor[encoding.TextUnmarshaler]()
)

func shapeOf(t reflect.Type) *shape {
	if t == nil {
		return nil
	}
	if s, ok := shapes.Load(t); ok {
		return s.(*shape)
	}
	s := buildShape(t, map[reflect.Type]*shape{})
	actual, _ := shapes.LoadOrStore(t, s)
	return actual.(*shape)
}

// buildShape follows encoding/json's rules closely enough that every name
// it accepts is one encoding/json maps exactly to a field; where they
// differ it is stricter. building ends recursion through recursive types.
func buildShape(t reflect.Type, building map[reflect.Type]*shape) *shape {
	for t.Kind() == reflect.Pointer {
		if decodesItself(t) {
			return nil
		}
		t = t.Elem()
	}
	if decodesItself(t) {
		return nil
	}
	if s, ok := building[t]; ok {
		return s
	}
	switch t.Kind() {
	case reflect.Struct:
		s := &shape{kind: kindStruct, fields: map[string]*shape{}}
		building[t] = s
		for name, ft := range structFields(t) {
			s.fields[name] = buildShape(ft, building)
		}
		return s
	case reflect.Map:
		s := &shape{kind: kindMap}
		building[t] = s
		s.elem = buildShape(t.Elem(), building)
		if s.elem == nil {
			return nil
		}
		return s
	case reflect.Slice, reflect.Array:
		s := &shape{kind: kindList}
		building[t] = s
		s.elem = buildShape(t.Elem(), building)
		if s.elem == nil {
			return nil
		}
		return s
	}
	return nil
}

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

// structFields returns the JSON names of t's fields, promoted ones
// included, with the type each decodes into. As in encoding/json, the
// shallowest name wins, a tagged one breaks a tie, and an unbroken tie
// drops the name.
func structFields(t reflect.Type) map[string]reflect.Type {
	type candidate struct {
		typ    reflect.Type
		depth  int
		tagged bool
		count  int // candidates at this depth with this taggedness
	}
	best := map[string]*candidate{}
	offer := func(name string, typ reflect.Type, depth int, tagged bool) {
		c := best[name]
		switch {
		case c == nil || depth < c.depth || depth == c.depth && tagged && !c.tagged:
			best[name] = &candidate{typ: typ, depth: depth, tagged: tagged, count: 1}
		case depth == c.depth && tagged == c.tagged:
			c.count++
		}
	}
	visited := map[reflect.Type]bool{}
	level := []reflect.Type{t}
	for depth := 0; len(level) > 0; depth++ {
		var next []reflect.Type
		for _, st := range level {
			if visited[st] {
				continue
			}
			visited[st] = true
			for i := range st.NumField() {
				f := st.Field(i)
				tag := f.Tag.Get("json")
				if tag == "-" {
					continue
				}
				name, _, _ := strings.Cut(tag, ",")
				if !validTag(name) {
					name = ""
				}
				ft := f.Type
				if f.Anonymous {
					et := ft
					if et.Kind() == reflect.Pointer {
						et = et.Elem()
					}
					if !f.IsExported() && et.Kind() != reflect.Struct {
						continue
					}
					// encoding/json cannot allocate an embedded pointer to an
					// unexported struct, so it refuses its fields.
					if !f.IsExported() && ft.Kind() == reflect.Pointer {
						continue
					}
					if name == "" && et.Kind() == reflect.Struct {
						next = append(next, et)
						continue
					}
				} else if !f.IsExported() {
					continue
				}
				if name == "" {
					offer(f.Name, ft, depth, false)
				} else {
					offer(name, ft, depth, true)
				}
			}
		}
		level = next
	}
	out := make(map[string]reflect.Type, len(best))
	for name, c := range best {
		if c.count == 1 {
			out[name] = c.typ
		}
	}
	return out
}

// validTag is encoding/json's rule: a tag name it would not use means the
// Go field name is used instead.
func validTag(s string) bool {
	if s == "" {
		return false
	}
	for _, c := range s {
		switch {
		case strings.ContainsRune("!#$%&()*+-./:;<=>?@[]^_{|}~ ", c):
		case !unicode.IsLetter(c) && !unicode.IsDigit(c):
			return false
		}
	}
	return true
}

// checkNames walks the object's tokens once and rejects a member name
// that is not exactly a field of the struct it decodes into, and a name
// that appears twice in any object: encoding/json silently keeps the last,
// so {"role":"viewer","role":"admin"} could mean different things to
// different readers.
func checkNames(data []byte, root *shape) error {
	dec := json.NewDecoder(bytes.NewReader(data))
	// Numbers stay text: the walk only needs names, and a number too big
	// for float64 is a type error the decoder reports by field.
	dec.UseNumber()
	type frame struct {
		object  bool
		wantKey bool
		shape   *shape // of this object or array; nil if unchecked
		value   *shape // of the member whose value comes next
		keys    map[string]struct{}
	}
	var stack []*frame
	for {
		tok, err := dec.Token()
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return errorf("", "input is not valid JSON")
		}
		var top *frame
		if len(stack) > 0 {
			top = stack[len(stack)-1]
		}
		if d, ok := tok.(json.Delim); ok {
			switch d {
			case '{', '[':
				s := root
				switch {
				case top != nil && top.object:
					s = top.value
					top.wantKey = true
				case top != nil:
					s = nil
					if top.shape != nil {
						s = top.shape.elem
					}
				}
				want := kindList
				if d == '{' {
					want = kindStruct
					if s != nil && s.kind == kindMap {
						want = kindMap
					}
				}
				if s != nil && s.kind != want {
					s = nil // a type error, for the decoder to name
				}
				stack = append(stack, &frame{object: d == '{', wantKey: d == '{', shape: s})
			default:
				stack = stack[:len(stack)-1]
			}
			continue
		}
		if top == nil || !top.object {
			continue
		}
		if !top.wantKey {
			top.wantKey = true
			continue
		}
		key := tok.(string)
		if _, dup := top.keys[key]; dup {
			return errorf(shown(key), "field %s appears more than once", quoteName(key))
		}
		if top.keys == nil {
			top.keys = map[string]struct{}{}
		}
		top.keys[key] = struct{}{}
		top.wantKey = false
		top.value = nil
		if s := top.shape; s != nil {
			switch s.kind {
			case kindStruct:
				fs, ok := s.fields[key]
				if !ok {
					return unknownField(key, s)
				}
				top.value = fs
			case kindMap:
				top.value = s.elem
			}
		}
	}
}

// unknownField names the field; if it folds to a known one, as
// encoding/json would have matched it, the message says which, since that
// name is ours to show. s is nil when the struct's names are not known.
func unknownField(key string, s *shape) error {
	var known string
	if s != nil {
		for name := range s.fields {
			if strings.EqualFold(key, name) && (known == "" || name < known) {
				known = name
			}
		}
	}
	if known != "" {
		return errorf(shown(key), "unknown field %s (field names are case-sensitive: did you mean %q?)", quoteName(key), known)
	}
	return errorf(shown(key), "unknown field %s", quoteName(key))
}

// shown is name if quoteName shows it, else "".
func shown(name string) string {
	if quoteName(name) == hidden {
		return ""
	}
	return name
}
