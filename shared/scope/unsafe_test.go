package scope

import (
	"fmt"
	"math/rand/v2"
	"regexp"
	"strings"
	"testing"
	"unicode"
)

const testPrefix = "arn:aws:execute-api:eu-west-1:123456789012:abc123/prod"

// TestUnsafeSegmentRegression has one group per class of segment that a
// backend resolves differently from the gateway. "GET /a/*" matched every
// case here before the rule was widened, except the encoded separators
// with a parameter and the overlong forms of compatibility characters,
// which were already refused and stay as a guard.
func TestUnsafeSegmentRegression(t *testing.T) {
	tests := []struct {
		class string
		segs  []string
	}{
		{"servlet path parameter on a dot", []string{"..;", ".;", "..;x=1", ".;jsessionid=1", "..;/"}},
		{"path parameter on an empty segment", []string{";", ";x=1"}},
		{"encoded dot with a parameter", []string{"%2e%2e;", "%2E;x", ".%2e;a=b", "%2e.;"}},
		{"encoded dot inside a segment", []string{"a%2eb", "x%2E", "%2e%2e%2f"}},
		{"encoded parameter delimiter", []string{"..%3b", "..%3B", ".%3bx", "%3b"}},
		{"encoded separator with a parameter", []string{"..;%2f", "a;%5Cb", "..;%2F..", ";%5c"}},
		{"NUL and control bytes", []string{"..%00", "%00", "a%0a", "%1F", "x%7f", "%0"}},
		{"overlong UTF-8", []string{"%c0%ae", "%C0%AE%C0%AE", "%c1%9c", "%e0%80%ae", "%E0%80%AF", "%f0%80%80%ae", "%f8%80%80%80%ae", "%FC%80%80%80%80%ae"}},
		{"double percent-encoding", []string{"%252e%252e", "%255c", "%%32%65", "%2%65", "%%2e"}},
		{"IIS %u escape", []string{"%u002e%u002e", "%U2216"}},
		{"truncated escape", []string{"a%", "a%2", "%e"}},
		{"dots and spaces a name may not end in", []string{"...", "....", "..%20", "..%20%20", ".%20.", ". .", ".. ", "..%20;x", "...;x"}},
		{"whitespace first", []string{"%20", " ", "%20%20", "%20;x", "%20..", " ..", ".%20", ". "}},
		{"decoded fragment or query", []string{"..%23", "..%3f", "..%3F", ".%23x", "a%23b", "%3f", "..#", "#", "a#b", "#..", "%23"}},
		{"compatibility full stops", []string{"%EF%BC%8E%EF%BC%8E", "%ef%bc%8e.", ".%Ef%bC%8e", "..%E3%80%82", "%E3%80%82%E3%80%82",
			"%EF%BD%A1%EF%BD%A1", "%EF%B9%92.", "%E2%80%A4%E2%80%A4", "%E2%80%A5", "%e2%80%a6", "%EF%B8%99", "%EF%B8%B0"}},
		{"compatibility separators and delimiters", []string{"a%EF%BC%8Fb", "a%EF%BC%BCb", "..%EF%BC%9B", "..%EF%BC%83", "..%EF%BC%9F",
			"%EF%BC%85%EF%BC%92%EF%BD%85", "..%CD%BE", "..%E2%81%88", "x%E2%84%80y", "a%ef%b9%a8b", "..%EF%B9%94"}},
		{"Unicode whitespace", []string{"..%C2%A0", "%E3%80%80..", "..%E2%80%8A", "..%E2%80%AF", "..%E2%81%9F", "..%C2%85", "..%E1%9A%80", "..%e2%80%a8"}},
		{"overlong compatibility characters", []string{"%F0%8F%BC%8E", "%E0%82%A0", "..%F0%80%82%A0"}},
	}
	wild := []Scope{MustParse("GET /a/*"), MustParse("GET /a/*/x"), MustParse("* /*/*")}
	for _, tt := range tests {
		t.Run(tt.class, func(t *testing.T) {
			for _, seg := range tt.segs {
				if !unsafeSegment(strings.SplitN(seg, "/", 2)[0]) && !strings.Contains(seg, "/") {
					t.Errorf("unsafeSegment(%q) = false", seg)
				}
				for _, s := range wild {
					for _, p := range []string{"/a/" + seg, "/a/" + seg + "/x", "/a/" + seg + "/admin"} {
						if s.Match("GET", p) {
							t.Errorf("%v matched %q", s, p)
						}
					}
				}
				if _, err := Parse("GET /a/" + seg); err == nil {
					t.Errorf("Parse accepted the literal segment %q", seg)
				}
				arn := testPrefix + "/GET/a/" + seg + "/x"
				if !denied(testPrefix, arn) {
					t.Errorf("no DenyResources pattern matches %q", arn)
				}
			}
		})
	}
}

