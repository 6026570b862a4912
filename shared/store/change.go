package store

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/keygate/keygate/shared/keygate"
)

// revCondition holds a write to the revision of a key that was read, so
// two changes racing on one key cannot both commit.
func revCondition(rev int64, values map[string]types.AttributeValue) string {
	if rev == 0 {
		return "attribute_not_exists(rev)"
	}
	values[":rev"] = attrN(rev)
	return "rev = :rev"
}

// errActorChanged is the answer when the acting key changed between the
// service's read and the write: the next attempt reads it again and
// decides with what it holds then.
var errActorChanged = keygate.Errorf(keygate.Conflict, "the calling key was changed, disabled, rotated or revoked meanwhile; try again")

// actorCondition holds a write to the acting key as the service read it:
// at the same revision (every change of a key but revocation bumps it),
// not revoked, disabled or rotated, and unexpired at now.
func actorCondition(actor *keygate.Record, now time.Time, values map[string]types.AttributeValue) string {
	values[":actornow"] = attrS(formatTime(now))
	return "attribute_exists(pk) AND attribute_not_exists(revoked_at) AND attribute_not_exists(disabled) AND attribute_not_exists(rotated_to)" +
		" AND (attribute_not_exists(expires_at) OR expires_at > :actornow) AND " + revCondition(actor.Rev, values)
}

// actorCheck is actorCondition as a transaction's condition check, for a
// mutation that does not write the acting key's item itself.
func actorCheck(table string, actor *keygate.Record, now time.Time) types.TransactWriteItem {
	values := map[string]types.AttributeValue{}
	cond := actorCondition(actor, now, values)
	return types.TransactWriteItem{ConditionCheck: &types.ConditionCheck{
		TableName: &table, Key: keyItemKey(actor.ID), ConditionExpression: &cond, ExpressionAttributeValues: values,
	}}
}

// RotateKey stores next, the successor of old, in one transaction: the new
// key, old's shortened expiry (oldExpires, TTL oldTTL) and its link to the
// successor, the owner's slots (old keeps its slot until oldExpires; one
// key in its grace period may hold a slot past the limit, a second may
// not), both audit records, the minting key's check (see CreateKey) and, if
// idem is set, the idempotency record. It fails with a Conflict if old was
// revoked, rotated or changed since it was read. If idem's record exists it
// writes nothing and returns the earlier rotation's Replay.
func (s *Store) RotateKey(ctx context.Context, old, next *keygate.Record, oldExpires time.Time, oldTTL int64, max int, now time.Time, audits []keygate.Audit, idem *keygate.Idempotency, actor *keygate.Record) (*keygate.Replay, error) {
	return s.mint(ctx, now, mintOp{rec: next, max: max, audits: audits, idem: idem, actor: actor, old: old, oldExpires: oldExpires, oldTTL: oldTTL})
}

// rotatedUpdate shortens old's expiry and links it to its successor, if it
// is still as it was read: unrevoked, unrotated, at the same revision.
func rotatedUpdate(table string, old *keygate.Record, next string, expires time.Time, ttl int64) *types.Update {
	values := map[string]types.AttributeValue{
		":exp": attrS(formatTime(expires)), ":ttl": attrN(ttl), ":next": attrS(next), ":rev1": attrN(old.Rev + 1),
	}
	// Not disabled either: a disabled key is enabled before it is rotated.
	// (A key rotating itself adds the whole actor condition: mint.)
	cond := "attribute_exists(pk) AND attribute_not_exists(revoked_at) AND attribute_not_exists(rotated_to) AND attribute_not_exists(disabled) AND " + revCondition(old.Rev, values)
	return &types.Update{
		TableName:                 &table,
		Key:                       keyItemKey(old.ID),
		UpdateExpression:          aws.String("SET expires_at = :exp, #ttl = :ttl, rotated_to = :next, rev = :rev1"),
		ConditionExpression:       &cond,
		ExpressionAttributeNames:  map[string]string{"#ttl": AttrTTL},
		ExpressionAttributeValues: values,
	}
}

