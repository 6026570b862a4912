package keygate

import "time"

// The types below are what the services need from storage, declared here
// in the domain so that storage depends on the domain and not the other
// way round: shared/store implements them on DynamoDB.

// Record is a key as stored: its metadata and its verifier. Status is not
// stored; readers derive it.
type Record struct {
	Key
	Verifier string
	// TTL is when storage may delete the record (Unix seconds), 0 for never.
	TTL int64
}

// Audit actions: the past-tense names README ("Management API", Rules:
// Audit) documents and docs/events publishes as key.<action>.
const (
	ActionCreated = "created"
	ActionRevoked = "revoked"
	ActionRotated = "rotated"
	ActionUpdated = "updated"
	ActionExpired = "expired"
	// ActionLeaked records a secret-scanning report of the key's token;
	// it is written once per key (the first report), whatever the tenant
	// does about it.
	ActionLeaked = "leaked"
	// ActionImported records a key imported with a value made elsewhere.
	ActionImported = "imported"
)

// ErrAlreadyImported is an import of a value some key was already
// imported with (whatever became of that key since): nothing is written.
var ErrAlreadyImported = Errorf(Conflict, "already imported")

// ImportedKey is one entry of the index of imported keys: the lookup
// digest of its value (apikey.Hasher.ImportDigest) and the key it names.
type ImportedKey struct {
	Digest [32]byte
	KeyID  string
}

// ActorSecretScanning is the actor of what a secret-scanning alert does:
// the "leaked" audit record and, under the "revoke" leak action, the
// revocations. Nobody holding a key acted; the alert's signature was
// the credential.
const ActorSecretScanning = "keygate:secret-scanning"

// Audit is one record of a change, written in the same transaction as the
// change itself.
type Audit struct {
	Action    string
	KeyID     string
	Tenant    string
	Owner     string
	Actor     string // "key:<id>", "operator" or "operator:<name>"
	RequestID string
	At        time.Time
	// Rev is the key's revision after an update: two updates of one key
	// within a millisecond are two records.
	Rev int64
	// Detail says more about the change, never a secret: for a cascading
	// revocation "cascade_from", for a rotation "rotated_to" or
	// "rotated_from" and "grace_seconds", for an update the fields set.
	Detail map[string]string
}

// AuditQuery selects a tenant's audit records, newest first, optionally of
// one key. Cursor is storage's own position.
type AuditQuery struct {
	Tenant string
	KeyID  string
	Limit  int
	Cursor string
}

// Idempotency makes a create safe to retry: the first create with a given
// PK stores this record with the key, and later ones get it back.
type Idempotency struct {
	PK          string // scoped to tenant and caller by the service
	RequestHash string // the first request, to refuse reuse for another
	Sealed      string // the token, sealed by the service
	Expires     time.Time
}

// Replay is a stored Idempotency record: the earlier create's answer.
type Replay struct {
	KeyID       string
	RequestHash string
	Sealed      string
}

// KeyQuery selects keys of a tenant, optionally of one owner, of one
// external_id and of one status at At. Cursor is storage's own position,
// opaque to the domain.
type KeyQuery struct {
	Tenant     string
	Owner      string
	ExternalID string // "" for any
	// SkipMeta says the caller has no use for the keys' meta and
	// external_id (a cascade), so storage need not read them from the
	// items.
	SkipMeta bool
	Status   Status // "" for any
	At       time.Time
	Limit    int
	Cursor   string
}

// Revocation is one key to revoke: the key as read, its shortened TTL and
// its audit record.
type Revocation struct {
	Record *Record
	TTL    int64
	Audit  Audit
}

// ChangedError says a key was revoked by someone else after it was read;
// the batch holding it was not written.
type ChangedError struct{ ID string }

func (e *ChangedError) Error() string { return "key " + e.ID + " was revoked meanwhile" }

// Change is one record of the table's stream as storage decodes it for the
// lifecycle events: an audit record inserted (the outbox), a key removed
// by DynamoDB's TTL, or a key's credits falling below 10 %. Anything else
// in the stream is no Change (nil).
type Change struct {
	// AuditKey identifies the audit item (its pk and sk): the event id is
	// derived from it.
	AuditKey string
	Audit    *Audit
	// Expired is a key item DynamoDB's TTL removed (the old image).
	Expired *Record
	// CreditsLow is a change of a lineage's credits that took them below
	// 10 % of their base.
	CreditsLow *CreditsLow
}

// CreditsLow is a key's credit pool after it fell below 10 % of its base
// (the balance at the last set or refill), as the stream shows its
// lineage's credits item.
type CreditsLow struct {
	Lineage string // the rotation chain's first key (Key.LineageID)
	KeyID   string // the key that holds the credits now
	Tenant  string
	// Remaining is the pool not yet leased to the authorizer's
	// environments; Base the balance it fell from.
	Remaining, Base int64
	// Gen counts the times the credits were set; with RefillAt it tells
	// one fall below the threshold from the next.
	Gen int64
	// RefillAt is the next refill (nil: never).
	RefillAt *time.Time
	// At is when the credits changed.
	At time.Time
}
