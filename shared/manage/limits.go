package manage

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/keygate/keygate/shared/keygate"
)

// RateLimitRequest is a key's rate_limit as a request gives it:
// {"limit": N, "window": "1m"}.
type RateLimitRequest struct {
	Limit  int64  `json:"limit"`
	Window string `json:"window"`
}

// CreditsRequest is a key's credits as a request gives them: the balance
// to set and an optional refill.
type CreditsRequest struct {
	Remaining *int64          `json:"remaining"`
	Refill    *keygate.Refill `json:"refill,omitempty"`
}

// parseRate validates a requested rate limit (nil: none given).
func parseRate(req *RateLimitRequest) (*keygate.RateLimit, error) {
	if req == nil {
		return nil, nil
	}
	rl, err := keygate.ParseRateLimit(req.Limit, req.Window)
	if err != nil {
		return nil, err
	}
	return &rl, nil
}

// parseCredits validates requested credits (nil: none given).
func parseCredits(req *CreditsRequest) (*keygate.Credits, error) {
	if req == nil {
		return nil, nil
	}
	if req.Remaining == nil {
		return nil, keygate.Errorf(keygate.Invalid, "credits.remaining is required")
	}
	c := keygate.Credits{Remaining: *req.Remaining}
	if req.Refill != nil {
		r := *req.Refill
		c.Refill = &r
	}
	if err := c.Check(); err != nil {
		return nil, err
	}
	return &c, nil
}

// limitsOf applies the limit rules to a new key: a key minted by a key
// never has looser limits than its creator holds now (actor, as read for
// this request); limits the request leaves out are the creator's. An
// operator (actor nil) sets any, or none.
func limitsOf(actor *keygate.Record, rateReq *RateLimitRequest, creditsReq *CreditsRequest) (*keygate.RateLimit, *keygate.Credits, error) {
	rate, err := parseRate(rateReq)
	if err != nil {
		return nil, nil, err
	}
	credits, err := parseCredits(creditsReq)
	if err != nil {
		return nil, nil, err
	}
	if actor == nil {
		return rate, credits, nil
	}
	if rateReq == nil && actor.RateLimit != nil {
		rl := *actor.RateLimit
		rate = &rl
	}
	if creditsReq == nil && actor.Credits != nil {
		credits = cloneCredits(actor.Credits)
	}
	if err := within(rate, credits, &actor.Key, "its creator"); err != nil {
		return nil, nil, err
	}
	return rate, credits, nil
}

// within refuses limits looser than holder's (Forbidden, naming the
// field): whose says whose limits they are, for the message.
func within(rate *keygate.RateLimit, credits *keygate.Credits, holder *keygate.Key, whose string) error {
	if keygate.RateLooser(rate, holder.RateLimit) {
		return keygate.Errorf(keygate.Forbidden, "rate_limit may not be looser than that of %s (%s)", whose, describeRate(holder.RateLimit))
	}
	if keygate.CreditsLooser(credits, holder.Credits) {
		return keygate.Errorf(keygate.Forbidden, "credits may not be looser than those of %s (%s)", whose, describeCredits(holder.Credits))
	}
	return nil
}

