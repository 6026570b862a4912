// Package eventsetup wires the stream and reminders functions, the two
// that publish and mail: setup.LoadEvents, the EventBridge and SES
// clients, and from them the lifecycle store, publisher, mailer and
// handlers. The management functions and the authorizer never link it, so
// they carry no event, e-mail or EventBridge and SES code.
package eventsetup

import (
	"io"
	"os"

	"github.com/aws/aws-sdk-go-v2/service/eventbridge"
	"github.com/aws/aws-sdk-go-v2/service/sesv2"
	"github.com/keygate/keygate/shared/lifecycle"
	"github.com/keygate/keygate/shared/notify"
	"github.com/keygate/keygate/shared/setup"
	"github.com/keygate/keygate/shared/store"
)

// The DynamoDB store is what lifecycle needs.
var _ lifecycle.Store = (*store.Lifecycle)(nil)

// Events is setup.Events with the clients and configuration of the
// lifecycle events.
type Events struct {
	*setup.Events
	EventBridge *eventbridge.Client
	// SES is nil when EMAIL_SENDER is unset: no e-mail is sent.
	SES    *sesv2.Client
	Config lifecycle.Config
}

// Load is setup.LoadEvents, plus the EventBridge client
// (AWS_ENDPOINT_URL_EVENTBRIDGE) and, with EMAIL_SENDER, the SES one
// (AWS_ENDPOINT_URL_SESV2).
func Load(getenv func(string) string, logs io.Writer) (*Events, error) {
	se, err := setup.LoadEvents(getenv, logs)
	e := &Events{Events: se}
	if err != nil {
		return e, err
	}
	a := se.AWS
	e.Config.ConsoleURL, e.Config.DefaultReminderDays = se.Env.ConsoleURL, se.Env.ReminderDays
	e.EventBridge = eventbridge.NewFromConfig(a.Config, func(o *eventbridge.Options) {
		o.EndpointOptions.UseFIPSEndpoint, o.EndpointOptions.UseDualStackEndpoint = a.FIPS, a.DualStack
		o.BaseEndpoint = a.Endpoint("EVENTBRIDGE")
	})
	if se.Env.EmailSender != "" {
		e.SES = sesv2.NewFromConfig(a.Config, func(o *sesv2.Options) {
			o.EndpointOptions.UseFIPSEndpoint, o.EndpointOptions.UseDualStackEndpoint = a.FIPS, a.DualStack
			o.BaseEndpoint = a.Endpoint("SESV2")
		})
	}
	return e, nil
}

// MustLoad is Load for main, from the process environment: on error it
// logs one line and exits.
func MustLoad() *Events {
	e, err := Load(os.Getenv, os.Stdout)
	if err != nil {
		e.Logger.Error("cannot start", "error", err.Error())
		os.Exit(1)
	}
	return e
}

// Store is the lifecycle store on the table.
func (e *Events) Store() *store.Lifecycle { return store.NewLifecycle(e.DynamoDB, e.Env.TableName) }

// Publisher publishes on EVENT_BUS_NAME.
func (e *Events) Publisher() *notify.EventBridge {
	return notify.NewEventBridge(e.EventBridge, e.Env.EventBusName)
}

// Mailer sends from EMAIL_SENDER; nil without one.
func (e *Events) Mailer() lifecycle.Mailer {
	if e.SES == nil {
		return nil
	}
	return notify.NewSES(e.SES, e.Env.EmailSender, e.Env.EmailConfigurationSet)
}

// StreamHandler is the Lambda handler of the table's stream.
func (e *Events) StreamHandler() *lifecycle.StreamHandler {
	c := lifecycle.NewConsumer(e.Store(), e.Publisher(), e.Mailer(), e.Config, e.Logger)
	return lifecycle.NewStreamHandler(store.DecodeChange, c, e.Logger)
}

// Reminders is the daily reminder run.
func (e *Events) Reminders() *lifecycle.Reminders {
	return lifecycle.NewReminders(e.Store(), e.Publisher(), e.Mailer(), e.Config, e.Logger)
}
