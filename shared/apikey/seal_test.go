package apikey

import (
	"bytes"
	"crypto/aes"
	"crypto/cipher"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"strings"
	"testing"
)

// TestSealVersions: sealed values name their pepper version and open while
// it is listed, in every environment of a rotation, and fail closed with
// ErrRetiredSeal once it is retired; values sealed before versions existed
// open while version 1 is listed; a relabelled version never opens.
func TestSealVersions(t *testing.T) {
	a, b := bytes.Repeat([]byte("a"), 32), bytes.Repeat([]byte("b"), 32)
	hasher := func(current int, versions map[int]Secret) *Hasher {
		t.Helper()
		h, err := NewVersionedHasher(Peppers{TagSeed: a, Current: current, Versions: versions}, HMACSHA256, rand.Reader)
		if err != nil {
			t.Fatal(err)
		}
		return h
	}
	// The steps of docs/pepper-rotation.md, and a setting whose versions
	// share one pepper, where only the version's authentication tells 1
	// from 2.
	before := hasher(1, map[int]Secret{1: a})
	added := hasher(1, map[int]Secret{1: a, 2: b})
	current := hasher(2, map[int]Secret{1: a, 2: b})
	retired := hasher(2, map[int]Secret{2: b})
	same := hasher(2, map[int]Secret{1: a, 2: a})
	const context = "cursor\x00alice"
	seal := func(h *Hasher) string {
		t.Helper()
		s, err := h.Seal([]byte("position"), context)
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	v1, v2, v2same := seal(before), seal(current), seal(same)
	if !strings.HasPrefix(v1, "1.") || !strings.HasPrefix(v2, "2.") || !strings.HasPrefix(seal(added), "1.") {
		t.Fatalf("sealed values %.6s…, %.6s… do not name the current version", v1, v2)
	}
	legacy := legacySeal(t, a, []byte("position"), context)
	const opens, retiredErr, fails = "opens", "ErrRetiredSeal", "fails, not as retired"
	tests := []struct {
		name    string
		h       *Hasher
		sealed  string
		context string
		want    string
	}{
		{"v1 before the rotation", before, v1, context, opens},
		{"v1 while v2 is added", added, v1, context, opens},
		{"v1 while v2 is current", current, v1, context, opens},
		{"v1 after v1 is retired", retired, v1, context, retiredErr},
		{"v2 where v2 is only added", added, v2, context, opens},
		{"v2 after v1 is retired", retired, v2, context, opens},
		{"v2 where v2 is unknown", before, v2, context, retiredErr},
		{"unversioned while v1 is listed", before, legacy, context, opens},
		{"unversioned while v2 is current", current, legacy, context, opens},
		{"unversioned after v1 is retired", retired, legacy, context, retiredErr},
		{"v2 relabelled 1", current, "1" + v2[1:], context, fails},
		{"v1 relabelled 2", current, "2" + v1[1:], context, fails},
		{"v2 relabelled 1, one pepper for both", same, "1" + v2same[1:], context, fails},
		{"v2 unversioned", current, v2[2:], context, fails},
		{"unversioned labelled 1", current, "1." + legacy, context, fails},
		{"version 3", current, "3" + v2[1:], context, retiredErr},
		{"version 0", current, "0" + v2[1:], context, fails},
		{"version 02", current, "02" + v2[1:], context, fails},
		{"version -2", current, "-2" + v2[1:], context, fails},
		{"empty version", current, v2[1:], context, fails},
		{"two versions", current, "2." + v2, context, fails},
		{"tampered", current, flipAt(v2, len(v2)/2), context, fails},
		{"other context", current, v2, "cursor\x00bob", fails},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := tt.h.Open(tt.sealed, tt.context)
			if ok := (tt.want == opens && err == nil && string(got) == "position") ||
				(tt.want == retiredErr && errors.Is(err, ErrRetiredSeal)) ||
				(tt.want == fails && err != nil && !errors.Is(err, ErrRetiredSeal)); !ok {
				t.Fatalf("Open = %q, %v; want it to be: %s", got, err, tt.want)
			}
		})
	}
}

// legacySeal seals as Seal did before sealed values had versions: AES-GCM
// under HMAC-SHA-256(tag seed, "keygate/idempotency-seal/v1"), nonce first,
// base64url without a version. Such values sit in tables and clients'
// hands when the upgrade is deployed.
func legacySeal(t *testing.T, seed, plain []byte, context string) string {
	t.Helper()
	mac := hmac.New(sha256.New, seed)
	mac.Write([]byte("keygate/idempotency-seal/v1"))
	block, err := aes.NewCipher(mac.Sum(nil))
	if err != nil {
		t.Fatal(err)
	}
	aead, err := cipher.NewGCM(block)
	if err != nil {
		t.Fatal(err)
	}
	nonce := make([]byte, aead.NonceSize())
	if _, err := rand.Read(nonce); err != nil {
		t.Fatal(err)
	}
	return base64.RawURLEncoding.EncodeToString(aead.Seal(nonce, nonce, plain, []byte(context)))
}
