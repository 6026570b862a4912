// Package apikey defines Keygate's token format and how tokens are turned
// into stored verifiers.
//
// A token is <prefix><body>. The body is base62 and fixed-width:
//
//	id (17 chars, 96 random bits) | secret (43 chars, 32 random bytes) | tag (11 chars) | checksum (6 chars)
//
// The tag is the first 64 bits of the token's digest, HMAC-SHA-256 keyed
// with the server's pepper over id‖secret (see [Hasher.Digest]). Key IDs
// are public, so without it anyone could build a well-formed token for a
// real ID and make every request a database read; with it, the authorizer
// refuses a token this deployment did not mint after one HMAC and no read.
//
// The checksum is CRC32 (IEEE) over everything before it, prefix included,
// written as 6 base62 digits. It lets the authorizer reject a mistyped or
// truncated token before any HMAC, and lets secret scanners validate a
// candidate offline without the pepper. With the default prefix a token
// matches
//
//	kg_live_[0-9A-Za-z]{77}
package apikey

import (
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"math/bits"
	"regexp"
	"unsafe"
)

const (
	// DefaultPrefix is used when TOKEN_PREFIX is not set.
	DefaultPrefix = "kg_live_"
	// MaxPrefixLen bounds TOKEN_PREFIX.
	MaxPrefixLen = 16

	idBytes     = 12
	secretBytes = 32

	tagBytes = 8

	// IDLen, SecretLen, TagLen and ChecksumLen are base62 widths: the
	// smallest that hold 2^96, 2^256, 2^64 and 2^32 values.
	IDLen       = 17
	SecretLen   = 43
	TagLen      = 11
	ChecksumLen = 6
	// BodyLen is the length of a token after its prefix.
	BodyLen = IDLen + SecretLen + TagLen + ChecksumLen
	// HintLen is how much of the body a hint shows: the start of the public ID.
	HintLen = 8
)

var prefixPattern = regexp.MustCompile(`^[a-z][a-z0-9]*_([a-z0-9]+_)?$`)

// ErrMalformed is returned for any token that is not well formed. The reason
// is kept apart so logs can say why without ever quoting the token.
var ErrMalformed = errors.New("malformed token")

// MalformedError says why a token was rejected before any lookup.
type MalformedError struct {
	Reason string
	msg    string // built once, so rejecting a token never allocates
}

func malformed(reason string) *MalformedError {
	return &MalformedError{Reason: reason, msg: "malformed token: " + reason}
}

func (e *MalformedError) Error() string        { return e.msg }
func (e *MalformedError) Is(target error) bool { return target == ErrMalformed }

// These are allocated once: the parse path rejects bad tokens without
// allocating.
var (
	errPrefix   = malformed("wrong prefix")
	errLength   = malformed("wrong length")
	errAlphabet = malformed("not base62")
	errChecksum = malformed("bad checksum")
	// ErrForged is a well-formed token whose tag this deployment's pepper
	// did not make: never minted here, so never worth a database read.
	ErrForged = malformed("not minted by this deployment")
)

// Format generates and parses tokens with one prefix.
type Format struct {
	prefix string
}

// NewFormat validates prefix against ^[a-z][a-z0-9]*_([a-z0-9]+_)?$ and the
// length limit.
func NewFormat(prefix string) (Format, error) {
	if len(prefix) > MaxPrefixLen || !prefixPattern.MatchString(prefix) {
		return Format{}, fmt.Errorf("token prefix %q must match %s and be at most %d characters", prefix, prefixPattern, MaxPrefixLen)
	}
	return Format{prefix: prefix}, nil
}

// Prefix returns the token prefix.
func (f Format) Prefix() string { return f.prefix }

// Pattern returns a regular expression matching every token of this format,
// for secret scanners.
func (f Format) Pattern() string {
	return regexp.QuoteMeta(f.prefix) + fmt.Sprintf("[0-9A-Za-z]{%d}", BodyLen)
}

// Token is a parsed or freshly generated token. It prints and marshals as
// "[token]" everywhere (see redact.go); [Token.Reveal] is the one way to
// the secret, for the create response that shows it once.
//
// Tokens are not comparable with ==: compare what Reveal returns.
type Token struct {
	// text points to the token's first byte; its length is prefix +
	// BodyLen. fmt cannot call Format on a Token held in an unexported
	// struct field and prints such a field by reflection instead, and a
	// pointer it prints as an address: a string field would put the
	// token in the %v, %+v and %#v of every struct holding a Token,
	// however deeply. Pointing into the parsed string rather than at a
	// copy keeps Parse free of allocation on the authorizer's hot path.
	text   *byte
	prefix int
	// == would compare where two tokens are stored, not what they say.
	_ [0]func()
}

// Reveal returns the whole token, secret included; "" for the zero Token.
func (t Token) Reveal() string {
	if t.text == nil {
		return ""
	}
	return unsafe.String(t.text, t.prefix+BodyLen)
}

// ID returns the public key ID.
func (t Token) ID() string { return t.Reveal()[t.prefix : t.prefix+IDLen] }

// newToken returns the Token whose text is s, which has been checked to be
// prefixLen bytes of prefix and BodyLen of body.
func newToken(s string, prefixLen int) Token {
	return Token{text: unsafe.StringData(s), prefix: prefixLen}
}

