// Command table creates Keygate's table on $DYNAMODB_ENDPOINT (or AWS) as
// $TABLE_NAME, from the same definition the store uses. It is idempotent:
//
//	DYNAMODB_ENDPOINT=http://127.0.0.1:8000 TABLE_NAME=keygate go run ./infra/cmd/table
package main

import (
	"context"
	"fmt"
	"os"

	"github.com/aws/aws-sdk-go-v2/aws"
	awsconfig "github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/keygate/keygate/infra/dynamotest"
	"github.com/keygate/keygate/shared/store"
)

func main() {
	table, endpoint := os.Getenv("TABLE_NAME"), os.Getenv("DYNAMODB_ENDPOINT")
	if table == "" {
		fmt.Fprintln(os.Stderr, "table: TABLE_NAME is required")
		os.Exit(2)
	}
	ctx := context.Background()
	var db *dynamodb.Client
	if endpoint != "" {
		db = dynamotest.Client(endpoint)
	} else {
		cfg, err := awsconfig.LoadDefaultConfig(ctx)
		if err != nil {
			fmt.Fprintln(os.Stderr, "table:", err)
			os.Exit(1)
		}
		db = dynamodb.NewFromConfig(cfg)
	}
	if err := store.EnsureTable(ctx, db, table); err != nil {
		fmt.Fprintln(os.Stderr, "table:", err)
		os.Exit(1)
	}
	where := aws.ToString(db.Options().BaseEndpoint)
	if where == "" {
		where = "AWS"
	}
	fmt.Printf("table %s is ready on %s\n", table, where)
}
