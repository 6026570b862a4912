package ddblocal

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/keygate/keygate/infra/testkit"
)

// TestIsolation checks what StartWith reports: isolated, or exposed with a
// warning that says how to close the port, when there is no namespace.
func TestIsolation(t *testing.T) {
	testkit.SkipShort(t, "DynamoDB Local")
	tests := []struct {
		name         string
		shareNetwork bool
	}{
		{"private namespace", false},
		{"namespace unavailable", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			var log testkit.Buffer
			srv, err := StartWith(context.Background(), Options{Log: &log, shareNetwork: tt.shareNetwork})
			if err != nil {
				t.Fatalf("DynamoDB Local is required: %v", err)
			}
			defer func() { _ = srv.Stop() }()
			p := port(t, srv.Endpoint)
			if status, _ := call(t, srv.Endpoint, "ListTables", "{}"); status != http.StatusOK {
				t.Errorf("ListTables = %d", status)
			}
			// Without CAP_SYS_ADMIN (not root) no namespace can be made:
			// the server must then be the warned fallback, not isolated.
			if want := !tt.shareNetwork && CanIsolate(); srv.Isolated != want {
				t.Errorf("Isolated = %v, want %v (namespaces possible: %v)", srv.Isolated, want, CanIsolate())
			}
			warnings := 0
			sc := bufio.NewScanner(strings.NewReader(log.String()))
			for sc.Scan() {
				if strings.Contains(sc.Text(), "WARNING") {
					warnings++
				}
			}
			exposures := testkit.Exposures(t, p)
			if !srv.Isolated {
				rule := fmt.Sprintf("iptables -A INPUT -p tcp --dport %d ! -i lo -j DROP", p)
				if !strings.Contains(srv.Warning, rule) {
					t.Errorf("Warning = %q, want the rule %q", srv.Warning, rule)
				}
				if warnings != 1 || !strings.Contains(log.String(), srv.Warning) {
					t.Errorf("log has %d warning lines, want 1 with the Warning:\n%s", warnings, log.String())
				}
				// What the warning is about; also shows Exposures can fail.
				if len(exposures) == 0 {
					t.Errorf("an unisolated DynamoDB Local on %s is not seen as reachable from the network", srv.Endpoint)
				}
				return
			}
			if srv.Warning != "" || warnings != 0 {
				t.Errorf("Warning = %q, %d warning lines in the log, want none", srv.Warning, warnings)
			}
			if len(exposures) > 0 {
				t.Errorf("reachable from the network: %q", exposures)
			}
		})
	}
}

// TestRestart checks what the fault tests of infra/reliability and make
// ddb rely on: Stop closes the port and the connections through it at
// once, and a server started again on the same port and data serves the
// tables written before.
func TestRestart(t *testing.T) {
	testkit.SkipShort(t, "DynamoDB Local")
	o := Options{Log: io.Discard, DBPath: t.TempDir()}
	var err error
	if o.Port, err = FreePort(); err != nil {
		t.Fatal(err)
	}
	srv, err := StartWith(context.Background(), o)
	if err != nil {
		t.Fatalf("DynamoDB Local is required: %v", err)
	}
	defer func() { _ = srv.Stop() }()
	const table = `{"TableName":"kept","BillingMode":"PAY_PER_REQUEST",` +
		`"AttributeDefinitions":[{"AttributeName":"pk","AttributeType":"S"}],` +
		`"KeySchema":[{"AttributeName":"pk","KeyType":"HASH"}]}`
	if status, body := call(t, srv.Endpoint, "CreateTable", table); status != http.StatusOK {
		t.Fatalf("CreateTable = %d %s", status, body)
	}
	idle, err := net.Dial("tcp", fmt.Sprintf("127.0.0.1:%d", o.Port))
	if err != nil {
		t.Fatal(err)
	}
	defer idle.Close()

	if err := srv.Stop(); err != nil {
		t.Fatal(err)
	}
	_ = idle.SetReadDeadline(time.Now().Add(5 * time.Second))
	if _, err := idle.Read(make([]byte, 1)); err == nil || isTimeout(err) {
		t.Errorf("a connection open across Stop: read = %v, want it closed", err)
	}
	if c, err := net.Dial("tcp", fmt.Sprintf("127.0.0.1:%d", o.Port)); err == nil {
		c.Close()
		t.Errorf("port %d still accepts connections after Stop", o.Port)
	}

	if srv, err = StartWith(context.Background(), o); err != nil {
		t.Fatalf("restart on port %d: %v", o.Port, err)
	}
	if status, body := call(t, srv.Endpoint, "ListTables", "{}"); status != http.StatusOK || !strings.Contains(body, `"kept"`) {
		t.Errorf("after restart ListTables = %d %s, want the table kept", status, body)
	}
}

func isTimeout(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}
