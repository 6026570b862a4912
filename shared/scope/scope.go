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
//	scope   = method SP path | "CONNECT /$connect"
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
// # WebSocket APIs
//
// API Gateway calls a WebSocket API's authorizer for one route only, the
// connection request $connect, whose methodArn names no method and no path
// (".../STAGE/$connect"). The authorizer asks for it as the request
// CONNECT /$connect ([ConnectMethod], [ConnectPath]), and [Connect],
// "CONNECT /$connect", is the scope that names exactly it. CONNECT is a
// method with that one path: "CONNECT /x", "CONNECT /*" and
// "CONNECT /$disconnect" are refused, as the authorizer never sees any
// other WebSocket route. Otherwise the request is matched like any other:
// a method "*" matches CONNECT, so [All] (an admin key's scope) and
// "* /$connect" allow connecting too, while "GET /*" or "* /v1/*" do not.
// ("$" was always a path character: "GET /$connect" is a REST path, and
// does not allow connecting.)
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
// twice, treat "\" as "/", cut a string at NUL or at a decoded "#" or "?",
// decode overlong UTF-8 ("%C0%AE" is "."), trim trailing dots and spaces
// from a name (Windows, so "..." and ".. " are ".."), trim whitespace, or
// apply Unicode compatibility normalisation (NFKC, so "%EF%BC%8E" U+FF0E
// FULLWIDTH FULL STOP is ".") or IDNA's mapping of the ideographic full
// stops U+3002 and U+FF61 to ".". A scope guards a path prefix, so any
// segment that one of these could turn into ".", "..", nothing, or more
// than one segment is refused.
//
// Put as a principle: percent-decode the segment as often as any decoder
// would and map every character to its NFKC form (and U+3002, U+FF61 to
// "."). If that holds a "/" or "\", a "#" or "?" (which end the path, and
// so drop the segments after it) or a control character, or if, cut at its
// first ";" and trimmed of whitespace and trailing dots, it is nothing,
// "." or "..", the segment is unsafe. The rule below is a purely textual
// superset of that, which refuses some odd segments the principle would
// let through.
//
// A request segment is unsafe if
//
//   - it is empty ("//", or a trailing "/" other than the root path "/");
//   - the part before its first ";" is empty or ".";
//   - it starts with "..";
//   - it starts with a space (raw or "%20"), or with "." and a space;
//   - it holds "\" or "#";
//   - it holds a "%" followed by one of these, hex digits in either case:
//     "2E" (an encoded dot anywhere, not only in a dot segment: RFC 3986
//     section 2.3 says producers should not encode unreserved characters,
//     so clients do not), "2F" or "5C" (encoded separators), "3B", "23" or
//     "3F" (an encoded ";", "#" or "?", for backends that decode before
//     they cut there), "25" (double encoding), "0" or "1" then any
//     character and "7F" (control characters, NUL included), "C0", "C1",
//     "F8" to "FF", "E0%8", "E0%9" or "F0%8" (overlong UTF-8 lead bytes:
//     the forms that a lenient decoder turns into ASCII such as "." or "/",
//     or into the characters below), "C2%8" or "C2%9" (the C1 control
//     characters U+0080 to U+009F), or "U" (IIS "%u002e");
//   - it holds the UTF-8 escapes of a character that NFKC or IDNA turns
//     into ".", "/", "\", ";", "#", "?" or "%", or that is whitespace
//     (Unicode White_Space) other than a space: those in U+0370 to U+037F
//     ("%CD%B", for U+037E GREEK QUESTION MARK, ";"), U+2000 to U+200F
//     and U+2020 to U+202F (spaces, the leaders and ellipsis "․", "‥", "…",
//     separators), U+2040 to U+205F ("⁇", "⁈", "⁉", a space), U+2100 to
//     U+210F ("℀", "℁", "℅", "℆", which hold a "/"), U+FC00 to U+FFFF
//     ("%EF%B": the vertical, small, fullwidth and halfwidth forms such
//     as "．", "／", "＼", "；", "＃", "？", "％", "｡"), and U+00A0, U+1680,
//     U+3000 and U+3002 themselves. A range is refused whole where
//     its escapes share a prefix, which keeps the IAM patterns few;
//   - it holds a "%" that is followed by another "%" within two characters
//     ("%%32%65", "%2%65": decoded once they leave a "%2e") or by fewer than
//     two characters before the segment ends.
//
// Since "%25" and the compatibility forms of "%" are refused, a segment
// that passes holds no escape that decoding could create, so decoding it
// once is as good as decoding it any number of times.
//
// The rule is purely textual, so that [DenyResources] can state it in IAM
// patterns exactly: a printable ASCII methodArn has an unsafe segment if and
// only if one of those patterns matches it. It is broad on purpose and fails
// closed: it also refuses odd but legitimate segments such as "a%2Eb",
// "50%25", "..foo", "%20x", "%E2%80%A2" (a bullet) or the fullwidth letters
// and emoji variation selectors of U+FC00 to U+FFFF. Encoded non-ASCII text
// such as "%C3%A9", "%E2%82%AC", "%E2%80%99" or "%F0%9F%98%80" still passes,
// and so do two kinds of odd escape that no decoder turns into a dot or a
// separator: a "%" followed by two characters that are neither hex digits
// nor "%" ("%zz"), which decoders keep as it is or reject, and invalid UTF-8
// other than the overlong lead bytes above (a lone "%80", a truncated
// "%E2%82"), which decodes to U+FFFD or an error. Refusing those as well
// would need more IAM patterns than a policy can hold.
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
	// Connect is the scope of a WebSocket API's $connect route; see
	// WebSocket APIs in the package documentation.
	Connect = ConnectMethod + " " + ConnectPath
	// ConnectMethod and ConnectPath are the request the authorizer asks
	// for a WebSocket $connect.
	ConnectMethod = "CONNECT"
	ConnectPath   = "/$connect"
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
	if method == ConnectMethod {
		// Not a route method of REST or HTTP APIs: the WebSocket $connect
		// route, which has no other path.
		if path != ConnectPath {
			return Scope{}, fmt.Errorf("scope: CONNECT names a WebSocket API's $connect route, whose only path is %s", ConnectPath)
		}
		return Scope{method: method, path: path}, nil
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
		if up == k || up == ConnectMethod {
			return fmt.Errorf("method must be uppercase")
		}
	}
	return fmt.Errorf("unknown method: want one of GET, HEAD, POST, PUT, PATCH, DELETE, OPTIONS, * (or CONNECT /$connect)")
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

