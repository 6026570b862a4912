package keygate

import (
	"encoding/json"
	"testing"
	"time"
)

// FuzzLimits: parsing and checking limits never panic; what they accept
// survives a JSON round trip unchanged; and "looser" is a strict partial
// order on what they accept: nothing is looser than itself, and "not
// looser than" is transitive (so a chain of keys, each within its
// creator's limits, stays within the first creator's).
func FuzzLimits(f *testing.F) {
	f.Add(int64(100), "1m", int64(10), "1s", int64(1000), "24h", int64(5), int64(5), "month", int64(4), int64(0), "day", int64(6), int64(1), "")
	f.Add(int64(1), "1s", int64(1), "1s", int64(1), "1s", int64(0), int64(1), "day", int64(0), int64(1), "day", int64(0), int64(1), "day")
	f.Add(int64(0), "1.5s", int64(-1), "90d", int64(MaxRateLimit+1), "60000ms", int64(-1), int64(0), "week", int64(MaxCredits+1), int64(-5), "", int64(1), int64(1), "month")
	f.Fuzz(func(t *testing.T, l1 int64, w1 string, l2 int64, w2 string, l3 int64, w3 string,
		r1, a1 int64, i1 string, r2, a2 int64, i2 string, r3, a3 int64, i3 string) {
		var rates []*RateLimit
		for _, in := range []struct {
			l int64
			w string
		}{{l1, w1}, {l2, w2}, {l3, w3}} {
			r, err := ParseRateLimit(in.l, in.w)
			if err != nil {
				if ErrorCode(err) != Invalid {
					t.Fatalf("ParseRateLimit(%d, %q) = %v, not Invalid", in.l, in.w, err)
				}
				// An invalid window is refused whatever the limit.
				rates = append(rates, nil)
				continue
			}
			if err := r.Check(); err != nil {
				t.Fatalf("Check of parsed %+v: %v", r, err)
			}
			b, err := json.Marshal(r)
			if err != nil {
				t.Fatal(err)
			}
			var back RateLimit
			if err := json.Unmarshal(b, &back); err != nil || back != r {
				t.Fatalf("round trip of %+v: %s -> %+v, %v", r, b, back, err)
			}
			if d, err := time.ParseDuration(FormatWindow(r.Window)); err != nil || d != r.Window {
				t.Fatalf("FormatWindow(%v) = %q", r.Window, FormatWindow(r.Window))
			}
			rates = append(rates, &r)
		}
		var credits []*Credits
		for _, in := range []struct {
			r, a int64
			i    string
		}{{r1, a1, i1}, {r2, a2, i2}, {r3, a3, i3}} {
			c := Credits{Remaining: in.r}
			if in.i != "" {
				c.Refill = &Refill{Amount: in.a, Interval: in.i}
			}
			if err := c.Check(); err != nil {
				if ErrorCode(err) != Invalid {
					t.Fatalf("Check(%+v) = %v, not Invalid", c, err)
				}
				credits = append(credits, nil)
				continue
			}
			b, err := json.Marshal(c)
			if err != nil {
				t.Fatal(err)
			}
			var back Credits
			if err := json.Unmarshal(b, &back); err != nil || back.Remaining != c.Remaining || (back.Refill == nil) != (c.Refill == nil) || (c.Refill != nil && *back.Refill != *c.Refill) {
				t.Fatalf("round trip of %+v: %s -> %+v, %v", c, b, back, err)
			}
			credits = append(credits, &c)
		}
		// nil stands for "no limit", itself a value of the order.
		for _, x := range rates {
			if RateLooser(x, x) {
				t.Fatalf("%+v is looser than itself", x)
			}
		}
		for _, x := range credits {
			if CreditsLooser(x, x) {
				t.Fatalf("%+v is looser than itself", x)
			}
		}
		for _, p := range [][3]int{{0, 1, 2}, {0, 2, 1}, {1, 0, 2}, {1, 2, 0}, {2, 0, 1}, {2, 1, 0}} {
			a, b, c := rates[p[0]], rates[p[1]], rates[p[2]]
			if !RateLooser(a, b) && !RateLooser(b, c) && RateLooser(a, c) {
				t.Fatalf("rate: %+v within %+v within %+v, but looser than it", a, b, c)
			}
			x, y, z := credits[p[0]], credits[p[1]], credits[p[2]]
			if !CreditsLooser(x, y) && !CreditsLooser(y, z) && CreditsLooser(x, z) {
				t.Fatalf("credits: %+v within %+v within %+v, but looser than it", x, y, z)
			}
		}
	})
}
