package store

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/aws/smithy-go"
	"github.com/keygate/keygate/shared/keygate"
)

// DB is the part of the DynamoDB client the store uses.
type DB interface {
	GetItem(context.Context, *dynamodb.GetItemInput, ...func(*dynamodb.Options)) (*dynamodb.GetItemOutput, error)
	Query(context.Context, *dynamodb.QueryInput, ...func(*dynamodb.Options)) (*dynamodb.QueryOutput, error)
	UpdateItem(context.Context, *dynamodb.UpdateItemInput, ...func(*dynamodb.Options)) (*dynamodb.UpdateItemOutput, error)
	TransactWriteItems(context.Context, *dynamodb.TransactWriteItemsInput, ...func(*dynamodb.Options)) (*dynamodb.TransactWriteItemsOutput, error)
	BatchGetItem(context.Context, *dynamodb.BatchGetItemInput, ...func(*dynamodb.Options)) (*dynamodb.BatchGetItemOutput, error)
}

var _ DB = (*dynamodb.Client)(nil)

// Store reads and writes keys in one table.
type Store struct {
	db    DB
	table string
}

// New returns a Store on table.
func New(db DB, table string) *Store {
	return &Store{db: db, table: table}
}

// maxAttempts bounds optimistic-concurrency retries of a create. Contention
// is per owner (or per tenant for service keys), so a handful suffices even
// for bursts of parallel creates; past it the caller gets 503.
const maxAttempts = 30

// CreateKey stores a new key, its audit record, its place in the owner's
// (or tenant's) slots and, if idem is set, its idempotency record, in one
// transaction. A key takes a slot only while active: slots of keys that
// have expired by now are released on the way. If max slots are taken it
// returns a LimitExceeded error and writes nothing. If idem's record
// already exists it writes nothing and returns the earlier create's Replay.
// If actor is set (a key, not an operator, is acting), the transaction also
// holds that key to the item the service read (see actorCheck): the
// authorizer's cache may let a changed key through for seconds, but never
// to mint with what it no longer holds.
//
// The slots item carries a version; the transaction is conditioned on the
// version read, so parallel creates cannot both take the last slot.
func (s *Store) CreateKey(ctx context.Context, r *keygate.Record, max int, now time.Time, audit keygate.Audit, idem *keygate.Idempotency, actor *keygate.Record) (*keygate.Replay, error) {
	return s.mint(ctx, now, mintOp{rec: r, max: max, audits: []keygate.Audit{audit}, idem: idem, actor: actor})
}

// mintOp is what creating or rotating a key writes.
type mintOp struct {
	rec    *keygate.Record // the new key
	max    int             // slots of the owner (or tenant)
	audits []keygate.Audit
	idem   *keygate.Idempotency
	actor  *keygate.Record // the minting key as read; nil for an operator
	// A rotation: the old key, its shortened expiry and TTL. It keeps its
	// slot until that expiry, and the successor may take one slot over
	// max while it does.
	old        *keygate.Record
	oldExpires time.Time
	oldTTL     int64
	// An import: the index item naming the key by its value's lookup
	// digest, written only if there is none (the value is not imported
	// yet).
	imported *keygate.ImportedKey
}

