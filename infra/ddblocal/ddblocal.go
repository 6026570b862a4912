// Package ddblocal starts and stops DynamoDB Local (the real Java server,
// fetched from Maven Central by infra/dynamodb/pom.xml) on a free loopback
// port, in memory, for tests, benchmarks and make run.
package ddblocal

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
	"strings"
	"time"
)

// Server is a running DynamoDB Local.
type Server struct {
	// Endpoint is the server's URL, e.g. http://127.0.0.1:41234.
	Endpoint string
	cmd      *exec.Cmd
	done     chan struct{}
}

// LibDir finds the folder holding DynamoDBLocal.jar and its native
// libraries: $DYNAMODB_LOCAL_LIB, or infra/dynamodb/lib of the module that
// contains the working directory.
func LibDir() (string, error) {
	if dir := os.Getenv("DYNAMODB_LOCAL_LIB"); dir != "" {
		return dir, nil
	}
	root, err := ModuleRoot()
	if err != nil {
		return "", fmt.Errorf("%w; set DYNAMODB_LOCAL_LIB", err)
	}
	return filepath.Join(root, "infra", "dynamodb", "lib"), nil
}

// ModuleRoot is the folder of the go.mod above the working directory.
func ModuleRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", errors.New("no go.mod above the working directory")
		}
		dir = parent
	}
}

// Start runs DynamoDB Local in memory on a free port from libDir and waits
// until it answers. Its output goes to log. The server dies with this
// process (see procattr).
func Start(ctx context.Context, libDir string, log io.Writer) (*Server, error) {
	return StartWith(ctx, Options{LibDir: libDir, Log: log})
}

// Options configure StartWith.
type Options struct {
	LibDir string
	Log    io.Writer
	// Port is the port to listen on; 0 picks a free one.
	Port int
	// DBPath keeps the data in files under this folder, so a restarted
	// server sees it again; empty means in memory.
	DBPath string
}

// StartWith is Start with options, for fault tests that stop a server and
// start it again on the same port and data.
func StartWith(ctx context.Context, o Options) (*Server, error) {
	libDir, log := o.LibDir, o.Log
	libDir, err := filepath.Abs(libDir)
	if err != nil {
		return nil, err
	}
	jars, _ := filepath.Glob(filepath.Join(libDir, "DynamoDBLocal-*.jar"))
	if len(jars) == 0 {
		return nil, fmt.Errorf("DynamoDB Local is not in %s: run `make deps` (Maven fetches it from Maven Central)", libDir)
	}
	if _, err := exec.LookPath("java"); err != nil {
		return nil, fmt.Errorf("DynamoDB Local needs Java 17+: %w", err)
	}
	port := o.Port
	if port == 0 {
		if port, err = freePort(); err != nil {
			return nil, err
		}
	}
	storage := []string{"-inMemory"}
	if o.DBPath != "" {
		storage = []string{"-dbPath", o.DBPath}
	}
	args := append([]string{
		"-Xms64m", "-Xmx512m", "-XX:+UseSerialGC",
		"-Djava.library.path=" + libDir,
		"-cp", filepath.Join(libDir, "*"),
		"software.amazon.dynamodb.services.local.main.ServerRunner",
		"-sharedDb", "-port", strconv.Itoa(port)}, storage...)
	cmd := exec.Command("java", args...)
	cmd.Stdout, cmd.Stderr = log, log
	// It writes a metadata file into its working directory; keep that out
	// of the source tree.
	cmd.Dir = os.TempDir()
	cmd.SysProcAttr = procAttr()
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("start DynamoDB Local: %w", err)
	}
	s := &Server{Endpoint: fmt.Sprintf("http://127.0.0.1:%d", port), cmd: cmd, done: make(chan struct{})}
	go func() { _ = cmd.Wait(); close(s.done) }()
	if err := s.wait(ctx, 90*time.Second); err != nil {
		_ = s.Stop()
		return nil, err
	}
	return s, nil
}

func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, fmt.Errorf("find a free port: %w", err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// wait polls until the server answers a DynamoDB request: the port opens
// a little before the server is ready.
func (s *Server) wait(ctx context.Context, limit time.Duration) error {
	ctx, cancel := context.WithTimeout(ctx, limit)
	defer cancel()
	client := &http.Client{Timeout: 2 * time.Second}
	for {
		req, _ := http.NewRequestWithContext(ctx, http.MethodPost, s.Endpoint, strings.NewReader("{}"))
		req.Header.Set("X-Amz-Target", "DynamoDB_20120810.ListTables")
		req.Header.Set("Content-Type", "application/x-amz-json-1.0")
		req.Header.Set("Authorization", "AWS4-HMAC-SHA256 Credential=local/20200101/us-east-1/dynamodb/aws4_request, SignedHeaders=host, Signature=0")
		if resp, err := client.Do(req); err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
		}
		select {
		case <-s.done:
			return fmt.Errorf("DynamoDB Local exited during start-up: %v", s.cmd.ProcessState)
		case <-ctx.Done():
			return fmt.Errorf("DynamoDB Local did not answer on %s within %s", s.Endpoint, limit)
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

// Done is closed when the server process has exited.
func (s *Server) Done() <-chan struct{} { return s.done }
