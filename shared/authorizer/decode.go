package authorizer

import (
	"bytes"
	"unicode/utf16"
	"unicode/utf8"
)

// This file is the authorizer's event decoder. The handler runs on every
// request of every API that attaches it, and decoding the event with
// encoding/json (once to find its shape, once into aws-lambda-go's struct)
// was most of its cost: tens of microseconds and dozens of allocations per
// event, for three or four strings out of a kilobyte. decodeEvent scans the
// bytes once, validates them as JSON, and keeps only what the authorizer
// reads, as slices of the event: version, type, methodArn, routeArn,
// authorizationToken, the Authorization and X-API-Key headers and the
// token query parameter.
//
// What it yields is what encoding/json yields into aws-lambda-go's event
// types (FuzzDecodeEvent checks it against them):
//   - input that is not valid JSON, or whose top level is not an object,
//     is refused, as json.Unmarshal refuses it (nesting deeper than
//     encoding/json's 10,000 levels included);
//   - object keys match field names case-insensitively, with Unicode
//     simple folding (strings.EqualFold), as encoding/json matches them;
//   - a repeated key: the last one wins; a null leaves a string field as
//     it was and empties a map; repeated "headers" objects merge, as
//     encoding/json reuses the map it already made;
//   - strings are unquoted as encoding/json does: escapes, surrogate
//     pairs, and U+FFFD for invalid UTF-8 and lone surrogates;
//   - a field the authorizer reads holding the wrong JSON type (a number
//     for methodArn, an array for headers, a number as a header's value)
//     is refused when the event's shape has that field, as json.Unmarshal
//     reports an error there. A wrong type in a field the authorizer does
//     not read (requestContext, say) is an error to encoding/json but not
//     to this decoder: the fields it yields are then the ones
//     encoding/json filled in anyway, since it carries on after a type
//     error.
//
// This tolerance is deliberate: API Gateway writes the event, and AWS adds
// fields to its events over time. Strict decoding (shared/strictjson) is
// for what people write: the management functions' bodies and direct
// events.
//
// Header names are matched as tokenFrom always did, case-insensitively;
// when several spellings of Authorization are present (which API Gateway
// never sends), the last one in the event wins, where the map-based code
// took whichever Go's map iteration gave first.

// maxDepth is encoding/json's nesting limit: deeper input is an error.
const maxDepth = 10000

// eventFields is what the authorizer reads from an event. Slices point
// into the event, or into a fresh buffer when a string held escapes.
type eventFields struct {
	str            [nStrings][]byte // the string fields, by field
	headers, query mapFields

	// Type errors, by field: encoding/json reports them only if the
	// shape's struct has the field, which is known once all is read.
	bad [nFields]bool
}

// mapFields is what the authorizer reads from a map[string]string field.
type mapFields struct {
	authorization, apiKey, token          []byte
	hasAuthorization, hasAPIKey, hasToken bool
}

// field names the top-level keys the decoder keeps: the string fields
// first, indexing eventFields.str, then the maps.
type field uint8

const (
	fVersion field = iota
	fType
	fMethodArn
	fRouteArn
	fAuthorizationToken
	fHeaders
	fQuery
	fOther // a key the decoder skips

	nStrings = fHeaders // the string fields are those before the maps
	nFields  = fOther
)

// fieldKeys are the fields' JSON keys, by field.
var fieldKeys = [nFields][]byte{
	fVersion:            []byte("version"),
	fType:               []byte("type"),
	fMethodArn:          []byte("methodArn"),
	fRouteArn:           []byte("routeArn"),
	fAuthorizationToken: []byte("authorizationToken"),
	fHeaders:            []byte("headers"),
	fQuery:              []byte("queryStringParameters"),
}

// classify matches a key to a field as encoding/json matches it to a
// struct field: exactly, else under Unicode case folding.
func classify(key []byte) field {
	if len(key) == 0 || len(key) > 3*len("queryStringParameters") {
		// No folding triples a byte length, so longer keys cannot match.
		return fOther
	}
	for k, name := range &fieldKeys {
		if bytes.EqualFold(key, name) {
			return field(k)
		}
	}
	return fOther
}

