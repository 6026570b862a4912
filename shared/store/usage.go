package store

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/keygate/keygate/shared/keygate"
)

// Usage counters live apart from the key items, keyed by the key's lineage
// (keygate.Key.LineageID), so that a rotation never doubles a budget and
// metering writes never contend with management's conditional writes on
// the key item (docs/usage-limits.md):
//
//	pk                 sk               what
//	USAGE#<lineage>    RATE#<unix>      one rate window: leased (N), ttl (window end + 1 day)
//	USAGE#<lineage>    CREDITS          pool (N, not yet leased), base, refill_at (N, unix),
//	                                    refill_amount, refill_interval, tenant, key_id, gen
//
// Environments lease slices of a budget with one conditional UpdateItem;
// the condition makes the sum of what is leased never exceed the budget,
// however many environments race. On a refusal DynamoDB returns the item
// as it was (ReturnValuesOnConditionCheckFailure ALL_OLD, which DynamoDB
// Local supports too), so the retry is sized without another read.

func rateSK(start time.Time) string { return "RATE#" + strconv.FormatInt(start.Unix(), 10) }

// poolName names the pool in expressions: POOL (like BASE) is one of
// DynamoDB's reserved words.
var poolName = map[string]string{"#pool": "pool"}

// windowRetention keeps a rate window's item a day past its end (TTL), for
// reading and debugging; nothing depends on its deletion.
const windowRetention = 24 * time.Hour

// LeaseRate leases want calls of lineage's rate window [start, end) that
// limit calls fill: it adds them to the window's count only if the count
// stays ≤ limit. It returns what it granted (want, or 0 when the window
// has fewer left) and what the window has left after (on a refusal, what
// it has left now, so the caller can size a smaller lease).
func (s *Store) LeaseRate(ctx context.Context, lineage string, start, end time.Time, limit, want int64) (granted, left int64, err error) {
	if want <= 0 {
		return 0, 0, nil
	}
	out, err := s.db.UpdateItem(ctx, &dynamodb.UpdateItemInput{
		TableName:                           &s.table,
		Key:                                 primaryKey(usagePartition(lineage), rateSK(start)),
		UpdateExpression:                    aws.String("SET #ttl = :ttl ADD leased :want"),
		ConditionExpression:                 aws.String("attribute_not_exists(leased) OR leased <= :max"),
		ExpressionAttributeNames:            map[string]string{"#ttl": AttrTTL},
		ExpressionAttributeValues:           map[string]types.AttributeValue{":ttl": attrN(end.Add(windowRetention).Unix()), ":want": attrN(want), ":max": attrN(limit - want)},
		ReturnValues:                        types.ReturnValueUpdatedNew,
		ReturnValuesOnConditionCheckFailure: types.ReturnValuesOnConditionCheckFailureAllOld,
	})
	var ccf *types.ConditionalCheckFailedException
	item := map[string]types.AttributeValue(nil)
	switch {
	case errors.As(err, &ccf):
		item, want = ccf.Item, 0
	case err != nil:
		return 0, 0, classify(fmt.Errorf("lease rate of %s: %w", lineage, err))
	default:
		item = out.Attributes
	}
	leased, err := itemNum(item, "leased")
	if err != nil {
		return 0, 0, fmt.Errorf("lease rate of %s: %w", lineage, err)
	}
	return want, max(0, limit-leased), nil
}

// maxRefillRaces bounds LeaseCredits' attempts: each lost refill race
// means another environment refilled, after which the plain lease is
// decided; a second lost race (a refill interval passing during the
// call) is Unavailable rather than a wrong answer.
const maxRefillRaces = 2

// LeaseCredits leases want credits of lineage's pool. A refill that is due
// (refill_at ≤ now) comes first, exactly once however many environments
// race: it sets the pool back to the refill amount less this lease
// (granting min(want, amount)), conditioned on the refill_at it read, and
// the losers lease from the refilled pool. It returns what it granted
// (want, or 0 when the pool holds fewer or there is no CREDITS item), the
// pool after (on a refusal, the pool now, so the caller can size a smaller
// lease), and the next refill (zero: none).
func (s *Store) LeaseCredits(ctx context.Context, lineage string, want int64, now time.Time) (granted, pool int64, refillAt time.Time, err error) {
	if want <= 0 {
		return 0, 0, time.Time{}, nil
	}
	key := primaryKey(usagePartition(lineage), creditsSK)
	for range maxRefillRaces {
		out, err := s.db.UpdateItem(ctx, &dynamodb.UpdateItemInput{
			TableName:        &s.table,
			Key:              key,
			UpdateExpression: aws.String("ADD #pool :neg"),
			// A due refill is never skipped by leasing from the old pool:
			// unspent credits do not roll over.
			ConditionExpression:                 aws.String("#pool >= :want AND (attribute_not_exists(refill_at) OR refill_at > :now)"),
			ExpressionAttributeNames:            poolName,
			ExpressionAttributeValues:           map[string]types.AttributeValue{":neg": attrN(-want), ":want": attrN(want), ":now": attrN(now.Unix())},
			ReturnValues:                        types.ReturnValueAllNew,
			ReturnValuesOnConditionCheckFailure: types.ReturnValuesOnConditionCheckFailureAllOld,
		})
		var ccf *types.ConditionalCheckFailedException
		if err != nil && !errors.As(err, &ccf) {
			return 0, 0, time.Time{}, classify(fmt.Errorf("lease credits of %s: %w", lineage, err))
		}
		if err == nil {
			c, err := readCredits(out.Attributes)
			if err != nil {
				return 0, 0, time.Time{}, fmt.Errorf("lease credits of %s: %w", lineage, err)
			}
			return want, c.pool, c.refillAt, nil
		}
		if ccf.Item == nil {
			// No CREDITS item: nothing to spend (fail closed).
			return 0, 0, time.Time{}, nil
		}
		c, err := readCredits(ccf.Item)
		if err != nil {
			return 0, 0, time.Time{}, fmt.Errorf("lease credits of %s: %w", lineage, err)
		}
		if !c.due(now) {
			return 0, max(0, c.pool), c.refillAt, nil
		}
		granted, pool, refillAt, ok, err := s.refill(ctx, key, c, want, now)
		if err != nil || ok {
			return granted, pool, refillAt, err
		}
		// Another environment refilled first: lease from its pool.
	}
	return 0, 0, time.Time{}, keygate.Errorf(keygate.Unavailable, "credit refill of %s contended", lineage)
}

