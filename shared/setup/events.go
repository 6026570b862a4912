package setup

import (
	"errors"
	"io"
	"log/slog"
	"os"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/eventbridge"
	"github.com/aws/aws-sdk-go-v2/service/sesv2"
	"github.com/keygate/keygate/shared/config"
	"github.com/keygate/keygate/shared/lifecycle"
	"github.com/keygate/keygate/shared/notify"
	"github.com/keygate/keygate/shared/store"
)

// Events is the wiring of the lifecycle functions (functions/stream,
// functions/reminders and functions/settings). They hold no pepper: unlike
// Env they never read TOKEN_PEPPER or its secret, so their roles need no
// access to it.
type Events struct {
	Logger      *slog.Logger
	DynamoDB    *dynamodb.Client
	EventBridge *eventbridge.Client
	// SES is nil when EMAIL_SENDER is unset: no e-mail is sent.
	SES *sesv2.Client
	// Env is the environment the functions were started with.
	Env    *config.Events
	Config lifecycle.Config
}

// LoadEvents reads the lifecycle functions' environment (config.LoadEvents)
// and the AWS settings Load reads, with AWS_ENDPOINT_URL_EVENTBRIDGE and
// AWS_ENDPOINT_URL_SESV2, and builds the clients.
func LoadEvents(getenv func(string) string, logs io.Writer) (*Events, error) {
	e := &Events{Logger: slog.New(slog.NewJSONHandler(logs, nil))}
	// Every problem at once: the environment's and the AWS settings' (so
	// DYNAMODB_ENDPOINT is read here too, even if config refuses the rest).
	cfg, cerr := config.LoadEvents(getenv)
	ae, aerr := awsFromEnv(getenv, getenv("DYNAMODB_ENDPOINT") != "")
	if err := errors.Join(cerr, aerr); err != nil {
		return e, err
	}
	e.Env = cfg
	e.Config.ConsoleURL, e.Config.DefaultReminderDays = cfg.ConsoleURL, cfg.ReminderDays
	e.DynamoDB = ae.dynamoDB(cfg.DynamoDBEndpoint)
	e.EventBridge = eventbridge.NewFromConfig(ae.cfg, func(o *eventbridge.Options) {
		o.EndpointOptions.UseFIPSEndpoint, o.EndpointOptions.UseDualStackEndpoint = ae.fips, ae.dualStack
		o.BaseEndpoint = ae.endpoint("EVENTBRIDGE")
	})
	if cfg.EmailSender != "" {
		e.SES = sesv2.NewFromConfig(ae.cfg, func(o *sesv2.Options) {
			o.EndpointOptions.UseFIPSEndpoint, o.EndpointOptions.UseDualStackEndpoint = ae.fips, ae.dualStack
			o.BaseEndpoint = ae.endpoint("SESV2")
		})
	}
	return e, nil
}

// MustLoadEvents is LoadEvents for main, from the process environment: on
// error it logs one line and exits.
func MustLoadEvents() *Events {
	e, err := LoadEvents(os.Getenv, os.Stdout)
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

// Settings is the tenants' settings service.
func (e *Events) Settings() *lifecycle.SettingsService {
	return lifecycle.NewSettingsService(e.Store())
}

// SettingsHandler is the settings function's direct-invocation handler.
func (e *Events) SettingsHandler() *lifecycle.SettingsHandler {
	return lifecycle.NewSettingsHandler(e.Settings(), e.Logger)
}