// material is what the digest is computed over: the ID and the secret.
// The prefix is configuration, not key material, so it is left out.
func (t Token) material() string { return t.Reveal()[t.prefix : t.prefix+IDLen+SecretLen] }

// tag returns the token's tag as the number its digits spell; ok is false
// if they spell more than 64 bits, which no minted tag does.
func (t Token) tag() (uint64, bool) {
	s := t.Reveal()[t.prefix+IDLen+SecretLen : t.prefix+IDLen+SecretLen+TagLen]
	var n uint64
	for i := 0; i < len(s); i++ {
		hi, lo := bits.Mul64(n, 62)
		var carry uint64
		n, carry = bits.Add64(lo, uint64(base62Value[s[i]]), 0)
		if hi != 0 || carry != 0 {
			return 0, false
		}
	}
	return n, true
}

// ValidID reports whether id has the form of a key ID: IDLen base62
// characters. Anything else cannot name a key (and may be a pasted token,
// so it must not be logged).
func ValidID(id string) bool {
	if len(id) != IDLen {
		return false
	}
	for i := 0; i < len(id); i++ {
		if base62Value[id[i]] < 0 {
			return false
		}
	}
	return true
}

// Hint returns the prefix and the first HintLen characters of the body for
// a key ID: enough to tell keys apart, nothing secret (it is part of the ID).
func (f Format) Hint(id string) string {
	if len(id) > HintLen {
		id = id[:HintLen]
	}
	return f.prefix + id
}

// Generate makes a new token from random (crypto/rand.Reader in
// production), tagged with h's pepper so that h's authorizer accepts it.
func (f Format) Generate(random io.Reader, h *Hasher) (Token, error) {
	var b [idBytes + secretBytes]byte
	if _, err := io.ReadFull(random, b[:]); err != nil {
		return Token{}, fmt.Errorf("generate token: %w", err)
	}
	buf := make([]byte, 0, len(f.prefix)+BodyLen)
	buf = append(buf, f.prefix...)
	buf = appendBase62(buf, b[:idBytes], IDLen)
	buf = appendBase62(buf, b[idBytes:], SecretLen)
	d := h.tag.sum(string(buf[len(f.prefix):]))
	buf = appendBase62(buf, d[:tagBytes], TagLen)
	sum := checksumDigits(crc32.ChecksumIEEE(buf))
	buf = append(buf, sum[:]...)
	return newToken(string(buf), len(f.prefix)), nil
}

// Parse checks a token's prefix, length, alphabet and checksum: what anyone
// can check without the pepper. [Hasher.Authenticate] checks the tag. Parse
// does not allocate.
func (f Format) Parse(s string) (Token, error) {
	if len(s) != len(f.prefix)+BodyLen {
		return Token{}, errLength
	}
	if s[:len(f.prefix)] != f.prefix {
		return Token{}, errPrefix
	}
	// The checksum comes first: a mistyped or made-up token is rejected
	// after one CRC32, the least work that can tell (BENCHMARKS.md). A
	// token with a non-base62 character almost surely fails it too.
	n := len(s) - ChecksumLen
	if crc, ok := decodeChecksum(s[n:]); !ok || crc != uint64(crc32ChecksumString(s[:n])) {
		return Token{}, errChecksum
	}
	body := s[len(f.prefix):]
	for i := 0; i < len(body); i++ {
		if base62Value[body[i]] < 0 {
			return Token{}, errAlphabet
		}
	}
	return newToken(s, len(f.prefix)), nil
}

// decodeChecksum reads ChecksumLen base62 digits as a number; ok is false
// if one is not base62. Comparing numbers spares encoding the CRC.
func decodeChecksum(s string) (n uint64, ok bool) {
	var bad int8
	for i := 0; i < ChecksumLen; i++ {
		v := base62Value[s[i]]
		bad |= v
		n = n*62 + uint64(uint8(v))
	}
	return n, bad >= 0
}

// crc32ChecksumString avoids copying s to the heap: crc32 only reads its
// input and never retains it, so viewing the string's bytes is safe.
func crc32ChecksumString(s string) uint32 {
	return crc32.ChecksumIEEE(unsafe.Slice(unsafe.StringData(s), len(s)))
}

const base62Alphabet = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"

var base62Value = func() (v [256]int8) {
	for i := range v {
		v[i] = -1
	}
	for i := 0; i < len(base62Alphabet); i++ {
		v[base62Alphabet[i]] = int8(i)
	}
	return v
}()

// appendBase62 writes src as a big-endian number in exactly width base62
// digits. width must be large enough for 256^len(src).
func appendBase62(dst, src []byte, width int) []byte {
	num := append([]byte(nil), src...)
	out := make([]byte, width)
	for i := width - 1; i >= 0; i-- {
		// Long division of num by 62; the remainder is the next digit.
		var rem int
		for j := range num {
			acc := rem<<8 | int(num[j])
			num[j] = byte(acc / 62)
			rem = acc % 62
		}
		out[i] = base62Alphabet[rem]
	}
	return append(dst, out...)
}

func checksumDigits(sum uint32) (out [ChecksumLen]byte) {
	for i := ChecksumLen - 1; i >= 0; i-- {
		out[i] = base62Alphabet[sum%62]
		sum /= 62
	}
	return out
}
