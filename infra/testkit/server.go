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
// tests that need a stand-in never skip.
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
