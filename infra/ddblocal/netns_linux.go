package ddblocal

import (
	"errors"
	"fmt"
	"net"
	"os/exec"
	"runtime"
	"strconv"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// startIsolated starts cmd, which serves on innerPort, in a new network
// namespace of its own, and forwards 127.0.0.1:port of this machine (port
// 0 picks a free one) to it. The namespace holds nothing but a loopback
// interface, so no other machine can reach the server however it binds.
//
// An error wrapping errNoNamespace means that this process may not create
// or enter a network namespace (it needs CAP_SYS_ADMIN: root, in practice);
// the caller can then run the server unisolated.
func startIsolated(name string, cmd *exec.Cmd, port, innerPort int) (*Process, error) {
	// The port first: a taken port is the caller's problem, not a reason to
	// give up isolation.
	ln, err := net.Listen("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(port)))
	if err != nil {
		return nil, fmt.Errorf("listen on 127.0.0.1:%d: %w", port, err)
	}
	// Only CLONE_NEWNET: a user namespace would let an unprivileged process
	// create the network namespace, but not enter it (setns needs
	// CAP_SYS_ADMIN in the caller's own user namespace too), so it could
	// never reach the server.
	cmd.SysProcAttr = &syscall.SysProcAttr{Cloneflags: syscall.CLONE_NEWNET, Pdeathsig: syscall.SIGKILL}
	p, err := start(name, cmd, "http://"+ln.Addr().String())
	if err != nil {
		ln.Close()
		return nil, denied(err)
	}
	ns, err := openNetns(p.cmd.Process.Pid)
	if err == nil {
		// A new namespace's loopback is down: nothing, not even the server
		// itself, could connect to it.
		if err = ns.do(loopbackUp); err != nil {
			ns.close()
		}
	}
	if err != nil {
		_ = p.Stop()
		ln.Close()
		return nil, denied(err)
	}
	inner := net.JoinHostPort("127.0.0.1", strconv.Itoa(innerPort))
	fwd := newForwarder(ln, func() (net.Conn, error) {
		var c net.Conn
		err := ns.do(func() (err error) {
			c, err = net.DialTimeout("tcp", inner, 5*time.Second)
			return err
		})
		return c, err
	})
	p.Isolated = true
	p.cleanup = func() { fwd.close(); ns.close() }
	// A server that dies by itself closes its port too, as an unisolated
	// one would: clients are refused rather than accepted and hung up on.
	go func() { <-p.done; p.release() }()
	return p, nil
}

// denied wraps err in errNoNamespace if it says this process may not make
// or enter a network namespace; any other failure (a JVM that died at
// once, a namespace limit) is returned as it is rather than answered with
// an exposed server.
func denied(err error) error {
	for _, errno := range []syscall.Errno{syscall.EPERM, syscall.EACCES, syscall.EINVAL, syscall.ENOSYS, syscall.EUSERS} {
		if errors.Is(err, errno) {
			return fmt.Errorf("%w: %w", errNoNamespace, err)
		}
	}
	return err
}

// CanIsolate reports whether this process may create and enter a network
// namespace (CAP_SYS_ADMIN: root, in practice), that is whether StartWith
// isolates DynamoDB Local or falls back to an exposed server with a
// warning.
func CanIsolate() bool {
	res := make(chan error, 1)
	go func() {
		// Never unlocked: the thread leaves the new namespace by exiting
		// with this goroutine.
		runtime.LockOSThread()
		res <- unix.Unshare(unix.CLONE_NEWNET)
	}()
	return <-res == nil
}

// netns is a network namespace, held open by a file descriptor so that it
// outlives a reused process ID.
type netns struct{ fd int }

func openNetns(pid int) (*netns, error) {
	fd, err := unix.Open(fmt.Sprintf("/proc/%d/ns/net", pid), unix.O_RDONLY|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, fmt.Errorf("open the network namespace of process %d: %w", pid, err)
	}
	return &netns{fd: fd}, nil
}

func (n *netns) close() { unix.Close(n.fd) }

// do runs fn on an OS thread that has joined the namespace. Sockets fn
// creates stay in the namespace for life, wherever they are used later.
// The thread is a fresh goroutine's, locked to it: the namespace is a
// property of the thread, and no other goroutine may run there meanwhile.
func (n *netns) do(fn func() error) error {
	errc := make(chan error, 1)
	go func() {
		runtime.LockOSThread()
		home, err := unix.Open("/proc/thread-self/ns/net", unix.O_RDONLY|unix.O_CLOEXEC, 0)
		if err != nil {
			runtime.UnlockOSThread()
			errc <- fmt.Errorf("open this thread's network namespace: %w", err)
			return
		}
		defer unix.Close(home)
		if err := unix.Setns(n.fd, unix.CLONE_NEWNET); err != nil {
			runtime.UnlockOSThread()
			errc <- fmt.Errorf("enter the server's network namespace: %w", err)
			return
		}
		fnErr := fn()
		if err := unix.Setns(home, unix.CLONE_NEWNET); err != nil {
			// The thread is still in the server's namespace. Left locked,
			// it ends with this goroutine instead of running others.
			errc <- fmt.Errorf("leave the server's network namespace: %w", err)
			return
		}
		runtime.UnlockOSThread()
		errc <- fnErr
	}()
	return <-errc
}

// loopbackUp brings up the interface lo of the calling thread's network
// namespace.
func loopbackUp() error {
	fd, err := unix.Socket(unix.AF_INET, unix.SOCK_DGRAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return fmt.Errorf("bring lo up: %w", err)
	}
	defer unix.Close(fd)
	ifr, err := unix.NewIfreq("lo")
	if err != nil {
		return fmt.Errorf("bring lo up: %w", err)
	}
	if err := unix.IoctlIfreq(fd, unix.SIOCGIFFLAGS, ifr); err != nil {
		return fmt.Errorf("bring lo up: read its flags: %w", err)
	}
	ifr.SetUint16(ifr.Uint16() | unix.IFF_UP)
	if err := unix.IoctlIfreq(fd, unix.SIOCSIFFLAGS, ifr); err != nil {
		return fmt.Errorf("bring lo up: %w", err)
	}
	return nil
}
