package setup

import (
	"fmt"
	"io"
	"log/slog"
	"net/url"
	"os"
	"strconv"
	"strings"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/eventbridge"
	"github.com/aws/aws-sdk-go-v2/service/sesv2"
	"github.com/keygate/keygate/shared/lifecycle"
	"github.com/keygate/keygate/shared/notify"
	"github.com/keygate/keygate/shared/store"
)

// Events is the wiring of the lifecycle functions (functions/stream and
// functions/reminders). They hold no pepper: unlike Env they never read
// TOKEN_PEPPER or its secret, so their roles need no access to it.
type Events struct {
	Logger      *slog.Logger
	DynamoDB    *dynamodb.Client
	EventBridge *eventbridge.Client
	// SES is nil when EMAIL_SENDER is unset: no e-mail is sent.
	SES       *sesv2.Client
	Table     string
	Bus       string
	Sender    string
	ConfigSet string
	Config    lifecycle.Config
}

// LoadEvents reads the lifecycle functions' environment: TABLE_NAME,
// DYNAMODB_ENDPOINT (local), EVENT_BUS_NAME, EMAIL_SENDER and
// EMAIL_CONFIGURATION_SET (optional), CONSOLE_URL (optional),
// REMINDER_DAYS (default "14,3"), and the AWS settings Load reads, with
// AWS_ENDPOINT_URL_EVENTBRIDGE and AWS_ENDPOINT_URL_SESV2.
func LoadEvents(getenv func(string) string, logs io.Writer) (*Events, error) {
	e := &Events{Logger: slog.New(slog.NewJSONHandler(logs, nil))}
	var problems []string
	fail := func(format string, args ...any) { problems = append(problems, fmt.Sprintf(format, args...)) }
	e.Table, e.Bus = getenv("TABLE_NAME"), getenv("EVENT_BUS_NAME")
	if e.Table == "" {
		fail("TABLE_NAME is required")
	}
	if e.Bus == "" {
		fail("EVENT_BUS_NAME is required")
	}
	e.Sender, e.ConfigSet = getenv("EMAIL_SENDER"), getenv("EMAIL_CONFIGURATION_SET")
	if e.Sender != "" && !lifecycle.ValidEmail(e.Sender) {
		fail("EMAIL_SENDER: %q is not an e-mail address", e.Sender)
	}
	if c := getenv("CONSOLE_URL"); c != "" {
		u, err := url.Parse(c)
		if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
			fail("CONSOLE_URL: %q is not an http(s) URL", c)
		}
		e.Config.ConsoleURL = c
	}
	days := getenv("REMINDER_DAYS")
	if days == "" {
		days = "14,3"
	}
	s := lifecycle.Settings{}
	for _, f := range strings.Split(days, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(f))
		if err != nil {
			n = -1
		}
		s.ReminderDays = append(s.ReminderDays, n)
	}
	if err := s.Check(); err != nil {
		fail("REMINDER_DAYS: %q must be distinct whole days from 1 to %d, comma-separated, at most %d", days, lifecycle.MaxReminderDays, lifecycle.MaxReminderWindows)
	}
	e.Config.DefaultReminderDays = s.ReminderDays
	endpoint := getenv("DYNAMODB_ENDPOINT")
	ae, err := awsFromEnv(getenv, endpoint != "")
	if err != nil {
		problems = append(problems, err.Error())
	}
	if len(problems) > 0 {
		return e, fmt.Errorf("invalid configuration: %s", strings.Join(problems, "; "))
	}
	e.DynamoDB = dynamodb.NewFromConfig(ae.cfg, func(o *dynamodb.Options) {
		o.EndpointOptions.UseFIPSEndpoint, o.EndpointOptions.UseDualStackEndpoint = ae.fips, ae.dualStack
		o.BaseEndpoint = ae.endpoint("DYNAMODB")
		if endpoint != "" {
			o.BaseEndpoint = &endpoint
		}
	})
	e.EventBridge = eventbridge.NewFromConfig(ae.cfg, func(o *eventbridge.Options) {
		o.EndpointOptions.UseFIPSEndpoint, o.EndpointOptions.UseDualStackEndpoint = ae.fips, ae.dualStack
		o.BaseEndpoint = ae.endpoint("EVENTBRIDGE")
	})
	if e.Sender != "" {
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
func (e *Events) Store() *store.Lifecycle { return store.NewLifecycle(e.DynamoDB, e.Table) }

// Publisher publishes on EVENT_BUS_NAME.
func (e *Events) Publisher() *notify.EventBridge { return notify.NewEventBridge(e.EventBridge, e.Bus) }

// Mailer sends from EMAIL_SENDER; nil without one.
func (e *Events) Mailer() lifecycle.Mailer {
	if e.SES == nil {
		return nil
	}
	return notify.NewSES(e.SES, e.Sender, e.ConfigSet)
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