// UpdateKey writes next, the changed metadata of r as read, with its audit
// record in one transaction: name, enabled, scopes, expiry (with the
// TTL, and the key's place in its slots when the expiry moves), usage
// limits, meta and external_id (with the key's place in GSI3). If next.Credits is not r's (a new value, or nil where r had
// credits), the credits were given: the lineage's CREDITS item is set to
// them (the balance starts again), or deleted. It fails
// with a Conflict if r was revoked or changed since it was read, or if
// actor (the acting key, nil for an operator) is no longer as read at now.
// A key updating itself is passed as both r and actor: its update carries
// the actor's condition.
func (s *Store) UpdateKey(ctx context.Context, r, next *keygate.Record, audit keygate.Audit, now time.Time, actor *keygate.Record) error {
	values := map[string]types.AttributeValue{":rev1": attrN(r.Rev + 1), ":scopes": attrList(next.Scopes)}
	cond := "attribute_exists(pk) AND attribute_not_exists(revoked_at) AND " + revCondition(r.Rev, values)
	set := []string{"rev = :rev1", "scopes = :scopes"}
	var remove []string
	if next.Name != "" {
		set, values[":name"] = append(set, "#name = :name"), attrS(next.Name)
	} else {
		remove = append(remove, "#name")
	}
	if next.Enabled {
		remove = append(remove, "disabled")
	} else {
		set, values[":disabled"] = append(set, "disabled = :disabled"), &types.AttributeValueMemberBOOL{Value: true}
	}
	if next.ExpiresAt != nil {
		set, values[":exp"] = append(set, "expires_at = :exp"), attrS(formatTime(*next.ExpiresAt))
		// The key moves to its new day in GSI2 (reminders).
		set = append(set, "gsi2pk = :gsi2pk", "gsi2sk = :gsi2sk")
		values[":gsi2pk"], values[":gsi2sk"] = expiryIndex(r.ID, *next.ExpiresAt)
	}
	if next.TTL > 0 {
		set, values[":ttl"] = append(set, "#ttl = :ttl"), attrN(next.TTL)
	}
	// The limits as set (the counters are the CREDITS and RATE# items).
	limits := limitItem(&next.Key)
	for _, a := range limitAttrs {
		if v, ok := limits[a]; ok {
			set, values[":"+a] = append(set, a+" = :"+a), v
		} else {
			remove = append(remove, a)
		}
	}
	// The meta and external_id as set, and the key's place in GSI3.
	meta := metaItem(&next.Key)
	for _, a := range []string{"meta", "external_id", AttrGSI3PK, AttrGSI3SK} {
		name := "#" + a
		if v, ok := meta[a]; ok {
			set, values[":"+a] = append(set, name+" = :"+a), v
		} else {
			remove = append(remove, name)
		}
	}
	expr := "SET " + strings.Join(set, ", ")
	if len(remove) > 0 {
		expr += " REMOVE " + strings.Join(remove, ", ")
	}
	items := []types.TransactWriteItem{
		{Update: &types.Update{
			TableName:           &s.table,
			Key:                 keyItemKey(r.ID),
			UpdateExpression:    &expr,
			ConditionExpression: &cond,
			ExpressionAttributeNames: map[string]string{"#name": "name", "#ttl": AttrTTL,
				"#meta": "meta", "#external_id": "external_id", "#" + AttrGSI3PK: AttrGSI3PK, "#" + AttrGSI3SK: AttrGSI3SK},
			ExpressionAttributeValues: values,
		}},
		{Put: &types.Put{TableName: &s.table, Item: marshalAudit(audit), ConditionExpression: aws.String("attribute_not_exists(pk)")}},
	}
	if next.ExpiresAt != nil && (r.ExpiresAt == nil || !next.ExpiresAt.Equal(*r.ExpiresAt)) {
		// The slot is released at the new, earlier expiry.
		items = append(items, types.TransactWriteItem{Update: &types.Update{
			TableName:                 &s.table,
			Key:                       primaryKey(slotsPK(&r.Key), slotsSK),
			UpdateExpression:          aws.String("SET active.#id = :exp ADD version :one"),
			ConditionExpression:       aws.String("attribute_exists(pk)"),
			ExpressionAttributeNames:  map[string]string{"#id": r.ID},
			ExpressionAttributeValues: map[string]types.AttributeValue{":exp": attrN(next.ExpiresAt.Unix()), ":one": attrN(1)},
		}})
	}
	if _, ok := values[":ttl"]; !ok {
		// DynamoDB refuses a name the expression does not use.
		delete(items[0].Update.ExpressionAttributeNames, "#ttl")
	}
	if next.Credits != r.Credits {
		// A PATCH gave credits (or null): it sets the balance, or ends
		// metering by credits.
		if next.Credits != nil {
			items = append(items, types.TransactWriteItem{Update: creditsSet(s.table, &next.Key, now)})
		} else {
			items = append(items, types.TransactWriteItem{Delete: creditsDelete(s.table, r.LineageID())})
		}
	}
	actorAt := -1
	switch {
	case actor == nil:
	case actor.ID == r.ID:
		// r is the actor's own item as read: its revision condition holds
		// it, and the state it was read in is checked here too.
		cond += " AND " + actorCondition(actor, now, values)
	default:
		actorAt = len(items)
		items = append(items, actorCheck(s.table, actor, now))
	}
	_, err := s.db.TransactWriteItems(ctx, &dynamodb.TransactWriteItemsInput{TransactItems: items})
	if err == nil {
		return nil
	}
	reasons := cancellationReasons(err, len(items))
	switch {
	case reasons == nil:
		return classify(fmt.Errorf("update key %s: %w", r.ID, err))
	case actorAt >= 0 && reasons[actorAt] == "ConditionalCheckFailed",
		actor != nil && actor.ID == r.ID && reasons[0] == "ConditionalCheckFailed":
		return errActorChanged
	case reasons[0] == "ConditionalCheckFailed", reasons[1] == "ConditionalCheckFailed":
		// The key's condition, or its audit record for this revision:
		// either way another change of the same revision came first.
		return keygate.Errorf(keygate.Conflict, "the key was revoked or changed meanwhile; read it again")
	case slices.Contains(reasons, "TransactionConflict"):
		return keygate.Errorf(keygate.Unavailable, "key is being changed, try again")
	}
	return fmt.Errorf("update key %s: %w", r.ID, err)
}

