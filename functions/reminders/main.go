// Command reminders is the daily scheduled Lambda: it records expired keys
// (published as key.expired) and sends key.expiring events and e-mail
// reminders. See README, "Events and notifications".
package main

import (
	"github.com/aws/aws-lambda-go/lambda"
	"github.com/keygate/keygate/shared/setup"
)

func main() {
	lambda.Start(setup.MustLoadEvents().Reminders().Run)
}
