// Package dynamotest gives tests a fresh table on a real DynamoDB Local.
//
// It uses the server at $DYNAMODB_ENDPOINT (make test starts one for the
// whole run) or, when that is unset, starts one for the test process. If
// neither works the test fails: storage tests never skip.
package dynamotest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/keygate/keygate/infra/ddblocal"
	"github.com/keygate/keygate/infra/testkit"
	"github.com/keygate/keygate/shared/store"
)

// Endpoint returns the DynamoDB Local endpoint: $DYNAMODB_ENDPOINT, else a
// server started once for the test process.
func Endpoint(t testing.TB) string {
	t.Helper()
	return server.Endpoint(t)
}

var server = testkit.Server{Name: "DynamoDB Local", Env: "DYNAMODB_ENDPOINT", Start: func() (string, error) {
	srv, err := ddblocal.Start(context.Background(), os.Stderr)
	if err != nil {
		return "", err
	}
	return srv.Endpoint, nil
}}

// Client returns a DynamoDB client for endpoint with dummy credentials.
func Client(endpoint string) *dynamodb.Client {
	return dynamodb.New(dynamodb.Options{
		Region:       "us-east-1",
		BaseEndpoint: aws.String(endpoint),
		Credentials:  credentials.NewStaticCredentialsProvider("local", "local", ""),
	})
}

// NewTable creates a table with a unique name and deletes it when the test ends.
func NewTable(t testing.TB) (*dynamodb.Client, string) {
	t.Helper()
	db := Client(Endpoint(t))
	var b [6]byte
	_, _ = rand.Read(b[:])
	name := "keygate-test-" + hex.EncodeToString(b[:])
	if err := store.EnsureTable(context.Background(), db, name); err != nil {
		t.Fatalf("create table: %v", err)
	}
	t.Cleanup(func() {
		_, _ = db.DeleteTable(context.Background(), &dynamodb.DeleteTableInput{TableName: aws.String(name)})
	})
	return db, name
}

// Vars is the functions' environment on a fresh table of the shared
// DynamoDB Local, with extra on top: for tests that build the stack through
// setup, as the functions' mains do.
func Vars(t testing.TB, extra map[string]string) map[string]string {
	t.Helper()
	_, table := NewTable(t)
	vars := map[string]string{
		"TABLE_NAME":        table,
		"DYNAMODB_ENDPOINT": Endpoint(t),
		"TOKEN_PEPPER":      strings.Repeat("p", 32),
	}
	for k, v := range extra {
		vars[k] = v
	}
	return vars
}

// Credits is a key lineage's CREDITS usage item (shared/store/usage.go) as
// key management writes it when it sets a key's credits.
type Credits struct {
	Lineage        string
	Pool           int64
	RefillAmount   int64     // 0: no refill
	RefillInterval string    // "day" or "month"
	RefillAt       time.Time // zero: never
}

// PutCredits writes c on table, replacing the lineage's balance: for
// metering tests and benchmarks, which give keys credits without going
// through key management.
func PutCredits(ctx context.Context, db *dynamodb.Client, table string, c Credits) error {
	n := func(v int64) types.AttributeValue {
		return &types.AttributeValueMemberN{Value: strconv.FormatInt(v, 10)}
	}
	item := map[string]types.AttributeValue{
		store.AttrPK: &types.AttributeValueMemberS{Value: "USAGE#" + c.Lineage},
		store.AttrSK: &types.AttributeValueMemberS{Value: "CREDITS"},
		"pool":       n(c.Pool),
		"base":       n(c.Pool),
		"gen":        n(1),
	}
	if c.RefillAmount > 0 {
		item["refill_amount"] = n(c.RefillAmount)
		item["refill_interval"] = &types.AttributeValueMemberS{Value: c.RefillInterval}
	}
	if !c.RefillAt.IsZero() {
		item["refill_at"] = n(c.RefillAt.Unix())
	}
	_, err := db.PutItem(ctx, &dynamodb.PutItemInput{TableName: aws.String(table), Item: item})
	return err
}
