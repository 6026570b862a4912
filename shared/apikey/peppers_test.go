package apikey

import (
	"bytes"
	"crypto/rand"
	"errors"
	"strings"
	"testing"
)

func TestParsePeppers(t *testing.T) {
	p1, p2 := strings.Repeat("1", 32), strings.Repeat("2", 40)
	tests := []struct {
		name, in string
		ok       bool
		current  int
		versions int
	}{
		{"plain", p1, true, 1, 1},
		{"json", `{"tag_seed":"` + p1 + `","current":2,"peppers":{"1":"` + p1 + `","2":"` + p2 + `"}}`, true, 2, 2},
		{"retired 1", `{"tag_seed":"` + p1 + `","current":2,"peppers":{"2":"` + p2 + `"}}`, true, 2, 1},
		{"plain too short", "short", false, 0, 0},
		{"current missing", `{"tag_seed":"` + p1 + `","current":3,"peppers":{"2":"` + p2 + `"}}`, false, 0, 0},
		{"short pepper", `{"tag_seed":"` + p1 + `","current":2,"peppers":{"2":"short"}}`, false, 0, 0},
		{"short seed", `{"tag_seed":"x","current":2,"peppers":{"2":"` + p2 + `"}}`, false, 0, 0},
		{"version 0", `{"tag_seed":"` + p1 + `","current":0,"peppers":{"0":"` + p2 + `"}}`, false, 0, 0},
		{"version 02", `{"tag_seed":"` + p1 + `","current":2,"peppers":{"02":"` + p2 + `"}}`, false, 0, 0},
		{"unknown field", `{"tag_seed":"` + p1 + `","current":1,"peppers":{"1":"` + p1 + `"},"Current":2}`, false, 0, 0},
		{"not JSON", `{"tag_seed":`, false, 0, 0},
		{"current twice", `{"tag_seed":"` + p1 + `","current":1,"peppers":{"1":"` + p1 + `","2":"` + p2 + `"},"current":2}`, false, 0, 0},
		{"version twice", `{"tag_seed":"` + p1 + `","current":1,"peppers":{"1":"` + p1 + `","1":"` + p2 + `"}}`, false, 0, 0},
		{"Current alone", `{"tag_seed":"` + p1 + `","Current":1,"peppers":{"1":"` + p1 + `"}}`, false, 0, 0},
		{"pepper as a name", `{"tag_seed":"` + p1 + `","current":1,"peppers":{"1":"` + p1 + `"},"` + p2 + `":1}`, false, 0, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, err := ParsePeppers(tt.in)
			if (err == nil) != tt.ok {
				t.Fatalf("err = %v, want ok=%v", err, tt.ok)
			}
			if err != nil && (strings.Contains(err.Error(), p1) || strings.Contains(err.Error(), p2)) {
				t.Fatal("the error quotes a pepper")
			}
			if tt.ok && (p.Current != tt.current || len(p.Versions) != tt.versions) {
				t.Fatalf("parsed current %d, %d versions", p.Current, len(p.Versions))
			}
		})
	}
}

// TestPepperVersions: verifiers name their pepper version; a Hasher verifies
// every version it has, says which are stale, and refuses retired ones,
// while tokens (tagged with the seed) keep authenticating throughout.
func TestPepperVersions(t *testing.T) {
	seed, p2 := bytes.Repeat([]byte("s"), 32), bytes.Repeat([]byte("2"), 32)
	f, _ := NewFormat(DefaultPrefix)
	v1only, _ := NewHasher(seed, HMACSHA256, rand.Reader)
	both, err := NewVersionedHasher(Peppers{TagSeed: seed, Current: 2, Versions: map[int]Secret{1: seed, 2: p2}}, HMACSHA256, rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	v2only, _ := NewVersionedHasher(Peppers{TagSeed: seed, Current: 2, Versions: map[int]Secret{2: p2}}, Argon2ID, rand.Reader)
	tok, _ := f.Generate(rand.Reader, v1only)
	old, _ := v1only.Verifier(tok)
	next, _ := both.Verifier(tok)
	slow, _ := v2only.Verifier(tok)
	if strings.HasPrefix(old, "k") || !strings.HasPrefix(next, "k2$hmac-sha256$") || !strings.HasPrefix(slow, "k2$argon2id$") {
		t.Fatalf("verifiers %q, %q, %q do not name their version as documented", old, next, slow)
	}
	for _, h := range []*Hasher{v1only, both, v2only} {
		if _, ok := h.Authenticate(tok); !ok {
			t.Fatal("a token stopped authenticating when the pepper rotated: its tag is keyed by the seed")
		}
	}
	tests := []struct {
		name     string
		h        *Hasher
		verifier string
		ok       bool
		err      error
		stale    bool
	}{
		{"v1 under v1", v1only, old, true, nil, false},
		{"v1 under v1+v2", both, old, true, nil, true},
		{"v2 under v1+v2", both, next, true, nil, false},
		{"v2 argon2id under v1+v2", both, slow, true, nil, false},
		{"v1 after retirement", v2only, old, false, ErrRetiredPepper, true},
		{"v2 under v1 only", v1only, next, false, ErrRetiredPepper, true},
		{"bad version", both, "k0$" + strings.TrimPrefix(next, "k2$"), false, errVerifier, false},
		{"version not a number", both, "kx$" + strings.TrimPrefix(next, "k2$"), false, errVerifier, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ok, err := tt.h.Verify(tok, tt.verifier)
			if ok != tt.ok || !errors.Is(err, tt.err) || (tt.err == nil && err != nil) {
				t.Fatalf("Verify = %v, %v; want %v, %v", ok, err, tt.ok, tt.err)
			}
			if got := tt.h.Stale(tt.verifier); got != tt.stale {
				t.Fatalf("Stale = %v, want %v", got, tt.stale)
			}
		})
	}
	other, _ := f.Generate(rand.Reader, both)
	if ok, _ := both.Verify(other, next); ok {
		t.Fatal("another token matched")
	}
}
