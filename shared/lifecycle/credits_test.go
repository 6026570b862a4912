package lifecycle_test

import (
	"context"
	"strconv"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	ddbtypes "github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/keygate/keygate/shared/lifecycle"
	"github.com/keygate/keygate/shared/manage"
)

// credits is a lineage's credits item as the metering and management code
// write it (pk USAGE#<lineage>, sk CREDITS).
type credits struct {
	pool, base, gen int64
	refillAt        int64 // unix seconds, 0: never
}

// putCredits writes a lineage's credits item directly, as a lease, a
// refill or a set of the credits would leave it.
func (f *fixture) putCredits(t *testing.T, lineage, keyID, tenant string, c credits) {
	t.Helper()
	n := func(v int64) ddbtypes.AttributeValue {
		return &ddbtypes.AttributeValueMemberN{Value: strconv.FormatInt(v, 10)}
	}
	s := func(v string) ddbtypes.AttributeValue { return &ddbtypes.AttributeValueMemberS{Value: v} }
	item := map[string]ddbtypes.AttributeValue{
		"pk": s("USAGE#" + lineage), "sk": s("CREDITS"), "pool": n(c.pool), "base": n(c.base), "gen": n(c.gen),
		"tenant": s(tenant), "key_id": s(keyID),
	}
	if c.refillAt != 0 {
		item["refill_at"], item["refill_amount"], item["refill_interval"] = n(c.refillAt), n(c.base), s("day")
	}
	if _, err := f.db.PutItem(context.Background(), &dynamodb.PutItemInput{TableName: &f.table, Item: item}); err != nil {
		t.Fatal(err)
	}
}

// TestCreditsLow spends a key's credits by writing its credits item as
// the authorizer's leases would, and runs the stream function's handler on
// DynamoDB Local's real stream: key.credits_low is published exactly when
// the pool falls below 10 % of its base, once per set or refill, with the
// same event id on every delivery of the same fall.
func TestCreditsLow(t *testing.T) {
	f := newFixture(t)
	k := f.create(t, manage.CreateRequest{Owner: "bob", Name: "metered", Scopes: []string{"GET /x"}})
	day := f.clock.Now().Truncate(24 * time.Hour).Add(24 * time.Hour)
	refill1, refill2 := day.Unix(), day.Add(24*time.Hour).Unix()
	_ = f.stream.Read(t) // the key's creation is not what this test is about
	f.drain(t)

	type step struct {
		name string
		c    credits
		low  bool // a key.credits_low is published
	}
	steps := []step{
		{"set to 100", credits{pool: 100, base: 100, gen: 1, refillAt: refill1}, false},
		{"spent to 50", credits{pool: 50, base: 100, gen: 1, refillAt: refill1}, false},
		{"spent to exactly 10 %", credits{pool: 10, base: 100, gen: 1, refillAt: refill1}, false},
		{"spent below 10 %", credits{pool: 9, base: 100, gen: 1, refillAt: refill1}, true},
		{"spent further", credits{pool: 0, base: 100, gen: 1, refillAt: refill1}, false},
		{"refilled", credits{pool: 99, base: 100, gen: 1, refillAt: refill2}, false},
		{"spent below 10 % again", credits{pool: 5, base: 100, gen: 1, refillAt: refill2}, true},
		{"set again by an admin", credits{pool: 1000, base: 1000, gen: 2, refillAt: refill2}, false},
		{"below 10 % of the new base", credits{pool: 99, base: 1000, gen: 2, refillAt: refill2}, true},
		{"set to nothing", credits{pool: 0, base: 0, gen: 3}, false},
	}
	var ids []string
	for _, st := range steps {
		t.Run(st.name, func(t *testing.T) {
			f.putCredits(t, k.ID, k.ID, "acme", st.c)
			records := f.stream.Read(t)
			if len(records) != 1 {
				t.Fatalf("%d stream records, want 1", len(records))
			}
			if failed := f.handle(t, f.handler, records); len(failed) > 0 {
				t.Fatalf("failed records %v; logs:\n%s", failed, f.logs)
			}
			got := f.drain(t)
			if !st.low {
				if len(got) != 0 {
					t.Fatalf("published %v", summary(got))
				}
				return
			}
			if len(got) != 1 || got[0].DetailType != lifecycle.KeyCreditsLow {
				t.Fatalf("published %v, want one key.credits_low", summary(got))
			}
			e := got[0].D
			want := map[string]string{"remaining": strconv.FormatInt(st.c.pool, 10), "base": strconv.FormatInt(st.c.base, 10),
				"refill_at": time.Unix(st.c.refillAt, 0).UTC().Format(time.RFC3339)}
			if e.KeyID != k.ID || e.Tenant != "acme" || e.Action != "credits_low" || e.Actor != "" || len(e.Changes) != len(want) ||
				e.Key == nil || e.Key.ID != k.ID || e.At.IsZero() {
				t.Fatalf("event %+v", e)
			}
			for name, v := range want {
				if e.Changes[name] != v {
					t.Errorf("detail %s = %q, want %q", name, e.Changes[name], v)
				}
			}
			ids = append(ids, e.EventID)

			// A duplicate delivery of the same record carries the same id.
			if failed := f.handle(t, f.handler, records); len(failed) > 0 {
				t.Fatalf("failed records on retry %v", failed)
			}
			again := f.drain(t)
			if len(again) != 1 || again[0].D.EventID != e.EventID {
				t.Fatalf("the retry published %v with ids %v, want id %s", summary(again), again, e.EventID)
			}
		})
	}
	if len(ids) != 3 || ids[0] == ids[1] || ids[1] == ids[2] || ids[0] == ids[2] {
		t.Fatalf("event ids %v: want one per set or refill", ids)
	}

	// A rotation chain's credits: a new item already below the threshold
	// (no old image) is published for the key holding it, whose metadata
	// is gone.
	f.putCredits(t, "lineage-gone", "key-gone", "acme", credits{pool: 1, base: 50, gen: 1})
	if failed := f.handle(t, f.handler, f.stream.Read(t)); len(failed) > 0 {
		t.Fatalf("failed records %v", failed)
	}
	got := f.drain(t)
	if len(got) != 1 || got[0].D.KeyID != "key-gone" || got[0].D.Key != nil || got[0].D.Changes["refill_at"] != "" {
		t.Fatalf("published %+v", got)
	}
}
