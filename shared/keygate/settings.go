package keygate

import (
	"slices"
	"strings"
)

// Settings are a tenant's notification settings. They are declared in the
// domain, like Record, because storage keeps them and several services
// read them: shared/settings changes them, shared/lifecycle mails with
// them, shared/config checks the deployment's default windows with Check.
type Settings struct {
	// OwnerEmail receives service-key and expiry e-mails; "" for none.
	OwnerEmail string `json:"owner_email"`
	// ReminderDays are the reminder windows in days before expiry,
	// largest first; empty means the deployment's default.
	ReminderDays []int `json:"reminder_days"`
	// LeakAction is what a secret-scanning report of one of the tenant's
	// keys does: LeakRevoke (also for "") or LeakNotify.
	LeakAction string `json:"leak_action"`
	// LeakCascade, with LeakRevoke, also revokes every key minted from
	// the leaked one, transitively.
	LeakCascade bool `json:"leak_cascade"`
}

// Leak actions.
const (
	// LeakRevoke revokes a leaked key (the default): a token found in
	// public is compromised.
	LeakRevoke = "revoke"
	// LeakNotify only records and reports the leak, for tenants that
	// would rather rotate on their own schedule.
	LeakNotify = "notify"
)

// Revokes reports whether a leak of one of the tenant's keys revokes it.
func (s Settings) Revokes() bool { return s.LeakAction != LeakNotify }

// Limits of the settings.
const (
	MaxReminderDays    = 30 // the daily run reads this many days ahead
	MaxReminderWindows = 5
)

// Windows are s's reminder windows, or def, smallest first.
func (s Settings) Windows(def []int) []int {
	w := s.ReminderDays
	if len(w) == 0 {
		w = def
	}
	w = slices.Clone(w)
	slices.Sort(w)
	return w
}

// ValidEmail is a deliberately plain check of an address: one @, a dot in
// the domain, no spaces, quotes, commas, angle brackets or control
// characters (so it can never smuggle another recipient or header).
func ValidEmail(s string) bool {
	at := strings.IndexByte(s, '@')
	if len(s) > 254 || at < 1 || at != strings.LastIndexByte(s, '@') || !strings.Contains(s[at+1:], ".") ||
		strings.HasSuffix(s, ".") || strings.HasPrefix(s[at+1:], ".") {
		return false
	}
	for _, c := range s {
		if c <= ' ' || c == 0x7f || strings.ContainsRune("\"(),:;<>[\\]", c) {
			return false
		}
	}
	return true
}

// Check validates s, puts its windows in canonical order and names the
// default leak action ("" becomes LeakRevoke).
func (s *Settings) Check() error {
	switch s.LeakAction {
	case "":
		s.LeakAction = LeakRevoke
	case LeakRevoke, LeakNotify:
	default:
		return Errorf(Invalid, "leak_action must be revoke or notify")
	}
	if s.OwnerEmail != "" && !ValidEmail(s.OwnerEmail) {
		return Errorf(Invalid, "owner_email is not an e-mail address")
	}
	if len(s.ReminderDays) > MaxReminderWindows {
		return Errorf(Invalid, "reminder_days holds at most %d windows", MaxReminderWindows)
	}
	seen := map[int]bool{}
	for _, d := range s.ReminderDays {
		if d < 1 || d > MaxReminderDays || seen[d] {
			return Errorf(Invalid, "reminder_days must be distinct whole days from 1 to %d", MaxReminderDays)
		}
		seen[d] = true
	}
	slices.Sort(s.ReminderDays)
	slices.Reverse(s.ReminderDays)
	return nil
}
