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

func TestSettingsCheckLeakAction(t *testing.T) {
	for _, tt := range []struct {
		action, want string
		revokes      bool
		code         keygate.Code // "" for valid
	}{
		{"", keygate.LeakRevoke, true, ""},
		{"revoke", keygate.LeakRevoke, true, ""},
		{"notify", keygate.LeakNotify, false, ""},
		{"Revoke", "", false, keygate.Invalid},
		{"ignore", "", false, keygate.Invalid},
	} {
		t.Run(tt.action, func(t *testing.T) {
			s := keygate.Settings{LeakAction: tt.action, LeakCascade: true}
			err := s.Check()
			if tt.code != "" {
				if keygate.ErrorCode(err) != tt.code || !strings.Contains(err.Error(), "leak_action must be revoke or notify") {
					t.Fatalf("Check() = %v, want %s about leak_action", err, tt.code)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if s.LeakAction != tt.want || s.Revokes() != tt.revokes || !s.LeakCascade {
				t.Fatalf("after Check: %+v (Revokes %v), want leak_action %q, Revokes %v", s, s.Revokes(), tt.want, tt.revokes)
			}
		})
	}
}
