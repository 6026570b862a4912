// Package store keeps Keygate's keys in one DynamoDB table.
//
// Single-table layout (docs/data-model.md has the full picture):
//
//	pk                          sk         what
//	KEY#<id>                    KEY        a key: metadata, verifier, ttl; GSI1 keys
//	SLOTS#<tenant>#user#<owner> SLOTS      active user keys of one owner (limit)
//	SLOTS#<tenant>#service      SLOTS      active service keys of a tenant (limit)
//	AUDIT#<tenant>              <at>#<id>#<action>  one audit record per change
//	REMIND#<id>                 <days>d#<expires_at> a sent expiry reminder (lifecycle)
//	SENT#<event id>             SENT       an e-mail sent for a lifecycle event
//	SETTINGS#<tenant>           SETTINGS   the tenant's notification settings
//
// GSI1 (gsi1pk = TENANT#<tenant>, gsi1sk = <owner>#<created_at>#<id>) lists a
// tenant's keys, or one owner's with begins_with. It projects every key
// attribute except the verifier, so list paths cannot read it.
//
// GSI2 (gsi2pk = EXP#<yyyy-mm-dd>, gsi2sk = <expires_at>#<id>) is sparse:
// only keys with an expiry carry it. The daily reminder run reads the few
// day partitions it needs instead of scanning the table (shared/lifecycle).
//
// The table's stream (NEW_AND_OLD_IMAGES) feeds the lifecycle events: the
// audit records are an outbox (stream.go).
package store

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
)

// Attribute and index names, shared with template.yaml (a test checks they agree).
const (
	AttrPK     = "pk"
	AttrSK     = "sk"
	AttrTTL    = "ttl"
	GSI1       = "gsi1"
	AttrGSI1PK = "gsi1pk"
	AttrGSI1SK = "gsi1sk"
	GSI2       = "gsi2"
	AttrGSI2PK = "gsi2pk"
	AttrGSI2SK = "gsi2sk"
	GSI3       = "gsi3"
	AttrGSI3PK = "gsi3pk"
	AttrGSI3SK = "gsi3sk"
)

// projected lists the non-key attributes GSI1 carries: all key metadata,
// deliberately not the verifier.
var projected = []string{"id", "hint", "name", "tenant", "owner", "type", "role", "scopes", "apis",
	"created_at", "created_by", "expires_at", "last_used_at", "revoked_at", "disabled", "rotated_from", "rotated_to", "rev"}

// lineageAttrs are key attributes no index carries: cascades read them
// from the key items (Store.FillLineage). A deployed index's projection
// cannot be changed (CloudFormation: "Updates are not supported"), so
// adding them to the indexes would fail every upgrade of an existing
// stack; TestIndexProjectionsAreFrozen holds the indexes as deployed.
var lineageAttrs = []string{"lineage", "parent_lineage"}

// leakAttrs are the first secret-scanning report of a key (keygate.Leak),
// set once by RecordLeak. No index carries them either (for the same
// reason): a key's own reads (GetKey, the lifecycle events) show them,
// listings do not.
var leakAttrs = []string{"leaked_at", "leak_url", "leak_source", "leak_type"}

// limitAttrs are a key's usage limits (keygate.RateLimit, keygate.Credits),
// as set; the counters are items of their own (usage.go). No index
// carries them either: a key's own reads show them (GetKey, the
// authorizer's), listings do not.
var limitAttrs = []string{"rl_limit", "rl_window", "cr_remaining", "cr_refill_amount", "cr_refill_interval"}

// metaAttrs are the key holder's own metadata (keygate.Key.Meta, as
// compact JSON text, and ExternalID). GSI1 and GSI2 do not carry them
// (their projections are frozen): listings read them from the items
// (fillMeta), and the external_id filter goes through GSI3, which holds
// only keys. imported (keygate.Key.Imported) travels with them: set once,
// at the import, and read wherever the meta is.
var metaAttrs = []string{"meta", "external_id", "imported"}

