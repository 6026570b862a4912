package apikey

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/hkdf"
	"crypto/hmac"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"fmt"
	"hash"
	"io"
	"strconv"
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
//
// Its secrets (see Peppers): the tag seed keys the token's anti-forgery
// tag and the authorizer's cache comparison (Digest), nothing else; the
// versioned peppers key the stored verifiers and the sealing (Seal).
// Verifiers and sealed values name the pepper version they were made
// under, so the pepper can rotate while what was made under the previous
// one keeps working until that version is retired.
type Hasher struct {
	alg     string
	random  io.Reader
	tag     *macPool
	current int
	peppers map[int]*macPool
	// seals, by pepper version, encrypt tokens kept for idempotent replays
	// and list cursors; Seal uses the current version's.
	seals map[int]cipher.AEAD
	// legacySeal opens values sealed before sealing had versions, under a
	// key derived from the tag seed; nil once pepper version 1 is retired.
	legacySeal cipher.AEAD
}

// NewHasher returns a Hasher with a single pepper (version 1, also the tag
// seed), for alg (HMACSHA256 or Argon2ID). random is used for argon2id
// salts and sealing nonces.
func NewHasher(pepper []byte, alg string, random io.Reader) (*Hasher, error) {
	return NewVersionedHasher(Peppers{TagSeed: pepper, Current: 1, Versions: map[int]Secret{1: pepper}}, alg, random)
}

// NewVersionedHasher returns a Hasher over p.
func NewVersionedHasher(p Peppers, alg string, random io.Reader) (*Hasher, error) {
	if err := p.check(); err != nil {
		return nil, err
	}
	switch alg {
	case HMACSHA256, Argon2ID:
	default:
		return nil, fmt.Errorf("token hash %q must be %s or %s", alg, HMACSHA256, Argon2ID)
	}
	h := &Hasher{alg: alg, random: random, tag: newMACPool(p.TagSeed), current: p.Current,
		peppers: map[int]*macPool{}, seals: map[int]cipher.AEAD{}}
	for v, pepper := range p.Versions {
		h.peppers[v] = newMACPool(pepper)
		// Derived per version, so that retiring a pepper retires what it
		// sealed: a leaked old pepper opens nothing sealed after it stopped
		// being current. HKDF with its own info keeps the key independent
		// of the verifiers' HMACs under the same pepper.
		key, err := hkdf.Key(sha256.New, pepper, nil, sealInfo, 32)
		if err != nil {
			return nil, err
		}
		if h.seals[v], err = newGCM(key); err != nil {
			return nil, err
		}
	}
	if _, ok := p.Versions[1]; ok {
		// Before sealing had versions, the key was derived from the tag
		// seed. Such values (cursors, and idempotency records for 24 h
		// after the upgrade) stay readable as long as version 1 is: the
		// tag seed is then pepper version 1 in every documented setting.
		mac := hmac.New(sha256.New, p.TagSeed)
		mac.Write([]byte("keygate/idempotency-seal/v1"))
		var err error
		if h.legacySeal, err = newGCM(mac.Sum(nil)); err != nil {
			return nil, err
		}
	}
	return h, nil
}

// sealInfo is the HKDF info of the sealing keys: it separates them from
// any other key a future version might derive from the same pepper.
const sealInfo = "keygate/seal"

// newGCM returns AES-256-GCM under key.
func newGCM(key []byte) (cipher.AEAD, error) {
	block, err := aes.NewCipher(key)
	if err != nil {
		return nil, err
	}
	return cipher.NewGCM(block)
}

// ErrRetiredSeal is a sealed value made under a pepper version this Hasher
// no longer has (or, unversioned, made before sealing had versions, once
// version 1 is retired): it cannot be opened, by design, since rotating a
// pepper must also retire what it sealed.
var ErrRetiredSeal = errors.New("sealed under a retired pepper version")

// Seal encrypts plain under the current pepper version (AES-256-GCM, key
// derived with HKDF-SHA-256), for values the service hands out or keeps
// but must be able to trust on the way back: tokens kept for idempotent
// replays, list cursors. The result is "<version>.<base64url>": the
// version says which key opens it, so a pepper rotation re-keys sealing
// along with the verifiers. It is bound to context (and to its version),
// so it cannot be moved to another record or listing.
func (h *Hasher) Seal(plain []byte, context string) (string, error) {
	aead := h.seals[h.current]
	nonce := make([]byte, aead.NonceSize())
	if _, err := io.ReadFull(h.random, nonce); err != nil {
		return "", fmt.Errorf("seal: %w", err)
	}
	version := strconv.Itoa(h.current)
	out := aead.Seal(nonce, nonce, plain, sealAD(version, context))
	return version + "." + base64.RawURLEncoding.EncodeToString(out), nil
}

// sealAD is the additional data of a versioned seal: the version is
// authenticated too, so a value relabelled with another version fails
// even if two versions had the same pepper.
func sealAD(version, context string) []byte { return []byte(version + "." + context) }

