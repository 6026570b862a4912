package scope

import (
	"fmt"
	"strings"
	"testing"
)

func TestParseValid(t *testing.T) {
	tests := []struct {
		in, method, path string
	}{
		{"GET /", "GET", "/"},
		{"* /*", "*", "/*"},
		{"GET /buckets", "GET", "/buckets"},
		{"HEAD /buckets/photos/*", "HEAD", "/buckets/photos/*"},
		{"POST /a/*/c", "POST", "/a/*/c"},
		{"PUT /*/*", "PUT", "/*/*"},
		{"PATCH /a.b/c~d/e_f/g-h", "PATCH", "/a.b/c~d/e_f/g-h"},
		{"DELETE /x/!$&'()+,;=:@%20", "DELETE", "/x/!$&'()+,;=:@%20"},
		{"OPTIONS /a...", "OPTIONS", "/a..."},
		{"* /a/.b/c.", "*", "/a/.b/c."},
		{"CONNECT /$connect", "CONNECT", "/$connect"},
		{"* /$connect", "*", "/$connect"},
		{"GET /$connect", "GET", "/$connect"},
		{"GET /" + strings.Repeat("a", MaxLen-5), "GET", "/" + strings.Repeat("a", MaxLen-5)},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			s, err := Parse(tt.in)
			if err != nil {
				t.Fatalf("Parse: %v", err)
			}
			if s.Method() != tt.method || s.Path() != tt.path || s.String() != tt.in {
				t.Errorf("got method %q path %q string %q", s.Method(), s.Path(), s.String())
			}
		})
	}
}

func TestParseInvalid(t *testing.T) {
	tests := []struct {
		name, in, msg string
	}{
		{"empty", "", "empty"},
		{"lowercase method", "get /x", "scope: method must be uppercase"},
		{"mixed case method", "Get /x", "method must be uppercase"},
		{"unknown method", "FETCH /x", "unknown method"},
		{"connect elsewhere", "CONNECT /x", "only path is /$connect"},
		{"connect any path", "CONNECT /*", "only path is /$connect"},
		{"connect root", "CONNECT /", "only path is /$connect"},
		{"connect below", "CONNECT /$connect/x", "only path is /$connect"},
		{"connect another route", "CONNECT /$disconnect", "only path is /$connect"},
		{"connect default route", "CONNECT /$default", "only path is /$connect"},
		{"connect encoded", "CONNECT /%24connect", "only path is /$connect"},
		{"connect case", "CONNECT /$Connect", "only path is /$connect"},
		{"connect double space", "CONNECT  /$connect", "only path is /$connect"},
		{"connect lowercase", "connect /$connect", "method must be uppercase"},
		{"connect mixed case", "Connect /$connect", "method must be uppercase"},
		{"connect path dot", "GET /$connect/..", "dot segment"},
		{"missing method", " /x", "missing method"},
		{"missing space", "GET/x", "separated by a space"},
		{"tab", "GET\t/x", "separated by a space"},
		{"double space", "GET  /x", "more than one space"},
		{"missing path", "GET ", "missing path"},
		{"no leading slash", "GET x", "must start with /"},
		{"star path", "GET *", "must start with /"},
		{"empty segment", "GET /a//b", "empty segment"},
		{"leading empty segment", "GET //a", "empty segment"},
		{"trailing slash", "GET /a/", "must not end with /"},
		{"double slash root", "GET //", "empty segment"},
		{"dot", "GET /a/./b", "dot segment"},
		{"dot dot", "GET /a/..", "dot segment"},
		{"encoded dot dot", "GET /a/%2e%2E/b", "dot segment"},
		{"half encoded dot dot", "GET /a/.%2e", "dot segment"},
		{"star in literal", "GET /a/ab*", "* must be a whole segment"},
		{"star prefix", "GET /*a", "* must be a whole segment"},
		{"double star", "GET /**", "* must be a whole segment"},
		{"space in path", "GET /a b", `invalid character ' '`},
		{"query", "GET /a?b=c", `invalid character '?'`},
		{"fragment", "GET /a#b", `invalid character '#'`},
		{"backslash", `GET /a\b`, `invalid character '\\'`},
		{"unicode", "GET /café", `invalid character 'é'`},
		{"invalid utf8", "GET /a\xff", `invalid character`},
		{"nul", "GET /a\x00", `invalid character`},
		{"too long", "GET /" + strings.Repeat("a", MaxLen-4), "longer than 256 bytes"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, err := Parse(tt.in)
			if err == nil {
				t.Fatalf("Parse(%q) = %v, want error", tt.in, s)
			}
			if !strings.Contains(err.Error(), tt.msg) {
				t.Errorf("error %q does not mention %q", err, tt.msg)
			}
			if s != (Scope{}) {
				t.Errorf("got non-zero scope %v with error", s)
			}
		})
	}
}

