// Package scope defines the route permissions carried by API keys.
//
// The management service uses it to stop privilege escalation (a new key's
// scopes must be covered by its creator's), and the authorizer uses it on
// every request to decide allow or deny and to build the IAM policy it
// returns to a REST API.
//
// # Grammar
//
// A scope is a method and a path separated by exactly one space:
//
//	scope   = method SP path
//	method  = "*" | "GET" | "HEAD" | "POST" | "PUT" | "PATCH" | "DELETE" | "OPTIONS"
//	path    = "/" | 1*( "/" segment )
//	segment = "*" | 1*pchar
//	pchar   = ALPHA | DIGIT | "-" | "." | "_" | "~" | "!" | "$" | "&" | "'"
//	        | "(" | ")" | "+" | "," | ";" | "=" | ":" | "@" | "%"
//
// Further rules:
//
//   - Methods are uppercase; "get" is rejected rather than folded.
//   - A path has no empty segments: no "//" and no trailing "/" other than
//     the root path "/" itself.
//   - "." and ".." are not segments, nor are their percent-encoded forms
//     such as "%2e%2E".
//   - "*" is only ever a whole segment; "ab*" is invalid.
//   - A scope is at most [MaxLen] bytes and a key holds at most [MaxScopes].
//
// # Matching
//
// Method "*" matches any request method; otherwise the method must be equal,
// case included. Literal segments are compared byte for byte: paths are case
// sensitive and nothing is percent-decoded.
//
// A "*" segment that is not last matches exactly one request segment. A "*"
// that is last matches one or more remaining segments, so
//
//	GET /buckets/photos/*
//
// matches /buckets/photos/a.jpg and /buckets/photos/a/b.jpg but not
// /buckets/photos. This mirrors the API Gateway resource ARNs in the policy
// the authorizer generates, so the policy and the decision agree; see
// [Scope.Resources] for where IAM is broader.
//
// The path "/*" also matches the root path "/", as the IAM resource
// ".../GET/*" does. [All], "* /*", is therefore the all-routes scope given
// to admin keys: it matches every request, whatever its path looks like.
//
// Request paths come from the gateway and may hold anything. Scopes other
// than [All] match them conservatively, so that an odd path never widens
// access:
//
//   - A path that does not start with "/" is matched only by All.
//   - A path with an unsafe segment (below) is matched only by All: a "*"
//     never matches an unsafe segment, and [Parse] refuses a literal segment
//     that is unsafe, so no literal can equal one either.
//   - A "*" also never matches a segment holding the IAM wildcards "*" or
//     "?" (a request path may be copied into a policy), or a byte that is
//     not printable ASCII: a control byte (NUL included) or any byte of
//     0x80 and above. An HTTP request-target is printable ASCII (RFC 3986,
//     RFC 9112), so clients send "%C3%A9", never a raw "é"; refusing raw
//     bytes rather than trusting them to be impossible also keeps every
//     path a * matches free of the ambiguity of what one "character" is
//     to IAM.
//
// # Unsafe segments
//
// The gateway routes on the raw path, but the backend behind it may
// normalise the path before it routes: RFC 3986 section 5.2.4 removes "."
// and ".." segments, section 6.2.2.2 decodes percent-encoded unreserved
// characters (so "%2E%2e" is ".."), and servlet containers (Jakarta Servlet
// 6 section 3.5; Tomcat, Jetty, Spring) first cut each segment at its first
// ";" (path parameters, so "..;x=1" is ".."), then percent-decode, then
// remove dot segments. Other backends decode before cutting at ";", decode
// twice, treat "\" as "/", cut a string at NUL, or decode overlong UTF-8
// ("%C0%AE" is "."). A scope guards a path prefix, so any segment that one of
// these could turn into ".", "..", nothing, or more than one segment is
// refused.
//
// A request segment is unsafe if
//
//   - it is empty ("//", or a trailing "/" other than the root path "/");
//   - the part before its first ";" is empty, "." or "..";
//   - it holds "\";
//   - it holds a "%" followed by one of these, hex digits in either case:
//     "2E" (an encoded dot anywhere, not only in a dot segment: RFC 3986
//     section 2.3 says producers should not encode unreserved characters,
//     so clients do not), "2F" or "5C" (encoded separators), "3B" (an
//     encoded ";", for backends that decode before cutting parameters),
//     "25" (double encoding), "0" or "1" then any character and "7F"
//     (control characters, NUL included), "C0", "C1", "F8" to "FF", "E0%8",
//     "E0%9" or "F0%8" (overlong UTF-8 lead bytes: the forms that a lenient
//     decoder turns into ASCII such as "." or "/"), or "U" (IIS "%u002e");
//   - it holds a "%" that is followed by another "%" within two characters
//     ("%%32%65", "%2%65": decoded once they leave a "%2e") or by fewer than
//     two characters before the segment ends.
//
// The rule is purely textual, so that [DenyResources] can state it in IAM
// patterns exactly: a printable ASCII methodArn has an unsafe segment if and
// only if one of those patterns matches it. It is broad on purpose and fails
// closed: it also refuses odd but legitimate segments such as "a%2Eb" or
// "50%25". Encoded non-ASCII text such as "%E2%82%AC" or "%F0%9F%98%80"
// still passes, and so do two kinds of odd escape that no decoder turns into
// a dot or a separator: a "%" followed by two characters that are neither
// hex digits nor "%" ("%zz"), which decoders keep as it is or reject, and
// invalid UTF-8 other than the overlong lead bytes above (a lone "%80", a
// truncated "%E2%82"), which decodes to U+FFFD or an error. Refusing those
// as well would need more IAM patterns than a policy can hold.
//
// # Coverage
//
// Scope a covers scope b when every request b matches is matched by a as
// well; [Scope.Covers] decides this exactly for a single pair. [CoveredBy]
// checks each wanted scope against each held scope on its own, so a scope
// matched only by the union of several held scopes is reported as not
// covered. That errs towards refusing a key, never towards escalation.
package scope

