// Command authorizer is the Lambda authorizer any API Gateway REST or HTTP
// API can attach: it turns a Keygate API key into an allow or deny.
package main

import (
	"context"

	"github.com/aws/aws-lambda-go/lambda"
	"github.com/keygate/keygate/shared/authorizer"
	"github.com/keygate/keygate/shared/setup"
	"github.com/keygate/keygate/shared/store"
)

func main() {
	env := setup.MustLoad(context.Background())
	st := store.New(env.DynamoDB, env.Config.TableName)
	lambda.Start(authorizer.New(st, env.AuthorizerConfig(), env.Logger).Handle)
}
