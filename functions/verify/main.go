package main

import (
	"github.com/aws/aws-lambda-go/lambda"
	"github.com/keygate/keygate/shared/setup"
	"github.com/keygate/keygate/shared/setup/verifysetup"
)

func main() {
	lambda.Start(verifysetup.Handler(setup.MustLoad()).Handle)
}
