package manage

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/keygate/keygate/shared/apikey"
	"github.com/keygate/keygate/shared/keygate"
)

// ImportRequest is one existing API key to take over (docs/import.md):
// its value, which stays its token, and the key's fields as Create takes
// them. Only operators import.
//
// It prints and logs without the value (Format, LogValue).
type ImportRequest struct {
	Tenant string `json:"-"`
	// Value is the key's existing value: MinImportedLen to MaxImportedLen
	// printable ASCII characters. Stored only as a verifier.
	Value string `json:"value"`
	CreateRequest
}

// Format prints the request without its value, whatever the verb.
func (r ImportRequest) Format(f fmt.State, verb rune) {
	fmt.Fprintf(f, "{tenant:%s owner:%s value:[value]}", r.Tenant, r.Owner)
}

// LogValue keeps the value out of structured logs.
func (r ImportRequest) LogValue() slog.Value {
	return slog.GroupValue(slog.String("tenant", r.Tenant), slog.String("owner", r.Owner), slog.String("value", "[value]"))
}

// Import results.
const (
	ResultImported        = "imported"
	ResultAlreadyImported = "already_imported"
)

// Imported is what an import did: Result ResultImported with the new key,
// or ResultAlreadyImported with the ID of the key the value was imported
// as before (nothing written).
type Imported struct {
	Result string       `json:"result"`
	KeyID  string       `json:"key_id"`
	Key    *keygate.Key `json:"key,omitempty"`
}

// Import takes over an existing API key: a key with Create's rules whose
// token is req.Value, stored only as its verifier (HMAC-SHA-256 under the
// pepper, like every key's), marked Imported, audited as "imported", and
// indexed by the value's lookup digest so that the authorizer finds it
// (with IMPORTED_KEYS on). The same value again is ResultAlreadyImported
// and writes nothing, whatever became of the first key: a revoked value
// cannot be brought back by importing it again. Imported keys cannot be
// admin keys (their values lack the format secret scanners know), and
// take a slot under the owner's limit like any key.
func (s *Service) Import(ctx context.Context, c keygate.Caller, req ImportRequest) (*Imported, error) {
	if !c.Operator {
		return nil, keygate.Errorf(keygate.Forbidden, "only operators import keys")
	}
	if reason := apikey.CheckImported(req.Value); reason != "" {
		return nil, keygate.Errorf(keygate.Invalid, "value: %s", reason)
	}
	if _, err := s.cfg.Format.Parse(req.Value); err == nil {
		// A token of this deployment's format goes through the token
		// path, never the imported one: it could never be used.
		return nil, keygate.Errorf(keygate.Invalid, "value: has the form of a Keygate token of this deployment; rotate or create keys instead")
	}
	if req.Role == keygate.Admin {
		return nil, keygate.Errorf(keygate.Invalid, "imported keys cannot be admin keys: import it as a viewer key, or create an admin key")
	}
	if req.ExpiresInHours != nil || req.RateLimit != nil || req.Credits != nil {
		// Keep the import's surface what keygatectl import sends; limits
		// can be set afterwards with update.
		return nil, keygate.Errorf(keygate.Invalid, "an import takes owner, name, type, role, scopes, apis, expires_at, meta and external_id")
	}
	now := s.cfg.Now().UTC().Truncate(time.Millisecond)
	tenant, err := tenantOf(c, req.Tenant)
	if err != nil {
		return nil, err
	}
	digest := s.cfg.Hasher.ImportDigest(req.Value)
	// Checked first so that an import repeated once its owner's slots are
	// full still answers "already imported"; the transaction's condition
	// holds it against a racing import of the same value.
	if id, ok, err := s.store.ImportedKeyID(ctx, digest); err != nil {
		return nil, err
	} else if ok {
		return &Imported{Result: ResultAlreadyImported, KeyID: id}, nil
	}
	k, _, err := s.newKey(c, nil, tenant, now, req.CreateRequest)
	if err != nil {
		return nil, err
	}
	// A fresh Keygate ID: the value is no token of ours, so it names
	// nothing.
	tok, err := s.cfg.Format.Generate(s.cfg.Random, s.cfg.Hasher)
	if err != nil {
		return nil, fmt.Errorf("import key: %w", err)
	}
	k.ID, k.Hint, k.Imported = tok.ID(), ImportedHint(req.Value), true
	verifier, err := s.cfg.Hasher.ImportedVerifier(req.Value)
	if err != nil {
		return nil, fmt.Errorf("import key: %w", err)
	}
	rec := &keygate.Record{Key: k, Verifier: verifier}
	if k.ExpiresAt != nil {
		rec.TTL = k.ExpiresAt.Add(s.cfg.Retention).Unix()
	}
	audit := keygate.Audit{Action: keygate.ActionImported, KeyID: k.ID, Tenant: k.Tenant, Owner: k.Owner, Actor: c.Name(), RequestID: requestID(ctx), At: now}
	err = s.store.ImportKey(ctx, rec, keygate.ImportedKey{Digest: digest, KeyID: k.ID}, s.limit(k.Type), now, audit)
	if errors.Is(err, keygate.ErrAlreadyImported) {
		// Lost a race with an import of the same value.
		id, _, err := s.store.ImportedKeyID(ctx, digest)
		if err != nil {
			return nil, err
		}
		return &Imported{Result: ResultAlreadyImported, KeyID: id}, nil
	}
	if err != nil {
		return nil, err
	}
	k.Status = k.StatusAt(now)
	return &Imported{Result: ResultImported, KeyID: k.ID, Key: &k}, nil
}

// ImportedHint is an imported key's hint: "…" and the value's last four
// characters, as card numbers are shown. The ID's start, the hint of
// Keygate's tokens, would not help: the imported token does not hold it.
func ImportedHint(value string) string {
	return "…" + value[len(value)-4:]
}
