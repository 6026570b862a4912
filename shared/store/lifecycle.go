package store

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/keygate/keygate/shared/keygate"
)

// LifecycleDB is the part of the DynamoDB client the lifecycle store uses.
type LifecycleDB interface {
	DB
	PutItem(context.Context, *dynamodb.PutItemInput, ...func(*dynamodb.Options)) (*dynamodb.PutItemOutput, error)
	DeleteItem(context.Context, *dynamodb.DeleteItemInput, ...func(*dynamodb.Options)) (*dynamodb.DeleteItemOutput, error)
}

var _ LifecycleDB = (*dynamodb.Client)(nil)

// Lifecycle is the store of the lifecycle events and reminders: it reads
// keys like Store, writes "expired" audit records, claims sent
// notifications and keeps tenants' settings.
type Lifecycle struct {
	*Store
	ldb LifecycleDB
}

// NewLifecycle returns the lifecycle store on table.
func NewLifecycle(db LifecycleDB, table string) *Lifecycle {
	return &Lifecycle{Store: New(db, table), ldb: db}
}

// putNew puts item unless its key exists; it reports whether it wrote.
func (l *Lifecycle) putNew(ctx context.Context, what string, item map[string]types.AttributeValue) (bool, error) {
	_, err := l.ldb.PutItem(ctx, &dynamodb.PutItemInput{
		TableName:           &l.table,
		Item:                item,
		ConditionExpression: aws.String("attribute_not_exists(pk)"),
	})
	var ccf *types.ConditionalCheckFailedException
	if errors.As(err, &ccf) {
		return false, nil
	}
	if err != nil {
		return false, classify(fmt.Errorf("put %s: %w", what, err))
	}
	return true, nil
}

// RecordExpired writes a's "expired" audit record unless it exists (its
// sort key holds the key's expiry, so every writer writes the same item).
func (l *Lifecycle) RecordExpired(ctx context.Context, a keygate.Audit) (bool, error) {
	return l.putNew(ctx, "expired record of "+a.KeyID, marshalAudit(a))
}

// ExpiringOn returns the keys whose expiry is on day's UTC date, from
// GSI2 (no verifiers: the index does not project them), with their meta
// and external_id from the items.
func (l *Lifecycle) ExpiringOn(ctx context.Context, day time.Time) ([]*keygate.Record, error) {
	in := &dynamodb.QueryInput{
		TableName:                 &l.table,
		IndexName:                 aws.String(GSI2),
		KeyConditionExpression:    aws.String("gsi2pk = :day"),
		ExpressionAttributeValues: map[string]types.AttributeValue{":day": attrS(expiryDay(day))},
	}
	var out []*keygate.Record
	for {
		res, err := l.db.Query(ctx, in)
		if err != nil {
			return nil, classify(fmt.Errorf("keys expiring on %s: %w", expiryDay(day), err))
		}
		for _, item := range res.Items {
			r, err := unmarshalRecord(item)
			if err != nil {
				return nil, err
			}
			out = append(out, r)
		}
		if res.LastEvaluatedKey == nil {
			break
		}
		in.ExclusiveStartKey = res.LastEvaluatedKey
	}
	// GSI2 does not carry them: the key.expiring events do.
	if err := l.fillMeta(ctx, out); err != nil {
		return nil, err
	}
	return out, nil
}

const sentSK = "SENT"

func sentKey(id string) map[string]types.AttributeValue {
	return primaryKey("SENT#"+id, sentSK)
}

// Claim records notification id as sent unless it is; the record goes
// with DynamoDB's TTL at ttl.
func (l *Lifecycle) Claim(ctx context.Context, id string, ttl int64) (bool, error) {
	item := sentKey(id)
	item[AttrTTL] = attrN(ttl)
	return l.putNew(ctx, "notification "+id, item)
}

// Release removes the claim of notification id.
func (l *Lifecycle) Release(ctx context.Context, id string) error {
	_, err := l.ldb.DeleteItem(ctx, &dynamodb.DeleteItemInput{TableName: &l.table, Key: sentKey(id)})
	if err != nil {
		return classify(fmt.Errorf("release notification %s: %w", id, err))
	}
	return nil
}

func settingsKey(tenant string) map[string]types.AttributeValue {
	return primaryKey("SETTINGS#"+tenant, "SETTINGS")
}

