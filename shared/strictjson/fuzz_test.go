package strictjson

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"testing"
	"unicode/utf8"
)

// names is the fuzz oracle's own idea of which member names a type takes,
// written out by hand rather than derived by reflection like shapeOf.
// A nil *names takes any names (map keys, raw values, scalars).
type names struct {
	fields map[string]*names // exact names of a struct
	elem   *names            // each element of an array or value of a map
	isMap  bool
}

func structNames(fields map[string]*names) *names { return &names{fields: fields} }

func flat(list ...string) *names {
	m := map[string]*names{}
	for _, n := range list {
		m[n] = nil
	}
	return structNames(m)
}

var (
	createNames = []string{"owner", "name", "role", "scopes", "expires_at", "expires_in_hours"}
	itemNames   = flat("id", "label")
	fuzzTypes   = []struct {
		new   func() any
		names *names
	}{
		{newCreate, flat(append([]string{"op", "tenant", "idempotency_key"}, createNames...)...)},
		{func() any { return new(CreateRequest) }, flat(createNames...)},
		{newList, flat("tenant", "id", "status", "limit", "cursor")},
		{newSettings, flat("tenant", "owner_email", "reminder_days")},
		{newBody, structNames(map[string]*names{
			"tenant": nil, "name": nil, "scopes": nil, "limit": nil, "extra": nil, "raw": nil,
			"at": nil, "any": nil, "Plain": nil, "note": nil,
			"meta": itemNames, "item": itemNames,
			"items": {elem: itemNames},
			"tags":  {elem: itemNames, isMap: true},
		})},
	}
)

// FuzzDecodeExactNames: whatever Decode accepts names only exact known
// fields, once each, at every level that is a struct, and survives a round
// trip unchanged; whatever it refuses is an *Error whose message quotes
// nothing that does not look like a field name, and whose Field is a name
// the message shows; and it refuses nothing that exact names and
// encoding/json would both accept, but for two deliberate differences:
// escaped lone surrogates, and values that decode themselves held to their
// format to the letter. encoding/json is the oracle: Decode is
// go-json-experiment/json, a different implementation.
func FuzzDecodeExactNames(f *testing.F) {
	k := "\u212a"
	for _, seed := range []string{
		`{"name":"a","Name":"b"}`, `{"tenant":"acme","owner":"bob","Tenant":"victim"}`, `{"Tenant":"victim"}`,
		`{"tenant":"acme","ſcopes":["GET /x"]}`, `{"tenant":"acme","scopes":[],"ſcopes":["*"]}`, `{"NAME":"x"}`,
		`{"tenant":"acme","idempotency_` + k + `ey":"k2"}`, `{"tenant":"acme","idempotency_\u212aey":"k2"}`,
		`{"tenant":"acme","Role":"admin"}`, `{"tenant":"acme","ID":"AAAAAAAAAAAAAAAAA"}`,
		`{"tenant":"acme","Tenant":"victim","owner_email":"x@evil.example"}`, `{"tenant":"acme","reminder_days":[14,3]}`,
		`{"item":{"id":"a","Label":"b"}}`, `{"meta":{"Id":"a"}}`, `{"items":[{"id":"a"},{"iD":"b"}]}`,
		`{"tags":{"x":{"id":"a"},"Y":{"ID":"b"}}}`, `{"tenant":"acme","CreateRequest":{}}`, `{"Plain":"a","plain":"b"}`,
		`{"tenant":"a","tenant":"b"}`, `{"tenant":"a","\u0074enant":"b"}`, `{"limit":1e400}`, `{"tenant":"a"} {}`,
		`{"tenant":"acme","owner":"bob","name":"n","role":"viewer","scopes":["GET /x"],"expires_at":null,"expires_in_hours":24,"idempotency_key":"k1"}`,
		`{"tenant":"acme","id":"AAAAAAAAAAAAAAAAA","status":"revoked","limit":5,"cursor":"Zm9v"}`,
		`{"tenant":"a","item":{"id":"a","label":"b"},"meta":null,"items":[{"id":"x"},{}],"tags":{"Any Key":{"id":"y"}}}`,
		`{"name":"\ud800"}`, `{"name":"\ud83d\ude00"}`, `{"tenant":"\udc00x"}`,
		`{"extra":{"Tenant":"x","ſ":"y"},"raw":{"Tenant":1,"tenant":2},"any":{"Name":[{"NAME":1}]},"at":"2026-01-02T03:04:05Z","note":"n"}`,
	} {
		for typ := range fuzzTypes {
			f.Add(uint8(typ), []byte(seed))
		}
	}
	f.Fuzz(func(t *testing.T, typ uint8, data []byte) {
		ft := fuzzTypes[int(typ)%len(fuzzTypes)]
		v := ft.new()
		err := Decode(data, v)
		if err != nil {
			checkRefusal(t, data, err)
			// A value that decodes itself may be held to more than
			// encoding/json holds it to (a time must be RFC 3339 to the
			// letter: "T0:00:00Z" has a one-digit hour); that refusal
			// says so, and is not about names.
			var e *Error
			if errors.As(err, &e) && strings.HasSuffix(e.Error(), " has an invalid value") {
				return
			}
			if referenceAccepts(data, ft.new(), ft.names) {
				t.Fatalf("refused what exact names and encoding/json accept: %q: %v", data, err)
			}
			return
		}
		if err := exactNames(data, ft.names); err != nil {
			t.Fatalf("accepted %q: %v", data, err)
		}
		// The decoded value means what the input says: encoding/json reads
		// the same input the same way, and a round trip changes nothing.
		// Marshalled bytes are compared, not values, since omitempty turns
		// [] into an absent field.
		once, err := json.Marshal(v)
		if err != nil {
			t.Fatalf("marshal %q: %v", data, err)
		}
		ref := ft.new()
		if err := json.Unmarshal(data, ref); err != nil {
			t.Fatalf("encoding/json refuses what Decode accepted: %q: %v", data, err)
		}
		if b, _ := json.Marshal(ref); !bytes.Equal(b, once) {
			t.Fatalf("%q: Decode read %s, encoding/json %s", data, once, b)
		}
		again := ft.new()
		if err := Decode(once, again); err != nil {
			t.Fatalf("re-decoding %s (from %q): %v", once, data, err)
		}
		if twice, _ := json.Marshal(again); !bytes.Equal(once, twice) {
			t.Fatalf("round trip of %q: %s then %s", data, once, twice)
		}
	})
}