// shape is detect's rule, on the decoded version and type.
func (f *eventFields) shape() Shape {
	// string(b) == "..." compares without allocating.
	version, typ := f.str[fVersion], f.str[fType]
	switch {
	case string(version) == "2.0":
		return HTTPv2
	case string(version) == "1.0" && string(typ) == "REQUEST":
		return HTTPv1
	case string(typ) == "TOKEN":
		return RESTToken
	case string(typ) == "REQUEST":
		return RESTRequest
	}
	return ""
}

// typeError reports whether json.Unmarshal into shape's aws-lambda-go
// struct would fail on a field the decoder reads.
func (f *eventFields) typeError(shape Shape) bool {
	bad := &f.bad
	switch shape {
	case RESTToken: // APIGatewayCustomAuthorizerRequest
		return bad[fMethodArn] || bad[fAuthorizationToken]
	case RESTRequest: // APIGatewayCustomAuthorizerRequestTypeRequest
		return bad[fMethodArn] || bad[fHeaders] || bad[fQuery]
	case HTTPv1: // APIGatewayV2CustomAuthorizerV1Request
		return bad[fMethodArn] || bad[fAuthorizationToken] || bad[fHeaders] || bad[fQuery]
	case HTTPv2: // APIGatewayV2CustomAuthorizerV2Request
		return bad[fRouteArn] || bad[fHeaders] || bad[fQuery]
	}
	return true
}

// arn is the ARN the shape carries its route in.
func (f *eventFields) arn(shape Shape) []byte {
	if shape == HTTPv2 {
		return f.str[fRouteArn]
	}
	return f.str[fMethodArn]
}

// decodeEvent reads an event. ok is false for input json.Unmarshal
// refuses; shape is "" when the probe of version and type would have
// failed or found no known shape, as detect reported it.
func decodeEvent(b []byte) (f eventFields, shape Shape, ok bool) {
	s := scanner{b: b}
	s.ws()
	if !s.peek('{') {
		// Not an object: an array, string, number or bool is a type error
		// to encoding/json, null leaves everything empty (no shape), and
		// anything else is a syntax error.
		return f, "", false
	}
	for key, more := s.firstKey(1); more; key, more = s.nextKey() {
		f.member(&s, key)
	}
	if s.failed {
		return f, "", false
	}
	s.ws()
	if s.i != len(b) { // encoding/json refuses anything after the value
		return f, "", false
	}
	if f.bad[fVersion] || f.bad[fType] { // the probe's type error
		return f, "", false
	}
	shape = f.shape()
	if shape == "" || f.typeError(shape) {
		return f, shape, false
	}
	return f, shape, true
}

// member reads one top-level key's value.
func (f *eventFields) member(s *scanner, key []byte) {
	switch k := classify(key); {
	case k < nStrings:
		var bad bool
		f.str[k], bad = s.stringField(f.str[k])
		f.bad[k] = f.bad[k] || bad
	case k == fHeaders:
		f.bad[k] = s.mapField(&f.headers, true) || f.bad[k]
	case k == fQuery:
		f.bad[k] = s.mapField(&f.query, false) || f.bad[k]
	default:
		s.value(1)
	}
}

// scanner walks JSON bytes. A syntax error sets failed; callers stop.
type scanner struct {
	b      []byte
	i      int
	failed bool
}

func (s *scanner) fail() bool {
	s.failed = true
	return false
}

func (s *scanner) ws() {
	for s.i < len(s.b) {
		switch s.b[s.i] {
		case ' ', '\t', '\n', '\r':
			s.i++
		default:
			return
		}
	}
}

func (s *scanner) peek(c byte) bool { return s.i < len(s.b) && s.b[s.i] == c }

// firstKey enters the object at s.i, whose members are at depth, and
// reads its first key, leaving s.i at the value; more is false for an
// empty object or an error (s.failed). Iterating with firstKey and nextKey
// rather than a callback keeps the scanner on the stack.
func (s *scanner) firstKey(depth int) (key []byte, more bool) {
	if depth > maxDepth {
		return nil, s.fail()
	}
	s.i++ // '{'
	s.ws()
	if s.peek('}') {
		s.i++
		return nil, false
	}
	return s.key()
}

