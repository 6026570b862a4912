package keygate

import (
	"strings"
	"testing"
	"time"
)

func TestValidName(t *testing.T) {
	for name, want := range map[string]bool{
		"acme": true, "a": true, "alice@example.com": true, "A-b_c.d+e": true, "9lives": true,
		strings.Repeat("a", 128): true, strings.Repeat("a", 129): false,
		"": false, "-a": false, ".a": false, "a#b": false, "a b": false, "a/b": false, "é": false, "a\x00": false,
	} {
		if got := ValidName(name); got != want {
			t.Errorf("ValidName(%q) = %v, want %v", name, got, want)
		}
	}
}

func TestStatusAt(t *testing.T) {
	now := time.Date(2026, 11, 23, 12, 0, 0, 0, time.UTC)
	past, future := now.Add(-time.Second), now.Add(time.Second)
	tests := []struct {
		name string
		key  Key
		want Status
	}{
		{"never expires", Key{Enabled: true}, Active},
		{"expires later", Key{ExpiresAt: &future, Enabled: true}, Active},
		{"disabled", Key{ExpiresAt: &future}, Disabled},
		{"disabled, expired", Key{ExpiresAt: &past}, Expired},
		{"disabled, revoked", Key{RevokedAt: &past}, Revoked},
		{"expires now", Key{ExpiresAt: &now}, Expired},
		{"expired", Key{ExpiresAt: &past}, Expired},
		{"revoked wins", Key{ExpiresAt: &past, RevokedAt: &past}, Revoked},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := tt.key.StatusAt(now); got != tt.want {
				t.Fatalf("StatusAt = %s, want %s", got, tt.want)
			}
		})
	}
}
