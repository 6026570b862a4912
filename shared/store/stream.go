package store

import (
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/keygate/keygate/shared/keygate"
)

// The identity DynamoDB gives stream records of items its TTL deleted.
const (
	ttlIdentityType      = "Service"
	ttlIdentityPrincipal = "dynamodb.amazonaws.com"
)

// The credits item of a lineage, as the stream sees it: pk
// USAGE#<lineage>, sk CREDITS (the metering code in store writes it).
const (
	streamUsagePrefix = "USAGE#"
	streamCreditsSK   = "CREDITS"
)

// DecodeChange reads one record of the table's stream (NEW_AND_OLD_IMAGES)
// as a lifecycle change: an audit record inserted (the outbox: every
// change of a key writes one in its own transaction), a key item that
// DynamoDB's TTL removed, or a lineage's credits item inserted or changed
// so that its pool fell below 10 % of its base (creditsLow). Every other
// record is nil: key and slots updates, rate windows, idempotency and
// notification items, deletions by anyone but the TTL. A record it cannot
// read is an error (a batch item failure).
func DecodeChange(rec events.DynamoDBEventRecord) (*keygate.Change, error) {
	if rec.EventName != string(events.DynamoDBOperationTypeRemove) &&
		strings.HasPrefix(streamString(rec.Change.NewImage, AttrPK), streamUsagePrefix) &&
		streamString(rec.Change.NewImage, AttrSK) == streamCreditsSK {
		c, err := creditsLow(rec)
		if err != nil {
			return nil, fmt.Errorf("stream record %s: %w", rec.EventID, err)
		}
		if c == nil {
			return nil, nil
		}
		return &keygate.Change{CreditsLow: c}, nil
	}
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

// streamString is a string attribute of a stream image, "" if it is
// absent or of another type.
func streamString(img map[string]events.DynamoDBAttributeValue, name string) string {
	v, ok := img[name]
	if !ok || v.DataType() != events.DataTypeString {
		return ""
	}
	return v.String()
}

// creditsLow is the credits item of an INSERT or MODIFY record when the
// change took its pool below 10 % of its base: the new image is below
// and the old one, if any, was not. Pools only shrink between sets and
// refills, so each (generation, refill period) crosses at most once; a
// set or refill raises the pool (and base) again. nil otherwise, and for
// a base of 0 (no credits to speak of).
func creditsLow(rec events.DynamoDBEventRecord) (*keygate.CreditsLow, error) {
	item, err := FromStreamImage(rec.Change.NewImage)
	if err != nil {
		return nil, err
	}
	pool, base, err := creditsPoolAndBase(item)
	if err != nil || !creditsBelow(pool, base) {
		return nil, err
	}
	if rec.Change.OldImage != nil {
		old, err := FromStreamImage(rec.Change.OldImage)
		if err != nil {
			return nil, err
		}
		oldPool, oldBase, err := creditsPoolAndBase(old)
		if err != nil || creditsBelow(oldPool, oldBase) {
			return nil, err
		}
	}
	c := &keygate.CreditsLow{
		Lineage:   strings.TrimPrefix(streamString(rec.Change.NewImage, AttrPK), streamUsagePrefix),
		KeyID:     streamString(rec.Change.NewImage, "key_id"),
		Tenant:    streamString(rec.Change.NewImage, "tenant"),
		Remaining: pool, Base: base,
		At: rec.Change.ApproximateCreationDateTime.UTC(),
	}
	if c.KeyID == "" || c.Tenant == "" {
		return nil, fmt.Errorf("credits item %s lacks key_id or tenant", c.Lineage)
	}
	if c.Gen, _, err = streamNumber(item, "gen"); err != nil {
		return nil, err
	}
	refill, ok, err := streamNumber(item, "refill_at")
	if err != nil {
		return nil, err
	}
	if ok {
		t := time.Unix(refill, 0).UTC()
		c.RefillAt = &t
	}
	return c, nil
}

// creditsBelow reports whether pool is under 10 % of a positive base.
func creditsBelow(pool, base int64) bool { return base > 0 && pool*10 < base }

func creditsPoolAndBase(item map[string]types.AttributeValue) (pool, base int64, err error) {
	if pool, _, err = streamNumber(item, "pool"); err != nil {
		return 0, 0, err
	}
	base, _, err = streamNumber(item, "base")
	return pool, base, err
}

// streamNumber is an integer attribute; ok is false if it is absent.
func streamNumber(item map[string]types.AttributeValue, name string) (n int64, ok bool, err error) {
	v, found := item[name]
	if !found {
		return 0, false, nil
	}
	num, isN := v.(*types.AttributeValueMemberN)
	if !isN {
		return 0, false, fmt.Errorf("attribute %s is not a number", name)
	}
	if n, err = strconv.ParseInt(num.Value, 10, 64); err != nil {
		return 0, false, fmt.Errorf("attribute %s: %w", name, err)
	}
	return n, true, nil
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