// nextKey reads the key after a member's value, or the object's end.
func (s *scanner) nextKey() (key []byte, more bool) {
	if s.failed {
		return nil, false
	}
	s.ws()
	switch {
	case s.peek(','):
		s.i++
		s.ws()
		return s.key()
	case s.peek('}'):
		s.i++
		return nil, false
	}
	return nil, s.fail()
}

// key reads `"key" :` and the spaces after it.
func (s *scanner) key() ([]byte, bool) {
	if !s.peek('"') {
		return nil, s.fail()
	}
	raw, plain, ok := s.str()
	if !ok {
		return nil, false
	}
	if !plain {
		raw = unquote(raw)
	}
	s.ws()
	if !s.peek(':') {
		return nil, s.fail()
	}
	s.i++
	s.ws()
	return raw, true
}

// stringField reads the value of a string field: a string replaces prev,
// null keeps it (as encoding/json does), anything else is skipped and
// reported as a type error.
func (s *scanner) stringField(prev []byte) (v []byte, typeErr bool) {
	switch {
	case s.peek('"'):
		raw, plain, ok := s.str()
		if !ok {
			return prev, false
		}
		if !plain {
			raw = unquote(raw)
		}
		return raw, false
	case s.peek('n'):
		s.literal("null")
		return prev, false
	}
	s.value(1)
	return prev, true
}

// mapField reads a map[string]string field into m: null empties the map,
// an object adds to it, anything else is a type error. headers selects
// what is kept: the Authorization and X-API-Key headers, by any case of
// their names, or else the query's "token" (a Go map key: exact).
func (s *scanner) mapField(m *mapFields, headers bool) (typeErr bool) {
	switch {
	case s.peek('n'):
		s.literal("null")
		*m = mapFields{}
		return false
	case !s.peek('{'):
		s.value(1)
		return true
	}
	for key, more := s.firstKey(2); more; key, more = s.nextKey() {
		var v []byte
		switch {
		case s.peek('"'):
			raw, plain, ok := s.str()
			if !ok {
				return false
			}
			v = raw
			if !plain {
				v = unquote(raw)
			}
		case s.peek('n'):
			// encoding/json stores "" for a null element.
			s.literal("null")
		default:
			// A wrong-typed element: stored as "" with a type error.
			s.value(2)
			typeErr = true
		}
		switch {
		case !headers:
			if string(key) == "token" {
				m.token, m.hasToken = v, true
			}
		case bytes.EqualFold(key, []byte("Authorization")):
			m.authorization, m.hasAuthorization = v, true
		case bytes.EqualFold(key, []byte("X-API-Key")):
			m.apiKey, m.hasAPIKey = v, true
		}
	}
	return typeErr
}

// value skips any JSON value at s.i, validating it. depth is that of the
// container holding it.
func (s *scanner) value(depth int) bool {
	if s.i >= len(s.b) {
		return s.fail()
	}
	switch c := s.b[s.i]; {
	case c == '"':
		_, _, ok := s.str()
		return ok
	case c == '{':
		for _, more := s.firstKey(depth + 1); more; _, more = s.nextKey() {
			s.value(depth + 1)
		}
		return !s.failed
	case c == '[':
		return s.array(depth + 1)
	case c == 't':
		return s.literal("true")
	case c == 'f':
		return s.literal("false")
	case c == 'n':
		return s.literal("null")
	case c == '-' || ('0' <= c && c <= '9'):
		return s.number()
	}
	return s.fail()
}

func (s *scanner) array(depth int) bool {
	if depth > maxDepth {
		return s.fail()
	}
	s.i++ // '['
	s.ws()
	if s.peek(']') {
		s.i++
		return true
	}
	for {
		if !s.value(depth) {
			return false
		}
		s.ws()
		switch {
		case s.peek(','):
			s.i++
			s.ws()
		case s.peek(']'):
			s.i++
			return true
		default:
			return s.fail()
		}
	}
}

func (s *scanner) literal(lit string) bool {
	if len(s.b)-s.i < len(lit) || string(s.b[s.i:s.i+len(lit)]) != lit {
		return s.fail()
	}
	s.i += len(lit)
	return true
}

