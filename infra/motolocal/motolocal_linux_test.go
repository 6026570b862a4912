package motolocal

import (
	"context"
	"net/url"
	"os"
	"strconv"
	"testing"

	"github.com/keygate/keygate/infra/testkit"
)

// TestLoopbackOnly is the guarantee that moto_server, which accepts any
// credentials, is closed to the network: every socket it listens on is on
// a loopback address, and its port does not answer on this machine's other
// addresses.
func TestLoopbackOnly(t *testing.T) {
	testkit.SkipShort(t, "moto_server (Python)")
	log, err := os.CreateTemp(t.TempDir(), "moto-server-*.log")
	if err != nil {
		t.Fatal(err)
	}
	defer log.Close()
	srv, err := Start(context.Background(), log)
	if err != nil {
		t.Fatalf("moto_server is required: %v", err)
	}
	defer func() { _ = srv.Stop() }()
	u, err := url.Parse(srv.Endpoint)
	if err != nil {
		t.Fatal(err)
	}
	port, err := strconv.Atoi(u.Port())
	if err != nil {
		t.Fatal(err)
	}

	mine := testkit.SocketInodes(t, srv.Pid())
	listening := 0
	for _, l := range testkit.Listeners(t, "self") {
		if !mine[l.Inode] {
			continue
		}
		listening++
		if !l.Addr.Addr().Unmap().IsLoopback() {
			t.Errorf("moto_server listens on %s", l.Addr)
		}
	}
	if listening == 0 {
		t.Errorf("no listening socket of moto_server (pid %d) found: is it the process that serves?", srv.Pid())
	}
	if exposures := testkit.Exposures(t, port); len(exposures) > 0 {
		t.Errorf("moto_server on %s is reachable from the network: %q", srv.Endpoint, exposures)
	}
}