import (
	"fmt"
	"strings"
	"unicode/utf8"
)

const (
	// All is the all-routes scope held by admin keys.
	All = "* /*"
	// MaxLen bounds one scope in bytes.
	MaxLen = 256
	// MaxScopes bounds the scopes of one key, which bounds the authorizer's
	// work and the size of the policy it returns.
	MaxScopes = 50
)

var methods = [...]string{"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"}

// Scope is a parsed scope. The zero Scope is invalid and matches nothing.
type Scope struct {
	method string
	path   string
}

// Parse parses and validates one scope.
func Parse(s string) (Scope, error) {
	// Errors never quote the input: it is logged, and people paste tokens
	// in the oddest places.
	if len(s) > MaxLen {
		return Scope{}, fmt.Errorf("scope is longer than %d bytes", MaxLen)
	}
	if s == "" {
		return Scope{}, fmt.Errorf("scope is empty")
	}
	method, path, ok := strings.Cut(s, " ")
	if !ok {
		return Scope{}, fmt.Errorf("scope: want METHOD and path separated by a space")
	}
	if err := checkMethod(method); err != nil {
		return Scope{}, fmt.Errorf("scope: %s", err)
	}
	if err := checkPath(path); err != nil {
		return Scope{}, fmt.Errorf("scope: %s", err)
	}
	return Scope{method: method, path: path}, nil
}

// ParseList parses the scopes of one key, dropping exact duplicates and
// keeping the first occurrence's position.
func ParseList(ss []string) ([]Scope, error) {
	if len(ss) > MaxScopes {
		return nil, fmt.Errorf("%d scopes: at most %d allowed", len(ss), MaxScopes)
	}
	out := make([]Scope, 0, len(ss))
	for i, s := range ss {
		sc, err := Parse(s)
		if err != nil {
			return nil, fmt.Errorf("scopes[%d]: %w", i, err)
		}
		if !contains(out, sc) {
			out = append(out, sc)
		}
	}
	return out, nil
}

func contains(list []Scope, s Scope) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

func checkMethod(m string) error {
	switch {
	case m == "":
		return fmt.Errorf("missing method")
	case m == "*":
		return nil
	}
	for _, k := range methods {
		if m == k {
			return nil
		}
	}
	up := strings.ToUpper(m)
	for _, k := range methods {
		if up == k {
			return fmt.Errorf("method must be uppercase")
		}
	}
	return fmt.Errorf("unknown method: want one of GET, HEAD, POST, PUT, PATCH, DELETE, OPTIONS or *")
}