func (s *Store) mint(ctx context.Context, now time.Time, op mintOp) (*keygate.Replay, error) {
	r := op.rec
	slotsKey := primaryKey(slotsPK(&r.Key), slotsSK)
	for attempt := 0; ; attempt++ {
		if op.idem != nil {
			replay, err := s.Replay(ctx, op.idem.PK, now)
			if replay != nil || err != nil {
				return replay, err
			}
		}
		out, err := s.db.GetItem(ctx, &dynamodb.GetItemInput{
			TableName:      &s.table,
			Key:            slotsKey,
			ConsistentRead: aws.Bool(true),
		})
		if err != nil {
			return nil, classify(fmt.Errorf("create key %s: read slots: %w", r.ID, err))
		}
		version, active := readSlots(out.Item, now)
		limit := op.max
		if op.old != nil {
			delete(active, op.old.ID)
			if op.oldExpires.After(now) {
				// One key in its grace period never blocks its successor;
				// a second one would (rotating again within the grace).
				active[op.old.ID] = attrN(op.oldExpires.Unix())
				limit++
			} else {
				// Without grace a rotation swaps one key for another.
				limit = len(active) + 1
			}
		}
		if len(active) >= limit {
			if op.old != nil {
				return nil, keygate.Errorf(keygate.LimitExceeded, "limit of %d active %s keys reached (a key in its grace period counts past the first); rotate with grace_seconds 0 or wait for the grace to end", op.max, r.Type)
			}
			return nil, keygate.Errorf(keygate.LimitExceeded, "limit of %d active %s keys reached", op.max, r.Type)
		}
		var exp int64
		if r.ExpiresAt != nil {
			exp = r.ExpiresAt.Unix()
		}
		active[r.ID] = attrN(exp)
		slotsItem := map[string]types.AttributeValue{
			AttrPK:    slotsKey[AttrPK],
			AttrSK:    slotsKey[AttrSK],
			"version": attrN(version + 1),
			"active":  &types.AttributeValueMemberM{Value: active},
		}
		cond := "attribute_not_exists(pk)"
		values := map[string]types.AttributeValue(nil)
		if version > 0 {
			cond = "version = :v"
			values = map[string]types.AttributeValue{":v": attrN(version)}
		}
		items := []types.TransactWriteItem{
			{Put: &types.Put{TableName: &s.table, Item: slotsItem, ConditionExpression: &cond, ExpressionAttributeValues: values}},
			{Put: &types.Put{TableName: &s.table, Item: marshalRecord(r), ConditionExpression: aws.String("attribute_not_exists(pk)")}},
		}
		oldAt := -1
		if op.old != nil {
			oldAt = len(items)
			u := rotatedUpdate(s.table, op.old, r.ID, op.oldExpires, op.oldTTL)
			if op.actor != nil && op.actor.ID == op.old.ID {
				// A key rotating itself: its own update carries the
				// actor's whole condition, expiry included.
				*u.ConditionExpression += " AND " + actorCondition(op.actor, now, u.ExpressionAttributeValues)
			}
			items = append(items, types.TransactWriteItem{Update: u})
		}
		// A metered key's credit balance: a new one for a new key, the
		// same one (its lineage's) for a successor. Unconditional: it
		// cannot cancel the transaction but by a conflict.
		switch {
		case r.Credits == nil:
		case op.old != nil:
			items = append(items, types.TransactWriteItem{Update: creditsPassOn(s.table, &r.Key)})
		default:
			items = append(items, types.TransactWriteItem{Update: creditsSet(s.table, &r.Key, now)})
		}
		importAt := -1
		if op.imported != nil {
			importAt = len(items)
			items = append(items, types.TransactWriteItem{Put: &types.Put{TableName: &s.table,
				Item: importItem(*op.imported, r.TTL), ConditionExpression: aws.String("attribute_not_exists(pk)")}})
		}
		auditsAt := len(items)
		for _, a := range op.audits {
			items = append(items, types.TransactWriteItem{Put: &types.Put{TableName: &s.table, Item: marshalAudit(a), ConditionExpression: aws.String("attribute_not_exists(pk)")}})
		}
		if op.idem != nil {
			// An expired record may linger until DynamoDB's TTL sweep: it
			// no longer counts. If another request took it, the next round
			// finds the record and answers with it.
			items = append(items, types.TransactWriteItem{Put: &types.Put{
				TableName:                 &s.table,
				Item:                      marshalIdempotency(op.idem, r.ID),
				ConditionExpression:       aws.String("attribute_not_exists(pk) OR #ttl <= :now"),
				ExpressionAttributeNames:  map[string]string{"#ttl": AttrTTL},
				ExpressionAttributeValues: map[string]types.AttributeValue{":now": attrN(now.Unix())},
			}})
		}
		actorAt := -1
		// A key rotating itself is held by its own update above (the
		// service passed its item as old): one transaction may not touch
		// an item twice.
		if op.actor != nil && (op.old == nil || op.old.ID != op.actor.ID) {
			actorAt = len(items)
			items = append(items, actorCheck(s.table, op.actor, now))
		}
		_, err = s.db.TransactWriteItems(ctx, &dynamodb.TransactWriteItemsInput{TransactItems: items})
		if err == nil {
			return nil, nil
		}
		reasons := cancellationReasons(err, len(items))
		failed := func(i int) bool { return i >= 0 && reasons[i] == "ConditionalCheckFailed" }
		switch {
		case reasons == nil:
			return nil, classify(fmt.Errorf("create key %s: %w", r.ID, err))
		case failed(actorAt):
			return nil, errActorChanged
		case failed(importAt):
			return nil, keygate.ErrAlreadyImported
		case failed(oldAt):
			return nil, keygate.Errorf(keygate.Conflict, "the key was rotated, revoked or changed meanwhile")
		case failed(1) || slices.Contains(reasons[auditsAt:auditsAt+len(op.audits)], "ConditionalCheckFailed"):
			// 96 random bits make an ID collision a broken random source.
			return nil, fmt.Errorf("create key %s: key or audit record already exists", r.ID)
		}
		if attempt+1 >= maxAttempts {
			return nil, keygate.Errorf(keygate.Unavailable, "too much contention, try again")
		}
		// Someone else changed the slots or took the idempotency key (or
		// the transaction conflicted): read again after a short random
		// pause so competitors spread out.
		if err := sleep(ctx, time.Duration(5+rand.IntN(20*(attempt+1)))*time.Millisecond); err != nil {
			return nil, keygate.Errorf(keygate.Unavailable, "request cancelled")
		}
	}
}