// TestCompatibilityCharacters checks the rule against the characters it
// names by what they are rather than by their escapes: every character
// NFKC or IDNA turns into a run of dots or into something holding
// / \ ; # ? or %, and all Unicode whitespace (unicode.IsSpace) beyond
// ASCII. Each is refused wherever it stands in a segment, percent-encoded
// in every letter case, and named in DenyResources; raw, a * refuses it
// as it refuses any byte that is not printable ASCII.
func TestCompatibilityCharacters(t *testing.T) {
	var chars []rune
	for r, image := range compatible {
		if strings.Trim(image, ".") == "" || strings.ContainsAny(image, `/\;#?%`) {
			chars = append(chars, r)
		}
	}
	for r := rune(0x80); r <= unicode.MaxRune; r++ {
		if unicode.IsSpace(r) {
			chars = append(chars, r)
		}
	}
	if len(chars) < 49 {
		t.Fatalf("only %d characters: the table or unicode.IsSpace lost some", len(chars))
	}
	s := MustParse("GET /a/*")
	for _, r := range chars {
		t.Run(fmt.Sprintf("U+%04X", r), func(t *testing.T) {
			var upper strings.Builder
			for _, b := range []byte(string(r)) {
				fmt.Fprintf(&upper, "%%%02X", b)
			}
			for _, enc := range letterCases(strings.ToLower(upper.String())) {
				for _, seg := range []string{enc, "a" + enc + "b", ".." + enc, enc + enc} {
					if !unsafeSegment(seg) || s.Match("GET", "/a/"+seg) {
						t.Fatalf("%q is not unsafe", seg)
					}
					if arn := testPrefix + "/GET/a/" + seg + "/x"; !denied(testPrefix, arn) {
						t.Fatalf("no DenyResources pattern matches %q", arn)
					}
				}
			}
			if raw := "a" + string(r); s.Match("GET", "/a/"+raw) {
				t.Fatalf("%v matched the raw %q", s, raw)
			}
		})
	}
}

// TestRuleCoversPrinciple: every generated segment the principle of Unsafe
// segments refuses, the rule refuses too (it is a superset, textual so
// that IAM can state it), and so do Match and DenyResources. A segment
// holding a raw "*" or "?", or bytes that are not printable ASCII, is
// refused by a * whatever the rule says, and IAM cannot name it.
func TestRuleCoversPrinciple(t *testing.T) {
	r := rand.New(rand.NewPCG(7, 8))
	s := MustParse("GET /a/*")
	unsafe := 0
	for range 50000 {
		seg := randomSegment(r)
		if !principleUnsafe(seg) {
			continue
		}
		unsafe++
		if msg := coversPrinciple(s, seg); msg != "" {
			t.Fatal(msg)
		}
	}
	if unsafe < 5000 {
		t.Fatalf("only %d unsafe segments: the generator no longer exercises the principle", unsafe)
	}
}

// coversPrinciple returns why the rule, Match or DenyResources lets through
// seg, which the principle refuses, or "".
func coversPrinciple(s Scope, seg string) string {
	if s.Match("GET", "/a/"+seg) {
		return fmt.Sprintf("%v matches %q, which the principle refuses", s, seg)
	}
	if !printableASCII(seg) || strings.ContainsAny(seg, "*?") {
		return ""
	}
	if !unsafeSegment(seg) {
		return fmt.Sprintf("the principle refuses %q but unsafeSegment does not", seg)
	}
	if arn := testPrefix + "/GET/a/" + seg + "/x"; !denied(testPrefix, arn) {
		return fmt.Sprintf("the principle refuses %q but no DenyResources pattern matches %q", seg, arn)
	}
	return ""
}

