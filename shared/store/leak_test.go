package store

import (
	"testing"
	"time"

	"github.com/keygate/keygate/shared/keygate"
)

// TestLeakAuditsAreDistinctItems: RecordLeak puts a key's leaked and
// revoked audit records in one transaction, at one instant; were their
// sort keys equal, the transaction would write one item twice and fail
// every revoking leak report.
func TestLeakAuditsAreDistinctItems(t *testing.T) {
	at := time.Date(2026, 11, 24, 0, 0, 0, 0, time.UTC)
	a := keygate.Audit{KeyID: "0wjfyYDZHtumHlgsO", Tenant: "acme", At: at, Actor: keygate.ActorSecretScanning}
	leaked, revoked := a, a
	leaked.Action, revoked.Action = keygate.ActionLeaked, keygate.ActionRevoked
	if auditSK(leaked) == auditSK(revoked) {
		t.Fatalf("leaked and revoked records of one key at one instant share sort key %q", auditSK(leaked))
	}
}
