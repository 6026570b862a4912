// Package lifecycle turns committed key changes into lifecycle events
// (the contract is docs/events/README.md): the table's audit records are an outbox, read from the
// DynamoDB stream and published to EventBridge with a stable id; keys that
// expire (found by the daily run, or removed by DynamoDB's TTL) get an
// "expired" audit record, published the same way; keys about to expire get
// a key.expiring event and e-mail reminders; a key whose token was found in
// public (key.leaked) is mailed about. It declares what it needs from
// storage (Store), EventBridge (Publisher) and SES (Mailer); shared/store
// and shared/notify implement them. A key whose credits fall below 10 % of
// their balance gets key.credits_low, once per set or refill. Nothing here ever sees a token, and no
// event or e-mail carries a verifier.
package lifecycle

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"slices"
	"strconv"
	"time"

	"github.com/keygate/keygate/shared/keygate"
)

// Source is every event's EventBridge source.
const Source = "keygate"

// Detail types; docs/events has a JSON Schema for each.
const (
	KeyCreated  = "key.created"
	KeyRevoked  = "key.revoked"
	KeyRotated  = "key.rotated"
	KeyUpdated  = "key.updated"
	KeyExpired  = "key.expired"
	KeyExpiring = "key.expiring"
	// KeyLeaked is a secret-scanning report of the key's token (audit
	// action leaked): published once per key, whatever the tenant's leak
	// action did.
	KeyLeaked = "key.leaked"
	// KeyCreditsLow is a key's credits falling below 10 % of their base
	// (the balance at the last set or refill): once per set or refill.
	KeyCreditsLow = "key.credits_low"
)

// ActorDynamoDB is the actor of an "expired" audit record: nobody acted,
// the key's time ran out.
const ActorDynamoDB = "keygate:expiry"

// Event is one lifecycle event, ready to publish.
type Event struct {
	DetailType string
	Time       time.Time
	Detail     Detail
}

// Detail is an event's detail object. EventID is stable across retries
// and duplicates of the same change: consumers de-duplicate on it (the
// EventBridge envelope's own id differs per delivery attempt).
type Detail struct {
	EventID   string            `json:"event_id"`
	Tenant    string            `json:"tenant"`
	KeyID     string            `json:"key_id"`
	Action    string            `json:"action"`
	Actor     string            `json:"actor,omitempty"`
	RequestID string            `json:"request_id,omitempty"`
	At        time.Time         `json:"at"`
	Changes   map[string]string `json:"detail"`
	// Key is the key's metadata when the event was published (nil if the
	// key is gone): never its token or verifier.
	Key *KeyInfo `json:"key"`
	// WindowDays is the reminder window of a key.expiring event.
	WindowDays int `json:"window_days,omitempty"`
}

// KeyInfo is the non-secret metadata of a key that events and e-mails
// carry.
type KeyInfo struct {
	ID        string         `json:"id"`
	Hint      string         `json:"hint"`
	Name      string         `json:"name,omitempty"`
	Tenant    string         `json:"tenant"`
	Owner     string         `json:"owner"`
	Type      keygate.Type   `json:"type"`
	Role      keygate.Role   `json:"role"`
	Scopes    []string       `json:"scopes"`
	APIs      []string       `json:"apis"`
	Status    keygate.Status `json:"status"`
	CreatedAt time.Time      `json:"created_at"`
	CreatedBy string         `json:"created_by"`
	ExpiresAt *time.Time     `json:"expires_at"`
	RevokedAt *time.Time     `json:"revoked_at"`
	// Leaked is the key's first leak report, absent if it has none.
	Leaked *keygate.Leak `json:"leaked,omitempty"`
	// Meta and ExternalID are the key holder's own, absent if none.
	Meta       json.RawMessage `json:"meta,omitempty"`
	ExternalID string          `json:"external_id,omitempty"`
	// Imported is set on a key imported with a value made elsewhere.
	Imported bool `json:"imported,omitempty"`
}

// Info is k's event metadata at now. It copies fields one by one, so a
// field added to the stored record never reaches an event by accident.
func Info(k *keygate.Key, now time.Time) *KeyInfo {
	info := &KeyInfo{
		ID: k.ID, Hint: k.Hint, Name: k.Name, Tenant: k.Tenant, Owner: k.Owner, Type: k.Type, Role: k.Role,
		Scopes: k.Scopes, APIs: k.APIs, Status: k.StatusAt(now), CreatedAt: k.CreatedAt, CreatedBy: k.CreatedBy,
		ExpiresAt: k.ExpiresAt, RevokedAt: k.RevokedAt, ExternalID: k.ExternalID, Imported: k.Imported,
	}
	if len(k.Meta) > 0 {
		info.Meta = slices.Clone(k.Meta)
	}
	if k.Leaked != nil {
		l := *k.Leaked
		info.Leaked = &l
	}
	return info
}