func TestMatch(t *testing.T) {
	tests := []struct {
		scope, method, path string
		want                bool
	}{
		// Literals.
		{"GET /buckets", "GET", "/buckets", true},
		{"GET /buckets", "GET", "/Buckets", false},
		{"GET /buckets", "GET", "/buckets/x", false},
		{"GET /buckets/x", "GET", "/buckets", false},
		{"GET /buckets", "POST", "/buckets", false},
		{"GET /buckets", "get", "/buckets", false},
		{"GET /buckets", "GET", "buckets", false},
		{"GET /buckets", "GET", "", false},
		{"GET /a%20b", "GET", "/a%20b", true},
		{"GET /a%20b", "GET", "/a b", false},

		// Root.
		{"GET /", "GET", "/", true},
		{"GET /", "GET", "/a", false},
		{"GET /", "GET", "", false},
		{"GET /", "GET", "//", false},
		{"GET /a", "GET", "/", false},
		{"GET /*", "GET", "/", true},
		{"GET /*/a", "GET", "/", false},

		// Trailing star: one or more segments.
		{"GET /buckets/photos/*", "GET", "/buckets/photos/a.jpg", true},
		{"GET /buckets/photos/*", "GET", "/buckets/photos/a/b.jpg", true},
		{"GET /buckets/photos/*", "GET", "/buckets/photos", false},
		{"GET /buckets/photos/*", "GET", "/buckets/photos/", false},
		{"GET /buckets/photos/*", "GET", "/buckets/photosx/a", false},
		{"GET /buckets/photos/*", "GET", "/buckets/Photos/a", false},
		{"GET /*", "GET", "/a", true},
		{"GET /*", "GET", "/a/b/c", true},

		// Middle star: exactly one segment.
		{"GET /buckets/*/photos", "GET", "/buckets/x/photos", true},
		{"GET /buckets/*/photos", "GET", "/buckets/x/y/photos", false},
		{"GET /buckets/*/photos", "GET", "/buckets/photos", false},
		{"GET /buckets/*/photos", "GET", "/buckets/x/photos/y", false},
		{"GET /*/*", "GET", "/a", false},
		{"GET /*/*", "GET", "/a/b", true},
		{"GET /*/*", "GET", "/a/b/c", true},

		// Method star.
		{"* /a", "GET", "/a", true},
		{"* /a", "DELETE", "/a", true},
		{"* /a", "get", "/a", true},
		{"* /a", "GET", "/b", false},

		// All routes.
		{"* /*", "GET", "/", true},
		{"* /*", "POST", "/a/b/c", true},
		{"* /*", "GET", "/a/../b", true},
		{"* /*", "GET", "//", true},
		{"* /*", "GET", "", true},

		// Odd request paths never widen access.
		{"GET /buckets/*/photos", "GET", "/buckets//photos", false},
		{"GET /buckets/*", "GET", "/buckets//photos", false},
		{"GET /buckets/*", "GET", "/buckets/a/", false},
		{"GET /buckets/*", "GET", "/buckets/a//b", false},
		{"GET /buckets", "GET", "/buckets/", false},
		{"GET /buckets", "GET", "//buckets", false},
		{"GET /buckets/*", "GET", "/buckets/..", false},
		{"GET /buckets/*", "GET", "/buckets/../admin", false},
		{"GET /buckets/*", "GET", "/buckets/a/../../admin", false},
		{"GET /buckets/*", "GET", "/buckets/.", false},
		{"GET /buckets/*", "GET", "/buckets/%2e%2e/admin", false},
		{"GET /buckets/*", "GET", "/buckets/%2E./admin", false},
		{"GET /buckets/*/x", "GET", "/buckets/../x", false},
		{"GET /*", "GET", "/..", false},
		{"GET /*", "GET", "/a/../b", false},
		{"* /a/*", "GET", "/a/b/..", false},
		{"GET /buckets/*", "GET", "/buckets/...", false},
		{"GET /buckets/*", "GET", "/buckets/a...", true},
		{"GET /buckets/*", "GET", "/buckets/..%20/admin", false},
		{"GET /buckets/*", "GET", "/buckets/%EF%BC%8E%EF%BC%8E/admin", false},
		{"GET /buckets/*", "GET", "/buckets/a%2Fb", false},
		{"GET /buckets/*", "GET", "/buckets/a%2fb", false},
		{"GET /buckets/*", "GET", "/buckets/a%5Cb", false},
		{"GET /buckets/*", "GET", `/buckets/a\b`, false},
		{"GET /buckets/*", "GET", "/buckets/a%2", false},   // a truncated escape
		{"GET /buckets/*", "GET", "/buckets/a b?c", false}, // ? is an IAM wildcard

		// The WebSocket $connect is the request CONNECT /$connect.
		{Connect, "CONNECT", "/$connect", true},
		{Connect, "CONNECT", "/$connect/x", false},
		{Connect, "CONNECT", "/$disconnect", false},
		{Connect, "CONNECT", "/", false},
		{Connect, "GET", "/$connect", false},
		{Connect, "connect", "/$connect", false},
		{"* /*", "CONNECT", "/$connect", true},
		{"* /$connect", "CONNECT", "/$connect", true},
		{"GET /*", "CONNECT", "/$connect", false},
		{"GET /$connect", "CONNECT", "/$connect", false},
		{"* /v1/*", "CONNECT", "/$connect", false},
	}
	for _, tt := range tests {
		t.Run(fmt.Sprintf("%s|%s %s", tt.scope, tt.method, tt.path), func(t *testing.T) {
			s := MustParse(tt.scope)
			if got := s.Match(tt.method, tt.path); got != tt.want {
				t.Errorf("Match = %v, want %v", got, tt.want)
			}
		})
	}
}

