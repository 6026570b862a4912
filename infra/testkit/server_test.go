package testkit

import "testing"

func TestServer(t *testing.T) {
	t.Run("environment wins", func(t *testing.T) {
		t.Setenv("KEYGATE_TEST_SERVER", "http://from-env")
		s := Server{Name: "x", Env: "KEYGATE_TEST_SERVER", Start: func() (string, error) {
			t.Error("Start called although the environment names an endpoint")
			return "", nil
		}}
		if got := s.Endpoint(t); got != "http://from-env" {
			t.Errorf("Endpoint = %q, want http://from-env", got)
		}
	})
	t.Run("started once", func(t *testing.T) {
		t.Setenv("KEYGATE_TEST_SERVER", "")
		starts := 0
		s := Server{Name: "x", Env: "KEYGATE_TEST_SERVER", Start: func() (string, error) {
			starts++
			return "http://started", nil
		}}
		for range 3 {
			if got := s.Endpoint(t); got != "http://started" {
				t.Errorf("Endpoint = %q, want http://started", got)
			}
		}
		if starts != 1 {
			t.Errorf("Start ran %d times, want 1", starts)
		}
	})
}
