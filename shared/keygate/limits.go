package keygate

import (
	"strings"
	"time"
)

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

// WindowText is Window as the shortest Go duration text that
// time.ParseDuration reads back: "1m" rather than "1m0s", "1h30m", "90s"
// as "1m30s".
func (r RateLimit) WindowText() string {
	s := r.Window.String()
	if strings.HasSuffix(s, "m0s") {
		s = s[:len(s)-2]
	}
	if strings.HasSuffix(s, "h0m") {
		s = s[:len(s)-2]
	}
	return s
}

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
