// Package streamtest reads a DynamoDB Local table's stream with the
// DynamoDB Streams API (DescribeStream, GetShardIterator, GetRecords) and
// hands its records over as the Lambda event records the stream function
// receives, so the lifecycle tests run the consumer on real stream output.
package streamtest

import (
	"context"
	"encoding/json"
	"fmt"
	"reflect"
	"strings"
	"testing"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodbstreams"
	"github.com/aws/aws-sdk-go-v2/service/dynamodbstreams/types"
)

// Reader reads one table's stream from its start, remembering where each
// shard stopped, so every Read returns only records not read before.
type Reader struct {
	client *dynamodbstreams.Client
	arn    string
	next   map[string]*string // shard ID -> iterator
	done   map[string]bool    // closed shards read to their end
}

// NewReader opens the stream of table on the DynamoDB Local at endpoint.
func NewReader(t testing.TB, db *dynamodb.Client, endpoint, table string) *Reader {
	t.Helper()
	r, err := Open(context.Background(), db, endpoint, table)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// Open opens the stream of table on the DynamoDB Local at endpoint.
func Open(ctx context.Context, db *dynamodb.Client, endpoint, table string) (*Reader, error) {
	out, err := db.DescribeTable(ctx, &dynamodb.DescribeTableInput{TableName: &table})
	if err != nil {
		return nil, err
	}
	if out.Table.LatestStreamArn == nil {
		return nil, fmt.Errorf("table %s has no stream (store.TableDefinition enables one)", table)
	}
	return &Reader{
		client: dynamodbstreams.New(dynamodbstreams.Options{
			Region: "us-east-1", BaseEndpoint: aws.String(endpoint),
			Credentials: credentials.NewStaticCredentialsProvider("local", "local", ""),
		}),
		arn: *out.Table.LatestStreamArn, next: map[string]*string{}, done: map[string]bool{},
	}, nil
}

// Read returns the records written since the last Read, shard by shard.
func (r *Reader) Read(t testing.TB) []events.DynamoDBEventRecord {
	t.Helper()
	recs, err := r.Next(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return recs
}

// Next returns the records written since the last call, shard by shard.
func (r *Reader) Next(ctx context.Context) ([]events.DynamoDBEventRecord, error) {
	desc, err := r.client.DescribeStream(ctx, &dynamodbstreams.DescribeStreamInput{StreamArn: &r.arn})
	if err != nil {
		return nil, fmt.Errorf("describe stream: %w", err)
	}
	var out []events.DynamoDBEventRecord
	for _, sh := range desc.StreamDescription.Shards {
		id := aws.ToString(sh.ShardId)
		if r.done[id] {
			continue
		}
		it, ok := r.next[id]
		if !ok {
			res, err := r.client.GetShardIterator(ctx, &dynamodbstreams.GetShardIteratorInput{
				StreamArn: &r.arn, ShardId: sh.ShardId, ShardIteratorType: types.ShardIteratorTypeTrimHorizon,
			})
			if err != nil {
				return nil, fmt.Errorf("shard iterator: %w", err)
			}
			it = res.ShardIterator
		}
		for it != nil {
			res, err := r.client.GetRecords(ctx, &dynamodbstreams.GetRecordsInput{ShardIterator: it})
			if err != nil {
				return nil, fmt.Errorf("get records: %w", err)
			}
			for _, rec := range res.Records {
				out = append(out, Convert(rec, r.arn))
			}
			it = res.NextShardIterator
			if len(res.Records) == 0 {
				break
			}
		}
		if it == nil {
			r.done[id] = true
		}
		r.next[id] = it
	}
	return out, nil
}

// Convert is the Lambda event record of a stream record, as the event
// source mapping builds it.
func Convert(rec types.Record, arn string) events.DynamoDBEventRecord {
	out := events.DynamoDBEventRecord{
		AWSRegion:      aws.ToString(rec.AwsRegion),
		EventID:        aws.ToString(rec.EventID),
		EventName:      string(rec.EventName),
		EventSource:    aws.ToString(rec.EventSource),
		EventVersion:   aws.ToString(rec.EventVersion),
		EventSourceArn: arn,
	}
	if rec.UserIdentity != nil {
		out.UserIdentity = &events.DynamoDBUserIdentity{Type: aws.ToString(rec.UserIdentity.Type), PrincipalID: aws.ToString(rec.UserIdentity.PrincipalId)}
	}
	if d := rec.Dynamodb; d != nil {
		out.Change = events.DynamoDBStreamRecord{
			Keys:           image(d.Keys),
			NewImage:       image(d.NewImage),
			OldImage:       image(d.OldImage),
			SequenceNumber: aws.ToString(d.SequenceNumber),
			SizeBytes:      aws.ToInt64(d.SizeBytes),
			StreamViewType: string(d.StreamViewType),
		}
		if d.ApproximateCreationDateTime != nil {
			out.Change.ApproximateCreationDateTime = events.SecondsEpochTime{Time: *d.ApproximateCreationDateTime}
		}
	}
	return out
}

// image is the Lambda event's form of an SDK attribute map. It goes by way
// of DynamoDB JSON, the form the stream's wire and the Lambda event share,
// which events.DynamoDBAttributeValue reads itself (binary as base64).
func image(m map[string]types.AttributeValue) map[string]events.DynamoDBAttributeValue {
	if m == nil {
		return nil
	}
	b, err := json.Marshal(dynamoJSON(m))
	if err != nil {
		panic(err)
	}
	var out map[string]events.DynamoDBAttributeValue
	if err := json.Unmarshal(b, &out); err != nil {
		panic(err)
	}
	return out
}

// dynamoJSON gives v, an SDK attribute value or a Value inside one, the
// shape of its DynamoDB JSON: an attribute value becomes a one-member object
// named by its type, which is the SDK type's name after AttributeValueMember
// (AttributeValueMemberS: {"S": ...}), holding its Value; lists and maps of
// attribute values are converted element by element; anything else (strings,
// bools, string lists, bytes) encoding/json writes as it stands.
func dynamoJSON(v any) any {
	switch v := v.(type) {
	case []types.AttributeValue:
		l := make([]any, len(v))
		for i, e := range v {
			l[i] = dynamoJSON(e)
		}
		return l
	case map[string]types.AttributeValue:
		m := make(map[string]any, len(v))
		for k, e := range v {
			m[k] = dynamoJSON(e)
		}
		return m
	case types.AttributeValue:
		member := reflect.ValueOf(v).Elem()
		name, ok := strings.CutPrefix(member.Type().Name(), "AttributeValueMember")
		if !ok {
			panic(fmt.Sprintf("unknown attribute value type %T", v))
		}
		return map[string]any{name: dynamoJSON(member.FieldByName("Value").Interface())}
	}
	return v
}
