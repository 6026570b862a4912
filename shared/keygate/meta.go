package keygate

import (
	"encoding/json"
	"strconv"
	"unicode"
	"unicode/utf16"
	"unicode/utf8"
)

// Limits of a key's meta beyond its size (MaxMetaBytes): how deep objects
// and arrays nest (the top-level object is level 1) and how long a member
// name is, in characters.
const (
	MaxMetaDepth  = 4
	MaxMetaKeyLen = 64
)

// Errors of ParseMeta and CheckExternalID: Invalid, naming the field, and
// quoting nothing of the value (people paste tokens in the oddest places).
var (
	errMetaObject = Errorf(Invalid, "meta must be a JSON object")
	errMetaJSON   = Errorf(Invalid, "meta is not valid JSON")
	errMetaSize   = Errorf(Invalid, "meta must be at most %d bytes as compact JSON", MaxMetaBytes)
	errMetaDepth  = Errorf(Invalid, "meta may nest objects and arrays at most %d levels deep", MaxMetaDepth)
	errMetaKey    = Errorf(Invalid, "meta member names must be 1-%d characters", MaxMetaKeyLen)
	errMetaDup    = Errorf(Invalid, "meta has a member name twice in one object")
	errMetaUTF8   = Errorf(Invalid, "meta must be valid UTF-8, without lone surrogates in \\u escapes")
	errMetaNumber = Errorf(Invalid, "meta numbers must fit a 64-bit float")
	errExternalID = Errorf(Invalid, "external_id must be 1-%d printable characters without spaces", MaxExternalIDLen)
)

// ParseMeta validates a key's meta as a request gives it and returns it
// as compact JSON: a JSON object of at most MaxMetaBytes once compacted,
// nesting at most MaxMetaDepth levels, member names of 1 to MaxMetaKeyLen
// characters, each name once per object, valid UTF-8 (a \u escape of a
// lone surrogate included), numbers that fit a float64. Values may be any
// JSON. The compact form keeps the input's strings and numbers as written
// (escapes included) and drops only the whitespace between tokens, so
// ParseMeta of its own output returns it unchanged. Its errors are Invalid
// and name the field.
//
// It is a hand-written scanner, not encoding/json: encoding/json keeps
// the last of two equal names, and turns invalid UTF-8 and lone
// surrogates into U+FFFD, where meta must mean one thing to every reader.
func ParseMeta(raw []byte) (json.RawMessage, error) {
	p := metaParser{in: raw, out: make([]byte, 0, min(len(raw), MaxMetaBytes))}
	p.space()
	if p.pos >= len(p.in) || p.in[p.pos] != '{' {
		return nil, errMetaObject
	}
	if err := p.value(0); err != nil {
		return nil, err
	}
	p.space()
	if p.pos != len(p.in) {
		return nil, errMetaJSON
	}
	return json.RawMessage(p.out), nil
}

// metaParser reads in from pos, appending the compact form to out.
type metaParser struct {
	in  []byte
	pos int
	out []byte
}

func (p *metaParser) space() {
	for p.pos < len(p.in) {
		switch p.in[p.pos] {
		case ' ', '\t', '\n', '\r':
			p.pos++
		default:
			return
		}
	}
}

// emit appends b to the output, refusing output past MaxMetaBytes (so a
// large input stops being read as soon as it is too large).
func (p *metaParser) emit(b ...byte) error {
	if len(p.out)+len(b) > MaxMetaBytes {
		return errMetaSize
	}
	p.out = append(p.out, b...)
	return nil
}

func (p *metaParser) emitString(s string) error {
	if len(p.out)+len(s) > MaxMetaBytes {
		return errMetaSize
	}
	p.out = append(p.out, s...)
	return nil
}

// value reads one JSON value inside depth levels of objects and arrays.
func (p *metaParser) value(depth int) error {
	p.space()
	if p.pos >= len(p.in) {
		return errMetaJSON
	}
	switch c := p.in[p.pos]; {
	case c == '{':
		return p.object(depth + 1)
	case c == '[':
		return p.array(depth + 1)
	case c == '"':
		_, err := p.str(false)
		return err
	case c == '-' || '0' <= c && c <= '9':
		return p.number()
	case c == 't':
		return p.literal("true")
	case c == 'f':
		return p.literal("false")
	case c == 'n':
		return p.literal("null")
	}
	return errMetaJSON
}

func (p *metaParser) literal(word string) error {
	if len(p.in)-p.pos < len(word) || string(p.in[p.pos:p.pos+len(word)]) != word {
		return errMetaJSON
	}
	p.pos += len(word)
	return p.emitString(word)
}

func (p *metaParser) object(depth int) error {
	if depth > MaxMetaDepth {
		return errMetaDepth
	}
	p.pos++ // '{'
	if err := p.emit('{'); err != nil {
		return err
	}
	p.space()
	if p.pos < len(p.in) && p.in[p.pos] == '}' {
		p.pos++
		return p.emit('}')
	}
	seen := map[string]bool{}
	for {
		p.space()
		if p.pos >= len(p.in) || p.in[p.pos] != '"' {
			return errMetaJSON
		}
		name, err := p.str(true)
		if err != nil {
			return err
		}
		if n := utf8.RuneCountInString(name); n < 1 || n > MaxMetaKeyLen {
			return errMetaKey
		}
		if seen[name] {
			return errMetaDup
		}
		seen[name] = true
		p.space()
		if p.pos >= len(p.in) || p.in[p.pos] != ':' {
			return errMetaJSON
		}
		p.pos++
		if err := p.emit(':'); err != nil {
			return err
		}
		if err := p.value(depth); err != nil {
			return err
		}
		if more, err := p.next('}'); !more || err != nil {
			return err
		}
	}
}

