// Command stub is the floor for the authorizer: a Go Lambda that builds
// just the clients the authorizer needs, DynamoDB and Secrets Manager,
// from Lambda's environment as shared/setup does (static credentials, no
// shared configuration), reads the pepper's secret at init when
// TOKEN_PEPPER_SECRET_ARN is set, and answers each event with one
// GetItem. It links no project package, so the authorizer's size and init
// over the stub's are what Keygate's own code costs (BENCHMARKS.md's
// targets: ≤ 1.1× the size, ≤ 1.2× the init).
package main

import (
	"context"
	"encoding/json"
	"os"

	"github.com/aws/aws-lambda-go/lambda"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
)

func main() {
	cfg := aws.Config{
		Region: os.Getenv("AWS_REGION"),
		Credentials: credentials.NewStaticCredentialsProvider(
			os.Getenv("AWS_ACCESS_KEY_ID"), os.Getenv("AWS_SECRET_ACCESS_KEY"), os.Getenv("AWS_SESSION_TOKEN")),
	}
	db := dynamodb.NewFromConfig(cfg, func(o *dynamodb.Options) {
		if v := os.Getenv("DYNAMODB_ENDPOINT"); v != "" {
			o.BaseEndpoint = &v
		}
	})
	if arn := os.Getenv("TOKEN_PEPPER_SECRET_ARN"); arn != "" {
		sm := secretsmanager.NewFromConfig(cfg)
		if _, err := sm.GetSecretValue(context.Background(), &secretsmanager.GetSecretValueInput{SecretId: &arn}); err != nil {
			panic(err)
		}
	}
	table := os.Getenv("TABLE_NAME")
	lambda.Start(func(ctx context.Context, ev json.RawMessage) (json.RawMessage, error) {
		_, err := db.GetItem(ctx, &dynamodb.GetItemInput{TableName: &table, Key: map[string]types.AttributeValue{
			"pk": &types.AttributeValueMemberS{Value: "KEY#stub"}, "sk": &types.AttributeValueMemberS{Value: "KEY"},
		}})
		return ev, err
	})
}
