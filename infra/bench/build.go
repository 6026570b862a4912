package bench

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
)

// Functions are the four Lambda functions, as named under functions/.
var Functions = []string{"authorizer", "create", "list", "revoke"}

// BuildFunction builds the main package pkg (e.g. ./functions/authorizer)
// of the module in root the way the template's build targets do (static,
// stripped, without the legacy RPC mode), for goos and goarch, into out.
func BuildFunction(ctx context.Context, root, pkg, goos, goarch, out string, log io.Writer) error {
	if err := os.MkdirAll(filepath.Dir(out), 0o755); err != nil {
		return err
	}
	cmd := exec.CommandContext(ctx, "go", "build", "-tags", "lambda.norpc", "-trimpath", "-ldflags=-s -w",
		"-o", out, pkg)
	cmd.Dir = root
	cmd.Env = append(os.Environ(), "GOOS="+goos, "GOARCH="+goarch, "CGO_ENABLED=0")
	cmd.Stdout, cmd.Stderr = log, log
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("build %s in %s for %s/%s: %w", pkg, root, goos, goarch, err)
	}
	return nil
}

// FileSize is the size of a file in bytes.
func FileSize(path string) (int64, error) {
	fi, err := os.Stat(path)
	if err != nil {
		return 0, err
	}
	return fi.Size(), nil
}

// RandomHex returns n random bytes, hex-encoded.
func RandomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}