// TestSafeSegments lists odd but legitimate segments the rule still lets a
// * match, so that it does not grow to refuse everything.
func TestSafeSegments(t *testing.T) {
	s := MustParse("GET /a/*")
	for _, seg := range []string{
		"b", "a.jpg", ".a", "a.", "a..", "a..b", "a;b", "a;b=1", ".a;b", "a%20b", "a%20", "a.%20",
		".well-known", "%41", "caf%C3%A9", "%E2%82%AC", "%F0%9F%98%80", "%zz", "~u", "-_!$&'()+,=:@",
		"%e0%a4%85", "%c3%80", "don%E2%80%99t", "a%E2%80%94b", "%E3%81%82", "%E3%80%8C%E3%80%8D",
		"%EF%AC%81", "%E2%92%88", "%C2%A9", "%CE%B1",
	} {
		t.Run(seg, func(t *testing.T) {
			if !s.Match("GET", "/a/"+seg) || !s.Match("GET", "/a/"+seg+"/"+seg) {
				t.Errorf("%v refused %q", s, seg)
			}
			if _, err := Parse("GET /a/" + seg); err != nil {
				t.Errorf("Parse refused the literal %q: %v", seg, err)
			}
			if arn := testPrefix + "/GET/a/" + seg; denied(testPrefix, arn) {
				t.Errorf("DenyResources matches %q", arn)
			}
		})
	}
}

func TestDenyResources(t *testing.T) {
	tests := []struct {
		path string
		deny bool
	}{
		{"/", false},
		{"/a", false},
		{"/a/b.jpg", false},
		{"/a/", true},
		{"//", true},
		{"//a", true},
		{"/a//b", true},
		{"/.", true},
		{"/..", true},
		{"/a/./b", true},
		{"/a/../b", true},
		{"/a/..;/b", true},
		{"/a/.;x", true},
		{"/;/a", true},
		{"/a/%2e%2e/admin", true},
		{"/a/%2E%2E/admin", true},
		{`/a/..\admin`, true},
		{"/a/..%5cadmin", true},
		{"/a/..%2Fadmin", true},
		{"/a/%252e%252e/admin", true},
		{"/a/%c0%ae%c0%ae/admin", true},
		{"/a/..%00/admin", true},
		{"/a/b%", true},
		{"/a/b%4", true},
		{"/a/b%4/c", true},
		{"/a/b%41", false},
		{"/a/b%41/c", false},
		{"/a/.../b", true},
		{"/a/..%20/b", true},
		{"/a/..foo", true},
		{"/a/.%20", true},
		{"/a/. x", true},
		{"/a/%20", true},
		{"/a/%20/b", true},
		{"/a/ b", true},
		{"/a/b%20", false},
		{"/a/b%20c/d", false},
		{"/a/.well-known/x", false},
		{"/a/..%23/b", true},
		{"/a/x%3Fy", true},
		{"/a/x%3fy", true},
		{"/a/x#", true},
		{"/a/%EF%BC%8E%EF%BC%8E/admin", true},
		{"/a/%ef%Bc%8e", true},
		{"/a/..%E3%80%82", true},
		{"/a/x%E2%80%A5", true},
		{"/a/x%c2%a0", true},
		{"/a/don%E2%80%99t", false},
		{"/a/%E3%81%82", false},
	}
	for _, tt := range tests {
		t.Run(tt.path, func(t *testing.T) {
			if got := denied(testPrefix, testPrefix+"/GET"+tt.path); got != tt.deny {
				t.Errorf("denied = %v, want %v", got, tt.deny)
			}
			if got := pathUnsafe(tt.path); got != tt.deny {
				t.Errorf("pathUnsafe = %v, want %v", got, tt.deny)
			}
		})
	}
	for _, r := range DenyResources(testPrefix) {
		if !strings.HasPrefix(r, testPrefix+"/*") {
			t.Errorf("pattern %q does not start with the prefix and method", r)
		}
	}
}