// refill sets c's pool back to its refill amount less this lease, if no
// other environment refilled since c was read; ok reports whether it did.
func (s *Store) refill(ctx context.Context, key map[string]types.AttributeValue, c credits, want int64, now time.Time) (granted, pool int64, next time.Time, ok bool, err error) {
	granted = min(want, c.amount)
	next = keygate.NextRefill(c.interval, now)
	values := map[string]types.AttributeValue{":pool": attrN(c.amount - granted), ":base": attrN(c.amount), ":old": attrN(c.refillAt.Unix())}
	set := "SET #pool = :pool, #base = :base, refill_at = :next"
	if next.IsZero() {
		// An interval this build does not know: refill once, then never.
		set = "SET #pool = :pool, #base = :base REMOVE refill_at"
	} else {
		values[":next"] = attrN(next.Unix())
	}
	_, err = s.db.UpdateItem(ctx, &dynamodb.UpdateItemInput{
		TableName:                 &s.table,
		Key:                       key,
		UpdateExpression:          &set,
		ConditionExpression:       aws.String("refill_at = :old"),
		ExpressionAttributeNames:  map[string]string{"#pool": "pool", "#base": "base"},
		ExpressionAttributeValues: values,
	})
	var ccf *types.ConditionalCheckFailedException
	switch {
	case errors.As(err, &ccf):
		return 0, 0, time.Time{}, false, nil
	case err != nil:
		return 0, 0, time.Time{}, false, classify(fmt.Errorf("refill credits: %w", err))
	}
	return granted, c.amount - granted, next, true, nil
}

// credits is a CREDITS item's counters.
type credits struct {
	pool, base, amount int64
	interval           string
	refillAt           time.Time // zero: no refill
}

// due reports whether c's refill should happen before anything is leased.
func (c credits) due(now time.Time) bool {
	return !c.refillAt.IsZero() && !c.refillAt.After(now) && c.amount > 0
}

func readCredits(item map[string]types.AttributeValue) (credits, error) {
	d := decoder{item: item}
	c := credits{pool: d.num("pool"), base: d.num("base"), amount: d.num("refill_amount"), interval: d.str("refill_interval", false)}
	if _, ok := item["refill_at"]; ok {
		c.refillAt = time.Unix(d.num("refill_at"), 0).UTC()
	}
	if d.err != nil {
		return credits{}, fmt.Errorf("decode credits: %w", d.err)
	}
	return c, nil
}

// itemNum is a number attribute of item, 0 if absent.
func itemNum(item map[string]types.AttributeValue, name string) (int64, error) {
	d := decoder{item: item}
	n := d.num(name)
	return n, d.err
}

// Usage is k's live counters as GET /v1/keys/{id} and whoami show them
// (nil for an unmetered key), read with strongly consistent reads: what
// the current window has not yet leased and when it ends, and the credit
// pool not yet leased and its next refill. A refill that is due counts as
// done, as the next call would do it. Environments may still hold a few
// leased calls of either (docs/usage-limits.md).
func (s *Store) Usage(ctx context.Context, k *keygate.Key, now time.Time) (*keygate.Usage, error) {
	if k.RateLimit == nil && k.Credits == nil {
		return nil, nil
	}
	lineage := k.LineageID()
	u := &keygate.Usage{}
	if rl := k.RateLimit; rl != nil {
		start, end := rl.Span(now)
		item, err := s.getUsage(ctx, lineage, rateSK(start))
		if err != nil {
			return nil, err
		}
		leased, err := itemNum(item, "leased")
		if err != nil {
			return nil, fmt.Errorf("usage of %s: %w", lineage, err)
		}
		u.RateLimit = &keygate.RateUsage{Limit: rl.Limit, Window: keygate.FormatWindow(rl.Window), Remaining: max(0, rl.Limit-leased), ResetAt: end}
	}
	if k.Credits != nil {
		item, err := s.getUsage(ctx, lineage, creditsSK)
		if err != nil {
			return nil, err
		}
		c, err := readCredits(item)
		if err != nil {
			return nil, fmt.Errorf("usage of %s: %w", lineage, err)
		}
		if c.due(now) {
			c.pool, c.refillAt = c.amount, keygate.NextRefill(c.interval, now)
		}
		u.Credits = &keygate.CreditUsage{Remaining: max(0, c.pool)}
		if !c.refillAt.IsZero() {
			u.Credits.RefillAt = &c.refillAt
		}
	}
	return u, nil
}

// getUsage reads one usage item (nil if there is none) with a strongly
// consistent read.
func (s *Store) getUsage(ctx context.Context, lineage, sk string) (map[string]types.AttributeValue, error) {
	out, err := s.db.GetItem(ctx, &dynamodb.GetItemInput{
		TableName:      &s.table,
		Key:            primaryKey(usagePartition(lineage), sk),
		ConsistentRead: aws.Bool(true),
	})
	if err != nil {
		return nil, classify(fmt.Errorf("usage of %s: %w", lineage, err))
	}
	return out.Item, nil
}
