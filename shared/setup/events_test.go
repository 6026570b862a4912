package setup_test

import (
	"io"
	"slices"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/keygate/keygate/shared/setup"
)

// eventsEnv is what the stream and reminders functions see in AWS: no
// pepper at all.
func eventsEnv() map[string]string {
	m := lambdaEnv()
	delete(m, "TOKEN_PEPPER_SECRET_ARN")
	m["EVENT_BUS_NAME"] = "keygate-events"
	return m
}

// TestLoadEvents: config.LoadEvents' values reach the wiring, with the
// DynamoDB client; the EventBridge and SES clients are eventsetup's
// (eventsetup.TestLoad).
func TestLoadEvents(t *testing.T) {
	m := eventsEnv()
	m["EMAIL_SENDER"] = "keys@acme.example"
	m["AWS_ENDPOINT_URL_DYNAMODB"] = "http://127.0.0.1:1"
	e, err := setup.LoadEvents(getenv(m), io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if e.Env.TableName != "keygate" || e.Env.EventBusName != "keygate-events" || e.Env.EmailSender != m["EMAIL_SENDER"] ||
		!slices.Equal(e.Env.ReminderDays, []int{14, 3}) || e.AWS == nil {
		t.Fatalf("events env %+v", e)
	}
	if aws.ToString(e.DynamoDB.Options().BaseEndpoint) != "http://127.0.0.1:1" || e.DynamoDB.Options().Region != "eu-west-1" {
		t.Fatal("DynamoDB client ignores the environment")
	}
}

// TestLoadEventsInvalid: the environment's own problems are config's
// (config.TestInvalid); setup adds the AWS ones.
func TestLoadEventsInvalid(t *testing.T) {
	m := eventsEnv()
	delete(m, "AWS_DEFAULT_REGION")
	delete(m, "AWS_REGION")
	_, err := setup.LoadEvents(getenv(m), io.Discard)
	if err == nil || !strings.Contains(err.Error(), "AWS_REGION is required") {
		t.Fatalf("err = %v, want it to ask for AWS_REGION", err)
	}
	m["EVENT_BUS_NAME"] = ""
	if _, err := setup.LoadEvents(getenv(m), io.Discard); err == nil || !strings.Contains(err.Error(), "EVENT_BUS_NAME") ||
		!strings.Contains(err.Error(), "AWS_REGION") {
		t.Fatalf("err = %v, want every problem at once", err)
	}
}