// TestDenyResourcesExact checks DenyResources against the rule on many
// generated methodArns: for printable ASCII paths the Deny matches exactly
// the paths with an unsafe segment, and it never matches a path that a
// scope other than All matches.
func TestDenyResourcesExact(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	scopes := randomScopes(r, 300)
	for range 20000 {
		path := randomPath(r)
		arn := testPrefix + "/GET" + path
		d := denied(testPrefix, arn)
		if printableASCII(path) && d != pathUnsafe(path) {
			t.Fatalf("%q: denied = %v, has an unsafe segment = %v", path, d, pathUnsafe(path))
		}
		if pathUnsafe(path) && !d {
			t.Fatalf("%q has an unsafe segment but no Deny pattern matches", path)
		}
		for _, s := range scopes {
			if !s.isAll() && s.Match("GET", path) && d {
				t.Fatalf("%v matches %q, which DenyResources refuses", s, path)
			}
		}
	}
}

// TestMatchNeverLeavesPrefix is the property the rule exists for: whenever
// a scope other than All matches a path, every backend normalisation of
// the path is still matched by the same normalisation of the scope.
func TestMatchNeverLeavesPrefix(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	scopes := randomScopes(r, 300)
	matched := 0
	for range 20000 {
		path := randomPath(r)
		for _, s := range scopes {
			if s.isAll() || !s.Match("GET", path) {
				continue
			}
			matched++
			if msg := leavesScope(s, path); msg != "" {
				t.Fatalf("%v matches %q but %s", s, path, msg)
			}
		}
	}
	if matched < 1000 {
		t.Fatalf("only %d matches: the generator no longer exercises Match", matched)
	}
}

// TestCoversNeverWiderThanMatch: a parent never mints a child that reaches
// a path the parent itself is refused.
func TestCoversNeverWiderThanMatch(t *testing.T) {
	r := rand.New(rand.NewPCG(5, 6))
	scopes := randomScopes(r, 150)
	var paths []string
	for range 1500 {
		paths = append(paths, randomPath(r))
	}
	covered := 0
	for _, p := range scopes {
		for _, c := range scopes {
			if !p.Covers(c) {
				continue
			}
			covered++
			for _, m := range []string{"GET", "POST"} {
				for _, path := range paths {
					if c.Match(m, path) && !p.Match(m, path) {
						t.Fatalf("%v covers %v, which matches %s %q, but %v does not", p, c, m, path, p)
					}
				}
			}
		}
	}
	if covered < 200 {
		t.Fatalf("only %d covering pairs: the generator no longer exercises Covers", covered)
	}
}

// FuzzMatch uses the rule, written out independently as a regular
// expression, as its oracle, together with DenyResources and the backend
// normalisations.
func FuzzMatch(f *testing.F) {
	for _, p := range []string{
		"/a/b", "/a/..;/admin", "/a/%2e%2e/x", "/a/%c0%ae", "/a/%252e", "/a/.;x",
		"/a/x%2", "/a/%%32%65", "/a/b;c", "/a/%F0%9F%98%80", "/a//b", "/",
	} {
		f.Add("GET /a/*", "GET", p)
		f.Add("* /*/b", "GET", p)
	}
	for _, p := range []string{
		"/a/...", "/a/..%20/x", "/a/.%20./x", "/a/..%23", "/a/..%3f/x", "/a/%EF%BC%8E%EF%BC%8E/x",
		"/a/..%E3%80%82", "/a/%20", "/a/x%E2%84%80y", "/a/%E2%80%99s", "/a/．．/x",
	} {
		f.Add("GET /a/*", "GET", p)
	}
	f.Add("GET /a;b/*/c", "GET", "/a;b/x/c")
	f.Fuzz(func(t *testing.T, in, method, path string) {
		for seg := range strings.SplitSeq(path, "/") {
			if got, want := unsafeSegment(seg), refUnsafe(seg); got != want {
				t.Fatalf("unsafeSegment(%q) = %v, the rule says %v", seg, got, want)
			}
			if principleUnsafe(seg) {
				if msg := coversPrinciple(MustParse("GET /a/*"), seg); msg != "" {
					t.Fatal(msg)
				}
			}
		}
		if strings.HasPrefix(path, "/") && !strings.ContainsAny(path, "*?") {
			d := denied(testPrefix, testPrefix+"/GET"+path)
			if printableASCII(path) && d != pathUnsafe(path) {
				t.Fatalf("%q: denied = %v, has an unsafe segment = %v", path, d, pathUnsafe(path))
			}
		}
		s, err := Parse(in)
		if err != nil || s.isAll() || !s.Match(method, path) {
			return
		}
		if pathUnsafe(path) {
			t.Fatalf("%v matches %q, which has an unsafe segment", s, path)
		}
		if denied(testPrefix, testPrefix+"/"+method+path) {
			t.Fatalf("%v matches %q, which DenyResources refuses", s, path)
		}
		if msg := leavesScope(s, path); msg != "" {
			t.Fatalf("%v matches %q but %s", s, path, msg)
		}
	})
}

