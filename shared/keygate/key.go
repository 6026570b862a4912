// Package keygate holds Keygate's domain types: API keys, the callers that
// manage them, and the error kinds shared by every layer. It has no
// dependencies on AWS so the service, store and handlers can all speak it.
package keygate

import (
	"encoding/json"
	"time"
)

// Type says who a key belongs to.
type Type string

const (
	// User keys belong to one owner.
	User Type = "user"
	// Service keys are tenant-wide; their owner is the tenant.
	Service Type = "service"
)

// Role says what a key may do with the management API.
type Role string

const (
	// Admin keys manage every key of their tenant and have every route.
	Admin Role = "admin"
	// Viewer keys manage only their owner's keys, within their scopes.
	Viewer Role = "viewer"
)

// Status is derived from revoked_at and expires_at, never stored, so a key
// DynamoDB has not yet deleted still reads as expired.
type Status string

const (
	Active   Status = "active"
	Revoked  Status = "revoked"
	Expired  Status = "expired"
	Disabled Status = "disabled"
)

// Key is an API key's metadata. It never carries the token or its verifier.
type Key struct {
	ID         string     `json:"id"`
	Hint       string     `json:"hint"`
	Name       string     `json:"name"`
	Tenant     string     `json:"tenant"`
	Owner      string     `json:"owner"`
	Type       Type       `json:"type"`
	Role       Role       `json:"role"`
	Scopes     []string   `json:"scopes"`
	APIs       []string   `json:"apis"`
	Status     Status     `json:"status"`
	CreatedAt  time.Time  `json:"created_at"`
	CreatedBy  string     `json:"created_by"`
	ExpiresAt  *time.Time `json:"expires_at"`
	LastUsedAt *time.Time `json:"last_used_at"`
	RevokedAt  *time.Time `json:"revoked_at"`
	// Enabled is false while the key is disabled: refused like a revoked
	// key, but reversible.
	Enabled bool `json:"enabled"`
	// RotatedFrom is the key this one replaced by rotation.
	RotatedFrom string `json:"rotated_from,omitempty"`
	// Imported marks a key whose token is a value made elsewhere and
	// imported as it was (docs/import.md): it lacks Keygate's prefix,
	// checksum and tag, so it should be rotated; its successor is an
	// ordinary key.
	Imported bool `json:"imported,omitempty"`
	// Leaked is the first report that the key's token was found in
	// public (nil if none): set once, whatever the tenant's leak action.
	Leaked *Leak `json:"leaked,omitempty"`
	// Meta is the key holder's own JSON object (at most MaxMetaBytes, e.g.
	// {"plan":"pro","customer":"c_123"}), returned wherever the key is and
	// never used for a decision. ExternalID is the holder's own id for the
	// key's customer (at most MaxExternalIDLen characters), a list filter.
	Meta       json.RawMessage `json:"meta,omitempty"`
	ExternalID string          `json:"external_id,omitempty"`
	// RateLimit and Credits meter the key's calls (nil: unmetered). They
	// are counted per rotation chain (LineageID): a successor shares its
	// predecessor's window and balance.
	RateLimit *RateLimit `json:"rate_limit,omitempty"`
	Credits   *Credits   `json:"credits,omitempty"`
	// Usage is filled by reads of one key (get, whoami), never by lists.
	Usage *Usage `json:"usage,omitempty"`
	// RotatedTo is the key that replaced this one; set once, so a key is
	// rotated at most once.
	RotatedTo string `json:"rotated_to,omitempty"`
	// Lineage is the first key of this key's rotation chain ("" for the
	// first key itself: see LineageID). ParentLineage is the lineage of
	// the key that minted this one ("" if an operator did). Cascades
	// follow lineages rather than key IDs, so they reach keys minted by
	// any key of a rotation chain, also after DynamoDB's TTL removed the
	// items in between.
	Lineage       string `json:"-"`
	ParentLineage string `json:"-"`
	// Rev counts the changes made to the key after its creation; writes
	// are conditioned on the revision they read.
	Rev int64 `json:"-"`
}

// LineageID is the ID shared by every key of k's rotation chain: the
// chain's first key's.
func (k *Key) LineageID() string {
	if k.Lineage != "" {
		return k.Lineage
	}
	return k.ID
}

// StatusAt derives the key's status at now. Revocation wins over expiry,
// and expiry over disabling (a disabled key that expires cannot come back).
func (k *Key) StatusAt(now time.Time) Status {
	switch {
	case k.RevokedAt != nil:
		return Revoked
	case k.ExpiresAt != nil && !now.Before(*k.ExpiresAt):
		return Expired
	case !k.Enabled:
		return Disabled
	default:
		return Active
	}
}

