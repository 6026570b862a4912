package cli

import (
	"bytes"
	"errors"
	"flag"
	"fmt"
	"testing"
)

func TestStatus(t *testing.T) {
	tests := []struct {
		name string
		err  error
		code int
		out  string
	}{
		{"success", nil, 0, ""},
		{"help", fmt.Errorf("parse: %w", flag.ErrHelp), 0, ""},
		{"exit code", Exit(3), 3, ""},
		{"wrapped exit code", fmt.Errorf("bench: %w", Exit(2)), 2, ""},
		{"exit zero", Exit(0), 0, ""},
		{"failure", errors.New("port 3000 in use"), 1, "tool: port 3000 in use\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var stderr bytes.Buffer
			if got := Status("tool", tt.err, &stderr); got != tt.code {
				t.Errorf("Status = %d, want %d", got, tt.code)
			}
			if stderr.String() != tt.out {
				t.Errorf("stderr = %q, want %q", stderr.String(), tt.out)
			}
		})
	}
}