// Open reverses Seal, under the pepper version the value names if this
// Hasher still lists it, and ErrRetiredSeal if not. A value without a
// version (sealed before versions existed) opens under the tag-seed key
// while version 1 is listed. Anything tampered with, sealed under another
// pepper or for another context is an error.
func (h *Hasher) Open(sealed, context string) ([]byte, error) {
	aead, body, ad := h.legacySeal, sealed, []byte(context)
	if version, rest, ok := strings.Cut(sealed, "."); ok {
		v, err := strconv.Atoi(version)
		if err != nil || v < 1 || strconv.Itoa(v) != version {
			return nil, errors.New("open: unreadable")
		}
		aead, body, ad = h.seals[v], rest, sealAD(version, context)
	}
	if aead == nil {
		return nil, fmt.Errorf("open: %w", ErrRetiredSeal)
	}
	raw, err := base64.RawURLEncoding.DecodeString(body)
	n := aead.NonceSize()
	if err != nil || len(raw) < n {
		return nil, errors.New("open: unreadable")
	}
	plain, err := aead.Open(nil, raw[:n], raw[n:], ad)
	if err != nil {
		return nil, errors.New("open: authentication failed")
	}
	return plain, nil
}

// Digest is HMAC-SHA-256(tag seed, id‖secret). The authorizer computes it
// on every request (tag check and cache comparison), so it must stay cheap.
func (h *Hasher) Digest(t Token) [sha256.Size]byte { return h.tag.sum(t.material()) }

// Authenticate returns t's digest and whether t's tag matches it, that is
// whether t was minted with this deployment's tag seed. A token that fails
// is refused without a read: its ID may be real (IDs are public) but its
// tag cannot be made without the seed. The comparison is constant-time, so
// timing tells a forger nothing about the tag of the secret they chose.
func (h *Hasher) Authenticate(t Token) ([sha256.Size]byte, bool) {
	d := h.tag.sum(t.material())
	tag, ok := t.tag()
	var got [tagBytes]byte
	binary.BigEndian.PutUint64(got[:], tag)
	return d, ok && subtle.ConstantTimeCompare(got[:], d[:tagBytes]) == 1
}

// macPool computes HMAC-SHA-256 under one key with crypto/hmac instances
// reused from a free list: a sum allocates nothing (a stack buffer handed
// to the hash.Hash interface would escape) and, through hmac's Reset,
// starts from the key's saved inner and outer states, one SHA-256 block
// less on each side than re-hashing precomputed pads did (BENCHMARKS.md,
// "Digest: hand-rolled HMAC or crypto/hmac"). A free list rather than a
// sync.Pool: under the race detector a Pool drops a quarter of what is put
// back, so sums would allocate there and the allocation tests would fail.
type macPool struct {
	key  []byte
	mu   sync.Mutex
	free []*digestMAC
}

type digestMAC struct {
	hmac hash.Hash
	// in holds the message: a token's ID and secret, or an imported
	// value with its domain label.
	in  [len(importDomain) + MaxImportedLen]byte
	out [sha256.Size]byte
}

func newMACPool(key []byte) *macPool { return &macPool{key: append([]byte(nil), key...)} }

func (p *macPool) sum(m string) [sha256.Size]byte {
	p.mu.Lock()
	var inst *digestMAC
	if n := len(p.free); n > 0 {
		inst, p.free = p.free[n-1], p.free[:n-1]
	}
	p.mu.Unlock()
	if inst == nil {
		inst = &digestMAC{hmac: hmac.New(sha256.New, p.key)}
	}
	if len(m) <= len(inst.in) {
		copy(inst.in[:], m)
		inst.hmac.Write(inst.in[:len(m)])
	} else {
		// Longer than any message of ours: correct, if not free.
		inst.hmac.Write([]byte(m))
	}
	inst.hmac.Sum(inst.out[:0])
	sum := inst.out
	inst.hmac.Reset()
	p.mu.Lock()
	p.free = append(p.free, inst)
	p.mu.Unlock()
	return sum
}

// Verifier returns the string stored for a new token, in the configured
// algorithm, under the current pepper. The algorithm and the pepper
// version are part of the string, so that changing TOKEN_HASH or rotating
// the pepper never breaks keys created before. Version 1 is written
// without a version prefix, as verifiers were before peppers had versions.
func (h *Hasher) Verifier(t Token) (string, error) { return h.verifier(t.material()) }

