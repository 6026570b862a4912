package store

import (
	"context"
	"encoding/hex"
	"fmt"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/keygate/keygate/shared/keygate"
)

// The index of imported keys (docs/import.md): one partition, one small
// item per imported value, sk the hex of the value's lookup digest
// (apikey.Hasher.ImportDigest), naming the key. The import writes it in
// its transaction, conditioned on its absence, which makes the import
// idempotent; the authorizer reads the whole partition into memory, so a
// string that names no imported key costs no read. It holds no secret: a
// digest keyed with the tag seed, and key IDs, which are public.
const importsPK = "IMPORTS"

// importItem is the index item of k, removed by DynamoDB's TTL with the
// key (ttl 0: never).
func importItem(k keygate.ImportedKey, ttl int64) map[string]types.AttributeValue {
	item := primaryKey(importsPK, hex.EncodeToString(k.Digest[:]))
	item["key_id"] = attrS(k.KeyID)
	if ttl > 0 {
		item[AttrTTL] = attrN(ttl)
	}
	return item
}

// ImportKey stores an imported key as CreateKey stores a new one, with its
// index item in the same transaction: keygate.ErrAlreadyImported, and
// nothing written, if the value's digest is indexed already.
func (s *Store) ImportKey(ctx context.Context, r *keygate.Record, index keygate.ImportedKey, max int, now time.Time, audit keygate.Audit) error {
	_, err := s.mint(ctx, now, mintOp{rec: r, max: max, audits: []keygate.Audit{audit}, imported: &index})
	return err
}

// ImportedKeyID returns the key the value of digest was imported as; ok
// is false if it was not (a strongly consistent read).
func (s *Store) ImportedKeyID(ctx context.Context, digest [32]byte) (id string, ok bool, err error) {
	out, err := s.db.GetItem(ctx, &dynamodb.GetItemInput{
		TableName:      &s.table,
		Key:            primaryKey(importsPK, hex.EncodeToString(digest[:])),
		ConsistentRead: aws.Bool(true),
	})
	if err != nil {
		return "", false, classify(fmt.Errorf("read import index: %w", err))
	}
	if out.Item == nil {
		return "", false, nil
	}
	d := decoder{item: out.Item}
	id = d.str("key_id", true)
	return id, d.err == nil, d.err
}

// ImportedKeys reads the whole index of imported keys, page by page
// (eventually consistent: the authorizer refreshes it every minute).
func (s *Store) ImportedKeys(ctx context.Context) ([]keygate.ImportedKey, error) {
	var out []keygate.ImportedKey
	var start map[string]types.AttributeValue
	for {
		page, err := s.db.Query(ctx, &dynamodb.QueryInput{
			TableName:                 &s.table,
			KeyConditionExpression:    aws.String("pk = :pk"),
			ExpressionAttributeValues: map[string]types.AttributeValue{":pk": attrS(importsPK)},
			ProjectionExpression:      aws.String("sk, key_id"),
			ExclusiveStartKey:         start,
		})
		if err != nil {
			return nil, classify(fmt.Errorf("read import index: %w", err))
		}
		for _, item := range page.Items {
			d := decoder{item: item}
			sk, id := d.str(AttrSK, true), d.str("key_id", true)
			var k keygate.ImportedKey
			if n, err := hex.Decode(k.Digest[:], []byte(sk)); d.err != nil || err != nil || n != len(k.Digest) || len(sk) != 2*len(k.Digest) {
				return nil, fmt.Errorf("read import index: unreadable item %q", sk)
			}
			k.KeyID = id
			out = append(out, k)
		}
		if len(page.LastEvaluatedKey) == 0 {
			return out, nil
		}
		start = page.LastEvaluatedKey
	}
}