// unsafeRE is the rule of the package documentation, written independently
// of unsafeSegment. It is applied to one segment whose bytes of 0x80 and
// above are replaced by "x", so that "." counts bytes, as unsafeSegment
// does.
var unsafeRE = regexp.MustCompile(`(?s)^(\.?(;|$)|\.\.|\.?( |%20))|[\\#]|` +
	`%(?i:2[ef5]|5c|3[bf]|23|[01]|7f|u|c[01]|e0%[89]|f0%8|f[89a-f]|c2%([89]|a0)|cd%b|e1%9a%80|e2%8(0%[8a]|1%[89]|4%8)|e3%80%8[02]|ef%b)|` +
	`%.?(%|$)`)

func refUnsafe(seg string) bool {
	b := []byte(seg)
	for i, c := range b {
		if c >= 0x80 {
			b[i] = 'x'
		}
	}
	return unsafeRE.Match(b)
}

// pathUnsafe reports whether a path other than "/" has an unsafe segment.
func pathUnsafe(path string) bool {
	if path == "/" {
		return false
	}
	for seg := range strings.SplitSeq(path[1:], "/") {
		if refUnsafe(seg) {
			return true
		}
	}
	return false
}

func printableASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < 0x20 || s[i] >= 0x7f {
			return false
		}
	}
	return true
}

// denied reports whether some DenyResources pattern matches arn.
func denied(prefix, arn string) bool {
	patterns := denyTestPrefix
	if prefix != testPrefix {
		patterns = DenyResources(prefix)
	}
	for _, p := range patterns {
		if MatchResource(p, arn) {
			return true
		}
	}
	return false
}

var denyTestPrefix = DenyResources(testPrefix)

