package store_test

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/keygate/keygate/infra/dynamotest"
	"github.com/keygate/keygate/shared/keygate"
	"github.com/keygate/keygate/shared/store"
)

// throttlingDB is the real DynamoDB Local client, except that the first
// BatchGetItem answer withholds one item and reports its key unprocessed,
// as DynamoDB does when it throttles part of a batch. It counts the keys
// each call asks for.
type throttlingDB struct {
	*dynamodb.Client
	mu        sync.Mutex
	calls     []int
	throttled bool
}

func (d *throttlingDB) BatchGetItem(ctx context.Context, in *dynamodb.BatchGetItemInput, opts ...func(*dynamodb.Options)) (*dynamodb.BatchGetItemOutput, error) {
	n := 0
	for _, ka := range in.RequestItems {
		n += len(ka.Keys)
		if ka.ConsistentRead == nil || !*ka.ConsistentRead {
			return nil, fmt.Errorf("an eventually consistent batch read")
		}
	}
	d.mu.Lock()
	d.calls = append(d.calls, n)
	throttle := !d.throttled
	d.throttled = true
	d.mu.Unlock()
	out, err := d.Client.BatchGetItem(ctx, in, opts...)
	if err != nil || !throttle {
		return out, err
	}
	for table, items := range out.Responses {
		if len(items) == 0 {
			continue
		}
		last := items[len(items)-1]
		out.Responses[table] = items[:len(items)-1]
		out.UnprocessedKeys = map[string]types.KeysAndAttributes{table: {
			Keys:           []map[string]types.AttributeValue{{store.AttrPK: last[store.AttrPK], store.AttrSK: last[store.AttrSK]}},
			ConsistentRead: in.RequestItems[table].ConsistentRead,
		}}
		break
	}
	return out, nil
}

// TestKeysWithVerifier: one consistent read per 100 keys, verifiers
// included; missing keys absent, not errors; duplicates read once; keys
// DynamoDB leaves unprocessed asked for again.
func TestKeysWithVerifier(t *testing.T) {
	client, table := dynamotest.NewTable(t)
	ctx := context.Background()
	now := time.Date(2026, 11, 23, 12, 0, 0, 0, time.UTC)
	setup := store.New(client, table)
	const stored = 130
	var ids []string
	for i := range stored {
		r := record(fmt.Sprintf("K%016d", i), fmt.Sprintf("owner%d", i), now)
		r.Verifier = fmt.Sprintf("hmac-sha256$verifier%d", i)
		if _, err := setup.CreateKey(ctx, r, 10, now, keygate.Audit{Action: keygate.ActionCreated, KeyID: r.ID, Tenant: "acme", At: now}, nil, nil); err != nil {
			t.Fatal(err)
		}
		ids = append(ids, r.ID)
	}
	tests := []struct {
		name  string
		ids   []string
		want  int   // keys found
		calls []int // keys asked for, per BatchGetItem call
	}{
		{"none", nil, 0, nil},
		{"one", ids[:1], 1, []int{1, 1}},
		{"missing and duplicated", []string{ids[0], "MISSINGMISSINGMIS", ids[0], ids[1]}, 2, []int{3, 1}},
		{"more than one batch", ids, stored, []int{100, 1, 30}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			db := &throttlingDB{Client: client}
			got, err := store.New(db, table).KeysWithVerifier(ctx, tt.ids)
			if err != nil {
				t.Fatal(err)
			}
			if len(got) != tt.want {
				t.Fatalf("found %d keys, want %d", len(got), tt.want)
			}
			for id, r := range got {
				var i int
				if _, err := fmt.Sscanf(id, "K%016d", &i); err != nil || r.ID != id || r.Verifier != fmt.Sprintf("hmac-sha256$verifier%d", i) || r.Tenant != "acme" {
					t.Errorf("key %s = %+v", id, r)
				}
			}
			if fmt.Sprint(db.calls) != fmt.Sprint(tt.calls) {
				t.Errorf("BatchGetItem asked for %v keys, want %v", db.calls, tt.calls)
			}
		})
	}
}
