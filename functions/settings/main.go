package main

import (
	"github.com/aws/aws-lambda-go/lambda"
	"github.com/keygate/keygate/shared/settings"
	"github.com/keygate/keygate/shared/setup"
	"github.com/keygate/keygate/shared/store"
)

func main() {
	// Neither publishing nor mailing, it wires no more than the settings
	// service on the table (not shared/setup/eventsetup).
	e := setup.MustLoadEvents()
	svc := settings.NewService(store.NewLifecycle(e.DynamoDB, e.Env.TableName))
	lambda.Start(settings.NewHandler(svc, e.Logger).Handle)
}