// pieces build generated segments: plain text, dots, parameters, and every
// escape the rule names, each in a form that is and one that is not unsafe.
var pieces = []string{
	"a", "b", "a", "b", ".", "..", ".", ";", "x=1", "%", "%2e", "%2E", "%25", "%2f",
	"%2F", "%5c", "%5C", "%3b", "%3B", "%00", "%0", "%1f", "%7f", "%7F", "%c0",
	"%C1", "%ae", "%AE", "%e0", "%E0", "%80", "%9f", "%a4", "%f0", "%8f", "%9F",
	"%fA", "%f8", "%F7", "%u", "%U", `\`, "%20", "%41", "%e2%82%ac", "%zz", "2",
	"e", "f", "0", "8", "u", "~", "é", "*", "?", "\x00", "%3", "%%", "%c3", "%a9",
	" ", "%20", "..", "...", "#", "%23", "%3f", "%3F", "%EF%BC%8E", "%ef%bc%8f", "%EF%BC%BC", "%E3%80%82",
	"%e2%80%a4", "%E2%80%A5", "%C2%A0", "%CD%BE", "%EF%BD%A1", "%E2%84%80", "%E2%80%99", "%E2%92%88",
	"%EF", "%BC", "%8E", "%bd", "%b9", "%e2", "%e3", "%82", "%84", "%cd", "%be", "%c2", "%a0",
	"．", "‥", "。", "／",
}

func randomSegment(r *rand.Rand) string {
	var b strings.Builder
	for range r.IntN(4) {
		b.WriteString(pieces[r.IntN(len(pieces))])
	}
	return b.String()
}

func randomPath(r *rand.Rand) string {
	if r.IntN(20) == 0 {
		return "/"
	}
	segs := make([]string, 1+r.IntN(4))
	for i := range segs {
		switch r.IntN(4) {
		case 0:
			segs[i] = []string{"a", "b"}[r.IntN(2)]
		default:
			segs[i] = randomSegment(r)
		}
	}
	return "/" + strings.Join(segs, "/")
}

// randomScopes returns n valid scopes built from a few literals, "*" and
// generated segments (most of which Parse refuses and are skipped).
func randomScopes(r *rand.Rand, n int) []Scope {
	out := []Scope{MustParse(All), MustParse("GET /*"), MustParse("GET /")}
	for len(out) < n {
		segs := make([]string, 1+r.IntN(3))
		for i := range segs {
			switch r.IntN(5) {
			case 0, 1:
				segs[i] = "*"
			case 2:
				segs[i] = []string{"a", "b", "a;b", "%20"}[r.IntN(4)]
			default:
				segs[i] = randomSegment(r)
			}
		}
		m := []string{"GET", "*"}[r.IntN(2)]
		if s, err := Parse(m + " /" + strings.Join(segs, "/")); err == nil {
			out = append(out, s)
		}
	}
	return out
}

// A normaliser is one backend's view of a path: its segments after
// decoding and dot removal.
type normaliser struct {
	name string
	norm func(path string) []string
}

var normalisers = []normaliser{
	{"RFC 3986 dot removal, no decoding", func(p string) []string {
		return removeDots(split(p))
	}},
	{"servlet (parameters, decode, drop empty, dots)", func(p string) []string {
		segs := split(p)
		for i, s := range segs {
			segs[i], _, _ = strings.Cut(s, ";")
		}
		return removeDots(dropEmpty(resplit(mapSegs(segs, lenientDecode), "/")))
	}},
	{"decode, then parameters, NUL and backslash", func(p string) []string {
		segs := resplit(mapSegs(split(p), lenientDecode), `/\`)
		return removeDots(dropEmpty(mapSegs(segs, cutParamsAndNUL)))
	}},
	{"decode twice", func(p string) []string {
		segs := mapSegs(split(p), lenientDecode)
		segs = resplit(mapSegs(resplit(segs, `/\`), lenientDecode), `/\`)
		return removeDots(dropEmpty(mapSegs(segs, cutParamsAndNUL)))
	}},
	{"decode, keep empty segments", func(p string) []string {
		segs := resplit(mapSegs(split(p), lenientDecode), `/\`)
		return removeDots(mapSegs(segs, cutParamsAndNUL))
	}},
	{"decode, NFKC and IDNA, end at # or ?, cut at ; and NUL, trim (Windows)", func(p string) []string {
		segs := resplit(mapSegs(split(p), func(s string) string { return compat(lenientDecode(s)) }), `/\`)
		segs = mapSegs(endAt(segs, "#?"), func(s string) string { return trimName(cutAt(s, ";\x00")) })
		return removeDots(dropEmpty(segs))
	}},
	{"decode, end at # or ?, trim trailing spaces", func(p string) []string {
		segs := endAt(resplit(mapSegs(split(p), lenientDecode), `/\`), "#?")
		return removeDots(mapSegs(segs, func(s string) string { return strings.TrimRight(s, " ") }))
	}},
}

// compatible maps the characters whose NFKC form (Unicode 15) holds one
// of . / \ ; % # ?, and the full stops IDNA maps to ".", to that form.
// Characters NFKC maps to a space are whitespace, which trimName handles.
var compatible = map[rune]string{
	0x037E: ";", 0x2024: ".", 0x2025: "..", 0x2026: "...", 0x2047: "??", 0x2048: "?!",
	0x2049: "!?", 0x2100: "a/c", 0x2101: "a/s", 0x2105: "c/o", 0x2106: "c/u", 0x2488: "1.",
	0x2489: "2.", 0x248A: "3.", 0x248B: "4.", 0x248C: "5.", 0x248D: "6.", 0x248E: "7.",
	0x248F: "8.", 0x2490: "9.", 0x2491: "10.", 0x2492: "11.", 0x2493: "12.", 0x2494: "13.",
	0x2495: "14.", 0x2496: "15.", 0x2497: "16.", 0x2498: "17.", 0x2499: "18.", 0x249A: "19.",
	0x249B: "20.", 0x3002: ".", 0x33C2: "a.m.", 0x33C7: "Co.", 0x33D8: "p.m.", 0xFE14: ";",
	0xFE16: "?", 0xFE19: "...", 0xFE30: "..", 0xFE52: ".", 0xFE54: ";", 0xFE56: "?",
	0xFE5F: "#", 0xFE68: "\\", 0xFE6A: "%", 0xFF03: "#", 0xFF05: "%", 0xFF0E: ".",
	0xFF0F: "/", 0xFF1B: ";", 0xFF1F: "?", 0xFF3C: "\\", 0xFF61: ".", 0x1F100: "0.",
}

// compat applies compatible to the UTF-8 in s, leaving other bytes as
// they are.
func compat(s string) string {
	var b strings.Builder
	for _, r := range s {
		if c, ok := compatible[r]; ok {
			b.WriteString(c)
		} else {
			b.WriteRune(r)
		}
	}
	return b.String()
}

// endAt ends a decoded path at the first byte of any of chars, as a
// backend that parses a decoded "#" or "?" as the end of the path does.
func endAt(segs []string, chars string) []string {
	for i, s := range segs {
		if j := strings.IndexAny(s, chars); j >= 0 {
			return append(segs[:i:i], s[:j])
		}
	}
	return segs
}

// cutAt cuts s at the first byte of any of chars.
func cutAt(s, chars string) string {
	if i := strings.IndexAny(s, chars); i >= 0 {
		return s[:i]
	}
	return s
}

// trimName trims whitespace at both ends and trailing dots, as Windows
// and string-trimming backends do to a name. A name of nothing but dots
// and whitespace resolves as the worst dot segment, "..".
func trimName(s string) string {
	t := strings.TrimRight(strings.TrimSpace(s), ". ")
	if t == "" && s != "" {
		return ".."
	}
	return t
}

// principleUnsafe is the principle of Unsafe segments, applied literally:
// decode and map compatibility characters until nothing changes, then
// unsafe if that holds a separator, a "#" or "?" (which end the path) or a
// control character, or if, cut at ";" and trimmed, it is nothing, "." or
// "..".
func principleUnsafe(seg string) bool {
	s := seg
	for range 4 {
		next := compat(lenientDecode(s))
		if next == s {
			break
		}
		s = next
	}
	for _, r := range s {
		if strings.ContainsRune(`/\#?`, r) || unicode.IsControl(r) {
			return true
		}
	}
	t := strings.TrimSpace(cutAt(s, ";"))
	return trimName(t) == ".." || t == "" || t == "." || t == ".."
}

