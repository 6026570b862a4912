package ddblocal

import (
	"errors"
	"io"
	"net"
	"sync"
	"time"
)

// forwarder copies each connection accepted on ln to one that dial opens,
// for a server this machine's network cannot reach directly (one in a
// private network namespace).
type forwarder struct {
	ln   net.Listener
	dial func() (net.Conn, error)

	mu     sync.Mutex
	closed bool
	conns  map[net.Conn]struct{}
	wg     sync.WaitGroup
}

func newForwarder(ln net.Listener, dial func() (net.Conn, error)) *forwarder {
	f := &forwarder{ln: ln, dial: dial, conns: map[net.Conn]struct{}{}}
	f.wg.Add(1)
	go f.serve()
	return f
}

func (f *forwarder) serve() {
	defer f.wg.Done()
	var backoff time.Duration
	for {
		c, err := f.ln.Accept()
		if errors.Is(err, net.ErrClosed) {
			return
		}
		if err != nil {
			// Out of file descriptors or the like: wait for it to pass,
			// as net/http's server does, rather than spin.
			backoff = min(max(2*backoff, 5*time.Millisecond), time.Second)
			time.Sleep(backoff)
			continue
		}
		backoff = 0
		f.wg.Add(1)
		go f.pipe(c)
	}
}

// pipe joins c to a new connection to the server until either side ends.
// Ending both at the first end loses TCP half-close, which HTTP clients do
// not use, and never leaves a goroutine blocked on a silent peer.
func (f *forwarder) pipe(c net.Conn) {
	defer f.wg.Done()
	up, err := f.dial()
	if err != nil {
		// The client sees its connection closed, as it would a server
		// that stopped.
		c.Close()
		return
	}
	if !f.track(c, up) {
		c.Close()
		up.Close()
		return
	}
	ended := make(chan struct{}, 2)
	go func() { _, _ = io.Copy(up, c); ended <- struct{}{} }()
	go func() { _, _ = io.Copy(c, up); ended <- struct{}{} }()
	<-ended
	c.Close()
	up.Close()
	<-ended
	f.untrack(c, up)
}

// track records open connections so that close can end them; false if the
// forwarder is already closed.
func (f *forwarder) track(conns ...net.Conn) bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.closed {
		return false
	}
	for _, c := range conns {
		f.conns[c] = struct{}{}
	}
	return true
}

func (f *forwarder) untrack(conns ...net.Conn) {
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, c := range conns {
		delete(f.conns, c)
	}
}

// close stops listening, ends every forwarded connection and waits for
// the goroutines, so that the port can be listened on again at once.
func (f *forwarder) close() {
	f.mu.Lock()
	f.closed = true
	f.ln.Close()
	for c := range f.conns {
		c.Close()
	}
	f.mu.Unlock()
	f.wg.Wait()
}
