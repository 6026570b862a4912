package store_test

import (
	"context"
	"encoding/base64"
	"reflect"
	"testing"
	"time"

	"github.com/keygate/keygate/infra/dynamotest"
	"github.com/keygate/keygate/shared/keygate"
	"github.com/keygate/keygate/shared/store"
)

func record(id, owner string, created time.Time) *keygate.Record {
	return &keygate.Record{Key: keygate.Key{ID: id, Hint: "kg_live_" + id[:8], Tenant: "acme", Owner: owner,
		Type: keygate.User, Role: keygate.Viewer, Scopes: []string{"GET /x"}, CreatedAt: created, CreatedBy: "operator"},
		Verifier: "hmac-sha256$AAAA"}
}

func TestEnsureTableIsIdempotent(t *testing.T) {
	db, table := dynamotest.NewTable(t)
	for i := 0; i < 2; i++ {
		if err := store.EnsureTable(context.Background(), db, table); err != nil {
			t.Fatalf("EnsureTable #%d: %v", i+2, err)
		}
	}
}

func TestRecordRoundTrip(t *testing.T) {
	db, table := dynamotest.NewTable(t)
	st := store.New(db, table)
	ctx := context.Background()
	now := time.Date(2026, 11, 23, 12, 0, 0, 123e6, time.UTC)
	exp := now.Add(time.Hour)
	r := record("AAAAAAAAAAAAAAAAA", "alice", now)
	r.Name, r.ExpiresAt, r.TTL = "ci", &exp, exp.Unix()
	if _, err := st.CreateKey(ctx, r, 10, now, keygate.Audit{Action: "create", KeyID: r.ID, Tenant: "acme", At: now}, nil, nil); err != nil {
		t.Fatal(err)
	}
	got, err := st.GetKeyWithVerifier(ctx, r.ID)
	if err != nil {
		t.Fatal(err)
	}
	if got.Name != "ci" || !got.CreatedAt.Equal(now) || !got.ExpiresAt.Equal(exp) || got.Verifier != r.Verifier || got.TTL != exp.Unix() {
		t.Fatalf("round trip = %+v", got)
	}
	// Management's read is the same record without the verifier.
	meta, err := st.GetKey(ctx, r.ID)
	if err != nil {
		t.Fatal(err)
	}
	if meta.Verifier != "" {
		t.Fatalf("GetKey read the verifier %q", meta.Verifier)
	}
	meta.Verifier = got.Verifier
	if !reflect.DeepEqual(meta, got) {
		t.Fatalf("GetKey = %+v\nwith the verifier = %+v", meta, got)
	}
	if _, err := st.GetKey(ctx, "BBBBBBBBBBBBBBBBB"); keygate.ErrorCode(err) != keygate.NotFound {
		t.Fatalf("missing key: %v", err)
	}
	// Listing reads GSI1, which does not carry the verifier. A GSI is
	// eventually consistent (in AWS, and in DynamoDB Local under load):
	// give it a moment.
	var keys []*keygate.Record
	for try := 0; try < 250 && len(keys) == 0 && err == nil; try++ {
		if try > 0 {
			time.Sleep(20 * time.Millisecond)
		}
		keys, _, err = st.ListKeys(ctx, keygate.KeyQuery{Tenant: "acme", Limit: 10})
	}
	if err != nil || len(keys) != 1 || keys[0].Verifier != "" || keys[0].Name != "ci" {
		t.Fatalf("list = %+v, %v", keys, err)
	}
}

func TestTouchLastUsedIsConditional(t *testing.T) {
	db, table := dynamotest.NewTable(t)
	st := store.New(db, table)
	ctx := context.Background()
	now := time.Now().UTC()
	r := record("CCCCCCCCCCCCCCCCC", "alice", now)
	if _, err := st.CreateKey(ctx, r, 10, now, keygate.Audit{Action: "create", KeyID: r.ID, Tenant: "acme", At: now}, nil, nil); err != nil {
		t.Fatal(err)
	}
	for _, step := range []struct {
		at   time.Duration
		want bool
	}{{0, true}, {30 * time.Second, false}, {59 * time.Second, false}, {60 * time.Second, true}, {61 * time.Second, false}} {
		wrote, err := st.TouchLastUsed(ctx, r.ID, now.Add(step.at), time.Minute)
		if err != nil || wrote != step.want {
			t.Fatalf("touch at +%s = %v, %v; want %v", step.at, wrote, err, step.want)
		}
	}
	// Never creates an item for an unknown key.
	if wrote, err := st.TouchLastUsed(ctx, "DDDDDDDDDDDDDDDDD", now, time.Minute); wrote || err != nil {
		t.Fatalf("touch of an unknown key = %v, %v", wrote, err)
	}
	if _, err := st.GetKey(ctx, "DDDDDDDDDDDDDDDDD"); keygate.ErrorCode(err) != keygate.NotFound {
		t.Fatal("touch created a key item")
	}
}