func checkPath(p string) error {
	switch {
	case p == "":
		return fmt.Errorf("missing path")
	case p[0] == ' ':
		return fmt.Errorf("more than one space after the method")
	case p[0] != '/':
		return fmt.Errorf("path must start with /")
	case p == "/":
		return nil
	}
	rest := p[1:]
	for {
		seg, tail, more := cut(rest)
		switch {
		case seg == "" && !more:
			return fmt.Errorf("path must not end with /")
		case seg == "":
			return fmt.Errorf("path has an empty segment (//)")
		case seg == "*":
		case isDot(seg):
			return fmt.Errorf("path has a dot segment")
		default:
			if err := checkLiteral(seg); err != nil {
				return err
			}
			// Else the literal could equal a request segment that a * is
			// refused, and Covers would let a child reach it.
			if unsafeSegment(seg) {
				return fmt.Errorf("path has a segment a backend could normalise differently (see Unsafe segments)")
			}
		}
		if !more {
			return nil
		}
		rest = tail
	}
}

func checkLiteral(seg string) error {
	for i := 0; i < len(seg); i++ {
		c := seg[i]
		if isPchar(c) {
			continue
		}
		if c == '*' {
			return fmt.Errorf("path: * must be a whole segment")
		}
		r, _ := utf8.DecodeRuneInString(seg[i:])
		return fmt.Errorf("path has an invalid character %q", r)
	}
	return nil
}

func isPchar(c byte) bool {
	switch {
	case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9':
		return true
	}
	return strings.IndexByte("-._~!$&'()+,;=:@%", c) >= 0
}

// MustParse is like Parse but panics on error; it is for scopes fixed in
// code, such as All.
func MustParse(s string) Scope {
	sc, err := Parse(s)
	if err != nil {
		panic(err)
	}
	return sc
}

// String returns the scope in the form Parse accepts.
func (s Scope) String() string {
	if s.path == "" {
		return ""
	}
	return s.method + " " + s.path
}

// Method returns the method, "*" for any.
func (s Scope) Method() string { return s.method }

// Path returns the path pattern.
func (s Scope) Path() string { return s.path }

func (s Scope) isAll() bool { return s.method == "*" && s.path == "/*" }

// Match reports whether s allows a request. path is the request path as the
// gateway routed it, without query string. Match does not allocate.
func (s Scope) Match(method, path string) bool {
	if s.path == "" || (s.method != "*" && s.method != method) {
		return false
	}
	if s.isAll() {
		return true
	}
	if path == "" || path[0] != '/' {
		return false
	}
	if path == "/" {
		return s.path == "/" || s.path == "/*"
	}
	if s.path == "/" {
		return false
	}
	pat, req := s.path[1:], path[1:]
	for {
		ps, ptail, pmore := cut(pat)
		if ps == "*" && !pmore {
			return wildRest(req)
		}
		rs, rtail, rmore := cut(req)
		if ps == "*" {
			if !wildSeg(rs) {
				return false
			}
		} else if ps != rs {
			return false
		}
		if pmore != rmore {
			return false
		}
		if !pmore {
			return true
		}
		pat, req = ptail, rtail
	}
}

// Allowed reports whether any of scopes allows the request. It does not
// allocate.
func Allowed(scopes []Scope, method, path string) bool {
	for _, s := range scopes {
		if s.Match(method, path) {
			return true
		}
	}
	return false
}

// Covers reports whether every request o matches is matched by s too, that
// is whether a holder of s may grant o without escalating.
func (s Scope) Covers(o Scope) bool {
	if s.path == "" || o.path == "" || (s.method != "*" && s.method != o.method) {
		return false
	}
	if s.path == "/*" {
		return true
	}
	if s.path == "/" || o.path == "/" {
		return s.path == o.path
	}
	pat, sub := s.path[1:], o.path[1:]
	for {
		ps, ptail, pmore := cut(pat)
		if ps == "*" && !pmore {
			// Equal lengths so far and o.path is not "/", so o has at
			// least one segment left, which is all a trailing * needs,
			// provided each is one a * may stand for.
			return coverableRest(sub)
		}
		os, otail, omore := cut(sub)
		// A trailing * in o fails one of these: s has a literal here or,
		// with a middle *, needs a further segment that o may lack.
		if ps != "*" && ps != os {
			return false
		}
		if ps == "*" && os != "*" && !wildSeg(os) {
			return false
		}
		if pmore != omore {
			return false
		}
		if !pmore {
			return true
		}
		pat, sub = ptail, otail
	}
}

// CoveredBy reports whether each scope in want is covered by some single
// scope in have; see Coverage in the package documentation.
func CoveredBy(want, have []Scope) bool {
	for _, w := range want {
		ok := false
		for _, h := range have {
			if h.Covers(w) {
				ok = true
				break
			}
		}
		if !ok {
			return false
		}
	}
	return true
}

