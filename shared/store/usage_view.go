package store

// TEMPORARY: Store.Usage as management needs it for get and whoami, until
// the metering work's shared/store/usage.go (which owns the counters and
// this method) is merged; the lead removes this file then.

import (
	"context"
	"fmt"
	"strconv"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/keygate/keygate/shared/keygate"
)

// Usage reads k's live counters at now: what is left of its current rate
// window and of its credits (nil for an unmetered key). What is left is
// what is not yet leased to an execution environment.
func (s *Store) Usage(ctx context.Context, k *keygate.Key, now time.Time) (*keygate.Usage, error) {
	if k.RateLimit == nil && k.Credits == nil {
		return nil, nil
	}
	u := &keygate.Usage{}
	lineage := k.LineageID()
	if rl := k.RateLimit; rl != nil {
		w := int64(rl.Window / time.Second)
		start := now.Unix() / w * w
		item, err := s.usageItem(ctx, lineage, "RATE#"+strconv.FormatInt(start, 10))
		if err != nil {
			return nil, err
		}
		d := decoder{item: item}
		leased := d.num("leased")
		if d.err != nil {
			return nil, fmt.Errorf("usage of %s: %w", k.ID, d.err)
		}
		u.RateLimit = &keygate.RateUsage{Limit: rl.Limit, Window: keygate.FormatWindow(rl.Window),
			Remaining: max(0, rl.Limit-leased), ResetAt: time.Unix(start+w, 0).UTC()}
	}
	if cr := k.Credits; cr != nil {
		item, err := s.usageItem(ctx, lineage, creditsSK)
		if err != nil {
			return nil, err
		}
		d := decoder{item: item}
		pool, refillAt, amount := cr.Remaining, int64(0), int64(0)
		if item != nil {
			pool, refillAt, amount = d.num("pool"), d.num("refill_at"), d.num("refill_amount")
		} else if cr.Refill != nil {
			refillAt, amount = cr.Refill.Next(now).Unix(), cr.Refill.Amount
		}
		if d.err != nil {
			return nil, fmt.Errorf("usage of %s: %w", k.ID, d.err)
		}
		cu := &keygate.CreditUsage{Remaining: max(0, pool)}
		if refillAt > 0 {
			at := time.Unix(refillAt, 0).UTC()
			if !at.After(now) && cr.Refill != nil {
				// Due: the next call refills it.
				cu.Remaining, at = amount, cr.Refill.Next(now)
			}
			cu.RefillAt = &at
		}
		u.Credits = cu
	}
	return u, nil
}

func (s *Store) usageItem(ctx context.Context, lineage, sk string) (map[string]types.AttributeValue, error) {
	out, err := s.db.GetItem(ctx, &dynamodb.GetItemInput{
		TableName: &s.table, Key: primaryKey(usagePartition(lineage), sk), ConsistentRead: aws.Bool(true),
	})
	if err != nil {
		return nil, classify(fmt.Errorf("read usage %s: %w", sk, err))
	}
	return out.Item, nil
}