// Replay returns the unexpired idempotency record pk, or nil if there is
// none.
func (s *Store) Replay(ctx context.Context, pk string, now time.Time) (*keygate.Replay, error) {
	out, err := s.db.GetItem(ctx, &dynamodb.GetItemInput{
		TableName:      &s.table,
		Key:            primaryKey(pk, idemSK),
		ConsistentRead: aws.Bool(true),
	})
	if err != nil {
		return nil, classify(fmt.Errorf("read idempotency record: %w", err))
	}
	if out.Item == nil {
		return nil, nil
	}
	d := decoder{item: out.Item}
	r := &keygate.Replay{KeyID: d.str("key_id", true), RequestHash: d.str("request_hash", true), Sealed: d.str("sealed", true)}
	if d.err != nil {
		return nil, fmt.Errorf("read idempotency record: %w", d.err)
	}
	if v, ok := out.Item[AttrTTL].(*types.AttributeValueMemberN); ok {
		if ttl, _ := strconv.ParseInt(v.Value, 10, 64); ttl <= now.Unix() {
			return nil, nil
		}
	}
	return r, nil
}

// readSlots returns the slots version and the slots of keys still active at now.
func readSlots(item map[string]types.AttributeValue, now time.Time) (int64, map[string]types.AttributeValue) {
	active := map[string]types.AttributeValue{}
	if item == nil {
		return 0, active
	}
	var version int64
	if v, ok := item["version"].(*types.AttributeValueMemberN); ok {
		version, _ = strconv.ParseInt(v.Value, 10, 64)
	}
	if m, ok := item["active"].(*types.AttributeValueMemberM); ok {
		for id, v := range m.Value {
			exp := int64(0)
			if nv, ok := v.(*types.AttributeValueMemberN); ok {
				exp, _ = strconv.ParseInt(nv.Value, 10, 64)
			}
			if exp == 0 || exp > now.Unix() {
				active[id] = v
			}
		}
	}
	return version, active
}

// cancellationReasons returns the code of each of n transaction items, ""
// where there is none, or nil if err is not a cancelled transaction.
func cancellationReasons(err error, n int) []string {
	var tce *types.TransactionCanceledException
	if !errors.As(err, &tce) {
		return nil
	}
	reasons := make([]string, n)
	for i, r := range tce.CancellationReasons {
		if i < len(reasons) {
			reasons[i] = aws.ToString(r.Code)
		}
	}
	return reasons
}

func sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// GetKey reads a key's metadata with a strongly consistent read, so a
// revocation is seen by the next read; never its verifier (the record's
// Verifier is empty). A missing key is a NotFound error. Management reads
// keys this way only.
func (s *Store) GetKey(ctx context.Context, id string) (*keygate.Record, error) {
	return s.getKey(ctx, id, &keyMetadata)
}

