package apikey

import (
	"bytes"
	"crypto/rand"
	"strings"
	"testing"
)

// TestSealRotatesWithThePepper is the regression test of sealing keyed by
// the tag seed: after the pepper rotates from A to B (A staying the tag
// seed, as docs/pepper-rotation.md prescribes), what is sealed must not
// open for someone who holds A, whichever role they give it and however
// they relabel the value. It is alone in its file and uses only the API
// sealing had before versions, so it also runs, and fails, against that
// code (3fb5049's verifier.go).
func TestSealRotatesWithThePepper(t *testing.T) {
	a, b := bytes.Repeat([]byte("a"), 32), bytes.Repeat([]byte("b"), 32)
	rotated, err := NewVersionedHasher(Peppers{TagSeed: a, Current: 2, Versions: map[int]Secret{1: a, 2: b}}, HMACSHA256, rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	plain := []byte("kg_live_a token kept for a replay")
	sealed, err := rotated.Seal(plain, "IDEM#acme#1")
	if err != nil {
		t.Fatal(err)
	}
	if got, err := rotated.Open(sealed, "IDEM#acme#1"); err != nil || !bytes.Equal(got, plain) {
		t.Fatalf("the sealing Hasher cannot open its own value: %q, %v", got, err)
	}
	body := sealed
	if _, rest, ok := strings.Cut(sealed, "."); ok {
		body = rest
	}
	attackers := map[string]Peppers{
		"A as seed and version 1":     {TagSeed: a, Current: 1, Versions: map[int]Secret{1: a}},
		"A as seed and version 2":     {TagSeed: a, Current: 2, Versions: map[int]Secret{2: a}},
		"A as seed and every version": {TagSeed: a, Current: 2, Versions: map[int]Secret{1: a, 2: a}},
	}
	for name, p := range attackers {
		h, err := NewVersionedHasher(p, HMACSHA256, rand.Reader)
		if err != nil {
			t.Fatal(err)
		}
		for label, value := range map[string]string{"as sealed": sealed, "unversioned": body, "labelled 1": "1." + body, "labelled 2": "2." + body} {
			t.Run(name+"/"+label, func(t *testing.T) {
				if got, err := h.Open(value, "IDEM#acme#1"); err == nil {
					t.Fatalf("the old pepper opened a value sealed after the rotation: %q", got)
				}
			})
		}
	}
}
