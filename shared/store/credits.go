package store

import (
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/keygate/keygate/shared/keygate"
)

// A metered key's counters are items of their own, keyed by its lineage
// (keygate.Key.LineageID) so that a rotation chain shares one budget and
// metering never writes the key item:
//
//	pk                 sk                     what
//	USAGE#<lineage>    CREDITS                the credit balance (pool) and its refill
//	USAGE#<lineage>    RATE#<window start>    calls leased in one rate window
//
// Management writes the CREDITS item in the same transaction as the key:
// creating a key with credits puts it, a PATCH of credits sets it (or
// deletes it), a rotation passes it to the successor.

// usagePartition is the partition of a lineage's counters.
func usagePartition(lineage string) string { return "USAGE#" + lineage }

const creditsSK = "CREDITS"

// creditsItemKey is the primary key of a lineage's CREDITS item.
func creditsItemKey(lineage string) map[string]types.AttributeValue {
	return primaryKey(usagePartition(lineage), creditsSK)
}

// poolNames stand for attributes DynamoDB reserves the names of (pool)
// or may.
var poolNames = map[string]string{"#pool": "pool", "#base": "base"}

// creditsSet sets k's CREDITS item to k.Credits as management gives it:
// the pool and its base to the balance set, the refill (due at the next
// interval after now) or none, and the generation bumped so metering's
// leases from before are told apart. It creates the item if there is none.
func creditsSet(table string, k *keygate.Key, now time.Time) *types.Update {
	c := k.Credits
	values := map[string]types.AttributeValue{
		":pool": attrN(c.Remaining), ":tenant": attrS(k.Tenant), ":key": attrS(k.ID), ":zero": attrN(0), ":one": attrN(1),
	}
	set := []string{"#pool = :pool", "#base = :pool", "tenant = :tenant", "key_id = :key", "gen = if_not_exists(gen, :zero) + :one"}
	var remove []string
	if r := c.Refill; r != nil {
		set = append(set, "refill_amount = :amount", "refill_interval = :interval", "refill_at = :at")
		values[":amount"], values[":interval"], values[":at"] = attrN(r.Amount), attrS(r.Interval), attrN(r.Next(now).Unix())
	} else {
		remove = append(remove, "refill_amount", "refill_interval", "refill_at")
	}
	expr := "SET " + strings.Join(set, ", ")
	if len(remove) > 0 {
		expr += " REMOVE " + strings.Join(remove, ", ")
	}
	return &types.Update{
		TableName:                 &table,
		Key:                       creditsItemKey(k.LineageID()),
		UpdateExpression:          &expr,
		ExpressionAttributeNames:  poolNames,
		ExpressionAttributeValues: values,
	}
}

// creditsPassOn makes successor the holder of its lineage's CREDITS item
// (a rotation): the balance, refill and generation stay. The item is
// created from the key's credits as set if it is missing.
func creditsPassOn(table string, successor *keygate.Key) *types.Update {
	c := successor.Credits
	expr := "SET key_id = :key, tenant = :tenant, #pool = if_not_exists(#pool, :pool), #base = if_not_exists(#base, :pool), gen = if_not_exists(gen, :one)"
	values := map[string]types.AttributeValue{
		":key": attrS(successor.ID), ":tenant": attrS(successor.Tenant), ":pool": attrN(c.Remaining), ":one": attrN(1),
	}
	if r := c.Refill; r != nil {
		expr += ", refill_amount = if_not_exists(refill_amount, :amount), refill_interval = if_not_exists(refill_interval, :interval), refill_at = if_not_exists(refill_at, :at)"
		values[":amount"], values[":interval"], values[":at"] = attrN(r.Amount), attrS(r.Interval), attrN(r.Next(successor.CreatedAt).Unix())
	}
	return &types.Update{
		TableName:                 &table,
		Key:                       creditsItemKey(successor.LineageID()),
		UpdateExpression:          &expr,
		ExpressionAttributeNames:  poolNames,
		ExpressionAttributeValues: values,
	}
}

// creditsDelete removes a lineage's CREDITS item: the key is no longer
// metered by credits.
func creditsDelete(table, lineage string) *types.Delete {
	return &types.Delete{TableName: &table, Key: creditsItemKey(lineage)}
}
