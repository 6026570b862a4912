package apikey

import (
	"crypto/rand"
	"testing"
)

// FuzzParse: Parse never panics, and whatever it accepts is well formed:
// the right length, a base62 body and an ID at the front.
func FuzzParse(f *testing.F) {
	format, _ := NewFormat(DefaultPrefix)
	tok, _ := format.Generate(rand.Reader, th)
	for _, s := range []string{tok.Reveal(), "", DefaultPrefix, tok.Reveal()[:20], tok.Reveal() + "x", "sk_live_" + tok.Reveal()[8:]} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		got, err := format.Parse(s)
		if err != nil {
			return
		}
		if got.Reveal() != s || len(s) != len(DefaultPrefix)+BodyLen || got.ID() != s[len(DefaultPrefix):len(DefaultPrefix)+IDLen] {
			t.Fatalf("accepted a malformed token %q", s)
		}
		for i := len(DefaultPrefix); i < len(s); i++ {
			if base62Value[s[i]] < 0 {
				t.Fatalf("accepted a non-base62 body %q", s)
			}
		}
	})
}
