package store_test

import (
	"context"
	"encoding/base64"
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
	got, err := st.GetKey(ctx, r.ID)
	if err != nil {
		t.Fatal(err)
	}
	if got.Name != "ci" || !got.CreatedAt.Equal(now) || !got.ExpiresAt.Equal(exp) || got.Verifier != r.Verifier || got.TTL != exp.Unix() {
		t.Fatalf("round trip = %+v", got)
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