// leavesScope returns why some normalisation of path is not matched by the
// same normalisation of s, or "".
func leavesScope(s Scope, path string) string {
	for _, n := range normalisers {
		pat := n.norm(s.path)
		got := n.norm(path)
		if !segsMatch(pat, got) {
			return n.name + " gives " + "/" + strings.Join(got, "/") + ", outside " + "/" + strings.Join(pat, "/")
		}
	}
	return ""
}

// segsMatch matches decoded segments as Match does raw ones; a lone "*"
// matches everything, as "/*" does.
func segsMatch(pat, segs []string) bool {
	if len(pat) == 1 && pat[0] == "*" {
		return len(segs) == 0 || segs[0] != ".."
	}
	for i, p := range pat {
		if p == "*" && i == len(pat)-1 {
			if len(segs) <= i {
				return false
			}
			for _, s := range segs[i:] {
				if s == "" || s == "." || s == ".." {
					return false
				}
			}
			return true
		}
		if i >= len(segs) {
			return false
		}
		if p == "*" {
			if segs[i] == "" || segs[i] == "." || segs[i] == ".." {
				return false
			}
		} else if p != segs[i] {
			return false
		}
	}
	return len(segs) == len(pat)
}

func split(p string) []string {
	if p == "/" || p == "" {
		return nil
	}
	return strings.Split(strings.TrimPrefix(p, "/"), "/")
}