// GetKeyWithVerifier reads a key with its verifier, with a strongly
// consistent read: the authorizer's read, the one path that checks
// tokens. A missing key is a NotFound error.
func (s *Store) GetKeyWithVerifier(ctx context.Context, id string) (*keygate.Record, error) {
	return s.getKey(ctx, id, nil)
}

func (s *Store) getKey(ctx context.Context, id string, p *projection) (*keygate.Record, error) {
	in := &dynamodb.GetItemInput{
		TableName:      &s.table,
		Key:            keyItemKey(id),
		ConsistentRead: aws.Bool(true),
	}
	if p != nil {
		in.ProjectionExpression, in.ExpressionAttributeNames = &p.expr, p.names
	}
	out, err := s.db.GetItem(ctx, in)
	if err != nil {
		return nil, classify(fmt.Errorf("get key %s: %w", id, err))
	}
	if out.Item == nil {
		return nil, keygate.Errorf(keygate.NotFound, "key not found")
	}
	return unmarshalRecord(out.Item)
}

// keyMetadata is what GetKey reads of a key item: the attributes GSI1
// projects, the lineage, the leak report, the usage limits, the meta and
// external_id, and the TTL (revoke keeps the
// earlier of its TTL and the new one), never the verifier. The list function's role may read exactly
// these (template.yaml, ListFunction, ReadKeyMetadataOnly;
// TestKeyReadsMatchTheTemplate), so the list path cannot read a verifier
// even by mistake.
var keyMetadata = newProjection(slices.Concat(projected, lineageAttrs, leakAttrs, limitAttrs, metaAttrs, []string{AttrTTL}))

// lineageRead is what FillLineage reads of each key item.
var lineageRead = newProjection(append([]string{"id"}, lineageAttrs...))

// maxBatchGet is BatchGetItem's limit of keys per call.
const maxBatchGet = 100

// FillLineage sets the lineage fields of recs (records from a listing,
// which no index projects them into) from their key items, with strongly
// consistent reads, up to 100 keys a call. A key whose item is gone keeps
// empty fields.
func (s *Store) FillLineage(ctx context.Context, recs []*keygate.Record) error {
	byID := make(map[string]*keygate.Record, len(recs))
	ids := make([]string, 0, len(recs))
	for _, r := range recs {
		byID[r.ID] = r
		ids = append(ids, r.ID)
	}
	return s.batchGetKeys(ctx, ids, &lineageRead, "lineages", func(item map[string]types.AttributeValue) error {
		id, _ := item["id"].(*types.AttributeValueMemberS)
		if id == nil || byID[id.Value] == nil {
			return nil
		}
		r := byID[id.Value]
		if v, ok := item["lineage"].(*types.AttributeValueMemberS); ok {
			r.Lineage = v.Value
		}
		if v, ok := item["parent_lineage"].(*types.AttributeValueMemberS); ok {
			r.ParentLineage = v.Value
		}
		return nil
	})
}

// projection is a ProjectionExpression and its attribute names: each
// attribute through a placeholder, since name, type, role, owner and ttl
// are reserved words or may become so.
type projection struct {
	attrs []string
	expr  string
	names map[string]string
}

func newProjection(attrs []string) projection {
	p := projection{attrs: attrs, names: map[string]string{}}
	parts := make([]string, len(attrs))
	for i, a := range attrs {
		n := "#a" + strconv.Itoa(i)
		p.names[n], parts[i] = a, n
	}
	p.expr = strings.Join(parts, ", ")
	return p
}

// maxPages bounds the reads of one listing when a status filter passes over
// most keys.
const maxPages = 10