// Caller is who is asking: a key presented through the authorizer, or an
// operator invoking a function directly (authorized by IAM, any tenant).
type Caller struct {
	KeyID  string
	Tenant string
	Owner  string
	Type   Type
	Role   Role
	Scopes []string
	APIs   []string
	// ExpiresAt is the calling key's expiry, nil for never: keys it mints
	// are capped at it.
	ExpiresAt *time.Time
	Operator  bool
	// Actor is who an operator says they are (a direct event's "actor"):
	// recorded, not authenticated; CloudTrail's record of the invocation
	// is the authoritative one.
	Actor string
	// Request is the call the authorizer admitted (zero for direct
	// invocations): the acting key's current item must still admit it.
	Request Request
}

// Request is a call as the gateway saw it: the management route and the
// API (and stage) it came through.
type Request struct {
	Method, Path string
	API, Stage   string
}

// Name identifies the caller in created_by and audit records.
func (c Caller) Name() string {
	if c.Operator {
		if c.Actor != "" {
			return "operator:" + c.Actor
		}
		return "operator"
	}
	return CreatedByKey(c.KeyID)
}

// CreatedByKey is the created_by of a key minted by key id: the link that
// cascading revocation follows.
func CreatedByKey(id string) string { return "key:" + id }

// IsAdmin reports whether c manages its whole tenant.
func (c Caller) IsAdmin() bool { return c.Operator || c.Role == Admin }

// ValidName reports whether s is a valid tenant or owner name: 1-128
// characters of letters, digits and ._@+-, starting with a letter or digit.
// The set keeps names safe in DynamoDB key strings (no '#', our separator),
// URLs and logs. (A loop, not a regexp: compiling one costs cold starts.)
func ValidName(s string) bool {
	if len(s) == 0 || len(s) > 128 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9':
		case i > 0 && (c == '.' || c == '_' || c == '@' || c == '+' || c == '-'):
		default:
			return false
		}
	}
	return true
}

// Leak is a report that a key's token was found in public: by GitHub's
// secret scanning, at URL (which may be empty), in Source ("content",
// "commit", "issue_comment", …), matched as the pattern named Type.
// At is when Keygate received it (alerts carry no time of their own).
type Leak struct {
	At     time.Time `json:"at"`
	URL    string    `json:"url"`
	Source string    `json:"source"`
	Type   string    `json:"type"`
}

// RateLimit caps a key's allowed calls per fixed window (windows are
// aligned to multiples of Window since the Unix epoch). Its JSON form is
// {"limit": N, "window": "<Go duration, 1s to 24h>"}.
type RateLimit struct {
	Limit  int64
	Window time.Duration
}

// Credits are calls a key may still make, each allowed call spending one;
// with Refill, the balance is set back to Refill.Amount once per interval,
// on the first call after it is due. Remaining is what was set (on create
// or update); the live balance is Usage's.
type Credits struct {
	Remaining int64   `json:"remaining"`
	Refill    *Refill `json:"refill,omitempty"`
}

// Refill intervals.
const (
	RefillDay   = "day"
	RefillMonth = "month"
)

// Refill sets a key's credits back to Amount every Interval (RefillDay or
// RefillMonth, UTC calendar days and months).
type Refill struct {
	Amount   int64  `json:"amount"`
	Interval string `json:"interval"`
}

// Usage is a metered key's live counters, as GET /v1/keys/{id} and whoami
// show them: what is left in the current window and of the credits. The
// counts are what is not yet leased to an execution environment, so
// environments may still hold a few calls of it.
type Usage struct {
	RateLimit *RateUsage   `json:"rate_limit,omitempty"`
	Credits   *CreditUsage `json:"credits,omitempty"`
}

// RateUsage is the current window of a rate limit.
type RateUsage struct {
	Limit     int64     `json:"limit"`
	Window    string    `json:"window"`
	Remaining int64     `json:"remaining"`
	ResetAt   time.Time `json:"reset_at"`
}

// CreditUsage is a key's credit balance and when it is next refilled
// (nil: never).
type CreditUsage struct {
	Remaining int64      `json:"remaining"`
	RefillAt  *time.Time `json:"refill_at"`
}

// Refusal reasons: the authorizer context's "reason" of a Deny, and the
// error code the REST gateway response renders from it.
const (
	ReasonForbidden        = "forbidden"
	ReasonRateLimited      = "rate_limited"
	ReasonCreditsExhausted = "credits_exhausted"
)

// Limits of a key's metadata.
const (
	MaxMetaBytes     = 1024
	MaxExternalIDLen = 100
)
