// Command revoke is the Lambda behind the management API's revoke routes and
// its direct invocation (see README).
package main

import (
	"context"

	"github.com/aws/aws-lambda-go/lambda"
	"github.com/keygate/keygate/shared/httpapi"
	"github.com/keygate/keygate/shared/manage"
	"github.com/keygate/keygate/shared/setup"
	"github.com/keygate/keygate/shared/store"
)

func main() {
	env := setup.MustLoad(context.Background())
	svc := manage.New(store.New(env.DynamoDB, env.Config.TableName), env.ManageConfig())
	lambda.Start(httpapi.New(httpapi.Revoke, svc, env.Logger).Handle)
}