// ListKeys returns up to q.Limit keys and a cursor for the next page ("" when
// there is none). Records come from GSI1 (or, with q.ExternalID, from the
// items GSI3 names) and have no verifier; their meta and external_id are
// read from the items, which GSI1 does not carry, with one BatchGetItem
// (unless q.SkipMeta).
// Status is derived, so it cannot be a DynamoDB filter: keys of another
// status are read and passed over, up to maxPages reads per call.
func (s *Store) ListKeys(ctx context.Context, q keygate.KeyQuery) ([]*keygate.Record, string, error) {
	if q.ExternalID != "" {
		return s.listByExternalID(ctx, q)
	}
	cond := "gsi1pk = :pk"
	values := map[string]types.AttributeValue{":pk": attrS(tenantPK(q.Tenant))}
	if q.Owner != "" {
		cond += " AND begins_with(gsi1sk, :owner)"
		values[":owner"] = attrS(q.Owner + "#")
	}
	var start map[string]types.AttributeValue
	if q.Cursor != "" {
		sk, ok := openListCursor(q.Cursor, "", q.Owner)
		if !ok {
			return nil, "", keygate.Errorf(keygate.Invalid, "cursor is not valid for this listing")
		}
		_, id, _ := parseCursor(sk)
		start = map[string]types.AttributeValue{
			AttrPK: attrS(keyPK(id)), AttrSK: attrS(keySK),
			AttrGSI1PK: values[":pk"], AttrGSI1SK: attrS(sk),
		}
	}
	var keys []*keygate.Record
	var next string
	for page := 0; page < maxPages; page++ {
		out, err := s.db.Query(ctx, &dynamodb.QueryInput{
			TableName:                 &s.table,
			IndexName:                 aws.String(GSI1),
			KeyConditionExpression:    &cond,
			ExpressionAttributeValues: values,
			ExclusiveStartKey:         start,
			Limit:                     aws.Int32(int32(q.Limit - len(keys))),
		})
		if err != nil {
			return nil, "", classify(fmt.Errorf("list keys of %s: %w", q.Tenant, err))
		}
		for _, item := range out.Items {
			r, err := unmarshalRecord(item)
			if err != nil {
				return nil, "", err
			}
			if q.Status == "" || r.StatusAt(q.At) == q.Status {
				keys = append(keys, r)
			}
		}
		if start = out.LastEvaluatedKey; start == nil || len(keys) == q.Limit {
			break
		}
	}
	if start != nil {
		// Resume after the last key read, whether or not it was kept.
		var err error
		if next, err = listCursor(start, AttrGSI1SK, ""); err != nil {
			return nil, "", fmt.Errorf("list keys of %s: %w", q.Tenant, err)
		}
	}
	if !q.SkipMeta {
		if err := s.fillMeta(ctx, keys); err != nil {
			return nil, "", err
		}
	}
	return keys, next, nil
}

// extCursor marks a cursor of a listing by external_id (GSI3's position),
// so that it never passes for GSI1's: "." is not in base64url's alphabet.
const extCursor = "ext."

// listCursor is the cursor of a listing that stopped at start (a
// LastEvaluatedKey): its sort key in the index, base64url-encoded, after
// prefix.
func listCursor(start map[string]types.AttributeValue, skAttr, prefix string) (string, error) {
	sk, _ := start[skAttr].(*types.AttributeValueMemberS)
	if sk == nil {
		return "", fmt.Errorf("last evaluated key lacks %s", skAttr)
	}
	return prefix + base64.RawURLEncoding.EncodeToString([]byte(sk.Value)), nil
}

// openListCursor reads a cursor listCursor made with prefix, for a
// listing of owner's keys ("" for any owner): the index sort key it holds.
func openListCursor(cursor, prefix, owner string) (string, bool) {
	rest, ok := strings.CutPrefix(cursor, prefix)
	if !ok {
		return "", false
	}
	raw, err := base64.RawURLEncoding.DecodeString(rest)
	if err != nil {
		return "", false
	}
	o, _, ok := parseCursor(string(raw))
	if !ok || (owner != "" && o != owner) {
		return "", false
	}
	return string(raw), true
}

