package lifecycle

import (
	"context"
	"slices"
	"strings"
	"time"

	"github.com/keygate/keygate/shared/keygate"
)

// Settings are a tenant's notification settings.
type Settings struct {
	// OwnerEmail receives service-key and expiry e-mails; "" for none.
	OwnerEmail string `json:"owner_email"`
	// ReminderDays are the reminder windows in days before expiry,
	// largest first; empty means the deployment's default.
	ReminderDays []int `json:"reminder_days"`
}

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

// Check validates s and puts its windows in canonical order.
func (s *Settings) Check() error {
	if s.OwnerEmail != "" && !ValidEmail(s.OwnerEmail) {
		return keygate.Errorf(keygate.Invalid, "owner_email is not an e-mail address")
	}
	if len(s.ReminderDays) > MaxReminderWindows {
		return keygate.Errorf(keygate.Invalid, "reminder_days holds at most %d windows", MaxReminderWindows)
	}
	seen := map[int]bool{}
	for _, d := range s.ReminderDays {
		if d < 1 || d > MaxReminderDays || seen[d] {
			return keygate.Errorf(keygate.Invalid, "reminder_days must be distinct whole days from 1 to %d", MaxReminderDays)
		}
		seen[d] = true
	}
	slices.Sort(s.ReminderDays)
	slices.Reverse(s.ReminderDays)
	return nil
}

// SettingsService manages tenants' settings: operators (direct
// invocation) any tenant's, admin keys their own tenant's.
type SettingsService struct {
	store Store
	// Now is the clock; nil means time.Now.
	Now func() time.Time
}

// NewSettingsService returns the settings service.
func NewSettingsService(s Store) *SettingsService { return &SettingsService{store: s, Now: time.Now} }

// SettingsChange is a partial update: nil fields stay as they are.
type SettingsChange struct {
	OwnerEmail   *string `json:"owner_email"`
	ReminderDays *[]int  `json:"reminder_days"`
}

func allowed(c keygate.Caller, tenant string) error {
	if !keygate.ValidName(tenant) {
		return keygate.Errorf(keygate.Invalid, "tenant is not a valid name")
	}
	if c.Operator || (c.Role == keygate.Admin && c.Tenant == tenant) {
		return nil
	}
	return keygate.Errorf(keygate.Forbidden, "only the tenant's admin keys manage its settings")
}

// Get returns tenant's settings.
func (s *SettingsService) Get(ctx context.Context, c keygate.Caller, tenant string) (Settings, error) {
	if err := allowed(c, tenant); err != nil {
		return Settings{}, err
	}
	return s.store.Settings(ctx, tenant)
}

// Update applies ch to tenant's settings and returns them.
//
// A key changes them with what it holds now: its item is read, it must be
// an active, unrotated admin key of the tenant still, and the write is
// conditioned on that item (the authorizer's context may be stale).
func (s *SettingsService) Update(ctx context.Context, c keygate.Caller, tenant string, ch SettingsChange) (Settings, error) {
	now := s.Now()
	var actor *keygate.Record
	if !c.Operator {
		r, err := s.store.GetKey(ctx, c.KeyID)
		if keygate.ErrorCode(err) == keygate.NotFound {
			return Settings{}, keygate.Errorf(keygate.Unauthorized, "the calling key no longer exists")
		}
		if err != nil {
			return Settings{}, err
		}
		if c, err = r.ActingAs(c, now); err != nil {
			return Settings{}, err
		}
		actor = r
	}
	if err := allowed(c, tenant); err != nil {
		return Settings{}, err
	}
	cur, err := s.store.Settings(ctx, tenant)
	if err != nil {
		return Settings{}, err
	}
	if ch.OwnerEmail != nil {
		cur.OwnerEmail = *ch.OwnerEmail
	}
	if ch.ReminderDays != nil {
		cur.ReminderDays = slices.Clone(*ch.ReminderDays)
	}
	if err := cur.Check(); err != nil {
		return Settings{}, err
	}
	if err := s.store.PutSettings(ctx, tenant, cur, now, actor); err != nil {
		return Settings{}, err
	}
	return cur, nil
}
