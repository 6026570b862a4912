package apikey

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/hmac"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"fmt"
	"hash"
	"io"
	"strings"
	"sync"

	"golang.org/x/crypto/argon2"
)

// Hash algorithms for TOKEN_HASH.
const (
	HMACSHA256 = "hmac-sha256"
	Argon2ID   = "argon2id"
)

// argon2id parameters: OWASP's minimum recommendation (19 MiB, t=2, p=1),
// small enough for a 128 MB Lambda.
const (
	argonTime    = 2
	argonMemory  = 19 * 1024
	argonThreads = 1
	argonSaltLen = 16
	argonKeyLen  = 32
)

// MinPepperLen is the shortest server secret accepted: HMAC keys shorter
// than the hash output weaken it.
const MinPepperLen = 32

// Hasher turns tokens into verifiers keyed with the server secret (the
// pepper), so that write access to the table alone cannot mint a key.
type Hasher struct {
	alg    string
	random io.Reader
	// ipad and opad are the HMAC key blocks, precomputed once so that the
	// authorizer's hot path computes HMAC-SHA-256 without allocating.
	ipad, opad [sha256.BlockSize]byte
	// seal encrypts tokens kept for idempotent replays, with a key derived
	// from the pepper.
	seal cipher.AEAD
}

// NewHasher returns a Hasher for alg (HMACSHA256 or Argon2ID). random is
// used for argon2id salts.
func NewHasher(pepper []byte, alg string, random io.Reader) (*Hasher, error) {
	if len(pepper) < MinPepperLen {
		return nil, fmt.Errorf("token pepper must be at least %d bytes", MinPepperLen)
	}
	switch alg {
	case HMACSHA256, Argon2ID:
	default:
		return nil, fmt.Errorf("token hash %q must be %s or %s", alg, HMACSHA256, Argon2ID)
	}
	h := &Hasher{alg: alg, random: random}
	key := pepper
	if len(key) > sha256.BlockSize {
		sum := sha256.Sum256(key)
		key = sum[:]
	}
	for i := range h.ipad {
		h.ipad[i] = 0x36
		h.opad[i] = 0x5c
	}
	for i, b := range key {
		h.ipad[i] ^= b
		h.opad[i] ^= b
	}
	mac := hmac.New(sha256.New, pepper)
	mac.Write([]byte("keygate/idempotency-seal/v1"))
	block, err := aes.NewCipher(mac.Sum(nil))
	if err != nil {
		return nil, err
	}
	if h.seal, err = cipher.NewGCM(block); err != nil {
		return nil, err
	}
	return h, nil
}

// Seal encrypts plain with a key derived from the pepper (AES-GCM), for
// values the service hands out or keeps but must be able to trust on the
// way back: tokens kept for idempotent replays, list cursors. The result
// is bound to context, so it cannot be moved to another record or listing.
func (h *Hasher) Seal(plain []byte, context string) (string, error) {
	nonce := make([]byte, h.seal.NonceSize())
	if _, err := io.ReadFull(h.random, nonce); err != nil {
		return "", fmt.Errorf("seal: %w", err)
	}
	out := h.seal.Seal(nonce, nonce, plain, []byte(context))
	return base64.RawURLEncoding.EncodeToString(out), nil
}

// Open reverses Seal. Anything tampered with, sealed under another pepper
// or for another context is an error.
func (h *Hasher) Open(sealed, context string) ([]byte, error) {
	raw, err := base64.RawURLEncoding.DecodeString(sealed)
	if err != nil || len(raw) < h.seal.NonceSize() {
		return nil, errors.New("open: unreadable")
	}
	n := h.seal.NonceSize()
	plain, err := h.seal.Open(nil, raw[:n], raw[n:], []byte(context))
	if err != nil {
		return nil, errors.New("open: authentication failed")
	}
	return plain, nil
}

// Digest is HMAC-SHA-256(pepper, id‖secret). The authorizer computes it on
// every request (tag check and cache comparison), so it must stay cheap.
func (h *Hasher) Digest(t Token) [sha256.Size]byte { return h.digest(t.material()) }

// Authenticate returns t's digest and whether t's tag matches it, that is
// whether t was minted with this pepper. A token that fails is refused
// without a read: its ID may be real (IDs are public) but its tag cannot be
// made without the pepper. The comparison is constant-time, so timing
// tells a forger nothing about the tag of the secret they chose.
func (h *Hasher) Authenticate(t Token) ([sha256.Size]byte, bool) {
	d := h.digest(t.material())
	tag, ok := t.tag()
	var got [tagBytes]byte
	binary.BigEndian.PutUint64(got[:], tag)
	return d, ok && subtle.ConstantTimeCompare(got[:], d[:tagBytes]) == 1
}