// listByExternalID is ListKeys with q.ExternalID: the keys GSI3 holds
// under it (keys only), each page's items read with one BatchGetItem and
// kept if they still carry that external_id (the index lags writes) and
// have q.Status. Its cursor is GSI3's position (extCursor).
func (s *Store) listByExternalID(ctx context.Context, q keygate.KeyQuery) ([]*keygate.Record, string, error) {
	cond := "gsi3pk = :pk"
	values := map[string]types.AttributeValue{":pk": attrS(extIndexPK(q.Tenant, q.ExternalID))}
	if q.Owner != "" {
		cond += " AND begins_with(gsi3sk, :owner)"
		values[":owner"] = attrS(q.Owner + "#")
	}
	var start map[string]types.AttributeValue
	if q.Cursor != "" {
		sk, ok := openListCursor(q.Cursor, extCursor, q.Owner)
		if !ok {
			return nil, "", keygate.Errorf(keygate.Invalid, "cursor is not valid for this listing")
		}
		_, id, _ := parseCursor(sk)
		start = map[string]types.AttributeValue{
			AttrPK: attrS(keyPK(id)), AttrSK: attrS(keySK),
			AttrGSI3PK: values[":pk"], AttrGSI3SK: attrS(sk),
		}
	}
	var keys []*keygate.Record
	for page := 0; page < maxPages; page++ {
		out, err := s.db.Query(ctx, &dynamodb.QueryInput{
			TableName:                 &s.table,
			IndexName:                 aws.String(GSI3),
			KeyConditionExpression:    &cond,
			ExpressionAttributeValues: values,
			ExclusiveStartKey:         start,
			Limit:                     aws.Int32(int32(q.Limit - len(keys))),
		})
		if err != nil {
			return nil, "", classify(fmt.Errorf("list keys of %s by external_id: %w", q.Tenant, err))
		}
		ids := make([]string, 0, len(out.Items))
		for _, item := range out.Items {
			pk, _ := item[AttrPK].(*types.AttributeValueMemberS)
			if id, ok := strings.CutPrefix(pkValue(pk), "KEY#"); ok {
				ids = append(ids, id)
			}
		}
		byID := make(map[string]*keygate.Record, len(ids))
		err = s.batchGetKeys(ctx, ids, &keyMetadata, "keys", func(item map[string]types.AttributeValue) error {
			r, err := unmarshalRecord(item)
			if err != nil {
				return err
			}
			byID[r.ID] = r
			return nil
		})
		if err != nil {
			return nil, "", err
		}
		for _, id := range ids {
			r := byID[id]
			if r == nil || r.Tenant != q.Tenant || r.ExternalID != q.ExternalID || (q.Owner != "" && r.Owner != q.Owner) {
				continue // gone (TTL), or changed since the index saw it
			}
			if q.Status == "" || r.StatusAt(q.At) == q.Status {
				keys = append(keys, r)
			}
		}
		if start = out.LastEvaluatedKey; start == nil {
			return keys, "", nil
		}
		if len(keys) == q.Limit {
			break
		}
	}
	next, err := listCursor(start, AttrGSI3SK, extCursor)
	if err != nil {
		return nil, "", fmt.Errorf("list keys of %s by external_id: %w", q.Tenant, err)
	}
	return keys, next, nil
}

func pkValue(v *types.AttributeValueMemberS) string {
	if v == nil {
		return ""
	}
	return v.Value
}

// metaRead is what fillMeta reads of each key item.
var metaRead = newProjection(append([]string{"id"}, metaAttrs...))

// fillMeta sets the meta and external_id of recs (records from GSI1,
// which does not carry them) from their items, with one strongly
// consistent BatchGetItem per 100 keys. A key whose item is gone keeps
// none.
func (s *Store) fillMeta(ctx context.Context, recs []*keygate.Record) error {
	byID := make(map[string]*keygate.Record, len(recs))
	ids := make([]string, 0, len(recs))
	for _, r := range recs {
		if byID[r.ID] == nil {
			ids = append(ids, r.ID)
		}
		byID[r.ID] = r
	}
	return s.batchGetKeys(ctx, ids, &metaRead, "meta", func(item map[string]types.AttributeValue) error {
		d := decoder{item: item}
		r := byID[d.str("id", true)]
		if r == nil {
			return nil
		}
		if meta := d.str("meta", false); meta != "" {
			r.Meta = json.RawMessage(meta)
		}
		r.ExternalID = d.str("external_id", false)
		r.Imported = importedFlag(item)
		if d.err != nil {
			return fmt.Errorf("read meta of key %s: %w", r.ID, d.err)
		}
		return nil
	})
}

// maxRevokeBatch is the most keys one transaction of RevokeKeys takes: each
// needs an update and an audit record, and each owner's slots one update,
// within DynamoDB's 100 items per transaction.
const maxRevokeBatch = 30

