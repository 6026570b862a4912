// Command stream is the Lambda on the table's DynamoDB stream: it publishes
// the lifecycle events (key.created, key.revoked, key.rotated, key.updated,
// key.expired) to EventBridge and reports failed records
// (ReportBatchItemFailures). See README, "Events and notifications".
package main

import (
	"github.com/aws/aws-lambda-go/lambda"
	"github.com/keygate/keygate/shared/setup"
)

func main() {
	lambda.Start(setup.MustLoadEvents().StreamHandler().Handle)
}
