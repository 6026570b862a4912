package eventsetup_test

import (
	"io"
	"slices"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/keygate/keygate/shared/setup/eventsetup"
)

// env is what the stream and reminders functions see in AWS: no pepper.
func env() map[string]string {
	return map[string]string{
		"TABLE_NAME":            "keygate",
		"EVENT_BUS_NAME":        "keygate-events",
		"AWS_REGION":            "eu-west-1",
		"AWS_ACCESS_KEY_ID":     "ASIATESTACCESSKEY000",
		"AWS_SECRET_ACCESS_KEY": "test-secret-access-key",
		"AWS_SESSION_TOKEN":     "test-session-token",
	}
}

func getenv(m map[string]string) func(string) string { return func(k string) string { return m[k] } }

// TestLoad: the environment reaches the lifecycle configuration, and the
// clients follow it (an SES client, and a mailer, only with a sender).
func TestLoad(t *testing.T) {
	m := env()
	m["EMAIL_SENDER"] = "keys@acme.example"
	m["CONSOLE_URL"] = "https://keys.acme.example/console"
	m["AWS_ENDPOINT_URL_EVENTBRIDGE"] = "http://127.0.0.1:1"
	m["AWS_ENDPOINT_URL_SESV2"] = "http://127.0.0.1:2"
	e, err := eventsetup.Load(getenv(m), io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if e.Mailer() == nil || !slices.Equal(e.Config.DefaultReminderDays, []int{14, 3}) || e.Config.ConsoleURL != m["CONSOLE_URL"] {
		t.Fatalf("events %+v", e)
	}
	if aws.ToString(e.EventBridge.Options().BaseEndpoint) != "http://127.0.0.1:1" || e.EventBridge.Options().Region != "eu-west-1" {
		t.Fatal("EventBridge client ignores the environment")
	}
	if aws.ToString(e.SES.Options().BaseEndpoint) != "http://127.0.0.1:2" || e.SES.Options().Region != "eu-west-1" {
		t.Fatal("SES client ignores the environment")
	}
	delete(m, "EMAIL_SENDER")
	if e, err = eventsetup.Load(getenv(m), io.Discard); err != nil || e.SES != nil || e.Mailer() != nil {
		t.Fatalf("no sender: %v %+v", err, e)
	}
	m["EVENT_BUS_NAME"] = ""
	if _, err := eventsetup.Load(getenv(m), io.Discard); err == nil || !strings.Contains(err.Error(), "EVENT_BUS_NAME") {
		t.Fatalf("err = %v, want it to ask for EVENT_BUS_NAME", err)
	}
}
