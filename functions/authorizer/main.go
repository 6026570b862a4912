// Command authorizer is the Lambda authorizer any API Gateway REST or HTTP
// API can attach: it turns a Keygate API key into an allow or deny.
package main

import (
	"github.com/aws/aws-lambda-go/lambda"
	"github.com/keygate/keygate/shared/setup"
)

func main() {
	// The Authorizer is a lambda.Handler: it decodes the event in one pass
	// and answers with prebuilt JSON (BENCHMARKS.md, "Handler hot path").
	lambda.Start(setup.MustLoad().Authorizer())
}