// verifier is Verifier over any material: a token's ID and secret, or an
// imported value.
func (h *Hasher) verifier(material string) (string, error) {
	d := h.peppers[h.current].sum(material)
	prefix := ""
	if h.current != 1 {
		prefix = "k" + strconv.Itoa(h.current) + "$"
	}
	if h.alg == HMACSHA256 {
		return prefix + HMACSHA256 + "$" + base64.RawStdEncoding.EncodeToString(d[:]), nil
	}
	salt := make([]byte, argonSaltLen)
	if _, err := io.ReadFull(h.random, salt); err != nil {
		return "", fmt.Errorf("argon2id salt: %w", err)
	}
	sum := argon2.IDKey(d[:], salt, argonTime, argonMemory, argonThreads, argonKeyLen)
	return fmt.Sprintf("%s%s$v=%d$m=%d,t=%d,p=%d$%s$%s", prefix, Argon2ID, argon2.Version, argonMemory, argonTime, argonThreads,
		base64.RawStdEncoding.EncodeToString(salt), base64.RawStdEncoding.EncodeToString(sum)), nil
}

var errVerifier = errors.New("unreadable verifier")

// ErrRetiredPepper is a verifier made under a pepper version this Hasher
// no longer has: the key cannot be verified (callers refuse it).
var ErrRetiredPepper = errors.New("verifier made under a retired pepper version")

// pepperVersion splits a verifier into its pepper version and the rest.
func pepperVersion(verifier string) (int, string, error) {
	rest, ok := strings.CutPrefix(verifier, "k")
	if !ok {
		return 1, verifier, nil
	}
	v, rest, ok := strings.Cut(rest, "$")
	n, err := strconv.Atoi(v)
	if !ok || err != nil || n < 2 || strconv.Itoa(n) != v {
		return 0, "", errVerifier
	}
	return n, rest, nil
}

// Stale reports whether verifier was made under another pepper version
// than the current one: the key should be re-stamped (Verifier) when its
// token is next seen.
func (h *Hasher) Stale(verifier string) bool {
	v, _, err := pepperVersion(verifier)
	return err == nil && v != h.current
}

// Verify reports whether t matches a stored verifier, under the pepper
// version the verifier names, comparing in constant time. An unreadable
// verifier is an error, and one of a retired version is ErrRetiredPepper,
// so callers fail closed.
func (h *Hasher) Verify(t Token, verifier string) (bool, error) {
	return h.verify(t.material(), verifier)
}

// verify is Verify over any material.
func (h *Hasher) verify(material, verifier string) (bool, error) {
	v, rest, err := pepperVersion(verifier)
	if err != nil {
		return false, err
	}
	pool, ok := h.peppers[v]
	if !ok {
		return false, ErrRetiredPepper
	}
	return verifyDigest(pool.sum(material), rest)
}

// verifyDigest compares d, the token's HMAC under the verifier's pepper,
// with a verifier stripped of its version.
func verifyDigest(d [sha256.Size]byte, verifier string) (bool, error) {
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

// Imported values: API keys made elsewhere (another gateway, a homegrown
// scheme) that keep working after an import. They have no prefix, tag or
// checksum, so nothing about them can be checked without the table; what
// the authorizer has instead is an in-memory set of their lookup digests
// (ImportDigest).
const (
	// MinImportedLen is the shortest value imported: API Gateway's own
	// minimum for an API key's value, and short of it a value is guessable.
	MinImportedLen = 20
	// MaxImportedLen bounds an imported value: API Gateway allows 128
	// characters; twice that leaves room for homegrown schemes.
	MaxImportedLen = 256
)

// importDomain separates imported values' lookup digests from Keygate
// tokens' digests under the same tag seed: a value that happened to spell
// some token's id‖secret must not share its digest.
const importDomain = "keygate/imported\x00"

// CheckImported says why value cannot be imported ("" if it can): too
// short, too long, or holding a byte that is not printable ASCII (an API
// key travels in a header, where anything else is mangled or refused).
// The reason never quotes the value.
func CheckImported(value string) string {
	switch {
	case len(value) < MinImportedLen:
		return fmt.Sprintf("shorter than %d characters", MinImportedLen)
	case len(value) > MaxImportedLen:
		return fmt.Sprintf("longer than %d characters", MaxImportedLen)
	}
	for i := 0; i < len(value); i++ {
		if value[i] <= ' ' || value[i] > '~' {
			return "not printable ASCII without spaces"
		}
	}
	return ""
}

// ImportDigest is an imported value's lookup digest: HMAC-SHA-256 under
// the tag seed, like Digest, over a domain label and the value. Its
// first 8 bytes are what the authorizer keeps in memory for every
// imported key, and the whole is the key's cache comparison, so a
// string that is no imported key is refused without a read. The tag
// seed does not rotate with the peppers, so the index stays valid
// across pepper rotations.
func (h *Hasher) ImportDigest(value string) [sha256.Size]byte {
	return h.tag.sum(importDomain + value)
}

// ImportedVerifier returns the string stored for an imported value: the
// same as Verifier's for a token, HMAC-SHA-256 (or argon2id over it)
// under the current pepper, over the value itself.
func (h *Hasher) ImportedVerifier(value string) (string, error) {
	return h.verifier(value)
}

// VerifyImported is Verify for an imported value.
func (h *Hasher) VerifyImported(value, verifier string) (bool, error) {
	return h.verify(value, verifier)
}
