package testkit

import (
	"os"
	"sync"
	"testing"
)

// Server is a local stand-in (DynamoDB Local, moto_server) shared by every
// test of a process: the endpoint in the environment variable Env, else one
// Start launches on first use. The server outlives the test that started it
// on purpose; it dies with the process. If neither works the test fails:
// tests that need a stand-in never skip, except under go test -short, the
// fast tier, which runs without Java, Python or the network and so skips
// every test that asks for a stand-in (see SkipShort).
type Server struct {
	Name  string // for the failure message
	Env   string
	Start func() (endpoint string, err error)

	once     sync.Once
	endpoint string
	err      error
}

// Endpoint returns the server's endpoint, starting it if needed.
func (s *Server) Endpoint(t testing.TB) string {
	t.Helper()
	SkipShort(t, s.Name)
	s.once.Do(func() {
		if s.endpoint = os.Getenv(s.Env); s.endpoint == "" {
			s.endpoint, s.err = s.Start()
		}
	})
	if s.err != nil {
		t.Fatalf("%s is required: %v", s.Name, s.err)
	}
	return s.endpoint
}

// short is testing.Short, a variable so that this package's tests can run
// both branches of SkipShort whatever flags they were given.
var short = testing.Short

// SkipShort skips t under go test -short, the fast tier, because it needs
// what, something beyond the Go toolchain (a stand-in, a browser, a tool
// from .venv). Without -short it does nothing: make unit and make test run
// the test, and it fails loudly if what is missing.
func SkipShort(t testing.TB, what string) {
	t.Helper()
	if short() {
		t.Skipf("needs %s: skipped under -short (make unit runs it)", what)
	}
}
