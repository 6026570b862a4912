package main

import (
	"github.com/aws/aws-lambda-go/lambda"
	"github.com/keygate/keygate/shared/setup"
	"github.com/keygate/keygate/shared/setup/authsetup"
)

func main() {
	// The Authorizer is a lambda.Handler: it decodes the event in one pass
	// and answers with prebuilt JSON (BENCHMARKS.md, "Handler hot path").
	lambda.Start(authsetup.Authorizer(setup.MustLoad()))
}
