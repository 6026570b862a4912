//go:build !linux

package ddblocal

import (
	"errors"
	"fmt"
	"os/exec"
)

// startIsolated fails: network namespaces are Linux's.
func startIsolated(name string, cmd *exec.Cmd, port, innerPort int) (*Process, error) {
	return nil, fmt.Errorf("%w: %w", errNoNamespace, errors.ErrUnsupported)
}

// CanIsolate reports false: network namespaces are Linux's.
func CanIsolate() bool { return false }
