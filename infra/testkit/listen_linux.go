package testkit

import (
	"bufio"
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"io"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

// Listener is a TCP socket in the LISTEN state.
type Listener struct {
	Addr  netip.AddrPort
	Inode uint64
}

// Listeners returns the listening TCP sockets of the network namespace of
// process proc ("self" or a PID), from /proc/<proc>/net/tcp and tcp6.
func Listeners(t testing.TB, proc string) []Listener {
	t.Helper()
	var out []Listener
	for _, file := range []string{"tcp", "tcp6"} {
		f, err := os.Open(filepath.Join("/proc", proc, "net", file))
		if err != nil {
			t.Fatal(err)
		}
		ls, err := parseListeners(f)
		f.Close()
		if err != nil {
			t.Fatalf("/proc/%s/net/%s: %v", proc, file, err)
		}
		out = append(out, ls...)
	}
	return out
}

// parseListeners reads the LISTEN (state 0A) rows of a /proc/net/tcp or
// tcp6 table: "sl local_address rem_address st ... inode ...", addresses
// as hex words in host byte order followed by a hex port.
func parseListeners(r io.Reader) ([]Listener, error) {
	var out []Listener
	sc := bufio.NewScanner(r)
	sc.Scan() // the header
	for sc.Scan() {
		fields := strings.Fields(sc.Text())
		if len(fields) < 10 || fields[3] != "0A" {
			continue
		}
		hexAddr, hexPort, ok := strings.Cut(fields[1], ":")
		if !ok {
			return nil, fmt.Errorf("bad address %q", fields[1])
		}
		raw, err := hex.DecodeString(hexAddr)
		if err != nil || (len(raw) != 4 && len(raw) != 16) {
			return nil, fmt.Errorf("bad address %q", fields[1])
		}
		for i := 0; i < len(raw); i += 4 {
			binary.NativeEndian.PutUint32(raw[i:], binary.BigEndian.Uint32(raw[i:]))
		}
		addr, _ := netip.AddrFromSlice(raw)
		port, err := strconv.ParseUint(hexPort, 16, 16)
		if err != nil {
			return nil, fmt.Errorf("bad port %q", fields[1])
		}
		inode, err := strconv.ParseUint(fields[9], 10, 64)
		if err != nil {
			return nil, fmt.Errorf("bad inode %q", fields[9])
		}
		out = append(out, Listener{Addr: netip.AddrPortFrom(addr, uint16(port)), Inode: inode})
	}
	return out, sc.Err()
}

// SocketInodes returns the inodes of the sockets process pid holds open.
func SocketInodes(t testing.TB, pid int) map[uint64]bool {
	t.Helper()
	dir := fmt.Sprintf("/proc/%d/fd", pid)
	fds, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	out := map[uint64]bool{}
	for _, fd := range fds {
		link, err := os.Readlink(filepath.Join(dir, fd.Name()))
		if err != nil {
			continue // closed meanwhile
		}
		if s, ok := strings.CutPrefix(link, "socket:["); ok {
			if inode, err := strconv.ParseUint(strings.TrimSuffix(s, "]"), 10, 64); err == nil {
				out[inode] = true
			}
		}
	}
	return out
}

// ExternalAddrs returns this machine's addresses that are not loopback
// ones, link-local IPv6 ones with the zone that dialling them needs.
func ExternalAddrs(t testing.TB) []netip.Addr {
	t.Helper()
	ifaces, err := net.Interfaces()
	if err != nil {
		t.Fatal(err)
	}
	var out []netip.Addr
	for _, iface := range ifaces {
		addrs, err := iface.Addrs()
		if err != nil {
			t.Fatal(err)
		}
		for _, a := range addrs {
			n, ok := a.(*net.IPNet)
			if !ok {
				continue
			}
			ip, ok := netip.AddrFromSlice(n.IP)
			if !ok || ip.Unmap().IsLoopback() {
				continue
			}
			ip = ip.Unmap()
			if ip.Is6() && ip.IsLinkLocalUnicast() {
				ip = ip.WithZone(iface.Name)
			}
			out = append(out, ip)
		}
	}
	return out
}

// Exposures says how other machines can reach the TCP port: each socket
// of this process's network namespace that listens on it on an address
// other than a loopback one, and each of this machine's other addresses on
// which connecting to it succeeds. None means the port is closed to them.
func Exposures(t testing.TB, port int) []string {
	t.Helper()
	var out []string
	for _, l := range Listeners(t, "self") {
		if int(l.Addr.Port()) == port && !l.Addr.Addr().Unmap().IsLoopback() {
			out = append(out, fmt.Sprintf("a socket listens on %s (inode %d)", l.Addr, l.Inode))
		}
	}
	for _, addr := range ExternalAddrs(t) {
		target := netip.AddrPortFrom(addr, uint16(port)).String()
		if c, err := net.DialTimeout("tcp", target, 2*time.Second); err == nil {
			c.Close()
			out = append(out, "connected to "+target)
		}
	}
	return out
}