// changeLimits applies the limit rules to a PATCH of r's limits by c
// (actor its item; nil for an operator, who may set anything): to
// tighten a key's limits (set a limit, lower it), c covers the key, and a
// viewer only its own children's; to loosen them (raise or remove a
// limit), c is an admin, and the new limits are within c's own and within
// those of the key that minted r.
func (s *Service) changeLimits(ctx context.Context, c keygate.Caller, actor, r *keygate.Record, rate *keygate.RateLimit, credits *keygate.Credits) error {
	if r.RotatedTo != "" {
		return keygate.Errorf(keygate.Conflict, "the key was rotated (to %s), which holds its limits and counters now: change the successor's", r.RotatedTo)
	}
	if r.RotatedFrom != "" {
		// The key it replaced shares its counters while its grace lasts,
		// and meters its own calls by the limits it was rotated with: a
		// change now would hold the successor alone.
		p, err := s.store.GetKey(ctx, r.RotatedFrom)
		switch {
		case keygate.ErrorCode(err) == keygate.NotFound:
		case err != nil:
			return fmt.Errorf("update key %s: read the key it replaced: %w", r.ID, err)
		case p.StatusAt(s.cfg.Now()) == keygate.Active:
			return keygate.Errorf(keygate.Conflict, "the key %s replaced (%s) shares its counters until its grace ends at %s: change the limits then, or revoke it first",
				r.ID, p.ID, p.ExpiresAt.UTC().Format(time.RFC3339))
		}
	}
	if actor == nil {
		return nil
	}
	looser := keygate.RateLooser(rate, r.RateLimit) || keygate.CreditsLooser(credits, r.Credits)
	if !c.IsAdmin() {
		if r.ParentLineage != actor.LineageID() {
			return keygate.Errorf(keygate.Forbidden, "a viewer key may change the limits only of keys it created")
		}
		if looser {
			return keygate.Errorf(keygate.Forbidden, "a viewer key may only tighten limits: lower them or set new ones")
		}
		return s.noTopUp(ctx, r, credits, "a viewer key")
	}
	if r.LineageID() == actor.LineageID() {
		// Its own credits limit an admin key only if it cannot reset them.
		if err := s.noTopUp(ctx, r, credits, "a key acting on its own credits"); err != nil {
			return err
		}
	}
	if !looser {
		return nil
	}
	if err := within(rate, credits, &actor.Key, "the calling key"); err != nil {
		return err
	}
	parent, ok := strings.CutPrefix(r.CreatedBy, "key:")
	if !ok || parent == actor.ID {
		return nil
	}
	p, err := s.currentKey(ctx, parent)
	if err != nil {
		return fmt.Errorf("update key %s: read its creator: %w", r.ID, err)
	}
	if p == nil {
		return nil // gone: it holds nothing to stay within
	}
	return within(rate, credits, &p.Key, "the key that created it")
}

// noTopUp refuses credits that would raise r's live balance: setting
// credits sets the balance, so even the configured amount again would
// top up what the key has spent since. who names the caller's kind.
func (s *Service) noTopUp(ctx context.Context, r *keygate.Record, credits *keygate.Credits, who string) error {
	if credits == nil || r.Credits == nil {
		return nil
	}
	u, err := s.store.Usage(ctx, &r.Key, s.cfg.Now())
	if err != nil {
		return fmt.Errorf("update key %s: read its usage: %w", r.ID, err)
	}
	if u != nil && u.Credits != nil && credits.Remaining > u.Credits.Remaining {
		return keygate.Errorf(keygate.Forbidden, "%s may not raise a key's credit balance (%d left): set at most that", who, u.Credits.Remaining)
	}
	return nil
}

func cloneCredits(c *keygate.Credits) *keygate.Credits {
	if c == nil {
		return nil
	}
	out := *c
	if c.Refill != nil {
		r := *c.Refill
		out.Refill = &r
	}
	return &out
}

// describeRate is a rate limit for messages and audit details: "100/1m",
// or "none".
func describeRate(rl *keygate.RateLimit) string {
	if rl == nil {
		return "none"
	}
	return strconv.FormatInt(rl.Limit, 10) + "/" + keygate.FormatWindow(rl.Window)
}

// describeCredits is credits for messages and audit details: "5000",
// "5000, refill 5000/month", or "none".
func describeCredits(c *keygate.Credits) string {
	if c == nil {
		return "none"
	}
	s := strconv.FormatInt(c.Remaining, 10)
	if c.Refill != nil {
		s += ", refill " + strconv.FormatInt(c.Refill.Amount, 10) + "/" + c.Refill.Interval
	}
	return s
}
