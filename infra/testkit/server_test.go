package testkit

import "testing"

func TestServer(t *testing.T) {
	// Whatever -short says for this run, the cases below pick the branch.
	defer func(f func() bool) { short = f }(short)
	short = func() bool { return false }

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

func TestServerShort(t *testing.T) {
	defer func(f func() bool) { short = f }(short)
	tests := []struct {
		name        string
		short       bool
		wantSkipped bool
		wantStarts  int
	}{
		{"fast tier skips before starting", true, true, 0},
		{"full tier starts", false, false, 1},
	}
	for _, tt := range tests {
		short = func() bool { return tt.short }
		t.Setenv("KEYGATE_TEST_SERVER", "")
		starts := 0
		s := Server{Name: "x", Env: "KEYGATE_TEST_SERVER", Start: func() (string, error) {
			starts++
			return "http://started", nil
		}}
		// A subtest, so that its skip ends it and not this test.
		var skipped bool
		t.Run(tt.name, func(t *testing.T) {
			defer func() { skipped = t.Skipped() }()
			s.Endpoint(t)
		})
		if skipped != tt.wantSkipped || starts != tt.wantStarts {
			t.Errorf("%s: skipped %v, started %d times; want skipped %v, %d starts", tt.name, skipped, starts, tt.wantSkipped, tt.wantStarts)
		}
	}
}
