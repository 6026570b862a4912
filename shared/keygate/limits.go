package keygate

import (
	"encoding/json"
	"fmt"
	"math/bits"
	"strconv"
	"time"
)

// Ranges of usage limits. A window is whole seconds from MinWindow to
// MaxWindow, so every window boundary is a Unix second and a day-long
// window still fits in one counter item.
const (
	MaxRateLimit = 1_000_000_000
	MinWindow    = time.Second
	MaxWindow    = 24 * time.Hour
	MaxCredits   = 1_000_000_000_000
)

var errWindow = Errorf(Invalid, "rate_limit.window must be a Go duration from 1s to 24h in whole seconds, such as \"1m\"")

// ParseWindow parses a rate limit's window: a Go duration (time.ParseDuration)
// of whole seconds from MinWindow to MaxWindow.
func ParseWindow(s string) (time.Duration, error) {
	d, err := time.ParseDuration(s)
	if err != nil || d < MinWindow || d > MaxWindow || d%time.Second != 0 {
		return 0, errWindow
	}
	return d, nil
}

// FormatWindow is d as Go duration text without its zero units ("1m", not
// "1m0s"; "1h30m"): what time.ParseDuration reads back as d.
func FormatWindow(d time.Duration) string {
	if d <= 0 || d%time.Second != 0 {
		return d.String()
	}
	secs := int64(d / time.Second)
	h, m, s := secs/3600, secs/60%60, secs%60
	var b []byte
	if h > 0 {
		b = append(strconv.AppendInt(b, h, 10), 'h')
	}
	if m > 0 {
		b = append(strconv.AppendInt(b, m, 10), 'm')
	}
	if s > 0 {
		b = append(strconv.AppendInt(b, s, 10), 's')
	}
	return string(b)
}

// ParseRateLimit is a rate limit as a request gives it, validated; its
// errors are Invalid and name the field.
func ParseRateLimit(limit int64, window string) (RateLimit, error) {
	if limit < 1 || limit > MaxRateLimit {
		return RateLimit{}, Errorf(Invalid, "rate_limit.limit must be from 1 to %d", int64(MaxRateLimit))
	}
	d, err := ParseWindow(window)
	if err != nil {
		return RateLimit{}, err
	}
	return RateLimit{Limit: limit, Window: d}, nil
}

// Check validates r: the ranges ParseRateLimit enforces.
func (r RateLimit) Check() error {
	if r.Limit < 1 || r.Limit > MaxRateLimit {
		return Errorf(Invalid, "rate_limit.limit must be from 1 to %d", int64(MaxRateLimit))
	}
	if r.Window < MinWindow || r.Window > MaxWindow || r.Window%time.Second != 0 {
		return errWindow
	}
	return nil
}

// rateJSON is RateLimit's JSON form.
type rateJSON struct {
	Limit  int64  `json:"limit"`
	Window string `json:"window"`
}

// MarshalJSON writes {"limit":N,"window":"1m"}.
func (r RateLimit) MarshalJSON() ([]byte, error) {
	return json.Marshal(rateJSON{Limit: r.Limit, Window: FormatWindow(r.Window)})
}

// UnmarshalJSON reads the form MarshalJSON writes, validated (clients
// reading Keygate's answers; requests are decoded strictly by the
// handlers, into manage's request types).
func (r *RateLimit) UnmarshalJSON(data []byte) error {
	var v rateJSON
	if err := json.Unmarshal(data, &v); err != nil {
		return fmt.Errorf("rate_limit: %w", err)
	}
	got, err := ParseRateLimit(v.Limit, v.Window)
	if err != nil {
		return err
	}
	*r = got
	return nil
}

// Check validates c: remaining from 0 to MaxCredits, and a refill of 1 to
// MaxCredits every day or month. Its errors are Invalid and name the field.
func (c Credits) Check() error {
	if c.Remaining < 0 || c.Remaining > MaxCredits {
		return Errorf(Invalid, "credits.remaining must be from 0 to %d", int64(MaxCredits))
	}
	if c.Refill == nil {
		return nil
	}
	if c.Refill.Amount < 1 || c.Refill.Amount > MaxCredits {
		return Errorf(Invalid, "credits.refill.amount must be from 1 to %d", int64(MaxCredits))
	}
	if c.Refill.Interval != RefillDay && c.Refill.Interval != RefillMonth {
		return Errorf(Invalid, "credits.refill.interval must be \"day\" or \"month\"")
	}
	return nil
}