func TestZeroScope(t *testing.T) {
	var z Scope
	a := MustParse(All)
	if z.Match("", "") || z.Match("GET", "/") || z.Covers(a) || a.Covers(z) || z.Covers(z) {
		t.Error("zero Scope matched or covered something")
	}
	if z.String() != "" || z.Resources("arn") != nil {
		t.Error("zero Scope has a string or resource")
	}
}

func TestCovers(t *testing.T) {
	tests := []struct {
		s, o string
		want bool
	}{
		{"GET /a", "GET /a", true},
		{"GET /a", "POST /a", false},
		{"GET /a", "* /a", false},
		{"* /a", "GET /a", true},
		{"GET /a/*", "* /a/*", false},
		{"GET /a/b", "GET /a/*", false},
		{"GET /a/*", "GET /a/b", true},
		{"GET /a/*", "GET /a/*/c", true},
		{"GET /a/*", "GET /a/b/*", true},
		{"GET /a/*", "GET /a/*/*", true},
		{"GET /a/*", "GET /a", false},
		{"GET /a/*", "GET /b/c", false},
		{"GET /a/*/c", "GET /a/b/c", true},
		{"GET /a/*/c", "GET /a/*/c", true},
		{"GET /a/*/c", "GET /a/*", false},
		{"GET /a/*/c", "GET /a/b/*", false},
		{"GET /a/*/c", "GET /a/b/c/d", false},
		{"GET /a/*/*", "GET /a/*", false},
		{"GET /a/*/*", "GET /a/b/c", true},
		{"GET /*/b", "GET /a/*", false},
		{"GET /", "GET /", true},
		{"GET /", "GET /a", false},
		{"GET /a", "GET /", false},
		{"GET /*", "GET /", true},
		{"GET /*", "GET /a/*/b", true},
		{"GET /*/*", "GET /", false},
		{"* /*", "* /*", true},
		{"* /*", "GET /", true},
		{"* /*", "DELETE /a/*/b/*", true},
		{"GET /*", "* /*", false},
		{"* /a/*", "* /*", false},
		{"* /*", "GET /a", true},
		// The WebSocket $connect: All and * cover it, no HTTP method does,
		// and it covers nothing but itself.
		{"* /*", Connect, true},
		{"* /$connect", Connect, true},
		{Connect, Connect, true},
		{"GET /*", Connect, false},
		{"GET /$connect", Connect, false},
		{"* /v1/*", Connect, false},
		{Connect, "GET /$connect", false},
		{Connect, "* /$connect", false},
		{Connect, "* /*", false},
	}
	for _, tt := range tests {
		t.Run(tt.s+"|"+tt.o, func(t *testing.T) {
			if got := MustParse(tt.s).Covers(MustParse(tt.o)); got != tt.want {
				t.Errorf("Covers = %v, want %v", got, tt.want)
			}
		})
	}
}

