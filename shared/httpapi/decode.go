package httpapi

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/keygate/keygate/shared/keygate"
)

// MaxBody is the largest request body (and direct-invocation event) accepted.
const MaxBody = 16 << 10

// decodeStrict decodes one JSON object into v. Unknown fields, wrong types,
// trailing data, invalid UTF-8 and duplicate names are client errors whose
// messages say what is wrong without echoing the input back.
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
	if err := checkDuplicates(trimmed); err != nil {
		return err
	}
	dec := json.NewDecoder(bytes.NewReader(trimmed))
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
		return keygate.Errorf(keygate.Invalid, "field %q must be %s", typeErr.Field, jsonKind(typeErr.Type.String()))
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

// checkDuplicates rejects objects that name a member twice: encoding/json
// silently keeps the last, so {"role":"viewer","role":"admin"} could mean
// different things to different readers.
func checkDuplicates(data []byte) error {
	dec := json.NewDecoder(bytes.NewReader(data))
	type frame struct {
		object  bool
		wantKey bool
		keys    map[string]bool
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
				if top != nil && top.object {
					top.wantKey = true
				}
				stack = append(stack, &frame{object: d == '{', wantKey: d == '{', keys: map[string]bool{}})
			default:
				stack = stack[:len(stack)-1]
			}
			continue
		}
		if top == nil || !top.object {
			continue
		}
		if top.wantKey {
			key := tok.(string)
			if top.keys[key] {
				return keygate.Errorf(keygate.Invalid, "field %s appears more than once", quoteName(key))
			}
			top.keys[key] = true
			top.wantKey = false
		} else {
			top.wantKey = true
		}
	}
}