func mapSegs(segs []string, f func(string) string) []string {
	out := make([]string, len(segs))
	for i, s := range segs {
		out[i] = f(s)
	}
	return out
}

// resplit splits each segment again at any byte of seps, as a backend
// that decodes before it splits does.
func resplit(segs []string, seps string) []string {
	var out []string
	for _, s := range segs {
		start := 0
		for i := 0; i < len(s); i++ {
			if strings.IndexByte(seps, s[i]) >= 0 {
				out = append(out, s[start:i])
				start = i + 1
			}
		}
		out = append(out, s[start:])
	}
	return out
}

func dropEmpty(segs []string) []string {
	var out []string
	for _, s := range segs {
		if s != "" {
			out = append(out, s)
		}
	}
	return out
}

func cutParamsAndNUL(s string) string {
	s, _, _ = strings.Cut(s, ";")
	s, _, _ = strings.Cut(s, "\x00")
	return s
}

// removeDots is RFC 3986 section 5.2.4 on segments; a ".." with nothing
// left to remove stays, marking a path that escaped its root.
func removeDots(segs []string) []string {
	var out []string
	for _, s := range segs {
		switch {
		case s == ".":
		case s == ".." && len(out) > 0 && out[len(out)-1] != "..":
			out = out[:len(out)-1]
		default:
			out = append(out, s)
		}
	}
	return out
}

// lenientDecode decodes as the most forgiving decoders do: %XX in either
// case, IIS %uXXXX, a malformed "%" kept as it is, and overlong UTF-8 folded
// to the ASCII character it spells.
func lenientDecode(s string) string {
	var b []byte
	for i := 0; i < len(s); i++ {
		if s[i] == '%' {
			if i+2 < len(s) && isHex(s[i+1]) && isHex(s[i+2]) {
				b = append(b, unhex(s[i+1])<<4|unhex(s[i+2]))
				i += 2
				continue
			}
			if i+5 < len(s) && (s[i+1] == 'u' || s[i+1] == 'U') && isHex(s[i+2]) && isHex(s[i+3]) && isHex(s[i+4]) && isHex(s[i+5]) {
				r := rune(unhex(s[i+2]))<<12 | rune(unhex(s[i+3]))<<8 | rune(unhex(s[i+4]))<<4 | rune(unhex(s[i+5]))
				b = append(b, string(r)...)
				i += 5
				continue
			}
		}
		b = append(b, s[i])
	}
	return foldOverlong(b)
}

// foldOverlong replaces each 2- to 6-byte UTF-8 sequence whose value is
// below 0x80 by that ASCII byte.
func foldOverlong(b []byte) string {
	var out []byte
	for i := 0; i < len(b); i++ {
		n := 0
		for c := b[i]; c&0x80 != 0 && n < 7; c <<= 1 {
			n++
		}
		if n >= 2 && n <= 6 && i+n <= len(b) {
			v := int(b[i] & (0x7f >> n))
			ok := true
			for _, c := range b[i+1 : i+n] {
				if c&0xc0 != 0x80 {
					ok = false
					break
				}
				v = v<<6 | int(c&0x3f)
			}
			if ok && v < 0x80 {
				out = append(out, byte(v))
				i += n - 1
				continue
			}
		}
		out = append(out, b[i])
	}
	return string(out)
}

func isHex(c byte) bool {
	return '0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F'
}

func unhex(c byte) byte {
	switch {
	case c >= 'a':
		return c - 'a' + 10
	case c >= 'A':
		return c - 'A' + 10
	}
	return c - '0'
}
