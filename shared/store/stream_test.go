package store

import (
	"strconv"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
)

// creditsImage is a credits item as a stream image; refillAt 0 is none,
// and a negative base leaves base out.
func creditsImage(pk, sk string, pool, base, refillAt int64) map[string]events.DynamoDBAttributeValue {
	n := func(v int64) events.DynamoDBAttributeValue {
		return events.NewNumberAttribute(strconv.FormatInt(v, 10))
	}
	img := map[string]events.DynamoDBAttributeValue{
		AttrPK: events.NewStringAttribute(pk), AttrSK: events.NewStringAttribute(sk),
		"pool": n(pool), "gen": n(4), "tenant": events.NewStringAttribute("acme"), "key_id": events.NewStringAttribute("k2"),
	}
	if base >= 0 {
		img["base"] = n(base)
	}
	if refillAt != 0 {
		img["refill_at"] = n(refillAt)
	}
	return img
}

// TestDecodeCreditsLow: a credits item's INSERT or MODIFY is a CreditsLow
// change exactly when it takes the pool below 10 % of a positive base.
func TestDecodeCreditsLow(t *testing.T) {
	const pk, sk = "USAGE#k1", "CREDITS"
	at := time.Date(2026, 11, 23, 12, 0, 0, 0, time.UTC)
	tests := []struct {
		name     string
		event    string
		old, new map[string]events.DynamoDBAttributeValue
		low      bool
		err      bool
	}{
		{"crosses", "MODIFY", creditsImage(pk, sk, 10, 100, 0), creditsImage(pk, sk, 9, 100, 0), true, false},
		{"stays at 10 %", "MODIFY", creditsImage(pk, sk, 11, 100, 0), creditsImage(pk, sk, 10, 100, 0), false, false},
		{"already below", "MODIFY", creditsImage(pk, sk, 9, 100, 0), creditsImage(pk, sk, 3, 100, 0), false, false},
		{"inserted below", "INSERT", nil, creditsImage(pk, sk, 3, 100, 1800000000), true, false},
		{"inserted full", "INSERT", nil, creditsImage(pk, sk, 100, 100, 0), false, false},
		{"a refill back above", "MODIFY", creditsImage(pk, sk, 0, 100, 0), creditsImage(pk, sk, 99, 100, 0), false, false},
		{"a set to a small balance is full, not low", "MODIFY", creditsImage(pk, sk, 500, 1000, 0), creditsImage(pk, sk, 5, 5, 0), false, false},
		{"base 0", "MODIFY", creditsImage(pk, sk, 5, 100, 0), creditsImage(pk, sk, 0, 0, 0), false, false},
		{"old image without base", "MODIFY", creditsImage(pk, sk, 5, -1, 0), creditsImage(pk, sk, 1, 100, 0), true, false},
		{"a rate window", "MODIFY", creditsImage(pk, "RATE#1800000000", 10, 100, 0), creditsImage(pk, "RATE#1800000000", 9, 100, 0), false, false},
		{"a removal", "REMOVE", creditsImage(pk, sk, 10, 100, 0), nil, false, false},
		{"pool not a number", "MODIFY", nil, func() map[string]events.DynamoDBAttributeValue {
			img := creditsImage(pk, sk, 1, 100, 0)
			img["pool"] = events.NewStringAttribute("1")
			return img
		}(), false, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rec := events.DynamoDBEventRecord{EventID: "e1", EventName: tt.event, Change: events.DynamoDBStreamRecord{
				OldImage: tt.old, NewImage: tt.new, ApproximateCreationDateTime: events.SecondsEpochTime{Time: at},
			}}
			ch, err := DecodeChange(rec)
			if (err != nil) != tt.err {
				t.Fatalf("err = %v, want an error: %v", err, tt.err)
			}
			if got := ch != nil && ch.CreditsLow != nil; got != tt.low {
				t.Fatalf("change %+v, want credits low: %v", ch, tt.low)
			}
			if !tt.low {
				return
			}
			c := ch.CreditsLow
			if c.Lineage != "k1" || c.KeyID != "k2" || c.Tenant != "acme" || c.Gen != 4 || c.Base != 100 || !c.At.Equal(at) {
				t.Fatalf("credits low %+v", c)
			}
			if _, ok := tt.new["refill_at"]; ok != (c.RefillAt != nil) || (ok && c.RefillAt.Unix() != 1800000000) {
				t.Fatalf("refill_at %v", c.RefillAt)
			}
		})
	}
}