// TestCoversAgreesWithMatch checks Covers against its definition on every
// scope and request built from a small alphabet. "c" appears only in
// requests, standing for any literal a scope does not name, and requests are
// one segment longer than the longest pattern, so agreement here means
// Covers is exact, not merely safe.
func TestCoversAgreesWithMatch(t *testing.T) {
	var scopes []Scope
	for _, m := range []string{"GET", "*"} {
		for _, p := range paths([]string{"a", "b", "*"}, 3) {
			scopes = append(scopes, MustParse(m+" "+p))
		}
	}
	reqs := paths([]string{"a", "b", "c"}, 4)
	for _, s := range scopes {
		for _, o := range scopes {
			want := true
		check:
			for _, m := range []string{"GET", "POST"} {
				for _, r := range reqs {
					if o.Match(m, r) && !s.Match(m, r) {
						want = false
						break check
					}
				}
			}
			if got := s.Covers(o); got != want {
				t.Errorf("%v.Covers(%v) = %v, want %v", s, o, got, want)
			}
		}
	}
}

// paths returns "/" and every path of 1 to n segments drawn from segs.
func paths(segs []string, n int) []string {
	out := []string{"/"}
	level := []string{""}
	for range n {
		var next []string
		for _, p := range level {
			for _, s := range segs {
				next = append(next, p+"/"+s)
			}
		}
		out = append(out, next...)
		level = next
	}
	return out
}

func TestAllowed(t *testing.T) {
	scopes, err := ParseList([]string{"GET /a", "POST /b/*"})
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		method, path string
		want         bool
	}{
		{"GET", "/a", true},
		{"POST", "/b/x", true},
		{"POST", "/a", false},
		{"GET", "/b/x", false},
	}
	for _, tt := range tests {
		t.Run(tt.method+" "+tt.path, func(t *testing.T) {
			if got := Allowed(scopes, tt.method, tt.path); got != tt.want {
				t.Errorf("Allowed = %v, want %v", got, tt.want)
			}
		})
	}
	if Allowed(nil, "GET", "/a") {
		t.Error("no scopes allowed a request")
	}
}