// Next is the first refill after t: the next UTC midnight for RefillDay,
// the first of the next UTC month for RefillMonth.
func (r Refill) Next(t time.Time) time.Time { return NextRefill(r.Interval, t) }

// NextRefill is the first refill boundary after now of a refill every
// interval (RefillDay: the next UTC midnight; RefillMonth: the first of the
// next UTC month). It is the zero time for any other interval: never.
func NextRefill(interval string, now time.Time) time.Time {
	y, m, d := now.UTC().Date()
	switch interval {
	case RefillDay:
		return time.Date(y, m, d+1, 0, 0, 0, 0, time.UTC)
	case RefillMonth:
		return time.Date(y, m+1, 1, 0, 0, 0, 0, time.UTC)
	}
	return time.Time{}
}

// Span is the rate window holding now: windows are aligned to multiples of
// Window since the Unix epoch, so every execution environment and every
// reader agrees on them without coordination. A time exactly on a boundary
// starts the new window. Window must be a whole number of seconds ≥ 1s.
func (r RateLimit) Span(now time.Time) (start, end time.Time) {
	secs := int64(r.Window / time.Second)
	unix := now.Unix()
	s := unix - unix%secs
	if unix < 0 && unix%secs != 0 { // floor, not truncation, before 1970
		s -= secs
	}
	return time.Unix(s, 0).UTC(), time.Unix(s+secs, 0).UTC()
}

// RateLooser reports whether rate limit a lets a key make more calls than
// b in some stretch of time: no limit (nil) is looser than any; else a is
// looser if it allows more calls at once (a larger limit) or more calls
// per second over time (a larger limit/window). It is a partial order: two
// limits may each be looser than the other (10/1s and 100/1m).
func RateLooser(a, b *RateLimit) bool {
	switch {
	case b == nil:
		return false
	case a == nil:
		return true
	}
	if a.Limit > b.Limit {
		return true
	}
	// a.Limit/a.Window > b.Limit/b.Window, without dividing or overflowing.
	return cmpProduct(a.Limit, int64(b.Window), b.Limit, int64(a.Window)) > 0
}

// CreditsLooser reports whether credits a let a key spend more than b: no
// credits (nil) are looser than any; else a is looser if it starts with
// more, or refills where b does not, by more, or more often (a day is more
// often than a month).
func CreditsLooser(a, b *Credits) bool {
	switch {
	case b == nil:
		return false
	case a == nil:
		return true
	case a.Remaining > b.Remaining:
		return true
	case a.Refill == nil:
		return false
	case b.Refill == nil:
		return true
	}
	return a.Refill.Amount > b.Refill.Amount || refillsPerMonth(a.Refill.Interval) > refillsPerMonth(b.Refill.Interval)
}

// refillsPerMonth orders intervals by frequency; an unknown one counts as
// the most frequent, so it never passes for tighter.
func refillsPerMonth(interval string) int {
	switch interval {
	case RefillMonth:
		return 1
	case RefillDay:
		return 31
	}
	return 1 << 30
}

// cmpProduct compares a*b with c*d exactly (negative factors count as 0:
// limits and windows are positive once checked).
func cmpProduct(a, b, c, d int64) int {
	hi1, lo1 := bits.Mul64(uint64(max(a, 0)), uint64(max(b, 0)))
	hi2, lo2 := bits.Mul64(uint64(max(c, 0)), uint64(max(d, 0)))
	switch {
	case hi1 != hi2:
		return cmpU(hi1, hi2)
	default:
		return cmpU(lo1, lo2)
	}
}

func cmpU(x, y uint64) int {
	switch {
	case x < y:
		return -1
	case x > y:
		return 1
	}
	return 0
}
