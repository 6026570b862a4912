package store

import (
	"fmt"
	"strings"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/keygate/keygate/shared/keygate"
)

// The identity DynamoDB gives stream records of items its TTL deleted.
const (
	ttlIdentityType      = "Service"
	ttlIdentityPrincipal = "dynamodb.amazonaws.com"
)

// DecodeChange reads one record of the table's stream (NEW_AND_OLD_IMAGES)
// as a lifecycle change: an audit record inserted (the outbox: every
// change of a key writes one in its own transaction), or a key item that
// DynamoDB's TTL removed. Every other record is nil: key and slots
// updates, idempotency and notification items, deletions by anyone but
// the TTL. A record it cannot read is an error (a batch item failure).
func DecodeChange(rec events.DynamoDBEventRecord) (*keygate.Change, error) {
	switch rec.EventName {
	case string(events.DynamoDBOperationTypeInsert):
		item, err := FromStreamImage(rec.Change.NewImage)
		if err != nil {
			return nil, fmt.Errorf("stream record %s: %w", rec.EventID, err)
		}
		pk, _ := item[AttrPK].(*types.AttributeValueMemberS)
		if pk == nil || !strings.HasPrefix(pk.Value, "AUDIT#") {
			return nil, nil
		}
		a, err := unmarshalAudit(item)
		if err != nil {
			return nil, fmt.Errorf("stream record %s: %w", rec.EventID, err)
		}
		return &keygate.Change{AuditKey: keyOf(item), Audit: &a}, nil
	case string(events.DynamoDBOperationTypeRemove):
		id := rec.UserIdentity
		if id == nil || id.Type != ttlIdentityType || id.PrincipalID != ttlIdentityPrincipal {
			return nil, nil
		}
		item, err := FromStreamImage(rec.Change.OldImage)
		if err != nil {
			return nil, fmt.Errorf("stream record %s: %w", rec.EventID, err)
		}
		sk, _ := item[AttrSK].(*types.AttributeValueMemberS)
		if sk == nil || sk.Value != keySK {
			return nil, nil
		}
		r, err := unmarshalRecord(item)
		if err != nil {
			return nil, fmt.Errorf("stream record %s: %w", rec.EventID, err)
		}
		return &keygate.Change{Expired: r}, nil
	}
	return nil, nil
}

// FromStreamImage converts a stream image (the Lambda event's attribute
// values) into the SDK's, so items decode the same way from both.
func FromStreamImage(img map[string]events.DynamoDBAttributeValue) (map[string]types.AttributeValue, error) {
	if img == nil {
		return nil, fmt.Errorf("the record has no image (the stream must be NEW_AND_OLD_IMAGES)")
	}
	out := make(map[string]types.AttributeValue, len(img))
	for k, v := range img {
		av, err := fromStream(v)
		if err != nil {
			return nil, fmt.Errorf("attribute %s: %w", k, err)
		}
		out[k] = av
	}
	return out, nil
}

func fromStream(v events.DynamoDBAttributeValue) (types.AttributeValue, error) {
	switch v.DataType() {
	case events.DataTypeString:
		return &types.AttributeValueMemberS{Value: v.String()}, nil
	case events.DataTypeNumber:
		return &types.AttributeValueMemberN{Value: v.Number()}, nil
	case events.DataTypeBoolean:
		return &types.AttributeValueMemberBOOL{Value: v.Boolean()}, nil
	case events.DataTypeNull:
		return &types.AttributeValueMemberNULL{Value: true}, nil
	case events.DataTypeBinary:
		return &types.AttributeValueMemberB{Value: v.Binary()}, nil
	case events.DataTypeStringSet:
		return &types.AttributeValueMemberSS{Value: v.StringSet()}, nil
	case events.DataTypeNumberSet:
		return &types.AttributeValueMemberNS{Value: v.NumberSet()}, nil
	case events.DataTypeBinarySet:
		return &types.AttributeValueMemberBS{Value: v.BinarySet()}, nil
	case events.DataTypeList:
		l := v.List()
		out := make([]types.AttributeValue, len(l))
		for i, e := range l {
			av, err := fromStream(e)
			if err != nil {
				return nil, err
			}
			out[i] = av
		}
		return &types.AttributeValueMemberL{Value: out}, nil
	case events.DataTypeMap:
		m, err := FromStreamImage(v.Map())
		if err != nil {
			return nil, err
		}
		return &types.AttributeValueMemberM{Value: m}, nil
	}
	return nil, fmt.Errorf("unknown attribute type %d", v.DataType())
}