func (p *metaParser) array(depth int) error {
	if depth > MaxMetaDepth {
		return errMetaDepth
	}
	p.pos++ // '['
	if err := p.emit('['); err != nil {
		return err
	}
	p.space()
	if p.pos < len(p.in) && p.in[p.pos] == ']' {
		p.pos++
		return p.emit(']')
	}
	for {
		if err := p.value(depth); err != nil {
			return err
		}
		if more, err := p.next(']'); !more || err != nil {
			return err
		}
	}
}

// str reads a string at pos (its opening quote), copying it as written;
// with decode it also returns its value (member names are compared by
// value: "a" and "\u0061" are the same name).
func (p *metaParser) str(decode bool) (string, error) {
	start := p.pos
	p.pos++
	var val []byte
	for {
		if p.pos >= len(p.in) {
			return "", errMetaJSON
		}
		c := p.in[p.pos]
		switch {
		case c == '"':
			p.pos++
			return string(val), p.emit(p.in[start:p.pos]...)
		case c < 0x20:
			return "", errMetaJSON
		case c == '\\':
			r, err := p.escape()
			if err != nil {
				return "", err
			}
			if decode {
				val = utf8.AppendRune(val, r)
			}
		case c < utf8.RuneSelf:
			p.pos++
			if decode {
				val = append(val, c)
			}
		default:
			r, n := utf8.DecodeRune(p.in[p.pos:])
			if r == utf8.RuneError && n <= 1 {
				return "", errMetaUTF8
			}
			if decode {
				val = append(val, p.in[p.pos:p.pos+n]...)
			}
			p.pos += n
		}
	}
}

// escape reads the escape sequence at pos (its backslash): a surrogate
// pair is one rune, a lone surrogate an error.
func (p *metaParser) escape() (rune, error) {
	if p.pos+1 >= len(p.in) {
		return 0, errMetaJSON
	}
	c := p.in[p.pos+1]
	p.pos += 2
	switch c {
	case '"', '\\', '/':
		return rune(c), nil
	case 'b':
		return '\b', nil
	case 'f':
		return '\f', nil
	case 'n':
		return '\n', nil
	case 'r':
		return '\r', nil
	case 't':
		return '\t', nil
	case 'u':
	default:
		return 0, errMetaJSON
	}
	r, ok := p.hex4()
	if !ok {
		return 0, errMetaJSON
	}
	switch {
	case utf16.IsSurrogate(r) && r < 0xdc00: // a high surrogate: its pair must follow
		if p.pos+1 >= len(p.in) || p.in[p.pos] != '\\' || p.in[p.pos+1] != 'u' {
			return 0, errMetaUTF8
		}
		p.pos += 2
		lo, ok := p.hex4()
		if !ok {
			return 0, errMetaJSON
		}
		if pair := utf16.DecodeRune(r, lo); pair != unicode.ReplacementChar {
			return pair, nil
		}
		return 0, errMetaUTF8
	case utf16.IsSurrogate(r):
		return 0, errMetaUTF8
	}
	return r, nil
}

func (p *metaParser) hex4() (rune, bool) {
	if len(p.in)-p.pos < 4 {
		return 0, false
	}
	n, err := strconv.ParseUint(string(p.in[p.pos:p.pos+4]), 16, 32)
	if err != nil {
		return 0, false
	}
	p.pos += 4
	return rune(n), true
}

// number reads a JSON number at pos, by JSON's grammar, and refuses one a
// float64 cannot hold (1e400): readers in most languages would see
// infinity, or fail.
func (p *metaParser) number() error {
	start := p.pos
	if p.peek('-') {
		p.pos++
	}
	switch {
	case p.peek('0'):
		p.pos++
	case p.digits() == 0:
		return errMetaJSON
	}
	if p.peek('.') {
		p.pos++
		if p.digits() == 0 {
			return errMetaJSON
		}
	}
	if p.peek('e') || p.peek('E') {
		p.pos++
		if p.peek('+') || p.peek('-') {
			p.pos++
		}
		if p.digits() == 0 {
			return errMetaJSON
		}
	}
	text := p.in[start:p.pos]
	if len(text) > MaxMetaBytes {
		return errMetaSize
	}
	if _, err := strconv.ParseFloat(string(text), 64); err != nil {
		return errMetaNumber
	}
	return p.emit(text...)
}

func (p *metaParser) peek(c byte) bool { return p.pos < len(p.in) && p.in[p.pos] == c }

func (p *metaParser) digits() int {
	n := 0
	for p.pos < len(p.in) && '0' <= p.in[p.pos] && p.in[p.pos] <= '9' {
		p.pos++
		n++
	}
	return n
}

// CheckExternalID validates a key's external_id: 1 to MaxExternalIDLen
// characters of valid UTF-8, each printable and none a space (it is a
// list filter, and a part of an index key). Its errors are Invalid and
// name the field.
func CheckExternalID(s string) error {
	if s == "" || !utf8.ValidString(s) || utf8.RuneCountInString(s) > MaxExternalIDLen {
		return errExternalID
	}
	for _, r := range s {
		if r == ' ' || !unicode.IsPrint(r) {
			return errExternalID
		}
	}
	return nil
}

// next reads what follows a member or element: a comma (more to come) or
// the closing bracket close; anything else is not JSON.
func (p *metaParser) next(close byte) (more bool, err error) {
	p.space()
	if p.pos >= len(p.in) {
		return false, errMetaJSON
	}
	c := p.in[p.pos]
	p.pos++
	if err := p.emit(c); err != nil {
		return false, err
	}
	switch c {
	case ',':
		return true, nil
	case close:
		return false, nil
	}
	return false, errMetaJSON
}
