package main

import (
	"github.com/aws/aws-lambda-go/lambda"
	"github.com/keygate/keygate/shared/httpapi"
	"github.com/keygate/keygate/shared/setup"
	"github.com/keygate/keygate/shared/setup/managesetup"
)

func main() {
	lambda.Start(managesetup.Handler(setup.MustLoad(), httpapi.List).Handle)
}