// RevokeKeys revokes keys in transactions of up to maxRevokeBatch: each
// batch is all its keys, with their audit records and released slots, or
// none. It returns the IDs revoked before an error. Every key must still be
// unrevoked: else its batch writes nothing and the error is a
// *keygate.ChangedError naming it. Revoking one key is one transaction.
// Every batch also holds actor (the acting key, nil for an operator) to the
// item the service read, at time at; a key among revs that is the actor
// carries that condition in its own update, so it should come last.
func (s *Store) RevokeKeys(ctx context.Context, at time.Time, revs []keygate.Revocation, actor *keygate.Record) ([]string, error) {
	var done []string
	for start := 0; start < len(revs); start += maxRevokeBatch {
		batch := revs[start:min(start+maxRevokeBatch, len(revs))]
		if err := s.revokeBatch(ctx, at, batch, actor); err != nil {
			return done, err
		}
		for _, rv := range batch {
			done = append(done, rv.Record.ID)
		}
	}
	return done, nil
}

func (s *Store) revokeBatch(ctx context.Context, at time.Time, revs []keygate.Revocation, actor *keygate.Record) error {
	items, owners, actorAt := s.revokeWrites(at, revs, actor)
	_, err := s.db.TransactWriteItems(ctx, &dynamodb.TransactWriteItemsInput{TransactItems: items})
	if err == nil {
		return nil
	}
	reasons := cancellationReasons(err, len(items))
	if reasons == nil {
		return classify(fmt.Errorf("revoke %d keys: %w", len(revs), err))
	}
	if actorAt >= 0 && reasons[actorAt] == "ConditionalCheckFailed" {
		return errActorChanged
	}
	for i, code := range reasons {
		if code != "ConditionalCheckFailed" {
			continue
		}
		if owners[i] != "" {
			return &keygate.ChangedError{ID: owners[i]}
		}
		return fmt.Errorf("revoke %d keys: audit record exists or slots item missing", len(revs))
	}
	if slices.Contains(reasons, "TransactionConflict") {
		// A parallel create or revoke for the same owner holds the slots
		// item (or a key): retryable, not a server fault.
		return keygate.Errorf(keygate.Unavailable, "key is being changed, try again")
	}
	return classify(fmt.Errorf("revoke %d keys: %w", len(revs), err))
}

// revokeWrites are the writes that revoke revs in one transaction: per
// key, its update (revoked_at and the shortened TTL, on condition that it
// exists unrevoked) followed by its audit record, then one update per slots item
// releasing the keys' slots, and the actor's check unless a key among revs
// is the actor. owners[i] is the key whose condition items[i] holds, ""
// for the others; actorAt is the item holding the actor, -1 for none.
func (s *Store) revokeWrites(at time.Time, revs []keygate.Revocation, actor *keygate.Record) (items []types.TransactWriteItem, owners []string, actorAt int) {
	items = make([]types.TransactWriteItem, 0, 3*len(revs)+1)
	actorAt = -1
	slots := map[string][]string{} // slots PK -> key IDs leaving it
	var slotOrder []string
	for _, rv := range revs {
		r := rv.Record
		cond := "attribute_exists(pk) AND attribute_not_exists(revoked_at)"
		values := map[string]types.AttributeValue{":at": attrS(formatTime(at)), ":ttl": attrN(rv.TTL)}
		if actor != nil && actor.ID == r.ID {
			// A key revoking itself: its own update holds it as read.
			actorAt = len(items)
			cond += " AND " + actorCondition(actor, at, values)
		}
		items = append(items, types.TransactWriteItem{Update: &types.Update{
			TableName:                 &s.table,
			Key:                       keyItemKey(r.ID),
			UpdateExpression:          aws.String("SET revoked_at = :at, #ttl = :ttl"),
			ConditionExpression:       &cond,
			ExpressionAttributeNames:  map[string]string{"#ttl": AttrTTL},
			ExpressionAttributeValues: values,
		}}, types.TransactWriteItem{Put: &types.Put{
			TableName: &s.table, Item: marshalAudit(rv.Audit), ConditionExpression: aws.String("attribute_not_exists(pk)"),
		}})
		owners = append(owners, r.ID, "")
		pk := slotsPK(&r.Key)
		if _, ok := slots[pk]; !ok {
			slotOrder = append(slotOrder, pk)
		}
		slots[pk] = append(slots[pk], r.ID)
	}
	for _, pk := range slotOrder {
		names := map[string]string{}
		removes := make([]string, len(slots[pk]))
		for i, id := range slots[pk] {
			n := "#id" + strconv.Itoa(i)
			names[n] = id
			removes[i] = "active." + n
		}
		items = append(items, types.TransactWriteItem{Update: &types.Update{
			TableName:                 &s.table,
			Key:                       primaryKey(pk, slotsSK),
			UpdateExpression:          aws.String("REMOVE " + strings.Join(removes, ", ") + " ADD version :one"),
			ConditionExpression:       aws.String("attribute_exists(pk)"),
			ExpressionAttributeNames:  names,
			ExpressionAttributeValues: map[string]types.AttributeValue{":one": attrN(1)},
		}})
		owners = append(owners, "")
	}
	if actor != nil && actorAt < 0 {
		actorAt = len(items)
		items = append(items, actorCheck(s.table, actor, at))
		owners = append(owners, "")
	}
	return items, owners, actorAt
}

