package keygate

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"
)

func TestParseMeta(t *testing.T) {
	deep := func(n int) string { return strings.Repeat(`{"a":`, n) + "1" + strings.Repeat("}", n) }
	long := `{"k":"` + strings.Repeat("x", MaxMetaBytes-8) + `"}` // exactly MaxMetaBytes
	for _, tc := range []struct {
		name, in, want string
		err            error
	}{
		{"object", `{"plan":"pro","seats":3}`, `{"plan":"pro","seats":3}`, nil},
		{"compacted", " {\n\t\"plan\" : \"pro\" ,\r\n \"tags\": [ 1 , true, null, {} ] } ", `{"plan":"pro","tags":[1,true,null,{}]}`, nil},
		{"empty object", `{}`, `{}`, nil},
		{"escapes kept", `{"a":"\u00e9\n\"\ud83d\ude00"}`, `{"a":"\u00e9\n\"\ud83d\ude00"}`, nil},
		{"raw unicode", `{"名前":"é😀"}`, `{"名前":"é😀"}`, nil},
		{"numbers", `{"a":-0.5e+10,"b":0,"c":1E-400,"d":123456789012345678901234567890}`, `{"a":-0.5e+10,"b":0,"c":1E-400,"d":123456789012345678901234567890}`, nil},
		{"depth 4", deep(4), deep(4), nil},
		{"arrays count as levels", `{"a":[[[1]]]}`, `{"a":[[[1]]]}`, nil},
		{"exactly 1 KiB", long, long, nil},
		{"64-character name", `{"` + strings.Repeat("é", 64) + `":1}`, `{"` + strings.Repeat("é", 64) + `":1}`, nil},
		{"same name in two objects", `{"a":{"a":1},"b":{"a":2}}`, `{"a":{"a":1},"b":{"a":2}}`, nil},

		{"empty", ``, "", errMetaObject},
		{"null", `null`, "", errMetaObject},
		{"array", `[{"a":1}]`, "", errMetaObject},
		{"string", `"x"`, "", errMetaObject},
		{"number", `1`, "", errMetaObject},
		{"1 KiB + 1", `{"k":"` + strings.Repeat("x", MaxMetaBytes-7) + `"}`, "", errMetaSize},
		{"large only with spaces is fine", `{"k":` + strings.Repeat(" ", 5000) + `1}`, `{"k":1}`, nil},
		{"depth 5", deep(5), "", errMetaDepth},
		{"array depth 5", `{"a":[[[[1]]]]}`, "", errMetaDepth},
		{"very deep", strings.Repeat(`{"a":`, 100000), "", errMetaDepth},
		{"duplicate", `{"a":1,"a":2}`, "", errMetaDup},
		{"duplicate by escape", `{"a":1,"\u0061":2}`, "", errMetaDup},
		{"nested duplicate", `{"x":[{"b":1,"b":1}]}`, "", errMetaDup},
		{"empty name", `{"":1}`, "", errMetaKey},
		{"65-character name", `{"` + strings.Repeat("a", 65) + `":1}`, "", errMetaKey},
		{"invalid UTF-8", "{\"a\":\"\xff\"}", "", errMetaUTF8},
		{"invalid UTF-8 name", "{\"\xc3\":1}", "", errMetaUTF8},
		{"lone high surrogate", `{"a":"\ud800"}`, "", errMetaUTF8},
		{"high surrogate then letter", `{"a":"\ud800x"}`, "", errMetaUTF8},
		{"lone low surrogate", `{"a":"\udc00"}`, "", errMetaUTF8},
		{"two high surrogates", `{"a":"\ud800\ud800"}`, "", errMetaUTF8},
		{"huge number", `{"a":1e400}`, "", errMetaNumber},
		{"huge integer", `{"a":` + strings.Repeat("9", 400) + `}`, "", errMetaNumber},
		{"negative huge", `{"a":-1e309}`, "", errMetaNumber},
		{"leading zero", `{"a":01}`, "", errMetaJSON},
		{"plus sign", `{"a":+1}`, "", errMetaJSON},
		{"bare dot", `{"a":1.}`, "", errMetaJSON},
		{"NaN", `{"a":NaN}`, "", errMetaJSON},
		{"trailing comma", `{"a":1,}`, "", errMetaJSON},
		{"unquoted name", `{a:1}`, "", errMetaJSON},
		{"single quotes", `{'a':1}`, "", errMetaJSON},
		{"control character", "{\"a\":\"\x01\"}", "", errMetaJSON},
		{"bad escape", `{"a":"\x"}`, "", errMetaJSON},
		{"short unicode escape", `{"a":"\u12"}`, "", errMetaJSON},
		{"trailing data", `{"a":1} {}`, "", errMetaJSON},
		{"unterminated", `{"a":"b`, "", errMetaJSON},
		{"comment", `{"a":1 /* x */}`, "", errMetaJSON},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := ParseMeta([]byte(tc.in))
			if err != tc.err {
				t.Fatalf("ParseMeta(%.60q) = %v, want %v", tc.in, err, tc.err)
			}
			if err != nil {
				if ErrorCode(err) != Invalid || !strings.HasPrefix(ErrorMessage(err), "meta ") {
					t.Fatalf("error %v: not Invalid naming meta", err)
				}
				return
			}
			if string(got) != tc.want {
				t.Fatalf("ParseMeta(%.60q) = %.60s, want %.60s", tc.in, got, tc.want)
			}
		})
	}
}

