package store_test

import (
	"context"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/keygate/keygate/infra/dynamotest"
	"github.com/keygate/keygate/shared/keygate"
	"github.com/keygate/keygate/shared/store"
)

// refillCountingDB is the real DynamoDB Local client counting the refills
// that DynamoDB applied (UpdateItems setting base that did not fail).
type refillCountingDB struct {
	*dynamodb.Client
	refills atomic.Int32
}

func (d *refillCountingDB) UpdateItem(ctx context.Context, in *dynamodb.UpdateItemInput, opts ...func(*dynamodb.Options)) (*dynamodb.UpdateItemOutput, error) {
	out, err := d.Client.UpdateItem(ctx, in, opts...)
	if err == nil && strings.Contains(aws.ToString(in.UpdateExpression), "#base = ") {
		d.refills.Add(1)
	}
	return out, err
}

func getItem(t *testing.T, db *dynamodb.Client, table, pk, sk string) map[string]types.AttributeValue {
	t.Helper()
	out, err := db.GetItem(context.Background(), &dynamodb.GetItemInput{TableName: &table, ConsistentRead: aws.Bool(true), Key: map[string]types.AttributeValue{
		store.AttrPK: &types.AttributeValueMemberS{Value: pk}, store.AttrSK: &types.AttributeValueMemberS{Value: sk}}})
	if err != nil {
		t.Fatal(err)
	}
	return out.Item
}

func num(item map[string]types.AttributeValue, name string) string {
	if v, ok := item[name].(*types.AttributeValueMemberN); ok {
		return v.Value
	}
	return ""
}

// TestLeaseRate checks the window's conditional count, including that a
// refusal reports what is left (DynamoDB Local returns the old item on a
// failed condition, ReturnValuesOnConditionCheckFailure) and that each
// window is its own item with a TTL a day past its end.
func TestLeaseRate(t *testing.T) {
	db, table := dynamotest.NewTable(t)
	st := store.New(db, table)
	ctx := context.Background()
	start := time.Date(2026, 12, 5, 10, 0, 0, 0, time.UTC)
	end := start.Add(time.Minute)
	steps := []struct {
		want, granted, left int64
	}{
		{4, 4, 6}, {4, 4, 2}, {4, 0, 2}, {3, 0, 2}, {2, 2, 0}, {1, 0, 0}, {0, 0, 0},
	}
	for i, s := range steps {
		granted, left, err := st.LeaseRate(ctx, "L1", start, end, 10, s.want)
		if err != nil || granted != s.granted || left != s.left {
			t.Fatalf("step %d: LeaseRate(%d) = %d, %d, %v; want %d, %d", i, s.want, granted, left, err, s.granted, s.left)
		}
	}
	item := getItem(t, db, table, "USAGE#L1", "RATE#"+itoa(start.Unix()))
	if num(item, "leased") != "10" || num(item, store.AttrTTL) != itoa(end.Add(24*time.Hour).Unix()) {
		t.Fatalf("window item = %v", item)
	}
	// The next window, and another lineage, count from zero.
	if g, left, err := st.LeaseRate(ctx, "L1", end, end.Add(time.Minute), 10, 10); g != 10 || left != 0 || err != nil {
		t.Fatalf("next window: %d, %d, %v", g, left, err)
	}
	if g, left, err := st.LeaseRate(ctx, "L2", start, end, 10, 3); g != 3 || left != 7 || err != nil {
		t.Fatalf("other lineage: %d, %d, %v", g, left, err)
	}
	// A limit lowered below what was leased (a PATCH) leaves nothing.
	if g, left, err := st.LeaseRate(ctx, "L2", start, end, 2, 1); g != 0 || left != 0 || err != nil {
		t.Fatalf("lowered limit: %d, %d, %v", g, left, err)
	}
}

// TestLeaseRateParallel races 20 leasers on one window: together they get
// exactly the limit, never more.
func TestLeaseRateParallel(t *testing.T) {
	db, table := dynamotest.NewTable(t)
	st := store.New(db, table)
	start := time.Date(2026, 12, 5, 10, 0, 0, 0, time.UTC)
	var total atomic.Int64
	var wg sync.WaitGroup
	for range 20 {
		wg.Go(func() {
			want := int64(7)
			for {
				g, left, err := st.LeaseRate(context.Background(), "L", start, start.Add(time.Hour), 500, want)
				if err != nil {
					t.Error(err)
					return
				}
				total.Add(g)
				if g == 0 && left == 0 {
					return
				}
				want = min(7, max(left, 1))
			}
		})
	}
	wg.Wait()
	if got := total.Load(); got != 500 {
		t.Fatalf("leased %d in total, want exactly the limit 500", got)
	}
}

