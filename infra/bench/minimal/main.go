// Command minimal is the smallest Go Lambda: aws-lambda-go and a handler
// that returns its event. infra/bench/coldstart measures its init as the
// floor the real functions are compared with (process start, Go runtime,
// lambda.Start reaching GET /next).
package main

import (
	"context"
	"encoding/json"

	"github.com/aws/aws-lambda-go/lambda"
)

func main() {
	lambda.Start(func(_ context.Context, ev json.RawMessage) (json.RawMessage, error) { return ev, nil })
}
