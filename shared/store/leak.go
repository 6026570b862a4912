package store

import (
	"context"
	"fmt"
	"maps"
	"math/rand/v2"
	"slices"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/keygate/keygate/shared/keygate"
)

// maxLeakAttempts bounds RecordLeak's retries of a transaction that
// conflicted with another write of the same items (parallel reports of
// one token, a revoke, a create for the same owner).
const maxLeakAttempts = 5

// RecordLeak records l, a report that r's token was found in public, in
// one transaction: the key item's leaked_at, leak_url, leak_source and
// leak_type, on condition that it exists and holds no report yet, and the
// leaked audit record. With revoke (the key's revocation, its audit
// record and TTL as the service made them) the same transaction revokes
// the key exactly as RevokeKeys does: revoked_at and the TTL on the same
// item update, which then also requires it unrevoked, its revoked audit
// record and its slot released. Audit records are keyed by time, key and
// action, so the leaked and revoked records of one key at one instant are
// two items.
//
// It reports whether it wrote. A key that already holds a report, or is
// gone, is (false, nil): the first report stands and a replayed or
// repeated alert records nothing. A key revoked since r was read, with
// revoke set, is a *keygate.ChangedError and nothing is written: the
// service reads it again and records the leak alone. A transaction that
// keeps conflicting with other writes is Unavailable.
func (s *Store) RecordLeak(ctx context.Context, r *keygate.Record, l keygate.Leak, leaked keygate.Audit, revoke *keygate.Revocation, now time.Time) (bool, error) {
	var items []types.TransactWriteItem
	if revoke != nil {
		items, _, _ = s.revokeWrites(now, []keygate.Revocation{*revoke}, nil)
	} else {
		items = []types.TransactWriteItem{{Update: &types.Update{
			TableName: &s.table, Key: keyItemKey(r.ID), ConditionExpression: aws.String("attribute_exists(pk)"),
		}}}
	}
	// The key's update comes first (revokeWrites): it carries the leak
	// too, since one transaction may not write an item twice.
	u := items[0].Update
	set := "SET leaked_at = :leaked_at, leak_url = :leak_url, leak_source = :leak_source, leak_type = :leak_type"
	if u.UpdateExpression != nil {
		set = *u.UpdateExpression + ", " + set[len("SET "):]
	}
	u.UpdateExpression = &set
	u.ConditionExpression = aws.String(*u.ConditionExpression + " AND attribute_not_exists(leaked_at)")
	values := map[string]types.AttributeValue{}
	for name, v := range leakItem(l) {
		values[":"+name] = v
	}
	maps.Copy(values, u.ExpressionAttributeValues)
	u.ExpressionAttributeValues = values
	items = append(items, types.TransactWriteItem{Put: &types.Put{
		TableName: &s.table, Item: marshalAudit(leaked), ConditionExpression: aws.String("attribute_not_exists(pk)"),
	}})
	for attempt := 1; ; attempt++ {
		_, err := s.db.TransactWriteItems(ctx, &dynamodb.TransactWriteItemsInput{TransactItems: items})
		if err == nil {
			return true, nil
		}
		reasons := cancellationReasons(err, len(items))
		switch {
		case reasons == nil:
			return false, classify(fmt.Errorf("record leak of key %s: %w", r.ID, err))
		case reasons[0] == "ConditionalCheckFailed":
			return s.leakRefused(ctx, r.ID, revoke != nil)
		case slices.Contains(reasons, "ConditionalCheckFailed"):
			// An audit record of this key, action and millisecond exists,
			// or the owner's slots item is missing: neither can happen to
			// a key unreported until now.
			return false, fmt.Errorf("record leak of key %s: audit record exists or slots item missing", r.ID)
		case !slices.Contains(reasons, "TransactionConflict"):
			return false, classify(fmt.Errorf("record leak of key %s: %w", r.ID, err))
		case attempt == maxLeakAttempts:
			return false, keygate.Errorf(keygate.Unavailable, "key is being changed, try again")
		}
		// Another write holds the key or its slots: the conditions decide
		// again after a short random pause.
		if err := sleep(ctx, time.Duration(5+rand.IntN(20*attempt))*time.Millisecond); err != nil {
			return false, keygate.Errorf(keygate.Unavailable, "request cancelled")
		}
	}
}

// leakRefused tells why the key item's condition failed: it is gone or
// already reported (nothing to record), or, for a revocation, revoked
// meanwhile.
func (s *Store) leakRefused(ctx context.Context, id string, revoking bool) (bool, error) {
	cur, err := s.GetKey(ctx, id)
	switch {
	case keygate.ErrorCode(err) == keygate.NotFound:
		return false, nil
	case err != nil:
		return false, fmt.Errorf("record leak of key %s: %w", id, err)
	case cur.Leaked != nil:
		return false, nil
	case revoking && cur.RevokedAt != nil:
		return false, &keygate.ChangedError{ID: id}
	}
	return false, fmt.Errorf("record leak of key %s: the key's condition failed but it is unreported and unrevoked", id)
}
