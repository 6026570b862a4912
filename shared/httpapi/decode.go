package httpapi

import (
	"bytes"
	"encoding"
	"encoding/json"
	"errors"
	"io"
	"reflect"
	"strconv"
	"strings"
	"sync"
	"unicode"
	"unicode/utf8"

	"github.com/keygate/keygate/shared/keygate"
)

// MaxBody is the largest request body (and direct-invocation event) accepted.
const MaxBody = 16 << 10

// decodeStrict decodes one JSON object into v. Field names must match a
// json tag exactly, at every level that decodes into a struct; unknown
// fields, wrong types, trailing data, invalid UTF-8 and duplicate names are
// client errors whose messages say what is wrong without echoing the input
// back.
func decodeStrict(data []byte, v any) error {
	if len(data) > MaxBody {
		return keygate.Errorf(keygate.PayloadTooLarge, "request body is larger than %d bytes", MaxBody)
	}
	if !utf8.Valid(data) {
		return keygate.Errorf(keygate.Invalid, "request body is not valid UTF-8")
	}
	trimmed := bytes.TrimSpace(data)
	if len(trimmed) == 0 || trimmed[0] != '{' {
		return keygate.Errorf(keygate.Invalid, "request body must be a JSON object")
	}
	// encoding/json matches names case-insensitively, with Unicode folds
	// ("ſ" for "s", the Kelvin sign for "k"), and keeps the last of two
	// members that fold together: {"tenant":"acme","Tenant":"victim"} would
	// act on victim. So names are checked exactly before it sees them.
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
		return keygate.Errorf(keygate.Invalid, "request body must hold a single JSON object")
	}
	return nil
}

func decodeError(err error) error {
	var typeErr *json.UnmarshalTypeError
	var syntaxErr *json.SyntaxError
	switch {
	case errors.As(err, &typeErr):
		if typeErr.Field == "" {
			return keygate.Errorf(keygate.Invalid, "request body must be a JSON object")
		}
		return keygate.Errorf(keygate.Invalid, "field %s must be %s", quoteName(typeErr.Field), jsonKind(typeErr.Type.String()))
	case errors.As(err, &syntaxErr), errors.Is(err, io.ErrUnexpectedEOF):
		return keygate.Errorf(keygate.Invalid, "request body is not valid JSON")
	case strings.HasPrefix(err.Error(), "json: unknown field "):
		name, _ := strconv.Unquote(strings.TrimPrefix(err.Error(), "json: unknown field "))
		return keygate.Errorf(keygate.Invalid, "unknown field %s", quoteName(name))
	default:
		return keygate.Errorf(keygate.Invalid, "request body is not valid JSON")
	}
}

// quoteName quotes a client-supplied name for an error message only if it
// looks like a field name: messages are logged, and people paste tokens
// in the oddest places.
func quoteName(name string) string {
	if len(name) == 0 || len(name) > 40 {
		return "(not shown)"
	}
	for _, c := range name {
		if !(c == '_' || c == '-' || c == '.' || '0' <= c && c <= '9' || 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z') {
			return "(not shown)"
		}
	}
	return strconv.Quote(name)
}

func jsonKind(goType string) string {
	switch {
	case strings.HasPrefix(goType, "[]"):
		return "an array of strings"
	case strings.Contains(goType, "int"):
		return "a whole number"
	case goType == "bool":
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
			return keygate.Errorf(keygate.Invalid, "request body is not valid JSON")
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
			return keygate.Errorf(keygate.Invalid, "field %s appears more than once", quoteName(key))
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
// name is ours to show.
func unknownField(key string, s *shape) error {
	var known string
	for name := range s.fields {
		if strings.EqualFold(key, name) && (known == "" || name < known) {
			known = name
		}
	}
	if known != "" {
		return keygate.Errorf(keygate.Invalid, "unknown field %s (field names are case-sensitive: did you mean %q?)", quoteName(key), known)
	}
	return keygate.Errorf(keygate.Invalid, "unknown field %s", quoteName(key))
}