// checkRefusal: an *Error, every quoted string in its message is one
// quoteName would show, and its Field, if any, is shown in the message.
func checkRefusal(t *testing.T, data []byte, err error) {
	t.Helper()
	var e *Error
	if !errors.As(err, &e) {
		t.Fatalf("%q: %v is not an *Error", data, err)
	}
	msg := e.Error()
	if e.Field != "" && !strings.Contains(msg, strconv.Quote(e.Field)) {
		t.Fatalf("%q: field %q is not in the message %q", data, e.Field, msg)
	}
	for i := strings.IndexByte(msg, '"'); i >= 0; i = strings.IndexByte(msg, '"') {
		q, qerr := strconv.QuotedPrefix(msg[i:])
		if qerr != nil {
			t.Fatalf("%q: stray quote in %q", data, msg)
		}
		s, _ := strconv.Unquote(q)
		if quoteName(s) != q {
			t.Fatalf("%q: message %q quotes %q", data, msg, s)
		}
		msg = msg[i+len(q):]
	}
}

// referenceAccepts is what Decode should accept, built from the
// hand-written names and a plain encoding/json decode of input that is
// valid Unicode throughout: encoding/json turns an escaped lone surrogate
// (\ud800) into U+FFFD, Decode refuses it.
func referenceAccepts(data []byte, v any, n *names) bool {
	trimmed := bytes.TrimSpace(data)
	if !utf8.Valid(data) || len(trimmed) == 0 || trimmed[0] != '{' || loneSurrogate(trimmed) {
		return false
	}
	if exactNames(trimmed, n) != nil {
		return false
	}
	dec := json.NewDecoder(bytes.NewReader(trimmed))
	dec.DisallowUnknownFields()
	if dec.Decode(v) != nil {
		return false
	}
	_, err := dec.Token()
	return err == io.EOF
}

// exactNames checks one JSON value against n: no object names a member
// twice, and each object that is a struct names only its exact fields.
func exactNames(data []byte, n *names) error {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	if err := walkNames(dec, n); err != nil {
		return err
	}
	if _, err := dec.Token(); err != io.EOF {
		return fmt.Errorf("more than one value")
	}
	return nil
}

func walkNames(dec *json.Decoder, n *names) error {
	tok, err := dec.Token()
	if err != nil {
		return err
	}
	switch tok {
	case json.Delim('['):
		var elem *names
		if n != nil && n.fields == nil && !n.isMap {
			elem = n.elem
		}
		for dec.More() {
			if err := walkNames(dec, elem); err != nil {
				return err
			}
		}
	case json.Delim('{'):
		seen := map[string]bool{}
		for dec.More() {
			tok, err := dec.Token()
			if err != nil {
				return err
			}
			key := tok.(string)
			if seen[key] {
				return fmt.Errorf("%q appears twice", key)
			}
			seen[key] = true
			var value *names
			switch {
			case n == nil:
			case n.fields != nil:
				var ok bool
				if value, ok = n.fields[key]; !ok {
					return fmt.Errorf("%q is not a known name", key)
				}
			case n.isMap:
				value = n.elem
			}
			if err := walkNames(dec, value); err != nil {
				return err
			}
		}
	default:
		return nil
	}
	_, err = dec.Token() // the closing delimiter
	return err
}

// loneSurrogate reports whether data has a \uD800-\uDFFF escape that is
// not half of a valid pair.
func loneSurrogate(data []byte) bool {
	for i := 0; i+6 <= len(data); i++ {
		if data[i] != '\\' {
			continue
		}
		if data[i+1] != 'u' {
			i++ // skip the escaped character
			continue
		}
		hi, err := strconv.ParseUint(string(data[i+2:i+6]), 16, 16)
		if err != nil || hi < 0xd800 || hi > 0xdfff {
			i += 5
			continue
		}
		if hi < 0xdc00 && i+12 <= len(data) && data[i+6] == '\\' && data[i+7] == 'u' {
			if lo, err := strconv.ParseUint(string(data[i+8:i+12]), 16, 16); err == nil && lo >= 0xdc00 && lo <= 0xdfff {
				i += 11
				continue
			}
		}
		return true
	}
	return false
}
