package keygate

import (
	"encoding/json"
	"strings"
	"testing"
	"time"
)

func TestParseRateLimit(t *testing.T) {
	tests := []struct {
		limit  int64
		window string
		want   time.Duration
		field  string // "" if valid; else the field the error names
	}{
		{1, "1s", time.Second, ""},
		{100, "1m", time.Minute, ""},
		{MaxRateLimit, "24h", 24 * time.Hour, ""},
		{5, "60000ms", time.Minute, ""},
		{5, "1h30m", 90 * time.Minute, ""},
		{0, "1m", 0, "rate_limit.limit"},
		{-1, "1m", 0, "rate_limit.limit"},
		{MaxRateLimit + 1, "1m", 0, "rate_limit.limit"},
		{5, "0s", 0, "rate_limit.window"},
		{5, "999ms", 0, "rate_limit.window"},
		{5, "1.5s", 0, "rate_limit.window"},
		{5, "24h1s", 0, "rate_limit.window"},
		{5, "90d", 0, "rate_limit.window"},
		{5, "-1m", 0, "rate_limit.window"},
		{5, "", 0, "rate_limit.window"},
		{5, "60", 0, "rate_limit.window"},
	}
	for _, tt := range tests {
		t.Run(tt.window, func(t *testing.T) {
			got, err := ParseRateLimit(tt.limit, tt.window)
			if tt.field == "" {
				if err != nil || got.Window != tt.want || got.Limit != tt.limit {
					t.Fatalf("ParseRateLimit(%d, %q) = %+v, %v", tt.limit, tt.window, got, err)
				}
				return
			}
			if ErrorCode(err) != Invalid || !strings.Contains(err.Error(), tt.field+" ") {
				t.Fatalf("ParseRateLimit(%d, %q) = %v, want Invalid naming %s", tt.limit, tt.window, err, tt.field)
			}
		})
	}
}

func TestRateLimitJSON(t *testing.T) {
	for window, text := range map[time.Duration]string{
		time.Second: "1s", time.Minute: "1m", time.Hour: "1h", 24 * time.Hour: "24h",
		90 * time.Second: "1m30s", 3661 * time.Second: "1h1m1s", 2 * time.Hour: "2h",
	} {
		b, err := json.Marshal(RateLimit{Limit: 7, Window: window})
		if err != nil {
			t.Fatal(err)
		}
		if want := `{"limit":7,"window":"` + text + `"}`; string(b) != want {
			t.Errorf("Marshal(%v) = %s, want %s", window, b, want)
		}
		var back RateLimit
		if err := json.Unmarshal(b, &back); err != nil || back != (RateLimit{7, window}) {
			t.Errorf("Unmarshal(%s) = %+v, %v", b, back, err)
		}
	}
	var k Key
	if err := json.Unmarshal([]byte(`{"rate_limit":{"limit":0,"window":"1m"}}`), &k); err == nil {
		t.Error("a key's rate_limit of 0 was read")
	}
	if b, _ := json.Marshal(Key{}); strings.Contains(string(b), "rate_limit") {
		t.Errorf("a key without a rate limit shows one: %s", b)
	}
}

func TestCreditsCheck(t *testing.T) {
	tests := []struct {
		name  string
		c     Credits
		field string
	}{
		{"zero", Credits{}, ""},
		{"max", Credits{Remaining: MaxCredits}, ""},
		{"refill monthly", Credits{Remaining: 5, Refill: &Refill{Amount: 5000, Interval: RefillMonth}}, ""},
		{"refill daily", Credits{Remaining: 5, Refill: &Refill{Amount: MaxCredits, Interval: RefillDay}}, ""},
		{"negative", Credits{Remaining: -1}, "credits.remaining"},
		{"too many", Credits{Remaining: MaxCredits + 1}, "credits.remaining"},
		{"refill zero", Credits{Refill: &Refill{Interval: RefillDay}}, "credits.refill.amount"},
		{"refill too many", Credits{Refill: &Refill{Amount: MaxCredits + 1, Interval: RefillDay}}, "credits.refill.amount"},
		{"refill weekly", Credits{Refill: &Refill{Amount: 1, Interval: "week"}}, "credits.refill.interval"},
		{"refill no interval", Credits{Refill: &Refill{Amount: 1}}, "credits.refill.interval"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.c.Check()
			if tt.field == "" {
				if err != nil {
					t.Fatal(err)
				}
				return
			}
			if ErrorCode(err) != Invalid || !strings.Contains(err.Error(), tt.field+" ") {
				t.Fatalf("Check = %v, want Invalid naming %s", err, tt.field)
			}
		})
	}
}