func TestCursorIsChecked(t *testing.T) {
	db, table := dynamotest.NewTable(t)
	st := store.New(db, table)
	ctx := context.Background()
	for _, c := range []string{
		"!!!",
		base64.RawURLEncoding.EncodeToString([]byte("alice#notatime#AAAAAAAAAAAAAAAAA")),
		base64.RawURLEncoding.EncodeToString([]byte("a#b")),
		base64.RawURLEncoding.EncodeToString([]byte("bad owner#2026-11-23T12:00:00.000Z#AAAAAAAAAAAAAAAAA")),
		base64.RawURLEncoding.EncodeToString([]byte("alice#2026-11-23T12:00:00.000Z#../x")),
	} {
		if _, _, err := st.ListKeys(ctx, keygate.KeyQuery{Tenant: "acme", Limit: 10, Cursor: c}); keygate.ErrorCode(err) != keygate.Invalid {
			t.Errorf("cursor %q: %v, want invalid", c, err)
		}
	}
	bob := base64.RawURLEncoding.EncodeToString([]byte("bob#2026-11-23T12:00:00.000Z#AAAAAAAAAAAAAAAAA"))
	if _, _, err := st.ListKeys(ctx, keygate.KeyQuery{Tenant: "acme", Owner: "alice", Limit: 10, Cursor: bob}); keygate.ErrorCode(err) != keygate.Invalid {
		t.Errorf("another owner's cursor: %v, want invalid", err)
	}
}

// TestActorHeldToItsItem: a mutation by a key commits only if the key's
// item is still as the service read it. A change between the read and the
// write (here a disable, which bumps the revision) makes the create fail
// with a Conflict and write nothing; a key acting on itself is held by its
// own update.
func TestActorHeldToItsItem(t *testing.T) {
	db, table := dynamotest.NewTable(t)
	st := store.New(db, table)
	ctx := context.Background()
	now := time.Date(2026, 11, 23, 12, 0, 0, 0, time.UTC)
	actor := record("DDDDDDDDDDDDDDDDD", "alice", now)
	actor.Enabled = true
	if _, err := st.CreateKey(ctx, actor, 10, now, keygate.Audit{Action: "created", KeyID: actor.ID, Tenant: "acme", At: now}, nil, nil); err != nil {
		t.Fatal(err)
	}
	read, err := st.GetKey(ctx, actor.ID)
	if err != nil {
		t.Fatal(err)
	}
	disabled := *read
	disabled.Enabled, disabled.Rev = false, read.Rev+1
	if err := st.UpdateKey(ctx, read, &disabled, keygate.Audit{Action: "updated", KeyID: read.ID, Tenant: "acme", At: now, Rev: 1}, now, nil); err != nil {
		t.Fatal(err)
	}
	child := record("EEEEEEEEEEEEEEEEE", "alice", now)
	_, err = st.CreateKey(ctx, child, 10, now, keygate.Audit{Action: "created", KeyID: child.ID, Tenant: "acme", At: now}, nil, read)
	if keygate.ErrorCode(err) != keygate.Conflict {
		t.Fatalf("create by a key changed since it was read: %v, want conflict", err)
	}
	if _, err := st.GetKey(ctx, child.ID); keygate.ErrorCode(err) != keygate.NotFound {
		t.Fatalf("the refused create wrote its key: %v", err)
	}
	// Re-enabling itself from the stale read: its own update holds it.
	enabled := *read
	enabled.Rev = read.Rev + 1
	err = st.UpdateKey(ctx, read, &enabled, keygate.Audit{Action: "updated", KeyID: read.ID, Tenant: "acme", At: now, Rev: 1}, now, read)
	if keygate.ErrorCode(err) != keygate.Conflict {
		t.Fatalf("stale self-update: %v, want conflict", err)
	}
	// Revoking with a stale actor changes nothing either.
	other := record("FFFFFFFFFFFFFFFFF", "bob", now)
	if _, err := st.CreateKey(ctx, other, 10, now, keygate.Audit{Action: "created", KeyID: other.ID, Tenant: "acme", At: now}, nil, nil); err != nil {
		t.Fatal(err)
	}
	_, err = st.RevokeKeys(ctx, now, []keygate.Revocation{{Record: other, TTL: 1, Audit: keygate.Audit{Action: "revoked", KeyID: other.ID, Tenant: "acme", At: now}}}, read)
	if keygate.ErrorCode(err) != keygate.Conflict {
		t.Fatalf("revoke by a stale actor: %v, want conflict", err)
	}
	if got, _ := st.GetKey(ctx, other.ID); got.RevokedAt != nil {
		t.Fatal("the refused revoke revoked the key")
	}
}
