// Package ddblocal starts and stops DynamoDB Local (the real Java server,
// fetched from Maven Central by infra/dynamodb/pom.xml) on a free loopback
// port, in memory, for tests, benchmarks and make run. On Linux the server
// runs in a private network namespace, so that only this machine reaches
// it (see StartWith).
package ddblocal

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

// Server is a running DynamoDB Local.
type Server = Process

// libDir finds the folder holding DynamoDBLocal.jar and its native
// libraries: $DYNAMODB_LOCAL_LIB, or infra/dynamodb/lib of the module that
// contains the working directory.
func libDir() (string, error) {
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

// Start runs DynamoDB Local (from $DYNAMODB_LOCAL_LIB, else the module's
// infra/dynamodb/lib) in memory on a free port and waits until it answers.
// Its output goes to log. The server dies with this process (see
// procattr), and only this machine can reach it (see StartWith).
func Start(ctx context.Context, log io.Writer) (*Server, error) {
	return StartWith(ctx, Options{Log: log})
}

// Options configure StartWith.
type Options struct {
	Log io.Writer
	// Port is the port to listen on; 0 picks a free one.
	Port int
	// DBPath keeps the data in files under this folder, so a restarted
	// server sees it again; empty means in memory.
	DBPath string

	// shareNetwork skips the private network namespace, as where none can
	// be made: for tests of that fallback.
	shareNetwork bool
}

// innerPort is DynamoDB Local's port inside its own network namespace:
// nothing else listens there, so a fixed one is free.
const innerPort = 8000

// errNoNamespace is the error of a server that could not be given a
// private network namespace.
var errNoNamespace = errors.New("no private network namespace")

// StartWith is Start with options, for fault tests that stop a server and
// start it again on the same port and data.
//
// DynamoDB Local listens on every interface and has no option to choose
// one, and whoever reaches it can rewrite any key (make its role admin).
// So on Linux it runs in a network namespace of its own, which holds only
// a loopback interface, and a forwarder in this process serves it on
// 127.0.0.1:Port: the Process is Isolated. Where namespaces are
// unavailable (not root, not Linux) it listens on Port of every interface
// as it would by itself: StartWith writes one warning line to o.Log and
// sets Process.Warning, which says how to close the port with a firewall.
func StartWith(ctx context.Context, o Options) (*Server, error) {
	log := o.Log
	if log == nil {
		log = io.Discard
	}
	dir, err := libDir()
	if err != nil {
		return nil, err
	}
	lib, err := filepath.Abs(dir)
	if err != nil {
		return nil, err
	}
	jars, _ := filepath.Glob(filepath.Join(lib, "DynamoDBLocal-*.jar"))
	if len(jars) == 0 {
		return nil, fmt.Errorf("DynamoDB Local is not in %s: run `make deps` (Maven fetches it from Maven Central)", lib)
	}
	if _, err := exec.LookPath("java"); err != nil {
		return nil, fmt.Errorf("DynamoDB Local needs Java 17+: %w", err)
	}
	storage := []string{"-inMemory"}
	if o.DBPath != "" {
		storage = []string{"-dbPath", o.DBPath}
	}
	java := func(port int) *exec.Cmd {
		args := append([]string{
			"-Xms64m", "-Xmx512m", "-XX:+UseSerialGC",
			"-Djava.library.path=" + lib,
			"-cp", filepath.Join(lib, "*"),
			"software.amazon.dynamodb.services.local.main.ServerRunner",
			"-sharedDb", "-port", strconv.Itoa(port)}, storage...)
		cmd := exec.Command("java", args...)
		cmd.Stdout, cmd.Stderr = log, log
		return cmd
	}
	const name = "DynamoDB Local"
	nsErr := fmt.Errorf("%w: Options.shareNetwork", errNoNamespace)
	if !o.shareNetwork {
		p, err := startIsolated(name, java(innerPort), o.Port, innerPort)
		if err == nil {
			return waitReady(ctx, p)
		}
		if !errors.Is(err, errNoNamespace) {
			return nil, err
		}
		nsErr = err
	}
	port := o.Port
	if port == 0 {
		if port, err = FreePort(); err != nil {
			return nil, err
		}
	}
	cmd := java(port)
	cmd.SysProcAttr = procAttr()
	p, err := start(name, cmd, fmt.Sprintf("http://127.0.0.1:%d", port))
	if err != nil {
		return nil, err
	}
	p.Warning = exposed(port)
	fmt.Fprintf(log, "ddblocal: WARNING: %s (%v)\n", p.Warning, nsErr)
	return waitReady(ctx, p)
}

// waitReady returns p once it answers; it stops p if it does not.
func waitReady(ctx context.Context, p *Process) (*Process, error) {
	if err := p.wait(ctx, 90*time.Second, answersDynamoDB); err != nil {
		return nil, err
	}
	return p, nil
}

// exposed is the warning of a DynamoDB Local on port of every interface.
func exposed(port int) string {
	return fmt.Sprintf("DynamoDB Local listens on port %d of every interface: anyone on the network can rewrite keys; "+
		"close it with a firewall rule, e.g. iptables -A INPUT -p tcp --dport %d ! -i lo -j DROP", port, port)
}

// answersDynamoDB reports whether the server answers a DynamoDB request.
func answersDynamoDB(ctx context.Context, client *http.Client, endpoint string) bool {
	req, _ := http.NewRequestWithContext(ctx, http.MethodPost, endpoint, strings.NewReader("{}"))
	req.Header.Set("X-Amz-Target", "DynamoDB_20120810.ListTables")
	req.Header.Set("Content-Type", "application/x-amz-json-1.0")
	req.Header.Set("Authorization", "AWS4-HMAC-SHA256 Credential=local/20200101/us-east-1/dynamodb/aws4_request, SignedHeaders=host, Signature=0")
	resp, err := client.Do(req)
	if err != nil {
		return false
	}
	resp.Body.Close()
	return resp.StatusCode == http.StatusOK
}
