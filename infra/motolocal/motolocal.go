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
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"time"

	"github.com/keygate/keygate/infra/ddblocal"
)

// Server is a running moto_server.
type Server struct {
	// Endpoint is the server's URL, e.g. http://127.0.0.1:41234.
	Endpoint string
	cmd      *exec.Cmd
	done     chan struct{}
}

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
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, fmt.Errorf("find a free port: %w", err)
	}
	port := l.Addr().(*net.TCPAddr).Port
	l.Close()
	cmd := exec.Command(bin, "-H", "127.0.0.1", "-p", strconv.Itoa(port))
	cmd.Stdout, cmd.Stderr = log, log
	cmd.Dir = os.TempDir()
	cmd.SysProcAttr = procAttr()
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("start moto_server: %w", err)
	}
	s := &Server{Endpoint: fmt.Sprintf("http://127.0.0.1:%d", port), cmd: cmd, done: make(chan struct{})}
	go func() { _ = cmd.Wait(); close(s.done) }()
	if err := s.wait(ctx, 60*time.Second); err != nil {
		_ = s.Stop()
		return nil, err
	}
	return s, nil
}

func (s *Server) wait(ctx context.Context, limit time.Duration) error {
	ctx, cancel := context.WithTimeout(ctx, limit)
	defer cancel()
	client := &http.Client{Timeout: 2 * time.Second}
	for {
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, s.Endpoint+"/moto-api/", nil)
		if resp, err := client.Do(req); err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
		}
		select {
		case <-s.done:
			return fmt.Errorf("moto_server exited during start-up: %v", s.cmd.ProcessState)
		case <-ctx.Done():
			return fmt.Errorf("moto_server did not answer on %s within %s", s.Endpoint, limit)
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// Stop kills the server and waits for it to exit.
func (s *Server) Stop() error {
	select {
	case <-s.done:
		return nil
	default:
	}
	if err := s.cmd.Process.Kill(); err != nil && !errors.Is(err, os.ErrProcessDone) {
		return err
	}
	<-s.done
	return nil
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
