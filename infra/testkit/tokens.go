package testkit

import (
	"bytes"
	"crypto/rand"
	"testing"

	"github.com/keygate/keygate/shared/apikey"
)

// Tokens is the token format and hasher the service tests mint with: the
// default prefix and a fixed test pepper, so every fixture verifies the
// tokens any other fixture minted.
func Tokens(t testing.TB) (apikey.Format, *apikey.Hasher) {
	t.Helper()
	format, err := apikey.NewFormat(apikey.DefaultPrefix)
	if err != nil {
		t.Fatal(err)
	}
	hasher, err := apikey.NewHasher(bytes.Repeat([]byte("k"), 32), apikey.HMACSHA256, rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return format, hasher
}
