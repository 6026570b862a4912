package keygate

import "testing"

func TestCheckAPIs(t *testing.T) {
	tests := []struct {
		apis []string
		ok   bool
	}{
		{nil, true},
		{[]string{"*"}, true},
		{[]string{"abc123def4"}, true},
		{[]string{"abc123def4/prod"}, true},
		{[]string{"abc123def4/$default"}, true},
		{[]string{"abc123def4/my_stage-2"}, true},
		{[]string{""}, false},
		{[]string{"ABC123"}, false},
		{[]string{"abc/"}, false},
		{[]string{"/prod"}, false},
		{[]string{"abc/prod/x"}, false},
		{[]string{"abc/pr od"}, false},
		{[]string{"abc*"}, false},
		{[]string{"abc/*"}, false},
		{[]string{"ab%63"}, false},
		{[]string{"abc\x00"}, false},
		{make([]string, MaxAPIs+1), false},
	}
	for _, tt := range tests {
		if err := CheckAPIs(tt.apis); (err == nil) != tt.ok {
			t.Errorf("CheckAPIs(%q) = %v, want ok=%v", tt.apis, err, tt.ok)
		}
	}
}

func TestAPIAllowed(t *testing.T) {
	tests := []struct {
		apis      []string
		id, stage string
		want      bool
	}{
		{[]string{"*"}, "abc", "prod", true},
		{[]string{"abc"}, "abc", "prod", true},
		{[]string{"abc"}, "abd", "prod", false},
		{[]string{"abc/prod"}, "abc", "prod", true},
		{[]string{"abc/prod"}, "abc", "dev", false},
		{[]string{"abc/prod"}, "abc", "Prod", false},
		{[]string{"abc/prod", "xyz"}, "xyz", "dev", true},
		{nil, "abc", "prod", false},
		{[]string{"ab"}, "abc", "prod", false},
	}
	for _, tt := range tests {
		if got := APIAllowed(tt.apis, tt.id, tt.stage); got != tt.want {
			t.Errorf("APIAllowed(%q, %s, %s) = %v, want %v", tt.apis, tt.id, tt.stage, got, tt.want)
		}
	}
}

// TestAPIsCoveredNeverWider: whatever a creator may pass on, the child can
// call no API/stage the creator cannot.
func TestAPIsCoveredNeverWider(t *testing.T) {
	entries := []string{"*", "abc", "abc/prod", "abc/dev", "xyz", "xyz/prod"}
	targets := [][2]string{{"abc", "prod"}, {"abc", "dev"}, {"xyz", "prod"}, {"xyz", "dev"}, {"other", "prod"}}
	for _, h := range entries {
		for _, w := range entries {
			have, want := []string{h}, []string{w}
			if !APIsCovered(want, have) {
				continue
			}
			for _, tg := range targets {
				if APIAllowed(want, tg[0], tg[1]) && !APIAllowed(have, tg[0], tg[1]) {
					t.Errorf("creator %q may mint %q, which reaches %s/%s beyond it", h, w, tg[0], tg[1])
				}
			}
		}
	}
	if APIsCovered([]string{"*"}, []string{"abc"}) || APIsCovered([]string{"abc"}, []string{"abc/prod"}) {
		t.Fatal("a narrower creator covered a wider child")
	}
}
