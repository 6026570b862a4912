package store_test

import (
	"context"
	"strconv"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/keygate/keygate/infra/dynamotest"
	"github.com/keygate/keygate/shared/keygate"
	"github.com/keygate/keygate/shared/store"
)

// creditsItem reads a lineage's CREDITS item as numbers and strings (nil
// if there is none).
func creditsItem(t *testing.T, db *dynamodb.Client, table, lineage string) map[string]string {
	t.Helper()
	out, err := db.GetItem(context.Background(), &dynamodb.GetItemInput{TableName: &table, ConsistentRead: aws.Bool(true),
		Key: map[string]types.AttributeValue{"pk": &types.AttributeValueMemberS{Value: "USAGE#" + lineage}, "sk": &types.AttributeValueMemberS{Value: "CREDITS"}}})
	if err != nil {
		t.Fatal(err)
	}
	if out.Item == nil {
		return nil
	}
	m := map[string]string{}
	for name, v := range out.Item {
		switch v := v.(type) {
		case *types.AttributeValueMemberN:
			m[name] = v.Value
		case *types.AttributeValueMemberS:
			m[name] = v.Value
		}
	}
	return m
}

// TestCreditsFollowTheKey: the CREDITS item is written with the key that
// sets its credits (create, update), passed to a successor by rotation
// (same lineage, same balance), and deleted when credits are removed; the
// limits read back from the key item.
func TestCreditsFollowTheKey(t *testing.T) {
	db, table := dynamotest.NewTable(t)
	st := store.New(db, table)
	ctx := context.Background()
	now := time.Date(2026, 11, 23, 12, 0, 0, 0, time.UTC)
	r := record("CRAAAAAAAAAAAAAAA", "alice", now)
	r.Enabled = true
	r.RateLimit = &keygate.RateLimit{Limit: 100, Window: time.Minute}
	r.Credits = &keygate.Credits{Remaining: 5000, Refill: &keygate.Refill{Amount: 5000, Interval: keygate.RefillMonth}}
	if _, err := st.CreateKey(ctx, r, 10, now, keygate.Audit{Action: "created", KeyID: r.ID, Tenant: "acme", At: now}, nil, nil); err != nil {
		t.Fatal(err)
	}
	got, err := st.GetKey(ctx, r.ID)
	if err != nil {
		t.Fatal(err)
	}
	if got.RateLimit == nil || *got.RateLimit != *r.RateLimit || got.Credits == nil || got.Credits.Remaining != 5000 || *got.Credits.Refill != *r.Credits.Refill {
		t.Fatalf("limits read back as %+v, %+v", got.RateLimit, got.Credits)
	}
	dec1 := strconv.FormatInt(time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC).Unix(), 10)
	want := map[string]string{"pool": "5000", "base": "5000", "gen": "1", "key_id": r.ID, "tenant": "acme",
		"refill_amount": "5000", "refill_interval": "month", "refill_at": dec1}
	check := func(step string, want map[string]string) {
		t.Helper()
		item := creditsItem(t, db, table, r.ID)
		for name, v := range want {
			if item[name] != v {
				t.Errorf("%s: CREDITS %s = %q, want %q (%v)", step, name, item[name], v, item)
			}
		}
	}
	check("create", want)

	// Metering spent some; an update of the credits sets the balance.
	if _, err := db.UpdateItem(ctx, &dynamodb.UpdateItemInput{TableName: &table,
		Key:              map[string]types.AttributeValue{"pk": &types.AttributeValueMemberS{Value: "USAGE#" + r.ID}, "sk": &types.AttributeValueMemberS{Value: "CREDITS"}},
		UpdateExpression: aws.String("SET #pool = :p"), ExpressionAttributeNames: map[string]string{"#pool": "pool"}, ExpressionAttributeValues: map[string]types.AttributeValue{":p": &types.AttributeValueMemberN{Value: "12"}}}); err != nil {
		t.Fatal(err)
	}
	u, err := st.Usage(ctx, &got.Key, now)
	if err != nil || u == nil || u.Credits == nil || u.Credits.Remaining != 12 || u.Credits.RefillAt == nil || u.Credits.RefillAt.Unix() != time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC).Unix() ||
		u.RateLimit == nil || u.RateLimit.Remaining != 100 || u.RateLimit.Window != "1m" || !u.RateLimit.ResetAt.Equal(now.Add(time.Minute)) {
		t.Fatalf("Usage = %+v, %v", u, err)
	}
	next := *got
	next.Credits, next.RateLimit, next.Rev = &keygate.Credits{Remaining: 70}, nil, 1
	if err := st.UpdateKey(ctx, got, &next, keygate.Audit{Action: "updated", KeyID: r.ID, Tenant: "acme", At: now, Rev: 1}, now, nil); err != nil {
		t.Fatal(err)
	}
	check("update", map[string]string{"pool": "70", "base": "70", "gen": "2", "refill_at": "", "refill_interval": ""})
	got, err = st.GetKey(ctx, r.ID)
	if err != nil || got.RateLimit != nil || got.Credits == nil || got.Credits.Remaining != 70 || got.Credits.Refill != nil {
		t.Fatalf("after update: %+v, %+v, %v", got.RateLimit, got.Credits, err)
	}

	// An update that does not give credits leaves the balance alone.
	other := *got
	other.Name, other.Rev = "renamed", 2
	if err := st.UpdateKey(ctx, got, &other, keygate.Audit{Action: "updated", KeyID: r.ID, Tenant: "acme", At: now, Rev: 2}, now, nil); err != nil {
		t.Fatal(err)
	}
	check("rename", map[string]string{"pool": "70", "gen": "2"})

	// Rotation: the successor holds the same item.
	old, err := st.GetKey(ctx, r.ID)
	if err != nil {
		t.Fatal(err)
	}
	succ := record("CRBBBBBBBBBBBBBBB", "alice", now)
	succ.Credits, succ.Lineage, succ.RotatedFrom = old.Credits, r.ID, r.ID
	if _, err := st.RotateKey(ctx, old, succ, now, now.Add(time.Hour).Unix(), 10, now, []keygate.Audit{
		{Action: "rotated", KeyID: r.ID, Tenant: "acme", At: now}, {Action: "created", KeyID: succ.ID, Tenant: "acme", At: now}}, nil, nil); err != nil {
		t.Fatal(err)
	}
	check("rotate", map[string]string{"pool": "70", "gen": "2", "key_id": succ.ID})
	if item := creditsItem(t, db, table, succ.ID); item != nil {
		t.Errorf("the successor got a CREDITS item of its own: %v", item)
	}

	// Removing the credits deletes the item.
	cur, err := st.GetKey(ctx, succ.ID)
	if err != nil {
		t.Fatal(err)
	}
	none := *cur
	none.Credits, none.Rev = nil, 1
	if err := st.UpdateKey(ctx, cur, &none, keygate.Audit{Action: "updated", KeyID: succ.ID, Tenant: "acme", At: now, Rev: 1}, now, nil); err != nil {
		t.Fatal(err)
	}
	if item := creditsItem(t, db, table, r.ID); item != nil {
		t.Errorf("credits removed, CREDITS item left: %v", item)
	}
	if u, err := st.Usage(ctx, &none.Key, now); err != nil || u != nil {
		t.Errorf("Usage of an unmetered key = %+v, %v", u, err)
	}
}
