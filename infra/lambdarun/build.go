package lambdarun

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
)

// Build compiles the main package pkg (relative to the module in root) into
// a bootstrap at out, for goos/goarch, the way template.yaml's build targets
// do: static, stripped, without aws-lambda-go's legacy RPC mode. Build
// output goes to log.
func Build(ctx context.Context, root, pkg, goos, goarch, out string, log io.Writer) error {
	if err := os.MkdirAll(filepath.Dir(out), 0o755); err != nil {
		return err
	}
	cmd := exec.CommandContext(ctx, "go", "build", "-tags", "lambda.norpc", "-trimpath", "-ldflags=-s -w", "-o", out, pkg)
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
