package ddblocal

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"sync"
	"time"
)

// Process is a local stand-in server (DynamoDB Local, moto_server) run as a
// child process that dies with this one.
type Process struct {
	// Endpoint is the server's URL, e.g. http://127.0.0.1:41234.
	Endpoint string
	// Isolated reports that the server runs in a private network namespace
	// and is reachable only through Endpoint, on 127.0.0.1 of this machine.
	// A server started by StartProcess shares this machine's network and is
	// as private as the address it binds.
	Isolated bool
	// Warning, when not empty, says that the server is exposed to the
	// network and how to close it: one line, for a banner or a log.
	Warning string

	name string
	cmd  *exec.Cmd
	done chan struct{}
	// cleanup releases what reaches the server (the forwarder of an
	// isolated one) once it has exited; nil if nothing does.
	cleanup func()
	cleaned sync.Once
}

// StartProcess starts cmd, serving on endpoint, and waits until ready
// reports that it answers (polling every 100 ms, at most limit). name is
// for errors. The process dies with this one.
func StartProcess(ctx context.Context, name string, cmd *exec.Cmd, endpoint string, limit time.Duration, ready func(ctx context.Context, client *http.Client, endpoint string) bool) (*Process, error) {
	cmd.SysProcAttr = procAttr()
	p, err := start(name, cmd, endpoint)
	if err != nil {
		return nil, err
	}
	if err := p.wait(ctx, limit, ready); err != nil {
		return nil, err
	}
	return p, nil
}

// start starts cmd with the SysProcAttr it has and returns at once.
func start(name string, cmd *exec.Cmd, endpoint string) (*Process, error) {
	// Stand-ins write files into their working directory: keep those out
	// of the source tree.
	cmd.Dir = os.TempDir()
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("start %s: %w", name, err)
	}
	p := &Process{Endpoint: endpoint, name: name, cmd: cmd, done: make(chan struct{})}
	go func() { _ = cmd.Wait(); close(p.done) }()
	return p, nil
}

// wait polls ready: a port opens a little before its server is ready. It
// stops the server if it does not become ready.
func (p *Process) wait(ctx context.Context, limit time.Duration, ready func(context.Context, *http.Client, string) bool) error {
	ctx, cancel := context.WithTimeout(ctx, limit)
	defer cancel()
	client := &http.Client{Timeout: 2 * time.Second}
	for {
		if ready(ctx, client, p.Endpoint) {
			return nil
		}
		select {
		case <-p.done:
			p.release()
			return fmt.Errorf("%s exited during start-up: %v", p.name, p.cmd.ProcessState)
		case <-ctx.Done():
			_ = p.Stop()
			return fmt.Errorf("%s did not answer on %s within %s", p.name, p.Endpoint, limit)
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// Stop kills the server and waits for it to exit. When it returns, its
// port is closed and can be listened on again.
func (p *Process) Stop() error {
	select {
	case <-p.done:
	default:
		if err := p.cmd.Process.Kill(); err != nil && !errors.Is(err, os.ErrProcessDone) {
			return err
		}
		<-p.done
	}
	p.release()
	return nil
}

// release runs cleanup once, whoever notices the exit first.
func (p *Process) release() {
	p.cleaned.Do(func() {
		if p.cleanup != nil {
			p.cleanup()
		}
	})
}

// Pid is the server's process ID, for tests that inspect its sockets.
func (p *Process) Pid() int { return p.cmd.Process.Pid }

// Done is closed when the server process has exited.
func (p *Process) Done() <-chan struct{} { return p.done }

// FreePort returns a port that was free a moment ago on 127.0.0.1.
func FreePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, fmt.Errorf("find a free port: %w", err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}
