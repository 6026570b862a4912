package testkit

import (
	"errors"
	"net"
	"net/netip"
	"os"
	"slices"
	"strings"
	"syscall"
	"testing"
)

// TestParseListeners feeds rows as a little-endian machine (amd64, arm64)
// writes them.
func TestParseListeners(t *testing.T) {
	const header = "  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode\n"
	tests := []struct {
		name  string
		table string
		want  []Listener
	}{
		{
			name: "ipv4 loopback and any, established skipped",
			table: header +
				"   0: 0100007F:1F40 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 1001 1 0000000000000000 100 0 0 10 0\n" +
				"   1: 00000000:0BB8 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 1002 1 0000000000000000 100 0 0 10 0\n" +
				"   2: 0100007F:1F40 0100007F:A000 01 00000000:00000000 00:00000000 00000000     0        0 1003 1 0000000000000000 100 0 0 10 0\n",
			want: []Listener{
				{Addr: netip.MustParseAddrPort("127.0.0.1:8000"), Inode: 1001},
				{Addr: netip.MustParseAddrPort("0.0.0.0:3000"), Inode: 1002},
			},
		},
		{
			name: "ipv6 any and loopback",
			table: header +
				"   0: 00000000000000000000000000000000:1F40 00000000000000000000000000000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 2001 1 0000000000000000 100 0 0 10 0\n" +
				"   1: 00000000000000000000000001000000:0050 00000000000000000000000000000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 2002 1 0000000000000000 100 0 0 10 0\n",
			want: []Listener{
				{Addr: netip.MustParseAddrPort("[::]:8000"), Inode: 2001},
				{Addr: netip.MustParseAddrPort("[::1]:80"), Inode: 2002},
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := parseListeners(strings.NewReader(tt.table))
			if err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(got, tt.want) {
				t.Errorf("parseListeners = %v, want %v", got, tt.want)
			}
		})
	}
}

// TestExposures checks the readers against the kernel: a socket this test
// opens on loopback is found with its inode and is no exposure, one on
// every interface is.
func TestExposures(t *testing.T) {
	tests := []struct {
		address string
		exposed bool
	}{
		{"127.0.0.1:0", false},
		{"[::1]:0", false},
		{":0", true},
	}
	for _, tt := range tests {
		t.Run(tt.address, func(t *testing.T) {
			ln, err := net.Listen("tcp", tt.address)
			if err != nil && tt.address == "[::1]:0" && (errors.Is(err, syscall.EADDRNOTAVAIL) || errors.Is(err, syscall.EAFNOSUPPORT)) {
				return // a host without IPv6: there is no such socket to read
			}
			if err != nil {
				t.Fatal(err)
			}
			defer ln.Close()
			port := ln.Addr().(*net.TCPAddr).Port
			mine := SocketInodes(t, os.Getpid())
			found := false
			for _, l := range Listeners(t, "self") {
				found = found || (int(l.Addr.Port()) == port && mine[l.Inode])
			}
			if !found {
				t.Errorf("the listener on port %d is not among this process's listening sockets", port)
			}
			got := Exposures(t, port)
			if exposed := len(got) > 0; exposed != tt.exposed {
				t.Errorf("Exposures(%d) = %q, want exposed %v", port, got, tt.exposed)
			}
		})
	}
}
