// Package settings keeps tenants' settings (the owner's e-mail address,
// the reminder windows and what a leaked key's report does;
// keygate.Settings): the
// management API's /v1/settings routes and the settings function change
// them through Service, and shared/lifecycle reads them when it mails. It
// holds no event or e-mail code, so the management functions link only
// this of the lifecycle side.
package settings

import (
	"context"
	"slices"
	"time"

	"github.com/keygate/keygate/shared/keygate"
)

// Store is what the service needs from storage; shared/store's Lifecycle
// implements it.
type Store interface {
	// GetKey reads a key (NotFound once DynamoDB removed it).
	GetKey(ctx context.Context, id string) (*keygate.Record, error)
	// Settings reads a tenant's settings (the zero value if it has none);
	// PutSettings replaces them, if actor (the acting key as read, nil for
	// an operator) is still as read and active at now.
	Settings(ctx context.Context, tenant string) (keygate.Settings, error)
	PutSettings(ctx context.Context, tenant string, s keygate.Settings, now time.Time, actor *keygate.Record) error
}

// Service manages tenants' settings: operators (direct invocation) any
// tenant's, admin keys their own tenant's.
type Service struct {
	store Store
	// Now is the clock; nil means time.Now.
	Now func() time.Time
}

// NewService returns the settings service.
func NewService(s Store) *Service { return &Service{store: s, Now: time.Now} }

// Change is a partial update: nil fields stay as they are.
type Change struct {
	OwnerEmail   *string `json:"owner_email"`
	ReminderDays *[]int  `json:"reminder_days"`
	LeakAction   *string `json:"leak_action"`
	LeakCascade  *bool   `json:"leak_cascade"`
}

// empty reports whether ch changes nothing (a direct event that only
// reads).
func (ch Change) empty() bool {
	return ch.OwnerEmail == nil && ch.ReminderDays == nil && ch.LeakAction == nil && ch.LeakCascade == nil
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

// Get returns tenant's settings, naming the leak action a tenant that
// never chose one has (revoke).
func (s *Service) Get(ctx context.Context, c keygate.Caller, tenant string) (keygate.Settings, error) {
	if err := allowed(c, tenant); err != nil {
		return keygate.Settings{}, err
	}
	set, err := s.store.Settings(ctx, tenant)
	if err != nil {
		return keygate.Settings{}, err
	}
	if set.LeakAction == "" {
		set.LeakAction = keygate.LeakRevoke
	}
	return set, nil
}

// Update applies ch to tenant's settings and returns them.
//
// A key changes them with what it holds now: its item is read, it must be
// an active, unrotated admin key of the tenant still, and the write is
// conditioned on that item (the authorizer's context may be stale).
func (s *Service) Update(ctx context.Context, c keygate.Caller, tenant string, ch Change) (keygate.Settings, error) {
	now := s.Now()
	c, actor, err := keygate.Authority(ctx, c, now, s.store.GetKey)
	if err != nil {
		return keygate.Settings{}, err
	}
	if err := allowed(c, tenant); err != nil {
		return keygate.Settings{}, err
	}
	cur, err := s.store.Settings(ctx, tenant)
	if err != nil {
		return keygate.Settings{}, err
	}
	if ch.OwnerEmail != nil {
		cur.OwnerEmail = *ch.OwnerEmail
	}
	if ch.ReminderDays != nil {
		cur.ReminderDays = slices.Clone(*ch.ReminderDays)
	}
	if ch.LeakAction != nil {
		cur.LeakAction = *ch.LeakAction
	}
	if ch.LeakCascade != nil {
		cur.LeakCascade = *ch.LeakCascade
	}
	if err := cur.Check(); err != nil {
		return keygate.Settings{}, err
	}
	if err := s.store.PutSettings(ctx, tenant, cur, now, actor); err != nil {
		return keygate.Settings{}, err
	}
	return cur, nil
}
