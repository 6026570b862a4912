// Command echo is a Lambda function for testing lambdarun. It echoes its
// event along with what the runtime told it, and misbehaves on request.
package main

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"strings"
	"time"

	"github.com/aws/aws-lambda-go/lambda"
	"github.com/aws/aws-lambda-go/lambdacontext"

	"github.com/keygate/keygate/infra/lambdarun/testdata/echo/reply"
)

type event struct {
	Fail    bool `json:"fail"`
	Exit    bool `json:"exit"`
	SleepMS int  `json:"sleepMs"`
}

// failError gives the handler error a distinctive errorType.
type failError struct{ msg string }

func (e *failError) Error() string { return e.msg }

func handle(ctx context.Context, raw json.RawMessage) (reply.Response, error) {
	var ev event
	if err := json.Unmarshal(raw, &ev); err != nil {
		return reply.Response{}, err
	}
	// Logs go to stdout, as real functions' do; they must not leak into payloads.
	fmt.Println("echo: handling event")
	time.Sleep(time.Duration(ev.SleepMS) * time.Millisecond)
	if ev.Exit {
		fmt.Fprintln(os.Stderr, "echo: exiting on request")
		os.Exit(3)
	}
	if ev.Fail {
		return reply.Response{}, &failError{"asked to fail"}
	}
	lc, _ := lambdacontext.FromContext(ctx)
	_, hasDeadline := ctx.Deadline()
	return reply.Response{
		Event:        raw,
		RequestID:    lc.AwsRequestID,
		FunctionARN:  lc.InvokedFunctionArn,
		FunctionName: lambdacontext.FunctionName,
		Region:       os.Getenv("AWS_REGION"),
		EchoEnv:      os.Getenv("ECHO_ENV"),
		PID:          os.Getpid(),
		HasDeadline:  hasDeadline,
	}, nil
}

func main() {
	if os.Getenv("ECHO_INIT_EXIT") != "" {
		os.Exit(2) // a crash before asking for an event
	}
	if os.Getenv("ECHO_INIT_ERROR") != "" {
		// Report a failed init the way a custom runtime does, then die.
		url := "http://" + os.Getenv("AWS_LAMBDA_RUNTIME_API") + "/2018-06-01/runtime/init/error"
		body := `{"errorMessage":"config missing","errorType":"InitError"}`
		if resp, err := http.Post(url, "application/json", strings.NewReader(body)); err == nil {
			resp.Body.Close()
		}
		os.Exit(1)
	}
	lambda.Start(handle)
}