// Methods are the methods a scope may name; "*" stands for all of them.
var Methods = []string{"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"}

// Resources returns the IAM resources for s in a REST API authorizer
// policy. prefix is "arn:aws:execute-api:REGION:ACCOUNT:API_ID/STAGE"; a
// resource is prefix + "/" + method + path, for example
// ".../GET/buckets/photos/*", and All is prefix + "/*/*".
//
// IAM's * matches any characters, "/" and the empty string included. A
// method "*" is therefore spelled out as one resource per method (else
// ".../*/public/*" would also allow GET /admin/public/x). A "*" that is not
// last in the path is broader in IAM than in Match (".../GET/a/*/c" also
// allows /a/x/y/c): callers must not cache such a resource for other
// requests; see InnerWildcard.
func (s Scope) Resources(prefix string) []string {
	switch {
	case s.path == "":
		return nil
	case s.isAll():
		return []string{prefix + "/*/*"}
	case s.method != "*":
		return []string{prefix + "/" + s.method + s.path}
	}
	out := make([]string, len(Methods))
	for i, m := range Methods {
		out[i] = prefix + "/" + m + s.path
	}
	return out
}

// InnerWildcard reports whether s has a "*" segment before its last one.
func (s Scope) InnerWildcard() bool {
	i := strings.LastIndexByte(s.path, '/')
	return i > 0 && strings.Contains(s.path[:i]+"/", "/*/")
}

// coverableRest reports whether every segment of rest is one a * matches
// (or a * itself), so that Covers never grants what Match would refuse.
func coverableRest(rest string) bool {
	for {
		seg, tail, more := cut(rest)
		if seg != "*" && !wildSeg(seg) {
			return false
		}
		if !more {
			return true
		}
		rest = tail
	}
}

// cut splits off the first segment of p, which has no leading "/". more
// reports whether a "/" followed it.
func cut(p string) (seg, rest string, more bool) {
	i := strings.IndexByte(p, '/')
	if i < 0 {
		return p, "", false
	}
	return p[:i], p[i+1:], true
}

// wildRest reports whether a trailing * matches rest: one or more segments,
// each one a * may match.
func wildRest(rest string) bool {
	for {
		seg, tail, more := cut(rest)
		if !wildSeg(seg) {
			return false
		}
		if !more {
			return true
		}
		rest = tail
	}
}

// wildSeg reports whether a * may match the request segment seg.
func wildSeg(seg string) bool {
	if unsafeSegment(seg) {
		return false
	}
	for i := 0; i < len(seg); i++ {
		switch c := seg[i]; {
		case c == '*', c == '?':
			// IAM wildcards: a request path holding them must never end up
			// granted in a policy.
			return false
		case c < 0x20, c >= 0x7f:
			return false
		}
	}
	return true
}

// unsafeSegment reports whether a backend could resolve the request segment
// seg to something other than one ordinary segment; see Unsafe segments in
// the package documentation, which DenyResources mirrors pattern for
// pattern.
func unsafeSegment(seg string) bool {
	head := seg
	if i := strings.IndexByte(seg, ';'); i >= 0 {
		head = seg[:i]
	}
	if head == "" || head == "." || head == ".." {
		return true
	}
	for i := 0; i < len(seg); i++ {
		switch seg[i] {
		case '\\':
			return true
		case '%':
			if unsafeEscape(seg[i+1:]) {
				return true
			}
		}
	}
	return false
}

// unsafeEscape reports whether the text after a "%" in a segment starts an
// escape some decoder could turn into a dot, a separator, a control
// character or another escape.
func unsafeEscape(s string) bool {
	if len(s) < 2 || s[0] == '%' || s[1] == '%' {
		return true
	}
	a, b := lower(s[0]), lower(s[1])
	switch {
	case a == 'u', a == '0', a == '1':
		return true
	case a == '2':
		return b == 'e' || b == 'f' || b == '5'
	case a == '3':
		return b == 'b'
	case a == '5':
		return b == 'c'
	case a == '7':
		return b == 'f'
	case a == 'c':
		return b == '0' || b == '1'
	case a == 'e' && b == '0':
		return len(s) >= 4 && s[2] == '%' && (s[3] == '8' || s[3] == '9')
	case a == 'f' && b == '0':
		return len(s) >= 4 && s[2] == '%' && s[3] == '8'
	case a == 'f':
		return b == '8' || b == '9' || ('a' <= b && b <= 'f')
	}
	return false
}

