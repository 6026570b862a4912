package gateway

import (
	"strings"
	"testing"
	"time"
)

func TestGlob(t *testing.T) {
	tests := []struct {
		pattern, s string
		want       bool
	}{
		{"a/*/c", "a/b/c", true},
		{"a/*/c", "a/b/x/c", true}, // IAM's * crosses "/"
		{"a/*", "a", false},
		{"a/*", "a/", true},
		{"*", "", true},
		{"a?c", "abc", true},
		{"a?c", "ac", false},
		{"arn:x/*/GET/*", "arn:x/prod/GET/v1/keys", true},
		{"arn:x/prod/GET/v1/keys", "arn:x/prod/GET/v1/keys/1", false},
		{"*a*b", "xxaxxb", true},
		{"*a*b", "xxaxxbx", false},
	}
	for _, tt := range tests {
		if got := glob(tt.pattern, tt.s); got != tt.want {
			t.Errorf("glob(%q, %q) = %v, want %v", tt.pattern, tt.s, got, tt.want)
		}
	}
	// A hostile pattern (a Deny resource is the client's own path) must not
	// take exponential time.
	start := time.Now()
	if glob(strings.Repeat("*a", 40)+"b", strings.Repeat("a", 5000)) {
		t.Fatal("hostile glob matched")
	}
	if d := time.Since(start); d > time.Second {
		t.Fatalf("hostile glob took %v", d)
	}
}
