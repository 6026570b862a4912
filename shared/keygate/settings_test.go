package keygate_test

import (
	"strings"
	"testing"

	"github.com/keygate/keygate/shared/keygate"
)

func TestValidEmail(t *testing.T) {
	for addr, want := range map[string]bool{
		"ops@acme.example": true, "a.b+keys@sub.acme.example": true,
		"": false, "ops": false, "ops@acme": false, "@acme.example": false, "a@b@acme.example": false,
		"ops@acme.example, evil@x.example": false, "Ops <ops@acme.example>": false, "ops@acme.example\r\nBcc: x@y.z": false,
		"ops@.example": false, "ops@acme.example.": false, strings.Repeat("a", 250) + "@b.cd": false,
	} {
		if got := keygate.ValidEmail(addr); got != want {
			t.Errorf("ValidEmail(%q) = %v, want %v", addr, got, want)
		}
	}
}