// digestMAC is a keyed crypto/hmac HMAC-SHA-256 with its input and output
// buffers: reused from a free list, a Digest allocates nothing (a stack
// buffer handed to the hash.Hash interface would escape) and, through
// hmac's Reset, starts from the key's saved inner and outer states, one
// SHA-256 block less on each side than re-hashing precomputed pads did
// (BENCHMARKS.md, "Digest: hand-rolled HMAC or crypto/hmac"). Entries
// remember the key they were made with, so Hashers with different peppers
// can share the list.
type digestMAC struct {
	keyed bool
	ipad  [sha256.BlockSize]byte
	hmac  hash.Hash
	in    [IDLen + SecretLen]byte
	out   [sha256.Size]byte
}

// digestMACs is a free list rather than a sync.Pool: under the race
// detector a Pool drops a quarter of what is put back, so Digest would
// allocate there and the allocation tests that make unit runs with -race
// would fail. It holds at most as many entries as Digests ever ran at once.
var digestMACs struct {
	sync.Mutex
	free []*digestMAC
}

func (h *Hasher) digest(m string) [sha256.Size]byte {
	digestMACs.Lock()
	var p *digestMAC
	if n := len(digestMACs.free); n > 0 {
		p = digestMACs.free[n-1]
		digestMACs.free = digestMACs.free[:n-1]
	}
	digestMACs.Unlock()
	if p == nil {
		p = new(digestMAC)
	}
	// Constant-time although both sides are the server's: the key must
	// not leak through timing whoever calls.
	if !p.keyed || subtle.ConstantTimeCompare(p.ipad[:], h.ipad[:]) != 1 {
		// The ipad is the zero-padded key XOR 0x36, and HMAC pads keys
		// shorter than a block with zeros: this key gives the same MAC as
		// the pepper (or its hash, for a pepper longer than a block).
		var key [sha256.BlockSize]byte
		for i, b := range h.ipad {
			key[i] = b ^ 0x36
		}
		p.hmac, p.ipad, p.keyed = hmac.New(sha256.New, key[:]), h.ipad, true
	}
	copy(p.in[:], m)
	p.hmac.Write(p.in[:len(m)])
	p.hmac.Sum(p.out[:0])
	sum := p.out
	p.hmac.Reset()
	digestMACs.Lock()
	digestMACs.free = append(digestMACs.free, p)
	digestMACs.Unlock()
	return sum
}

// Verifier returns the string stored for a new token, in the configured
// algorithm. The algorithm is part of the string so that changing
// TOKEN_HASH never breaks keys created before.
func (h *Hasher) Verifier(t Token) (string, error) {
	d := h.Digest(t)
	if h.alg == HMACSHA256 {
		return HMACSHA256 + "$" + base64.RawStdEncoding.EncodeToString(d[:]), nil
	}
	salt := make([]byte, argonSaltLen)
	if _, err := io.ReadFull(h.random, salt); err != nil {
		return "", fmt.Errorf("argon2id salt: %w", err)
	}
	sum := argon2.IDKey(d[:], salt, argonTime, argonMemory, argonThreads, argonKeyLen)
	return fmt.Sprintf("%s$v=%d$m=%d,t=%d,p=%d$%s$%s", Argon2ID, argon2.Version, argonMemory, argonTime, argonThreads,
		base64.RawStdEncoding.EncodeToString(salt), base64.RawStdEncoding.EncodeToString(sum)), nil
}

var errVerifier = errors.New("unreadable verifier")

// Verify reports whether t matches a stored verifier, comparing in constant
// time. An unreadable verifier is an error, so callers fail closed.
func (h *Hasher) Verify(t Token, verifier string) (bool, error) {
	d := h.Digest(t)
	return h.VerifyDigest(d, verifier)
}

// VerifyDigest is Verify for a Digest already computed.
func (h *Hasher) VerifyDigest(d [sha256.Size]byte, verifier string) (bool, error) {
	if rest, ok := strings.CutPrefix(verifier, HMACSHA256+"$"); ok {
		var want [sha256.Size]byte
		n, err := base64.RawStdEncoding.Decode(want[:], []byte(rest))
		if err != nil || n != sha256.Size {
			return false, errVerifier
		}
		return subtle.ConstantTimeCompare(d[:], want[:]) == 1, nil
	}
	var version, memory, time, threads int
	var salt, sum string
	parts := strings.Split(verifier, "$")
	if len(parts) != 5 || parts[0] != Argon2ID {
		return false, errVerifier
	}
	if _, err := fmt.Sscanf(parts[1], "v=%d", &version); err != nil || version != argon2.Version {
		return false, errVerifier
	}
	if _, err := fmt.Sscanf(parts[2], "m=%d,t=%d,p=%d", &memory, &time, &threads); err != nil ||
		memory <= 0 || memory > 1<<20 || time <= 0 || time > 16 || threads <= 0 || threads > 16 {
		return false, errVerifier
	}
	salt, sum = parts[3], parts[4]
	saltBytes, err1 := base64.RawStdEncoding.DecodeString(salt)
	want, err2 := base64.RawStdEncoding.DecodeString(sum)
	if err1 != nil || err2 != nil || len(want) == 0 {
		return false, errVerifier
	}
	got := argon2.IDKey(d[:], saltBytes, uint32(time), uint32(memory), uint8(threads), uint32(len(want)))
	return subtle.ConstantTimeCompare(got, want) == 1, nil
}