func TestCoveredBy(t *testing.T) {
	have, _ := ParseList([]string{"GET /a/*", "* /b"})
	tests := []struct {
		name string
		want []string
		ok   bool
	}{
		{"none", nil, true},
		{"each covered", []string{"GET /a/x", "POST /b", "GET /b"}, true},
		{"one escalates", []string{"GET /a/x", "* /a/x"}, false},
		{"wider", []string{"GET /*"}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			want, err := ParseList(tt.want)
			if err != nil {
				t.Fatal(err)
			}
			if got := CoveredBy(want, have); got != tt.ok {
				t.Errorf("CoveredBy = %v, want %v", got, tt.ok)
			}
		})
	}
	if CoveredBy([]Scope{MustParse("GET /c")}, nil) {
		t.Error("empty have covered a scope")
	}
}

func TestParseList(t *testing.T) {
	many := make([]string, MaxScopes+1)
	for i := range many {
		many[i] = fmt.Sprintf("GET /k%d", i)
	}
	t.Run("max", func(t *testing.T) {
		got, err := ParseList(many[:MaxScopes])
		if err != nil || len(got) != MaxScopes {
			t.Fatalf("got %d scopes, %v", len(got), err)
		}
	})
	t.Run("too many", func(t *testing.T) {
		if _, err := ParseList(many); err == nil || !strings.Contains(err.Error(), "at most 50") {
			t.Fatalf("err = %v", err)
		}
	})
	t.Run("duplicates", func(t *testing.T) {
		got, err := ParseList([]string{"GET /b", "GET /a", "GET /b", "* /*", "GET /a"})
		if err != nil {
			t.Fatal(err)
		}
		var ss []string
		for _, s := range got {
			ss = append(ss, s.String())
		}
		if want := "GET /b,GET /a,* /*"; strings.Join(ss, ",") != want {
			t.Errorf("got %q, want %q", ss, want)
		}
	})
	t.Run("invalid entry", func(t *testing.T) {
		_, err := ParseList([]string{"GET /a", "get /b"})
		if err == nil || err.Error() != `scopes[1]: scope: method must be uppercase` {
			t.Fatalf("err = %v", err)
		}
	})
	t.Run("empty", func(t *testing.T) {
		got, err := ParseList(nil)
		if err != nil || len(got) != 0 {
			t.Fatalf("got %v, %v", got, err)
		}
	})
}

func TestResources(t *testing.T) {
	const prefix = "arn:aws:execute-api:eu-west-1:123456789012:abc123/prod"
	tests := []struct {
		scope string
		want  []string
		inner bool
	}{
		{"* /*", []string{prefix + "/*/*"}, false},
		{"GET /buckets/photos/*", []string{prefix + "/GET/buckets/photos/*"}, false},
		// A method * is spelled out: IAM's * would also cross into the path.
		{"* /buckets", []string{prefix + "/GET/buckets", prefix + "/HEAD/buckets", prefix + "/POST/buckets",
			prefix + "/PUT/buckets", prefix + "/PATCH/buckets", prefix + "/DELETE/buckets", prefix + "/OPTIONS/buckets"}, false},
		{"GET /", []string{prefix + "/GET/"}, false},
		{"DELETE /a/*/b", []string{prefix + "/DELETE/a/*/b"}, true},
		{"GET /*/b/*", []string{prefix + "/GET/*/b/*"}, true},
		{"GET /a/b/*", []string{prefix + "/GET/a/b/*"}, false},
		// No REST route is a WebSocket $connect.
		{Connect, nil, false},
	}
	for _, tt := range tests {
		t.Run(tt.scope, func(t *testing.T) {
			s := MustParse(tt.scope)
			if got := s.Resources(prefix); strings.Join(got, " ") != strings.Join(tt.want, " ") {
				t.Errorf("Resources = %q, want %q", got, tt.want)
			}
			if s.InnerWildcard() != tt.inner {
				t.Errorf("InnerWildcard = %v, want %v", s.InnerWildcard(), tt.inner)
			}
		})
	}
}