// lower folds an ASCII letter to lower case; escapes are case-insensitive.
func lower(c byte) byte {
	if 'A' <= c && c <= 'Z' {
		return c + 'a' - 'A'
	}
	return c
}

// isDot reports whether seg is "." or "..", with any dot percent-encoded.
func isDot(seg string) bool {
	n := 0
	for i := 0; i < len(seg); {
		switch {
		case seg[i] == '.':
			i++
		case strings.HasPrefix(seg[i:], "%2e") || strings.HasPrefix(seg[i:], "%2E"):
			i += 3
		default:
			return false
		}
		n++
	}
	return n == 1 || n == 2
}

// DenyResources returns IAM resource patterns for an explicit Deny in a REST
// API authorizer policy. prefix is as for [Scope.Resources]. Together they
// match every methodArn whose path has an unsafe segment (see Unsafe
// segments) and no other: an Allow such as ".../GET/buckets/photos/*" would
// otherwise also apply, from the gateway's cache, to
// ".../GET/buckets/photos/..;/admin", because IAM's * crosses "/".
//
// The patterns use IAM's * (any characters, "/" and none included) and ?
// (exactly one character); they are case-sensitive, so each escape is
// listed in every letter case. The root path ".../GET/" is not matched.
// Segments that a * refuses for other reasons (a raw "*" or "?", a byte
// that is not printable ASCII) are not covered: no backend resolves them
// out of the granted prefix, and an HTTP request-target cannot hold the
// latter. Add them to the policy of every key other
// than an [All] key: they never refuse a request any other scope matches,
// which the tests check.
func DenyResources(prefix string) []string {
	p := prefix + "/*"
	out := []string{
		// The part before the first ";" is ".", ".." or empty; an empty
		// segment ("//", or a trailing "/" after a segment).
		p + "/.", p + "/./*", p + "/.;*",
		p + "/..", p + "/../*", p + "/..;*",
		p + "/;*", p + "//*", p + "/?*/",
		p + "\\*",
		// A "%" with fewer than two characters left in its segment, or
		// with another "%" among them.
		p + "%", p + "%?", p + "%/*", p + "%?/*", p + "%%*", p + "%?%*",
		p + "%u*", p + "%U*", p + "%0?*", p + "%1?*",
	}
	for _, h := range []string{"2e", "2f", "25", "3b", "5c", "7f", "c0", "c1",
		"f8", "f9", "fa", "fb", "fc", "fd", "fe", "ff"} {
		for _, v := range hexCases(h) {
			out = append(out, p+v+"*")
		}
	}
	for _, h := range []string{"e0%8", "e0%9", "f0%8"} {
		for _, v := range hexCases(h) {
			out = append(out, p+v+"?*")
		}
	}
	return out
}

// hexCases returns "%" + h in every mix of letter cases, h first.
func hexCases(h string) []string {
	out := []string{"%"}
	for i := 0; i < len(h); i++ {
		c := h[i]
		next := make([]string, 0, 2*len(out))
		for _, o := range out {
			next = append(next, o+string(c))
		}
		if 'a' <= c && c <= 'f' {
			for _, o := range out {
				next = append(next, o+string(c-'a'+'A'))
			}
		}
		out = next
	}
	return out
}

// MatchResource reports whether an IAM resource pattern matches an ARN as
// IAM evaluates it: "*" is any run of characters ("/" and none included),
// "?" exactly one character, everything else literal and case-sensitive,
// and a "*" or "?" in the ARN is just a character. It runs in linear time
// for any pattern (the last "*" is the only backtracking point needed), so
// a pattern holding a client's own path cannot make it slow.
func MatchResource(pattern, arn string) bool {
	pr, ar := []rune(pattern), []rune(arn)
	p, i := 0, 0
	star, mark := -1, 0
	for i < len(ar) {
		switch {
		case p < len(pr) && pr[p] == '*':
			star, mark = p, i
			p++
		case p < len(pr) && (pr[p] == '?' || pr[p] == ar[i]):
			p++
			i++
		case star >= 0:
			p, mark = star+1, mark+1
			i = mark
		default:
			return false
		}
	}
	for p < len(pr) && pr[p] == '*' {
		p++
	}
	return p == len(pr)
}
