package ddblocal

import (
	"context"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/keygate/keygate/infra/testkit"
)

// port is the port of a server's endpoint.
func port(t *testing.T, endpoint string) int {
	t.Helper()
	u, err := url.Parse(endpoint)
	if err != nil {
		t.Fatal(err)
	}
	p, err := strconv.Atoi(u.Port())
	if err != nil {
		t.Fatalf("endpoint %s: %v", endpoint, err)
	}
	return p
}

// call sends one DynamoDB request and returns the status and body.
func call(t *testing.T, endpoint, op, body string) (int, string) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodPost, endpoint, strings.NewReader(body))
	req.Header.Set("X-Amz-Target", "DynamoDB_20120810."+op)
	req.Header.Set("Content-Type", "application/x-amz-json-1.0")
	req.Header.Set("Authorization", "AWS4-HMAC-SHA256 Credential=local/20200101/us-east-1/dynamodb/aws4_request, SignedHeaders=host, Signature=0")
	client := &http.Client{Timeout: 10 * time.Second}
	resp, err := client.Do(req)
	if err != nil {
		t.Fatalf("%s on %s: %v", op, endpoint, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// TestClosedToTheNetwork is the guarantee that a neighbour on the network
// cannot rewrite a key in the DynamoDB Local of make run, make test, make
// ddb or make bench: nothing listens on its port but on loopback, and it
// answers there.
func TestClosedToTheNetwork(t *testing.T) {
	testkit.SkipShort(t, "DynamoDB Local")
	srv, err := Start(context.Background(), io.Discard)
	if err != nil {
		t.Fatalf("DynamoDB Local is required: %v", err)
	}
	defer func() { _ = srv.Stop() }()
	if !strings.HasPrefix(srv.Endpoint, "http://127.0.0.1:") {
		t.Errorf("endpoint %s is not on 127.0.0.1", srv.Endpoint)
	}
	if status, body := call(t, srv.Endpoint, "ListTables", "{}"); status != http.StatusOK || !strings.Contains(body, "TableNames") {
		t.Errorf("ListTables on %s = %d %s", srv.Endpoint, status, body)
	}
	if !CanIsolate() {
		// Not root: no namespace can be made, and the server is the
		// fallback TestIsolation checks (exposed, with the warning and the
		// firewall rule). CI runs as root, where this test requires the
		// isolation itself.
		if srv.Isolated || srv.Warning == "" {
			t.Fatalf("without namespaces: Isolated = %v, Warning = %q; want the warned fallback", srv.Isolated, srv.Warning)
		}
		t.Logf("no network namespace here (not root): checked the warned fallback instead: %s", srv.Warning)
		return
	}
	if exposures := testkit.Exposures(t, port(t, srv.Endpoint)); len(exposures) > 0 {
		t.Errorf("DynamoDB Local on %s is reachable from the network: %s", srv.Endpoint, strings.Join(exposures, "; "))
	}
	// By socket inode: whatever the JVM listens on in this machine's
	// network namespace (in the old, unisolated design, [::]:port).
	jvm := testkit.SocketInodes(t, srv.cmd.Process.Pid)
	for _, l := range testkit.Listeners(t, "self") {
		if jvm[l.Inode] && !l.Addr.Addr().Unmap().IsLoopback() {
			t.Errorf("the JVM listens on %s in this machine's network namespace", l.Addr)
		}
	}
}
