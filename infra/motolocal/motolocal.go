// Package motolocal runs moto_server (PyPI "moto[server]", pinned in
// infra/moto/requirements.txt and installed into .venv/moto by
// infra/moto/setup.sh) on a free loopback port: a real local EventBridge,
// SQS and SES for the lifecycle tests, like infra/ddblocal for DynamoDB.
// The test helpers (motolocal_test helpers in this package) create a bus
// whose events land in an SQS queue, verify SES identities and read the
// e-mails moto accepted.
package motolocal

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"time"

	"github.com/keygate/keygate/infra/ddblocal"
)

// Server is a running moto_server.
type Server = ddblocal.Process

// Binary is moto_server: $MOTO_SERVER, else .venv/moto/bin/moto_server
// of the module, installed by infra/moto/setup.sh if it is missing.
func Binary() (string, error) {
	if b := os.Getenv("MOTO_SERVER"); b != "" {
		return b, nil
	}
	root, err := ddblocal.ModuleRoot()
	if err != nil {
		return "", err
	}
	bin := filepath.Join(root, ".venv", "moto", "bin", "moto_server")
	// setup.sh is idempotent and quick when the pinned version is there;
	// it also upgrades a venv built from older pins.
	cmd := exec.Command(filepath.Join(root, "infra", "moto", "setup.sh"))
	if out, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("install moto_server (infra/moto/setup.sh): %v\n%s", err, out)
	}
	if _, err := os.Stat(bin); err != nil {
		return "", fmt.Errorf("moto_server is not in %s after infra/moto/setup.sh", bin)
	}
	return bin, nil
}

// Start runs moto_server on a free port and waits until it answers. Its
// output goes to log. The server dies with this process.
func Start(ctx context.Context, log io.Writer) (*Server, error) {
	bin, err := Binary()
	if err != nil {
		return nil, err
	}
	port, err := ddblocal.FreePort()
	if err != nil {
		return nil, err
	}
	// moto accepts any credentials: it must listen on loopback only, which
	// is its default today; -H keeps it so (TestLoopbackOnly checks).
	cmd := exec.Command(bin, "-H", "127.0.0.1", "-p", strconv.Itoa(port))
	cmd.Stdout, cmd.Stderr = log, log
	return ddblocal.StartProcess(ctx, "moto_server", cmd, fmt.Sprintf("http://127.0.0.1:%d", port), 60*time.Second, answersMoto)
}

// answersMoto reports whether moto_server answers its own API.
func answersMoto(ctx context.Context, client *http.Client, endpoint string) bool {
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, endpoint+"/moto-api/", nil)
	resp, err := client.Do(req)
	if err != nil {
		return false
	}
	resp.Body.Close()
	return resp.StatusCode == http.StatusOK
}

// Python is the interpreter of moto's virtualenv (it has jsonschema, for
// checking events against docs/events).
func Python() (string, error) {
	bin, err := Binary()
	if err != nil {
		return "", err
	}
	return filepath.Join(filepath.Dir(bin), "python"), nil
}
