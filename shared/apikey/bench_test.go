package apikey_test

import (
	"bytes"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"hash"
	"hash/crc32"
	"sync"
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
// crc32.ChecksumIEEE over what the checksum covers (the token up to its
// checksum), the least work that can tell a mistyped token. Not the whole
// token: crc32's vector path takes 16-byte blocks from 64 bytes up, so a
// few bytes more or less move its time by half (79 bytes: 33 ns, 85: 19 ns
// on the bench machine), which would make the ratio measure the token's
// length rather than Parse.
func BenchmarkCRC32Token(b *testing.B) {
	_, tok := benchToken(b)
	raw := []byte(tok.Reveal()[:len(tok.Reveal())-apikey.ChecksumLen])
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

// BenchmarkDigestParallel is Digest from GOMAXPROCS goroutines at once:
// its free list's lock under contention, as in the local stack. In Lambda
// an execution environment runs one invocation at a time, so the lock is
// never contended there.
func BenchmarkDigestParallel(b *testing.B) {
	_, tok := benchToken(b)
	h := benchHasher(b, apikey.HMACSHA256)
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			h.Digest(tok)
		}
	})
}

// BenchmarkDigestImpl weighs the ways to compute Digest's HMAC-SHA-256: a
// hand-rolled HMAC over pads precomputed at start-up (what Digest did),
// and crypto/hmac used the two allocation-aware ways Go offers. The figures
// chose Digest's code (BENCHMARKS.md, "Digest: hand-rolled HMAC or
// crypto/hmac"); rerun them when Go or the token format changes. Every
// variant is first checked to produce Digest's result.
func BenchmarkDigestImpl(b *testing.B) {
	_, tok := benchToken(b)
	h := benchHasher(b, apikey.HMACSHA256)
	want := h.Digest(tok)
	// Digest's input, id‖secret, as the token carries it.
	material := tok.Reveal()[len(apikey.DefaultPrefix) : len(apikey.DefaultPrefix)+apikey.IDLen+apikey.SecretLen]

	// A keyed HMAC cloned per call through hash.Cloner (Go 1.25+): the key
	// schedule is paid once, each call pays for the copy.
	proto, ok := hmac.New(sha256.New, benchPepper).(hash.Cloner)
	if !ok {
		b.Fatal("crypto/hmac's HMAC-SHA-256 is not a hash.Cloner")
	}
	cloned := func(m string) [sha256.Size]byte {
		c, err := proto.Clone()
		if err != nil {
			b.Fatal(err)
		}
		c.Write([]byte(m))
		var out [sha256.Size]byte
		c.Sum(out[:0])
		return out
	}

	// A sync.Pool of keyed HMACs, Reset after use. The input and output
	// buffers travel with the HMAC: a stack buffer passed to the hash.Hash
	// interface would escape and cost an allocation per call.
	type pooledMAC struct {
		mac hash.Hash
		in  [apikey.IDLen + apikey.SecretLen]byte
		out [sha256.Size]byte
	}
	pool := sync.Pool{New: func() any { return &pooledMAC{mac: hmac.New(sha256.New, benchPepper)} }}
	pooled := func(m string) [sha256.Size]byte {
		p := pool.Get().(*pooledMAC)
		n := copy(p.in[:], m)
		p.mac.Write(p.in[:n])
		p.mac.Sum(p.out[:0])
		out := p.out
		p.mac.Reset()
		pool.Put(p)
		return out
	}

	// The code Digest had before: HMAC by hand over pads precomputed from
	// the key, re-hashing both pad blocks on every call.
	var ipad, opad [sha256.BlockSize]byte
	for i := range ipad {
		ipad[i], opad[i] = 0x36, 0x5c
	}
	for i, k := range benchPepper {
		ipad[i] ^= k
		opad[i] ^= k
	}
	handRolled := func(m string) [sha256.Size]byte {
		var inner [sha256.BlockSize + apikey.IDLen + apikey.SecretLen]byte
		copy(inner[:], ipad[:])
		copy(inner[sha256.BlockSize:], m)
		ih := sha256.Sum256(inner[:sha256.BlockSize+len(m)])
		var outer [sha256.BlockSize + sha256.Size]byte
		copy(outer[:], opad[:])
		copy(outer[sha256.BlockSize:], ih[:])
		return sha256.Sum256(outer[:])
	}

	for _, c := range []struct {
		name   string
		digest func(string) [sha256.Size]byte
	}{
		{"Digest", func(string) [sha256.Size]byte { return h.Digest(tok) }},
		{"hand-rolled", handRolled},
		{"hmac-clone", cloned},
		{"hmac-pool", pooled},
	} {
		b.Run(c.name, func(b *testing.B) {
			if got := c.digest(material); got != want {
				b.Fatalf("%s = %x, want Digest's %x", c.name, got, want)
			}
			b.ReportAllocs()
			for b.Loop() {
				c.digest(material)
			}
		})
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
