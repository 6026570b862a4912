package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"os"

	"github.com/aws/aws-sdk-go-v2/aws"
	awsconfig "github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/keygate/keygate/infra/cli"
	"github.com/keygate/keygate/shared/store"
)

// table creates Keygate's table on $DYNAMODB_ENDPOINT (or AWS) as
// $TABLE_NAME, from the same definition the store uses; it is idempotent.
// With -print it touches nothing and prints that definition, TTL included,
// as JSON with CloudFormation's AWS::DynamoDB::Table property names (the
// table is named $TABLE_NAME, default keygate); infra/sam/check_table.py
// compares it with template.yaml:
//
//	go run ./infra/cmd/ddb table -print | .venv/bin/python infra/sam/check_table.py template.yaml
func table(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("ddb table", flag.ContinueOnError)
	fs.SetOutput(stderr)
	printDef := fs.Bool("print", false, "print the table definition as CloudFormation-style JSON and exit")
	if err := fs.Parse(args); err != nil {
		return usageError(err)
	}
	if fs.NArg() > 0 {
		fmt.Fprintln(stderr, "usage: ddb table [-print]")
		return cli.Exit(2)
	}
	table, endpoint := os.Getenv("TABLE_NAME"), os.Getenv("DYNAMODB_ENDPOINT")
	if *printDef {
		if table == "" {
			table = "keygate"
		}
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		return enc.Encode(cloudFormation(store.TableDefinition(table)))
	}
	if table == "" {
		fmt.Fprintln(stderr, "ddb table: TABLE_NAME is required")
		return cli.Exit(2)
	}
	var db *dynamodb.Client
	if endpoint != "" {
		db = localClient(endpoint)
	} else {
		cfg, err := awsconfig.LoadDefaultConfig(ctx)
		if err != nil {
			return err
		}
		db = dynamodb.NewFromConfig(cfg)
	}
	if err := store.EnsureTable(ctx, db, table); err != nil {
		return err
	}
	where := aws.ToString(db.Options().BaseEndpoint)
	if where == "" {
		where = "AWS"
	}
	fmt.Fprintf(stdout, "table %s is ready on %s\n", table, where)
	return nil
}

// localClient is a client for DynamoDB Local at endpoint. DynamoDB Local
// wants a region and signed requests but checks neither against anything,
// so fixed ones do: the command then works without an AWS profile and can
// never pick up real credentials for a local table.
func localClient(endpoint string) *dynamodb.Client {
	return dynamodb.New(dynamodb.Options{
		Region:       "us-east-1",
		BaseEndpoint: aws.String(endpoint),
		Credentials:  credentials.NewStaticCredentialsProvider("local", "local", ""),
	})
}

// cloudFormation renders a CreateTable input with the property names of
// AWS::DynamoDB::Table, plus the TTL that store.EnsureTable enables.
func cloudFormation(in *dynamodb.CreateTableInput) map[string]any {
	keySchema := func(ks []types.KeySchemaElement) []map[string]string {
		out := make([]map[string]string, len(ks))
		for i, k := range ks {
			out[i] = map[string]string{"AttributeName": aws.ToString(k.AttributeName), "KeyType": string(k.KeyType)}
		}
		return out
	}
	projection := func(p *types.Projection) map[string]any {
		if p == nil {
			return nil
		}
		out := map[string]any{"ProjectionType": string(p.ProjectionType)}
		if len(p.NonKeyAttributes) > 0 {
			out["NonKeyAttributes"] = p.NonKeyAttributes
		}
		return out
	}
	index := func(name *string, ks []types.KeySchemaElement, p *types.Projection) map[string]any {
		return map[string]any{"IndexName": aws.ToString(name), "KeySchema": keySchema(ks), "Projection": projection(p)}
	}
	attrs := make([]map[string]string, len(in.AttributeDefinitions))
	for i, a := range in.AttributeDefinitions {
		attrs[i] = map[string]string{"AttributeName": aws.ToString(a.AttributeName), "AttributeType": string(a.AttributeType)}
	}
	out := map[string]any{
		"TableName":            aws.ToString(in.TableName),
		"BillingMode":          string(in.BillingMode),
		"AttributeDefinitions": attrs,
		"KeySchema":            keySchema(in.KeySchema),
		"TimeToLiveSpecification": map[string]any{
			"AttributeName": store.AttrTTL,
			"Enabled":       true,
		},
	}
	var gsis, lsis []map[string]any
	for _, g := range in.GlobalSecondaryIndexes {
		gsis = append(gsis, index(g.IndexName, g.KeySchema, g.Projection))
	}
	for _, l := range in.LocalSecondaryIndexes {
		lsis = append(lsis, index(l.IndexName, l.KeySchema, l.Projection))
	}
	if gsis != nil {
		out["GlobalSecondaryIndexes"] = gsis
	}
	if lsis != nil {
		out["LocalSecondaryIndexes"] = lsis
	}
	return out
}