// Methods are the methods a scope may name for REST and HTTP API routes;
// "*" stands for all of them in a REST policy ([Scope.Resources]). CONNECT,
// which names only the WebSocket $connect route, is not among them.
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
//
// [Connect] has none: no REST API route is a WebSocket $connect, and the
// authorizer answers a $connect with a policy of its own.
func (s Scope) Resources(prefix string) []string {
	switch {
	case s.path == "", s.method == ConnectMethod:
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
// pattern. A segment of letters, digits and punctuation other than "\",
// "#" and "%" costs one pass of a byte switch.
func unsafeSegment(seg string) bool {
	if seg == "" {
		return true
	}
	switch seg[0] {
	case ';', ' ':
		return true
	case '.':
		if len(seg) == 1 {
			return true
		}
		switch seg[1] {
		case '.', ';', ' ':
			return true
		case '%':
			if spaceEscape(seg[2:]) {
				return true
			}
		}
	case '%':
		if spaceEscape(seg[1:]) {
			return true
		}
	}
	for i := 0; i < len(seg); i++ {
		switch seg[i] {
		case '\\', '#':
			return true
		case '%':
			if unsafeEscape(seg[i+1:]) {
				return true
			}
		}
	}
	return false
}

// spaceEscape reports whether the text after a "%" starts with "20".
func spaceEscape(s string) bool { return len(s) >= 2 && s[0] == '2' && s[1] == '0' }

// unsafeEscapes are the escapes that make a segment unsafe wherever they
// appear, as they follow the "%" and in lower case; an entry matches
// whatever follows it, so "0" stands for "%00" to "%0F" and "ef%b" for
// every character from U+FC00 to U+FFFF. See Unsafe segments.
var unsafeEscapes = []string{
	// A dot, the separators, ";", "#", "?" and "%".
	"2e", "2f", "5c", "3b", "23", "3f", "25",
	// C0 control characters, DEL, C1 control characters (U+0080-009F,
	// U+0085 NEXT LINE among them) and IIS's %u.
	"0", "1", "7f", "c2%8", "c2%9", "u",
	// Overlong UTF-8 lead bytes, and lead bytes of 5- and 6-byte forms.
	"c0", "c1", "e0%8", "e0%9", "f0%8", "f8", "f9", "fa", "fb", "fc", "fd", "fe", "ff",
	// Characters NFKC or IDNA turns into ".", "/", "\", ";", "#", "?" or
	// "%", and whitespace other than the space.
	"c2%a0",    // U+00A0 NO-BREAK SPACE
	"cd%b",     // U+0370-037F: U+037E GREEK QUESTION MARK is ";"
	"e1%9a%80", // U+1680 OGHAM SPACE MARK
	"e2%80%8",  // U+2000-200F: spaces
	"e2%80%a",  // U+2020-202F: "․", "‥", "…", separators, a space
	"e2%81%8",  // U+2040-204F: "⁇", "⁈", "⁉"
	"e2%81%9",  // U+2050-205F: a space
	"e2%84%8",  // U+2100-210F: "℀", "℁", "℅", "℆"
	"e3%80%80", // U+3000 IDEOGRAPHIC SPACE
	"e3%80%82", // U+3002 IDEOGRAPHIC FULL STOP
	"ef%b",     // U+FC00-FFFF: vertical, small, fullwidth, halfwidth forms
}

// escapeIndex holds the unsafeEscapes of two or more characters by the
// two hex digits they start with, and wholeDigit marks the first digits
// that are entries on their own ("0", "1"), so that an escape is compared
// with a few entries at most. "u", the one entry that does not start with
// a hex digit, unsafeEscape checks itself.
var escapeIndex, wholeDigit = func() (m [16][16][]string, whole [16]bool) {
	for _, e := range unsafeEscapes {
		hi, ok := hexDigit(e[0])
		switch {
		case !ok:
		case len(e) == 1:
			whole[hi] = true
		default:
			lo, _ := hexDigit(e[1])
			m[hi][lo] = append(m[hi][lo], e[2:])
		}
	}
	return m, whole
}()

// unsafeEscape reports whether the text after a "%" in a segment starts an
// escape some decoder could turn into something unsafe: see unsafeEscapes.
func unsafeEscape(s string) bool {
	if len(s) < 2 || s[0] == '%' || s[1] == '%' {
		return true
	}
	hi, ok := hexDigit(s[0])
	if !ok {
		return s[0] == 'u' || s[0] == 'U'
	}
	if wholeDigit[hi] {
		return true
	}
	lo, ok := hexDigit(s[1])
	if !ok {
		return false
	}
	for _, tail := range escapeIndex[hi][lo] {
		if hasPrefixFold(s[2:], tail) {
			return true
		}
	}
	return false
}

// hexDigit returns the value of the hex digit c, either case.
func hexDigit(c byte) (byte, bool) {
	switch {
	case '0' <= c && c <= '9':
		return c - '0', true
	case 'a' <= c && c <= 'f':
		return c - 'a' + 10, true
	case 'A' <= c && c <= 'F':
		return c - 'A' + 10, true
	}
	return 0, false
}

// hasPrefixFold reports whether s starts with prefix, which is in lower
// case, ignoring the case of ASCII letters in s.
func hasPrefixFold(s, prefix string) bool {
	if len(s) < len(prefix) {
		return false
	}
	for i := 0; i < len(prefix); i++ {
		if lower(s[i]) != prefix[i] {
			return false
		}
	}
	return true
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
// that is not printable ASCII) are not covered: an HTTP request-target
// cannot hold the latter, and IAM cannot name the former. Add them to the
// policy of every key other than an [All] key: they never refuse a request
// any other scope matches, which the tests check.
func DenyResources(prefix string) []string {
	p := prefix + "/*"
	out := []string{
		// An empty segment ("//", or a trailing "/" after a segment); a
		// segment whose part before the first ";" is empty or "."; one
		// that starts with "..", or with a space after nothing or a ".".
		p + "//*", p + "/?*/", p + "/;*", p + "/.", p + "/./*", p + "/.;*", p + "/..*",
		p + "/ *", p + "/%20*", p + "/. *", p + "/.%20*",
		p + "\\*", p + "#*",
		// A "%" with fewer than two characters left in its segment, or
		// with another "%" among them.
		p + "%", p + "%?", p + "%/*", p + "%?/*", p + "%%*", p + "%?%*",
	}
	for _, e := range unsafeEscapes {
		for _, v := range letterCases("%" + e) {
			out = append(out, p+v+"*")
		}
	}
	return out
}

// letterCases returns s in every mix of letter cases, s first.
func letterCases(s string) []string {
	out := []string{""}
	for i := 0; i < len(s); i++ {
		c := s[i]
		next := make([]string, 0, 2*len(out))
		for _, o := range out {
			next = append(next, o+string(c))
		}
		if 'a' <= c && c <= 'z' {
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
