package scope

import (
	"math/rand/v2"
	"regexp"
	"strings"
	"testing"
	"time"
)

func TestMatchResource(t *testing.T) {
	tests := []struct {
		pattern, arn string
		want         bool
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
		// A * or ? in the ARN is a character, never a wildcard, and a *
		// in the pattern still matches across it.
		{"a/b", "a/*", false},
		{"a/*/c", "a/*x/y/c", true},
		{"a/*c", "a/*bc", true},
		{"a/?", "a/*", true},
		{"a/x", "a/?", false},
	}
	for _, tt := range tests {
		if got := MatchResource(tt.pattern, tt.arn); got != tt.want {
			t.Errorf("MatchResource(%q, %q) = %v, want %v", tt.pattern, tt.arn, got, tt.want)
		}
	}
	// A hostile pattern (a Deny resource may be the client's own path) must
	// not take exponential time.
	start := time.Now()
	if MatchResource(strings.Repeat("*a", 40)+"b", strings.Repeat("a", 5000)) {
		t.Fatal("hostile pattern matched")
	}
	if d := time.Since(start); d > time.Second {
		t.Fatalf("hostile pattern took %v", d)
	}
}

// TestMatchResourceAgreesWithRegexp checks MatchResource against an
// independent oracle, IAM's rule written as a regular expression, on many
// generated patterns and ARNs over a small alphabet (so matches happen).
func TestMatchResourceAgreesWithRegexp(t *testing.T) {
	oracle := func(pattern, arn string) bool {
		var b strings.Builder
		b.WriteString("(?s)^")
		for _, r := range pattern {
			switch r {
			case '*':
				b.WriteString(".*")
			case '?':
				b.WriteString(".")
			default:
				b.WriteString(regexp.QuoteMeta(string(r)))
			}
		}
		b.WriteString("$")
		return regexp.MustCompile(b.String()).MatchString(arn)
	}
	rng := rand.New(rand.NewPCG(1, 2))
	gen := func(alphabet []string, n int) string {
		var b strings.Builder
		for range rng.IntN(n) {
			b.WriteString(alphabet[rng.IntN(len(alphabet))])
		}
		return b.String()
	}
	for range 20000 {
		pattern := gen([]string{"a", "b", "/", "*", "?", "é"}, 8)
		arn := gen([]string{"a", "b", "/", "*", "?", "é"}, 10)
		if got, want := MatchResource(pattern, arn), oracle(pattern, arn); got != want {
			t.Fatalf("MatchResource(%q, %q) = %v, the IAM rule says %v", pattern, arn, got, want)
		}
	}
}