// ListAudit returns a tenant's audit records, newest first, up to q.Limit,
// and the cursor of the next page ("" at the end). With q.KeyID only that
// key's records are returned (a filter: up to maxPages reads per call).
func (s *Store) ListAudit(ctx context.Context, q keygate.AuditQuery) ([]keygate.Audit, string, error) {
	in := &dynamodb.QueryInput{
		TableName:                 &s.table,
		KeyConditionExpression:    aws.String("pk = :pk"),
		ExpressionAttributeValues: map[string]types.AttributeValue{":pk": attrS(auditPK(q.Tenant))},
		ScanIndexForward:          aws.Bool(false),
		ConsistentRead:            aws.Bool(true),
	}
	if q.KeyID != "" {
		in.FilterExpression = aws.String("key_id = :key")
		in.ExpressionAttributeValues[":key"] = attrS(q.KeyID)
	}
	if q.Cursor != "" {
		in.ExclusiveStartKey = primaryKey(auditPK(q.Tenant), q.Cursor)
	}
	var out []keygate.Audit
	for page := 0; page < maxPages; page++ {
		in.Limit = aws.Int32(int32(q.Limit - len(out)))
		res, err := s.db.Query(ctx, in)
		if err != nil {
			return nil, "", classify(fmt.Errorf("list audit of %s: %w", q.Tenant, err))
		}
		for _, item := range res.Items {
			a, err := unmarshalAudit(item)
			if err != nil {
				return nil, "", err
			}
			out = append(out, a)
		}
		if res.LastEvaluatedKey == nil {
			return out, "", nil
		}
		in.ExclusiveStartKey = res.LastEvaluatedKey
		if len(out) == q.Limit {
			break
		}
	}
	sk, _ := in.ExclusiveStartKey[AttrSK].(*types.AttributeValueMemberS)
	if sk == nil {
		return nil, "", fmt.Errorf("list audit of %s: last evaluated key lacks %s", q.Tenant, AttrSK)
	}
	return out, sk.Value, nil
}

func auditPK(tenant string) string { return "AUDIT#" + tenant }