// number reads -?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?.
func (s *scanner) number() bool {
	if s.peek('-') {
		s.i++
	}
	switch {
	case s.peek('0'):
		s.i++
	case s.i < len(s.b) && '1' <= s.b[s.i] && s.b[s.i] <= '9':
		s.digits()
	default:
		return s.fail()
	}
	if s.peek('.') {
		s.i++
		if !s.digits() {
			return s.fail()
		}
	}
	if s.peek('e') || s.peek('E') {
		s.i++
		if s.peek('+') || s.peek('-') {
			s.i++
		}
		if !s.digits() {
			return s.fail()
		}
	}
	return true
}

// digits reads one or more digits.
func (s *scanner) digits() bool {
	start := s.i
	for s.i < len(s.b) && '0' <= s.b[s.i] && s.b[s.i] <= '9' {
		s.i++
	}
	return s.i > start
}

// plainByte marks the bytes a string holds as they are: printable ASCII
// other than the quote and the backslash.
var plainByte = func() (t [256]bool) {
	for c := 0x20; c < utf8.RuneSelf; c++ {
		t[c] = c != '"' && c != '\\'
	}
	return t
}()

// str reads a string at s.i (its opening quote) and returns its raw
// content. plain reports that the content is its own value: no escapes
// and nothing but ASCII, so unquote need not run.
func (s *scanner) str() (raw []byte, plain, ok bool) {
	start := s.i + 1
	i := start
	plain = true
	for {
		for i < len(s.b) && plainByte[s.b[i]] {
			i++
		}
		if i >= len(s.b) {
			return nil, false, s.fail()
		}
		switch c := s.b[i]; {
		case c == '"':
			s.i = i + 1
			return s.b[start:i], plain, true
		case c == '\\':
			plain = false
			if i+1 >= len(s.b) {
				return nil, false, s.fail()
			}
			switch s.b[i+1] {
			case '"', '\\', '/', 'b', 'f', 'n', 'r', 't':
				i += 2
			case 'u':
				if i+6 > len(s.b) || hex4(s.b[i+2:i+6]) < 0 {
					return nil, false, s.fail()
				}
				i += 6
			default:
				return nil, false, s.fail()
			}
		case c < 0x20: // control characters must be escaped
			return nil, false, s.fail()
		default: // non-ASCII: checked for valid UTF-8 by unquote
			plain = false
			i++
		}
	}
}

// hex4 decodes four hex digits, or returns -1.
func hex4(b []byte) rune {
	var r rune
	for _, c := range b[:4] {
		switch {
		case '0' <= c && c <= '9':
			c -= '0'
		case 'a' <= c && c <= 'f':
			c = c - 'a' + 10
		case 'A' <= c && c <= 'F':
			c = c - 'A' + 10
		default:
			return -1
		}
		r = r*16 + rune(c)
	}
	return r
}

// unquote decodes the content of a string str validated, as
// encoding/json's unquote does: escapes, surrogate pairs (a lone or
// mismatched surrogate becomes U+FFFD and the escape after it is read on
// its own), and U+FFFD for each byte of invalid UTF-8.
func unquote(raw []byte) []byte {
	out := make([]byte, 0, len(raw)+8)
	for i := 0; i < len(raw); {
		c := raw[i]
		switch {
		case c == '\\':
			switch raw[i+1] {
			case 'b':
				out = append(out, '\b')
			case 'f':
				out = append(out, '\f')
			case 'n':
				out = append(out, '\n')
			case 'r':
				out = append(out, '\r')
			case 't':
				out = append(out, '\t')
			case 'u':
				r := hex4(raw[i+2:])
				i += 6
				if utf16.IsSurrogate(r) {
					if i+6 <= len(raw) && raw[i] == '\\' && raw[i+1] == 'u' {
						if dec := utf16.DecodeRune(r, hex4(raw[i+2:])); dec != utf8.RuneError {
							i += 6
							out = utf8.AppendRune(out, dec)
							continue
						}
					}
					r = utf8.RuneError
				}
				out = utf8.AppendRune(out, r)
				continue
			default: // '"', '\\', '/'
				out = append(out, raw[i+1])
			}
			i += 2
		case c < utf8.RuneSelf:
			out = append(out, c)
			i++
		default:
			r, n := utf8.DecodeRune(raw[i:])
			if r == utf8.RuneError && n == 1 {
				out = utf8.AppendRune(out, utf8.RuneError)
			} else {
				out = append(out, raw[i:i+n]...)
			}
			i += n
		}
	}
	return out
}