// TestCoversAgreesWithMatch: a creator can never grant a path its own
// scope's * would refuse (encoded slashes, wildcards, dot segments).
func TestCoversNeverGrantsWhatMatchRefuses(t *testing.T) {
	for _, tt := range []struct{ have, want string }{
		{"GET /a/*/c", "GET /a/x%2Fy/c"},
		{"GET /a/*", "GET /a/x%2Fy"},
		{"GET /a/*", "GET /a/b/x%5Cy"},
		{"GET /a/*/c", "GET /a/x\\y/c"},
	} {
		have, err1 := Parse(tt.have)
		want, err2 := Parse(tt.want)
		if err1 != nil || err2 != nil {
			continue // not even a valid scope: nothing to grant
		}
		if have.Covers(want) {
			t.Errorf("%q covers %q, but its holder is refused on that path", tt.have, tt.want)
		}
	}
	for _, p := range []string{"/a/*/c", "/a/?/c", "/a/x*y/c"} {
		if MustParse("GET /a/*/c").Match("GET", p) {
			t.Errorf("a * matched the request segment of %q", p)
		}
	}
}

func TestMatchDoesNotAllocate(t *testing.T) {
	scopes := benchScopes()
	s := scopes[len(scopes)-1]
	for _, path := range []string{"/buckets/b9/objects/a/b.jpg", "/buckets/b9/objects/..", "/", "//x"} {
		if n := testing.AllocsPerRun(100, func() { s.Match("GET", path) }); n != 0 {
			t.Errorf("Match(%q) allocates %v times", path, n)
		}
		if n := testing.AllocsPerRun(100, func() { Allowed(scopes, "GET", path) }); n != 0 {
			t.Errorf("Allowed(%q) allocates %v times", path, n)
		}
	}
}

func benchScopes() []Scope {
	ss := make([]string, 10)
	for i := range ss {
		ss[i] = fmt.Sprintf("GET /buckets/b%d/objects/*", i)
	}
	scopes, err := ParseList(ss)
	if err != nil {
		panic(err)
	}
	return scopes
}

func BenchmarkAllowed(b *testing.B) {
	scopes := benchScopes()
	b.ReportAllocs()
	for b.Loop() {
		if !Allowed(scopes, "GET", "/buckets/b9/objects/2024/photos/a.jpg") {
			b.Fatal("denied")
		}
	}
}

// BenchmarkAllowedEscaped is BenchmarkAllowed on a path with encoded
// non-ASCII text and spaces, which takes the escape checks.
func BenchmarkAllowedEscaped(b *testing.B) {
	scopes := benchScopes()
	b.ReportAllocs()
	for b.Loop() {
		if !Allowed(scopes, "GET", "/buckets/b9/objects/caf%C3%A9/%E2%82%AC%20and%20%E3%81%82.jpg") {
			b.Fatal("denied")
		}
	}
}

func FuzzParse(f *testing.F) {
	for _, s := range []string{
		All, "GET /", "GET /buckets/photos/*", "POST /a/*/c", "get /x",
		"GET  /x", "GET /a//b", "GET /a/..", "GET /ab*", "GET /café",
		"DELETE /x/!$&'()+,;=:@%2e",
	} {
		f.Add(s, "GET", "/buckets/photos/a.jpg")
	}
	f.Add("GET /*/b", "GET", "/../b")
	f.Add("GET /a/*", "GET", "/a//")
	f.Fuzz(func(t *testing.T, in, method, path string) {
		s, err := Parse(in)
		if err != nil {
			if s != (Scope{}) {
				t.Fatalf("Parse(%q) returned %v with error", in, s)
			}
			return
		}
		again, err := Parse(s.String())
		if err != nil || again != s {
			t.Fatalf("Parse(%q) = %v, %v; want %v", s.String(), again, err, s)
		}
		if !s.Covers(s) {
			t.Fatalf("%v does not cover itself", s)
		}
		if s.Match(method, path) && !MustParse(All).Match(method, path) {
			t.Fatalf("%v matched %s %q but All did not", s, method, path)
		}
	})
}
