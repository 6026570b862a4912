package main

import (
	"github.com/aws/aws-lambda-go/lambda"
	"github.com/keygate/keygate/shared/setup/eventsetup"
)

func main() {
	lambda.Start(eventsetup.MustLoad().Reminders().Run)
}