// EventID derives an event's stable id from the identity of what caused
// it (for audit records: the item's table key), so every delivery of the
// same change carries the same id.
func EventID(parts ...string) string {
	h := sha256.New()
	for _, p := range parts {
		h.Write([]byte(p))
		h.Write([]byte{0})
	}
	return hex.EncodeToString(h.Sum(nil)[:16])
}

// detailTypes maps an audit action to its event's detail type.
var detailTypes = map[string]string{
	keygate.ActionCreated: KeyCreated, keygate.ActionRevoked: KeyRevoked, keygate.ActionRotated: KeyRotated,
	keygate.ActionUpdated: KeyUpdated, keygate.ActionExpired: KeyExpired, keygate.ActionLeaked: KeyLeaked,
	// An import is a key's creation for whoever follows keys: key.created,
	// whose key says imported.
	keygate.ActionImported: KeyCreated,
}

// FromAudit is the event of an audit record whose item key is auditKey;
// key is the key's metadata (nil if it is gone).
func FromAudit(a keygate.Audit, auditKey string, key *KeyInfo) (Event, bool) {
	dt, ok := detailTypes[a.Action]
	if !ok {
		return Event{}, false
	}
	changes := a.Detail
	if changes == nil {
		changes = map[string]string{}
	}
	return Event{DetailType: dt, Time: a.At, Detail: Detail{
		EventID: EventID(auditKey), Tenant: a.Tenant, KeyID: a.KeyID, Action: dt[len("key."):],
		Actor: a.Actor, RequestID: a.RequestID, At: a.At, Changes: changes, Key: key,
	}}, true
}

// FromCreditsLow is the key.credits_low event of c; key is the key's
// metadata (nil if it is gone), now the time when the change has none.
// Its id comes from the lineage, the credits' generation and refill time,
// so every delivery of one fall below the threshold carries the same id,
// and the next set or refill makes a new one.
func FromCreditsLow(c *keygate.CreditsLow, key *KeyInfo, now time.Time) Event {
	refill := ""
	detail := map[string]string{"remaining": strconv.FormatInt(c.Remaining, 10), "base": strconv.FormatInt(c.Base, 10)}
	if c.RefillAt != nil {
		refill = c.RefillAt.UTC().Format(time.RFC3339)
		detail["refill_at"] = refill
	}
	at := c.At
	if at.IsZero() {
		at = now
	}
	return Event{DetailType: KeyCreditsLow, Time: at, Detail: Detail{
		EventID: EventID("credits_low", c.Lineage, strconv.FormatInt(c.Gen, 10), refill),
		Tenant:  c.Tenant, KeyID: c.KeyID, Action: KeyCreditsLow[len("key."):], At: at, Changes: detail, Key: key,
	}}
}

// ExpiredAudit is the "expired" audit record of r. Its time is the key's
// expiry, so whoever writes it (the daily run or the TTL removal) writes
// the same item, and a conditional put makes it exactly one. ok is false
// for a key that did not expire: one without an expiry, or revoked before
// it (its lifecycle already ended with key.revoked).
func ExpiredAudit(r *keygate.Record, cause string) (keygate.Audit, bool) {
	if r.ExpiresAt == nil || (r.RevokedAt != nil && r.RevokedAt.Before(*r.ExpiresAt)) {
		return keygate.Audit{}, false
	}
	return keygate.Audit{
		Action: keygate.ActionExpired, KeyID: r.ID, Tenant: r.Tenant, Owner: r.Owner,
		Actor: ActorDynamoDB, At: *r.ExpiresAt, Detail: map[string]string{"cause": cause},
	}, true
}

// Publisher publishes events; errs[i] is events[i]'s outcome (nil when
// published).
type Publisher interface {
	Publish(ctx context.Context, events []Event) (errs []error)
}

// Mail is one e-mail: plain text and HTML, never a secret.
type Mail struct {
	To      []string
	Subject string
	Text    string
	HTML    string
}

// Mailer sends e-mail. An error wrapping ErrRejected is permanent (a bad
// or suppressed address): retrying cannot help, so it is logged, not
// retried.
type Mailer interface {
	Send(ctx context.Context, m Mail) error
}

// ErrRejected marks a permanent e-mail failure.
var ErrRejected = errors.New("e-mail rejected")
