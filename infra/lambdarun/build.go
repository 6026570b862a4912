package lambdarun

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
)

// TargetOS and TargetArch are where the functions run in AWS
// (template.yaml: provided.al2023 on arm64).
const (
	TargetOS   = "linux"
	TargetArch = "arm64"
)

// BuildFlags are the go build flags of every function binary, the one
// definition that sam build (through infra/cmd/lambdabuild), make invoke
// and make bench share, so that what is measured and invoked locally is
// what ships: lambda.norpc drops aws-lambda-go's legacy RPC mode (not used
// by provided.al2023), -trimpath keeps build paths out of the binary, -s -w
// strips symbols to shrink it and its cold start. Builds are also static
// (CGO_ENABLED=0): provided.al2023 has no matching libc guarantee.
var BuildFlags = []string{"-tags", "lambda.norpc", "-trimpath", "-ldflags=-s -w"}

// Build compiles the main package pkg (relative to the module in root) into
// a bootstrap at out, for goos/goarch, with BuildFlags and CGO_ENABLED=0.
// Build output goes to log.
func Build(ctx context.Context, root, pkg, goos, goarch, out string, log io.Writer) error {
	if err := os.MkdirAll(filepath.Dir(out), 0o755); err != nil {
		return err
	}
	args := append(append([]string{"build"}, BuildFlags...), "-o", out, pkg)
	cmd := exec.CommandContext(ctx, goCommand(), args...)
	cmd.Dir = root
	// Set explicitly so a GOOS/GOARCH in the caller's environment (e.g. an
	// arm64 deploy setting) cannot change what is built.
	cmd.Env = append(os.Environ(), "GOOS="+goos, "GOARCH="+goarch, "CGO_ENABLED=0")
	cmd.Stdout, cmd.Stderr = log, log
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("build %s for %s/%s: %w", pkg, goos, goarch, err)
	}
	return nil
}

// goCommand is $GO if set (the Makefile's GO ?= go, passed down), so a
// make GO=go1.x build uses that toolchain throughout; else go from PATH.
func goCommand() string {
	if g := os.Getenv("GO"); g != "" {
		return g
	}
	return "go"
}