// TableDefinition is the table Keygate needs, as CreateTable input. make
// table and the tests create it from here; template.yaml declares the same.
func TableDefinition(name string) *dynamodb.CreateTableInput {
	return &dynamodb.CreateTableInput{
		TableName:   aws.String(name),
		BillingMode: types.BillingModePayPerRequest,
		AttributeDefinitions: []types.AttributeDefinition{
			{AttributeName: aws.String(AttrPK), AttributeType: types.ScalarAttributeTypeS},
			{AttributeName: aws.String(AttrSK), AttributeType: types.ScalarAttributeTypeS},
			{AttributeName: aws.String(AttrGSI1PK), AttributeType: types.ScalarAttributeTypeS},
			{AttributeName: aws.String(AttrGSI1SK), AttributeType: types.ScalarAttributeTypeS},
			{AttributeName: aws.String(AttrGSI2PK), AttributeType: types.ScalarAttributeTypeS},
			{AttributeName: aws.String(AttrGSI2SK), AttributeType: types.ScalarAttributeTypeS},
			{AttributeName: aws.String(AttrGSI3PK), AttributeType: types.ScalarAttributeTypeS},
			{AttributeName: aws.String(AttrGSI3SK), AttributeType: types.ScalarAttributeTypeS},
		},
		KeySchema: []types.KeySchemaElement{
			{AttributeName: aws.String(AttrPK), KeyType: types.KeyTypeHash},
			{AttributeName: aws.String(AttrSK), KeyType: types.KeyTypeRange},
		},
		GlobalSecondaryIndexes: []types.GlobalSecondaryIndex{
			gsi(GSI1, AttrGSI1PK, AttrGSI1SK, projected),
			gsi(GSI2, AttrGSI2PK, AttrGSI2SK, projected),
			// Keys by external_id, sparse (only keys with one): keys only,
			// so the index costs little and never holds a verifier; a
			// listing reads the items it names. (CloudFormation adds one
			// index per stack update: this one came alone.)
			gsi(GSI3, AttrGSI3PK, AttrGSI3SK, nil),
		},
		// The lifecycle consumer (functions/stream) reads it.
		StreamSpecification: &types.StreamSpecification{
			StreamEnabled:  aws.Bool(true),
			StreamViewType: types.StreamViewTypeNewAndOldImages,
		},
	}
}

// gsi is a global secondary index on hash key pk and range key sk
// holding the projected attributes besides the keys (none: KEYS_ONLY).
func gsi(name, pk, sk string, projected []string) types.GlobalSecondaryIndex {
	p := &types.Projection{ProjectionType: types.ProjectionTypeInclude, NonKeyAttributes: projected}
	if projected == nil {
		p = &types.Projection{ProjectionType: types.ProjectionTypeKeysOnly}
	}
	return types.GlobalSecondaryIndex{
		IndexName: aws.String(name),
		KeySchema: []types.KeySchemaElement{
			{AttributeName: aws.String(pk), KeyType: types.KeyTypeHash},
			{AttributeName: aws.String(sk), KeyType: types.KeyTypeRange},
		},
		Projection: p,
	}
}

// TableAPI is the part of the DynamoDB client that table setup needs.
type TableAPI interface {
	CreateTable(context.Context, *dynamodb.CreateTableInput, ...func(*dynamodb.Options)) (*dynamodb.CreateTableOutput, error)
	DescribeTable(context.Context, *dynamodb.DescribeTableInput, ...func(*dynamodb.Options)) (*dynamodb.DescribeTableOutput, error)
	UpdateTimeToLive(context.Context, *dynamodb.UpdateTimeToLiveInput, ...func(*dynamodb.Options)) (*dynamodb.UpdateTimeToLiveOutput, error)
	DescribeTimeToLive(context.Context, *dynamodb.DescribeTimeToLiveInput, ...func(*dynamodb.Options)) (*dynamodb.DescribeTimeToLiveOutput, error)
}

var _ TableAPI = (*dynamodb.Client)(nil)

// EnsureTable creates the table and enables TTL on it unless both are
// already done, then waits until the table is active. It is idempotent.
func EnsureTable(ctx context.Context, db TableAPI, name string) error {
	_, err := db.CreateTable(ctx, TableDefinition(name))
	var inUse *types.ResourceInUseException
	if err != nil && !errors.As(err, &inUse) {
		return fmt.Errorf("create table %s: %w", name, err)
	}
	waiter := dynamodb.NewTableExistsWaiter(db, func(o *dynamodb.TableExistsWaiterOptions) {
		o.MinDelay = 100 * time.Millisecond
		o.MaxDelay = time.Second
	})
	if err := waiter.Wait(ctx, &dynamodb.DescribeTableInput{TableName: aws.String(name)}, 2*time.Minute); err != nil {
		return fmt.Errorf("wait for table %s: %w", name, err)
	}
	ttl, err := db.DescribeTimeToLive(ctx, &dynamodb.DescribeTimeToLiveInput{TableName: aws.String(name)})
	if err != nil {
		return fmt.Errorf("describe ttl of %s: %w", name, err)
	}
	if d := ttl.TimeToLiveDescription; d != nil && aws.ToString(d.AttributeName) == AttrTTL &&
		(d.TimeToLiveStatus == types.TimeToLiveStatusEnabled || d.TimeToLiveStatus == types.TimeToLiveStatusEnabling) {
		return nil
	}
	_, err = db.UpdateTimeToLive(ctx, &dynamodb.UpdateTimeToLiveInput{
		TableName: aws.String(name),
		TimeToLiveSpecification: &types.TimeToLiveSpecification{
			AttributeName: aws.String(AttrTTL),
			Enabled:       aws.Bool(true),
		},
	})
	if err != nil {
		return fmt.Errorf("enable ttl on %s: %w", name, err)
	}
	return nil
}
