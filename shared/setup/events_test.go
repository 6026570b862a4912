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

// TestLoadEvents: config.LoadEvents' values reach the wiring, and the
// clients follow the environment (an SES client only with a sender).
func TestLoadEvents(t *testing.T) {
	m := eventsEnv()
	m["EMAIL_SENDER"] = "keys@acme.example"
	m["CONSOLE_URL"] = "https://keys.acme.example/console"
	m["AWS_ENDPOINT_URL_EVENTBRIDGE"] = "http://127.0.0.1:1"
	e, err := setup.LoadEvents(getenv(m), io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if e.Env.TableName != "keygate" || e.Env.EventBusName != "keygate-events" || e.Env.EmailSender != m["EMAIL_SENDER"] || e.Mailer() == nil ||
		!slices.Equal(e.Config.DefaultReminderDays, []int{14, 3}) || e.Config.ConsoleURL != m["CONSOLE_URL"] {
		t.Fatalf("events env %+v", e)
	}
	if aws.ToString(e.EventBridge.Options().BaseEndpoint) != "http://127.0.0.1:1" || e.EventBridge.Options().Region != "eu-west-1" {
		t.Fatal("EventBridge client ignores the environment")
	}
	delete(m, "EMAIL_SENDER")
	if e, err = setup.LoadEvents(getenv(m), io.Discard); err != nil || e.SES != nil || e.Mailer() != nil {
		t.Fatalf("no sender: %v %+v", err, e)
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
