package streamtest

import (
	"reflect"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodbstreams/types"
)

// TestConvert checks the Lambda record of a stream record holding every
// attribute value type, nested ones and binary (not UTF-8) included, and
// no old image (a nil OldImage, not an empty one).
func TestConvert(t *testing.T) {
	bin := []byte{0x00, 0xff, 0x80, 'k'}
	created := time.Unix(1700000000, 0)
	rec := types.Record{
		AwsRegion:    aws.String("us-east-1"),
		EventID:      aws.String("e1"),
		EventName:    types.OperationTypeModify,
		EventSource:  aws.String("aws:dynamodb"),
		EventVersion: aws.String("1.1"),
		UserIdentity: &types.Identity{Type: aws.String("Service"), PrincipalId: aws.String("dynamodb.amazonaws.com")},
		Dynamodb: &types.StreamRecord{
			ApproximateCreationDateTime: &created,
			Keys:                        map[string]types.AttributeValue{"pk": &types.AttributeValueMemberS{Value: "K#1"}},
			NewImage: map[string]types.AttributeValue{
				"s":    &types.AttributeValueMemberS{Value: "text"},
				"n":    &types.AttributeValueMemberN{Value: "12345678901234567890.5"},
				"bool": &types.AttributeValueMemberBOOL{Value: true},
				"null": &types.AttributeValueMemberNULL{Value: true},
				"b":    &types.AttributeValueMemberB{Value: bin},
				"ss":   &types.AttributeValueMemberSS{Value: []string{"a", "b"}},
				"ns":   &types.AttributeValueMemberNS{Value: []string{"1", "2.5"}},
				"bs":   &types.AttributeValueMemberBS{Value: [][]byte{bin, {1}}},
				"l": &types.AttributeValueMemberL{Value: []types.AttributeValue{
					&types.AttributeValueMemberB{Value: bin},
					&types.AttributeValueMemberL{Value: []types.AttributeValue{}},
					&types.AttributeValueMemberM{Value: map[string]types.AttributeValue{"x": &types.AttributeValueMemberN{Value: "7"}}},
				}},
				"m": &types.AttributeValueMemberM{Value: map[string]types.AttributeValue{
					"b":     &types.AttributeValueMemberB{Value: bin},
					"empty": &types.AttributeValueMemberM{Value: map[string]types.AttributeValue{}},
				}},
			},
			SequenceNumber: aws.String("100"),
			SizeBytes:      aws.Int64(42),
			StreamViewType: types.StreamViewTypeNewAndOldImages,
		},
	}
	want := events.DynamoDBEventRecord{
		AWSRegion:      "us-east-1",
		EventID:        "e1",
		EventName:      "MODIFY",
		EventSource:    "aws:dynamodb",
		EventVersion:   "1.1",
		EventSourceArn: "arn:stream",
		UserIdentity:   &events.DynamoDBUserIdentity{Type: "Service", PrincipalID: "dynamodb.amazonaws.com"},
		Change: events.DynamoDBStreamRecord{
			ApproximateCreationDateTime: events.SecondsEpochTime{Time: created},
			Keys:                        map[string]events.DynamoDBAttributeValue{"pk": events.NewStringAttribute("K#1")},
			NewImage: map[string]events.DynamoDBAttributeValue{
				"s":    events.NewStringAttribute("text"),
				"n":    events.NewNumberAttribute("12345678901234567890.5"),
				"bool": events.NewBooleanAttribute(true),
				"null": events.NewNullAttribute(),
				"b":    events.NewBinaryAttribute(bin),
				"ss":   events.NewStringSetAttribute([]string{"a", "b"}),
				"ns":   events.NewNumberSetAttribute([]string{"1", "2.5"}),
				"bs":   events.NewBinarySetAttribute([][]byte{bin, {1}}),
				"l": events.NewListAttribute([]events.DynamoDBAttributeValue{
					events.NewBinaryAttribute(bin),
					events.NewListAttribute([]events.DynamoDBAttributeValue{}),
					events.NewMapAttribute(map[string]events.DynamoDBAttributeValue{"x": events.NewNumberAttribute("7")}),
				}),
				"m": events.NewMapAttribute(map[string]events.DynamoDBAttributeValue{
					"b":     events.NewBinaryAttribute(bin),
					"empty": events.NewMapAttribute(map[string]events.DynamoDBAttributeValue{}),
				}),
			},
			SequenceNumber: "100",
			SizeBytes:      42,
			StreamViewType: "NEW_AND_OLD_IMAGES",
		},
	}
	got := Convert(rec, "arn:stream")
	if !reflect.DeepEqual(got, want) {
		t.Errorf("Convert =\n%#v\nwant\n%#v", got, want)
	}
}
