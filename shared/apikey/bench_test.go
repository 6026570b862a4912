package apikey_test

import (
	"bytes"
	"crypto/rand"
	"hash/crc32"
	"testing"

	"github.com/keygate/keygate/shared/apikey"
)

// Benchmarks of the token format and the verifiers. `make bench` runs them
// with -count and infra/bench/ratios checks the targets of BENCHMARKS.md
// against their medians: a malformed token is rejected within 2x
// BenchmarkCRC32Token.

var benchPepper = bytes.Repeat([]byte("b"), 32)

// benchToken is a valid token of the default format, made once.
func benchToken(b *testing.B) (apikey.Format, apikey.Token) {
	b.Helper()
	f, err := apikey.NewFormat(apikey.DefaultPrefix)
	if err != nil {
		b.Fatal(err)
	}
	tok, err := f.Generate(rand.Reader, benchHasher(b, apikey.HMACSHA256))
	if err != nil {
		b.Fatal(err)
	}
	return f, tok
}

func benchHasher(b *testing.B, alg string) *apikey.Hasher {
	b.Helper()
	h, err := apikey.NewHasher(benchPepper, alg, rand.Reader)
	if err != nil {
		b.Fatal(err)
	}
	return h
}

// badChecksum changes the last checksum digit, keeping the token base62
// and full length, so Parse does all its work before it rejects.
func badChecksum(s string) string {
	last := s[len(s)-1]
	repl := byte('0')
	if last == '0' {
		repl = '1'
	}
	return s[:len(s)-1] + string(repl)
}

// BenchmarkCRC32Token is the baseline of the malformed-token target:
// crc32.ChecksumIEEE over the whole token.
func BenchmarkCRC32Token(b *testing.B) {
	_, tok := benchToken(b)
	raw := []byte(tok.Reveal())
	b.ReportAllocs()
	for b.Loop() {
		crc32.ChecksumIEEE(raw)
	}
}

// BenchmarkParse is the authorizer's first step: prefix, length, alphabet
// and checksum, no storage. bad-checksum is the most expensive rejection
// (everything is read), bad-length the cheapest.
func BenchmarkParse(b *testing.B) {
	f, tok := benchToken(b)
	cases := []struct {
		name, token string
		valid       bool
	}{
		{"valid", tok.Reveal(), true},
		{"bad-checksum", badChecksum(tok.Reveal()), false},
		{"bad-length", tok.Reveal()[:len(tok.Reveal())-1], false},
	}
	for _, c := range cases {
		b.Run(c.name, func(b *testing.B) {
			if _, err := f.Parse(c.token); (err == nil) != c.valid {
				b.Fatalf("Parse(%s) err = %v", c.name, err)
			}
			b.ReportAllocs()
			for b.Loop() {
				f.Parse(c.token)
			}
		})
	}
}

// BenchmarkDigest is the allocation-free HMAC-SHA-256 of a token's ID and
// secret: the authorizer's cache key and the work of every decision.
func BenchmarkDigest(b *testing.B) {
	_, tok := benchToken(b)
	h := benchHasher(b, apikey.HMACSHA256)
	b.ReportAllocs()
	for b.Loop() {
		h.Digest(tok)
	}
}

// BenchmarkVerify checks a token against its stored verifier: what a cache
// miss does after its GetItem.
func BenchmarkVerify(b *testing.B) {
	for _, alg := range []string{apikey.HMACSHA256, apikey.Argon2ID} {
		b.Run(alg, func(b *testing.B) {
			_, tok := benchToken(b)
			h := benchHasher(b, alg)
			v, err := h.Verifier(tok)
			if err != nil {
				b.Fatal(err)
			}
			if ok, err := h.Verify(tok, v); !ok || err != nil {
				b.Fatalf("Verify = %v, %v", ok, err)
			}
			b.ReportAllocs()
			for b.Loop() {
				h.Verify(tok, v)
			}
		})
	}
}

// BenchmarkVerifier computes the stored verifier of a new token: what a
// create does.
func BenchmarkVerifier(b *testing.B) {
	for _, alg := range []string{apikey.HMACSHA256, apikey.Argon2ID} {
		b.Run(alg, func(b *testing.B) {
			_, tok := benchToken(b)
			h := benchHasher(b, alg)
			b.ReportAllocs()
			for b.Loop() {
				if _, err := h.Verifier(tok); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkAuthenticate checks a token's tag: the whole cost of refusing a
// well-formed token this deployment did not mint (a forged tag).
func BenchmarkAuthenticate(b *testing.B) {
	f, tok := benchToken(b)
	h := benchHasher(b, apikey.HMACSHA256)
	raw := tok.Reveal()
	// Same ID, a secret the forger chose, the tag copied: the checksum is
	// public, so it is fixed up and the token parses.
	n := len(raw) - apikey.ChecksumLen - apikey.TagLen - 1
	forgedBody := raw[:n] + "x" + raw[n+1:len(raw)-apikey.ChecksumLen]
	sum := crc32.ChecksumIEEE([]byte(forgedBody))
	forged, err := f.Parse(forgedBody + checksumDigits(sum))
	if err != nil {
		b.Fatal(err)
	}
	for _, c := range []struct {
		name string
		tok  apikey.Token
		want bool
	}{{"minted", tok, true}, {"forged", forged, false}} {
		b.Run(c.name, func(b *testing.B) {
			if _, ok := h.Authenticate(c.tok); ok != c.want {
				b.Fatalf("Authenticate = %v", ok)
			}
			b.ReportAllocs()
			for b.Loop() {
				h.Authenticate(c.tok)
			}
		})
	}
}

// checksumDigits writes a CRC32 as the token's six base62 digits.
func checksumDigits(sum uint32) string {
	const alphabet = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
	out := make([]byte, apikey.ChecksumLen)
	for i := len(out) - 1; i >= 0; i-- {
		out[i] = alphabet[sum%62]
		sum /= 62
	}
	return string(out)
}

// BenchmarkGenerate makes a new token from crypto/rand.
func BenchmarkGenerate(b *testing.B) {
	f, _ := benchToken(b)
	h := benchHasher(b, apikey.HMACSHA256)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := f.Generate(rand.Reader, h); err != nil {
			b.Fatal(err)
		}
	}
}