func TestRefillNext(t *testing.T) {
	at := time.Date(2026, 12, 31, 23, 59, 59, 0, time.FixedZone("x", 3600))
	if got, want := (Refill{Interval: RefillDay}).Next(at), time.Date(2027, 1, 1, 0, 0, 0, 0, time.UTC); !got.Equal(want) {
		t.Errorf("day: %v, want %v", got, want)
	}
	if got, want := (Refill{Interval: RefillMonth}).Next(at), time.Date(2027, 1, 1, 0, 0, 0, 0, time.UTC); !got.Equal(want) {
		t.Errorf("month: %v, want %v", got, want)
	}
	if got, want := (Refill{Interval: RefillMonth}).Next(time.Date(2027, 1, 31, 12, 0, 0, 0, time.UTC)), time.Date(2027, 2, 1, 0, 0, 0, 0, time.UTC); !got.Equal(want) {
		t.Errorf("month from Jan 31: %v, want %v", got, want)
	}
	if got, want := (Refill{Interval: RefillDay}).Next(time.Date(2027, 3, 1, 0, 0, 0, 0, time.UTC)), time.Date(2027, 3, 2, 0, 0, 0, 0, time.UTC); !got.Equal(want) {
		t.Errorf("day from midnight: %v, want %v", got, want)
	}
}

func TestRateLooser(t *testing.T) {
	r := func(n int64, w time.Duration) *RateLimit { return &RateLimit{Limit: n, Window: w} }
	tests := []struct {
		name string
		a, b *RateLimit
		want bool
	}{
		{"both unlimited", nil, nil, false},
		{"unlimited vs limited", nil, r(100, time.Minute), true},
		{"limited vs unlimited", r(100, time.Minute), nil, false},
		{"same", r(100, time.Minute), r(100, time.Minute), false},
		{"larger limit", r(101, time.Minute), r(100, time.Minute), true},
		{"smaller limit", r(99, time.Minute), r(100, time.Minute), false},
		{"same limit, shorter window", r(100, time.Second), r(100, time.Minute), true},
		{"same limit, longer window", r(100, time.Hour), r(100, time.Minute), false},
		{"burstier: smaller limit, faster rate", r(10, time.Second), r(100, time.Minute), true},
		{"larger burst at a slower rate", r(100, time.Minute), r(10, time.Second), true},
		{"same rate, smaller burst", r(1, time.Second), r(60, time.Minute), false},
		{"same rate, larger burst", r(60, time.Minute), r(1, time.Second), true},
		{"max values", r(MaxRateLimit, time.Second), r(MaxRateLimit, MaxWindow), true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := RateLooser(tt.a, tt.b); got != tt.want {
				t.Fatalf("RateLooser = %v, want %v", got, tt.want)
			}
		})
	}
}

func TestCreditsLooser(t *testing.T) {
	c := func(n int64, refill *Refill) *Credits { return &Credits{Remaining: n, Refill: refill} }
	day := func(n int64) *Refill { return &Refill{Amount: n, Interval: RefillDay} }
	month := func(n int64) *Refill { return &Refill{Amount: n, Interval: RefillMonth} }
	tests := []struct {
		name string
		a, b *Credits
		want bool
	}{
		{"both unmetered", nil, nil, false},
		{"unmetered vs metered", nil, c(5, nil), true},
		{"metered vs unmetered", c(5, nil), nil, false},
		{"same", c(5, month(5)), c(5, month(5)), false},
		{"more remaining", c(6, nil), c(5, nil), true},
		{"fewer remaining", c(4, nil), c(5, nil), false},
		{"refill where none", c(5, month(1)), c(5, nil), true},
		{"no refill where one", c(5, nil), c(5, month(1)), false},
		{"larger refill", c(5, month(6)), c(5, month(5)), true},
		{"smaller refill", c(5, month(4)), c(5, month(5)), false},
		{"daily vs monthly", c(5, day(1)), c(5, month(1000)), true},
		{"monthly vs daily", c(5, month(1)), c(5, day(1)), false},
		{"unknown interval", c(5, &Refill{Amount: 1, Interval: "hour"}), c(5, day(5)), true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := CreditsLooser(tt.a, tt.b); got != tt.want {
				t.Fatalf("CreditsLooser = %v, want %v", got, tt.want)
			}
		})
	}
}
