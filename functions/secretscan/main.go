package main

import (
	"github.com/aws/aws-lambda-go/lambda"
	"github.com/keygate/keygate/shared/setup"
	"github.com/keygate/keygate/shared/setup/scansetup"
)

func main() {
	lambda.Start(scansetup.MustHandler(setup.MustLoad()).Handle)
}
