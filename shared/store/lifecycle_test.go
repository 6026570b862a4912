package store_test

import (
	"context"
	"testing"
	"time"

	"github.com/keygate/keygate/infra/dynamotest"
	"github.com/keygate/keygate/shared/keygate"
	"github.com/keygate/keygate/shared/store"
)

// TestLifecycleGetKeyHasNoVerifier: the lifecycle store reads a key's
// metadata only, as its role allows.
func TestLifecycleGetKeyHasNoVerifier(t *testing.T) {
	db, table := dynamotest.NewTable(t)
	at := time.Date(2026, 11, 23, 12, 0, 0, 0, time.UTC)
	r := &keygate.Record{Key: keygate.Key{ID: "0wjfyYDZHtumHlgsO", Hint: "kg_live_0wjfyYDZ", Name: "n", Tenant: "acme", Owner: "alice",
		Type: keygate.User, Role: keygate.Viewer, Scopes: []string{"GET /x"}, APIs: []string{"*"}, CreatedAt: at, CreatedBy: "operator",
		ExpiresAt: &at, Enabled: true}, Verifier: "hmac-sha256$x"}
	audit := keygate.Audit{Action: keygate.ActionCreated, KeyID: r.ID, Tenant: "acme", Owner: "alice", Actor: "operator", At: at}
	if _, err := store.New(db, table).CreateKey(context.Background(), r, 10, at, audit, nil, nil); err != nil {
		t.Fatal(err)
	}
	got, err := store.NewLifecycle(db, table).GetKey(context.Background(), r.ID)
	if err != nil {
		t.Fatal(err)
	}
	if got.Verifier != "" || got.Hint != r.Hint || got.Name != "n" || got.ExpiresAt == nil || !got.Enabled {
		t.Fatalf("got %+v verifier %q", got.Key, got.Verifier)
	}
	if _, err := store.NewLifecycle(db, table).GetKey(context.Background(), "1wjfyYDZHtumHlgsO"); keygate.ErrorCode(err) != keygate.NotFound {
		t.Fatalf("missing key: %v", err)
	}
}
