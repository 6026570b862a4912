// Command revoke is the Lambda behind the management API's revoke routes and
// its direct invocation (see README).
package main

import (
	"github.com/aws/aws-lambda-go/lambda"
	"github.com/keygate/keygate/shared/httpapi"
	"github.com/keygate/keygate/shared/setup"
)

func main() {
	lambda.Start(setup.MustLoad().Handler(httpapi.Revoke).Handle)
}