// Settings reads tenant's settings; a tenant without any has the zero
// value, and settings written before leak actions existed have none (""
// revokes, keygate.Settings.Revokes). It is Store's, not Lifecycle's
// alone: the management side reads a tenant's leak action too
// (manage.Service.ReportLeak), and Lifecycle has it by embedding.
func (s *Store) Settings(ctx context.Context, tenant string) (keygate.Settings, error) {
	out, err := s.db.GetItem(ctx, &dynamodb.GetItemInput{TableName: &s.table, Key: settingsKey(tenant), ConsistentRead: aws.Bool(true)})
	if err != nil {
		return keygate.Settings{}, classify(fmt.Errorf("read settings of %s: %w", tenant, err))
	}
	var set keygate.Settings
	if out.Item == nil {
		return set, nil
	}
	d := decoder{item: out.Item}
	set.OwnerEmail = d.str("owner_email", false)
	for _, v := range d.list("reminder_days") {
		n, err := strconv.Atoi(v)
		if err != nil && d.err == nil {
			d.err = fmt.Errorf("reminder_days: %w", err)
		}
		set.ReminderDays = append(set.ReminderDays, n)
	}
	set.LeakAction = d.str("leak_action", false)
	if b, ok := out.Item["leak_cascade"].(*types.AttributeValueMemberBOOL); ok {
		set.LeakCascade = b.Value
	}
	if d.err != nil {
		return keygate.Settings{}, fmt.Errorf("read settings of %s: %w", tenant, d.err)
	}
	return set, nil
}

// PutSettings replaces tenant's settings; with an actor (a key, not an
// operator) only if that key is still as read and active at now.
func (l *Lifecycle) PutSettings(ctx context.Context, tenant string, s keygate.Settings, now time.Time, actor *keygate.Record) error {
	item := settingsKey(tenant)
	item["tenant"] = attrS(tenant)
	if s.OwnerEmail != "" {
		item["owner_email"] = attrS(s.OwnerEmail)
	}
	days := make([]string, len(s.ReminderDays))
	for i, d := range s.ReminderDays {
		days[i] = strconv.Itoa(d)
	}
	item["reminder_days"] = attrList(days)
	if s.LeakAction != "" {
		item["leak_action"] = attrS(s.LeakAction)
	}
	item["leak_cascade"] = &types.AttributeValueMemberBOOL{Value: s.LeakCascade}
	if actor == nil {
		if _, err := l.ldb.PutItem(ctx, &dynamodb.PutItemInput{TableName: &l.table, Item: item}); err != nil {
			return classify(fmt.Errorf("write settings of %s: %w", tenant, err))
		}
		return nil
	}
	_, err := l.db.TransactWriteItems(ctx, &dynamodb.TransactWriteItemsInput{TransactItems: []types.TransactWriteItem{
		{Put: &types.Put{TableName: &l.table, Item: item}},
		actorCheck(l.table, actor, now),
	}})
	switch reasons := cancellationReasons(err, 2); {
	case reasons != nil && reasons[1] == "ConditionalCheckFailed":
		return errActorChanged
	case slices.Contains(reasons, "TransactionConflict"):
		// The calling key's item is being written (its last-used time,
		// say): retryable, not a server fault.
		return keygate.Errorf(keygate.Unavailable, "the calling key is being changed, try again")
	}
	if err != nil {
		return classify(fmt.Errorf("write settings of %s: %w", tenant, err))
	}
	return nil
}

// keyOf names an item by its table key, for event ids.
func keyOf(item map[string]types.AttributeValue) string {
	pk, _ := item[AttrPK].(*types.AttributeValueMemberS)
	sk, _ := item[AttrSK].(*types.AttributeValueMemberS)
	if pk == nil || sk == nil {
		return ""
	}
	return pk.Value + "\x00" + sk.Value
}

// eventMetadata is what the lifecycle functions read of a key: the
// attributes GSI1 projects, the leak report, the meta and external_id,
// never the verifier, so
// their role can be limited to exactly these (template.yaml,
// dynamodb:Attributes; TestKeyReadsMatchTheTemplate).
var eventMetadata = newProjection(slices.Concat(projected, leakAttrs, metaAttrs))

// GetKey reads a key's metadata with a strongly consistent read, never
// its verifier. A missing key is a NotFound error.
func (l *Lifecycle) GetKey(ctx context.Context, id string) (*keygate.Record, error) {
	return l.getKey(ctx, id, &eventMetadata)
}
