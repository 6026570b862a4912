package store

import (
	"context"
	"fmt"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/keygate/keygate/shared/keygate"
)

// KeysWithVerifier reads the keys ids name, each with its verifier, with
// strongly consistent BatchGetItem calls of up to 100 keys: the
// secret-scanning endpoint's one read for every token of an alert that
// carries this deployment's tag. The map holds the keys that exist; a key
// whose item is gone (TTL) is absent, not an error. IDs given twice are
// read once.
func (s *Store) KeysWithVerifier(ctx context.Context, ids []string) (map[string]*keygate.Record, error) {
	out := make(map[string]*keygate.Record, len(ids))
	seen := make(map[string]bool, len(ids))
	distinct := make([]string, 0, len(ids))
	for _, id := range ids {
		if !seen[id] {
			seen[id] = true
			distinct = append(distinct, id)
		}
	}
	err := s.batchGetKeys(ctx, distinct, nil, "keys", func(item map[string]types.AttributeValue) error {
		r, err := unmarshalRecord(item)
		if err != nil {
			return err
		}
		if seen[r.ID] {
			out[r.ID] = r
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// batchGetKeys reads the key items of ids (distinct: BatchGetItem refuses
// a request that names an item twice) with strongly consistent
// BatchGetItem calls of up to maxBatchGet keys, projected by p (nil: whole
// items), and hands each item read to found. Keys DynamoDB leaves
// unprocessed (throttling) are asked for again after a pause that grows
// with each attempt, up to maxAttempts; what the items are is named in
// errors.
func (s *Store) batchGetKeys(ctx context.Context, ids []string, p *projection, what string, found func(map[string]types.AttributeValue) error) error {
	for start := 0; start < len(ids); start += maxBatchGet {
		chunk := ids[start:min(start+maxBatchGet, len(ids))]
		keys := make([]map[string]types.AttributeValue, 0, len(chunk))
		for _, id := range chunk {
			keys = append(keys, keyItemKey(id))
		}
		ka := types.KeysAndAttributes{Keys: keys, ConsistentRead: aws.Bool(true)}
		if p != nil {
			ka.ProjectionExpression, ka.ExpressionAttributeNames = &p.expr, p.names
		}
		req := map[string]types.KeysAndAttributes{s.table: ka}
		for attempt := 0; len(req) > 0; attempt++ {
			if attempt == maxAttempts {
				return keygate.Errorf(keygate.Unavailable, "reading %s: too much contention, try again", what)
			}
			out, err := s.db.BatchGetItem(ctx, &dynamodb.BatchGetItemInput{RequestItems: req})
			if err != nil {
				return classify(fmt.Errorf("read %s of %d keys: %w", what, len(keys), err))
			}
			for _, item := range out.Responses[s.table] {
				if err := found(item); err != nil {
					return err
				}
			}
			req = out.UnprocessedKeys
			if len(req) > 0 {
				if err := sleep(ctx, time.Duration(10*(attempt+1))*time.Millisecond); err != nil {
					return keygate.Errorf(keygate.Unavailable, "request cancelled")
				}
			}
		}
	}
	return nil
}