func TestCheckExternalID(t *testing.T) {
	for _, tc := range []struct {
		in string
		ok bool
	}{
		{"c_123", true},
		{"cus_NffrFeUfNV2Hib", true},
		{"a#b/c?d=e&f", true},
		{"客户-42", true},
		{strings.Repeat("x", MaxExternalIDLen), true},
		{strings.Repeat("é", MaxExternalIDLen), true},
		{"", false},
		{strings.Repeat("x", MaxExternalIDLen+1), false},
		{"c 123", false},
		{" c123", false},
		{"c\t123", false},
		{"c\n123", false},
		{"c\x00123", false},
		{"c\x7f", false},
		{"c\u00a0123", false}, // no-break space
		{"c\u200b123", false}, // zero-width space
		{"c\u2028", false},    // line separator
		{"\xff", false},
	} {
		err := CheckExternalID(tc.in)
		if (err == nil) != tc.ok {
			t.Errorf("CheckExternalID(%q) = %v, want ok %v", tc.in, err, tc.ok)
		}
		if err != nil && (ErrorCode(err) != Invalid || !strings.HasPrefix(ErrorMessage(err), "external_id ")) {
			t.Errorf("CheckExternalID(%q) = %v: not Invalid naming external_id", tc.in, err)
		}
	}
}

// FuzzMeta: ParseMeta never panics; what it accepts is valid JSON (it is
// never looser than encoding/json), an object, at most MaxMetaBytes, and
// its own fixed point (accepted meta round-trips unchanged); and a
// refusal is always Invalid, naming meta.
func FuzzMeta(f *testing.F) {
	for _, s := range []string{
		`{"plan":"pro","customer":"c_123"}`, `{}`, `{"a":{"b":{"c":{"d":1}}}}`, `{"a":[1,2.5e3,-0,true,false,null]}`,
		`{"a":"\ud83d\ude00\u00e9\n"}`, `{"a":1,"a":2}`, `{"a":"\ud800"}`, "{\"a\":\"\xff\"}", `{"a":1e400}`, `[]`, `{"a":{"b":{"c":{"d":{"e":1}}}}}`,
		` { "x" : [ { } , [ ] ] } `,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, in []byte) {
		out, err := ParseMeta(in)
		if err != nil {
			if ErrorCode(err) != Invalid || !strings.HasPrefix(ErrorMessage(err), "meta ") {
				t.Fatalf("ParseMeta(%q) = %v: not Invalid naming meta", in, err)
			}
			return
		}
		if len(out) > MaxMetaBytes {
			t.Fatalf("ParseMeta(%q) = %d bytes", in, len(out))
		}
		if !json.Valid(in) || !json.Valid(out) {
			t.Fatalf("ParseMeta accepted invalid JSON %q -> %q", in, out)
		}
		var obj map[string]any
		if err := json.Unmarshal(out, &obj); err != nil || obj == nil {
			t.Fatalf("ParseMeta(%q) = %q, not an object: %v", in, out, err)
		}
		var compact bytes.Buffer
		if err := json.Compact(&compact, in); err != nil || compact.String() != string(out) {
			t.Fatalf("ParseMeta(%q) = %q, json.Compact %q", in, out, compact.String())
		}
		again, err := ParseMeta(out)
		if err != nil || !bytes.Equal(again, out) {
			t.Fatalf("ParseMeta(%q) = %q, then %q, %v", in, out, again, err)
		}
	})
}
