// Command settings is the Lambda operators invoke directly to read or
// change a tenant's notification settings (owner e-mail, reminder
// windows). See README, "Events and notifications".
package main

import (
	"github.com/aws/aws-lambda-go/lambda"
	"github.com/keygate/keygate/shared/setup"
)

func main() {
	lambda.Start(setup.MustLoadEvents().SettingsHandler().Handle)
}