// TouchLastUsed sets last_used_at to at unless it is already later than
// at-interval, so a busy key costs one write per interval. It reports
// whether it wrote.
func (s *Store) TouchLastUsed(ctx context.Context, id string, at time.Time, interval time.Duration) (bool, error) {
	return s.updateKeyIf(ctx, "touch", id, condUpdate{
		set:    "SET last_used_at = :at",
		when:   "attribute_exists(pk) AND (attribute_not_exists(last_used_at) OR last_used_at <= :before)",
		values: map[string]types.AttributeValue{":at": attrS(formatTime(at)), ":before": attrS(formatTime(at.Add(-interval)))},
	})
}

// condUpdate is an update expression that applies only when its
// condition holds.
type condUpdate struct {
	set, when string
	values    map[string]types.AttributeValue
}

// updateKeyIf runs u on key id's item and reports whether it wrote: a
// failed condition is not an error.
func (s *Store) updateKeyIf(ctx context.Context, what, id string, u condUpdate) (bool, error) {
	_, err := s.db.UpdateItem(ctx, &dynamodb.UpdateItemInput{
		TableName:                 &s.table,
		Key:                       keyItemKey(id),
		UpdateExpression:          &u.set,
		ConditionExpression:       &u.when,
		ExpressionAttributeValues: u.values,
	})
	var ccf *types.ConditionalCheckFailedException
	if errors.As(err, &ccf) {
		return false, nil
	}
	if err != nil {
		return false, classify(fmt.Errorf("%s key %s: %w", what, id, err))
	}
	return true, nil
}

// RestampVerifier sets a key's verifier to next if it is still old (the
// pepper rotated since the key was stamped); it reports whether it wrote.
func (s *Store) RestampVerifier(ctx context.Context, id, old, next string) (bool, error) {
	return s.updateKeyIf(ctx, "restamp", id, condUpdate{
		set:    "SET verifier = :next",
		when:   "verifier = :old",
		values: map[string]types.AttributeValue{":old": attrS(old), ":next": attrS(next)},
	})
}

// classify marks errors that mean "try again later" as Unavailable, so
// callers answer 503 rather than 500. The SDK has already retried them.
func classify(err error) error {
	var api smithy.APIError
	if errors.As(err, &api) {
		switch api.ErrorCode() {
		case "ProvisionedThroughputExceededException", "ThrottlingException", "RequestLimitExceeded",
			"InternalServerError", "ServiceUnavailable", "TransactionInProgressException", "LimitExceededException":
			return &keygate.Error{Code: keygate.Unavailable, Message: "storage is temporarily unavailable", Err: err}
		}
		return err
	}
	if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return &keygate.Error{Code: keygate.Unavailable, Message: "storage did not answer in time", Err: err}
	}
	// Anything else that is not an API answer is a transport failure:
	// connection refused, reset, DNS, retry quota exhausted.
	return &keygate.Error{Code: keygate.Unavailable, Message: "storage is temporarily unavailable", Err: err}
}