func TestLeaseCredits(t *testing.T) {
	db, table := dynamotest.NewTable(t)
	st := store.New(db, table)
	ctx := context.Background()
	now := time.Date(2026, 12, 5, 10, 0, 0, 0, time.UTC)
	// No CREDITS item: nothing to spend.
	if g, pool, at, err := st.LeaseCredits(ctx, "none", 1, now); g != 0 || pool != 0 || !at.IsZero() || err != nil {
		t.Fatalf("no item: %d, %d, %v, %v", g, pool, at, err)
	}
	if err := dynamotest.PutCredits(ctx, db, table, dynamotest.Credits{Lineage: "L", Pool: 10}); err != nil {
		t.Fatal(err)
	}
	steps := []struct{ want, granted, pool int64 }{{4, 4, 6}, {7, 0, 6}, {6, 6, 0}, {1, 0, 0}}
	for i, s := range steps {
		g, pool, at, err := st.LeaseCredits(ctx, "L", s.want, now)
		if err != nil || g != s.granted || pool != s.pool || !at.IsZero() {
			t.Fatalf("step %d: LeaseCredits(%d) = %d, %d, %v, %v; want %d, %d", i, s.want, g, pool, at, err, s.granted, s.pool)
		}
	}

	// A due refill comes first, unspent credits do not roll over, and the
	// next refill is the next UTC midnight (or first of the month).
	for _, interval := range []string{keygate.RefillDay, keygate.RefillMonth} {
		lineage := "R" + interval
		if err := dynamotest.PutCredits(ctx, db, table, dynamotest.Credits{Lineage: lineage, Pool: 3, RefillAmount: 50, RefillInterval: interval, RefillAt: now}); err != nil {
			t.Fatal(err)
		}
		before := now.Add(-time.Second)
		if g, pool, at, err := st.LeaseCredits(ctx, lineage, 2, before); g != 2 || pool != 1 || !at.Equal(now) || err != nil {
			t.Fatalf("%s before the refill: %d, %d, %v, %v", interval, g, pool, at, err)
		}
		g, pool, at, err := st.LeaseCredits(ctx, lineage, 5, now)
		next := keygate.NextRefill(interval, now)
		if g != 5 || pool != 45 || !at.Equal(next) || err != nil {
			t.Fatalf("%s at the refill: %d, %d, %v, %v; want 5, 45, %v", interval, g, pool, at, err, next)
		}
		item := getItem(t, db, table, "USAGE#"+lineage, "CREDITS")
		if num(item, "base") != "50" || num(item, "pool") != "45" {
			t.Fatalf("%s refilled item = %v", interval, item)
		}
	}
}

// TestRefillRace sends 20 leasers at a key's refill instant: the pool is
// refilled exactly once, and what they were granted plus what is left is
// the refill amount.
func TestRefillRace(t *testing.T) {
	client, table := dynamotest.NewTable(t)
	db := &refillCountingDB{Client: client}
	st := store.New(db, table)
	ctx := context.Background()
	due := time.Date(2026, 12, 5, 0, 0, 0, 0, time.UTC)
	if err := dynamotest.PutCredits(ctx, client, table, dynamotest.Credits{Lineage: "L", Pool: 0, RefillAmount: 1000, RefillInterval: keygate.RefillDay, RefillAt: due}); err != nil {
		t.Fatal(err)
	}
	var granted atomic.Int64
	var wg sync.WaitGroup
	for range 20 {
		wg.Go(func() {
			g, _, at, err := st.LeaseCredits(ctx, "L", 7, due)
			if err != nil || g != 7 || !at.Equal(due.AddDate(0, 0, 1)) {
				t.Errorf("LeaseCredits = %d, %v, %v", g, at, err)
			}
			granted.Add(g)
		})
	}
	wg.Wait()
	if n := db.refills.Load(); n != 1 {
		t.Fatalf("%d refills, want exactly 1", n)
	}
	item := getItem(t, client, table, "USAGE#L", "CREDITS")
	if want := 1000 - granted.Load(); num(item, "pool") != itoa(want) || num(item, "refill_at") != itoa(due.AddDate(0, 0, 1).Unix()) {
		t.Fatalf("after the race: %v; want pool %d", item, want)
	}
}

func itoa(n int64) string { return strconv.FormatInt(n, 10) }

func TestUsage(t *testing.T) {
	db, table := dynamotest.NewTable(t)
	st := store.New(db, table)
	ctx := context.Background()
	now := time.Date(2026, 12, 5, 10, 0, 30, 0, time.UTC)
	if u, err := st.Usage(ctx, &keygate.Key{ID: "K"}, now); u != nil || err != nil {
		t.Fatalf("unmetered: %v, %v", u, err)
	}
	// Rotated keys share their lineage's counters.
	k := &keygate.Key{ID: "K2", Lineage: "K", RateLimit: &keygate.RateLimit{Limit: 100, Window: time.Minute}, Credits: &keygate.Credits{Remaining: 500}}
	u, err := st.Usage(ctx, k, now)
	if err != nil || u.RateLimit == nil || u.RateLimit.Remaining != 100 || u.RateLimit.Window != "1m" ||
		!u.RateLimit.ResetAt.Equal(time.Date(2026, 12, 5, 10, 1, 0, 0, time.UTC)) || u.Credits == nil || u.Credits.Remaining != 0 || u.Credits.RefillAt != nil {
		t.Fatalf("fresh usage = %+v, %+v, %v", u.RateLimit, u.Credits, err)
	}
	start, end := k.RateLimit.Span(now)
	if _, _, err := st.LeaseRate(ctx, "K", start, end, 100, 30); err != nil {
		t.Fatal(err)
	}
	refill := time.Date(2026, 12, 6, 0, 0, 0, 0, time.UTC)
	if err := dynamotest.PutCredits(ctx, db, table, dynamotest.Credits{Lineage: "K", Pool: 400, RefillAmount: 500, RefillInterval: keygate.RefillDay, RefillAt: refill}); err != nil {
		t.Fatal(err)
	}
	u, err = st.Usage(ctx, k, now)
	if err != nil || u.RateLimit.Remaining != 70 || u.Credits.Remaining != 400 || u.Credits.RefillAt == nil || !u.Credits.RefillAt.Equal(refill) {
		t.Fatalf("usage = %+v, %+v, %v", u.RateLimit, u.Credits, err)
	}
	// A due refill reads as done.
	u, err = st.Usage(ctx, k, refill)
	if err != nil || u.Credits.Remaining != 500 || !u.Credits.RefillAt.Equal(refill.AddDate(0, 0, 1)) {
		t.Fatalf("usage at the refill = %+v, %v", u.Credits, err)
	}
}
