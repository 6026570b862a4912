// Command reminders is the daily scheduled Lambda: it records expired keys
// (published as key.expired) and sends key.expiring events and e-mail
// reminders. See README, "Events and notifications".
package main

import (
	"context"

	"github.com/aws/aws-lambda-go/lambda"
	"github.com/keygate/keygate/shared/setup"
)

func main() {
	env := setup.MustLoadEvents(context.Background())
	lambda.Start(env.Reminders().Run)
}
