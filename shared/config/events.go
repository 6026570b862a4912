package config

import (
	"net/url"
	"strconv"
	"strings"

	"github.com/keygate/keygate/shared/keygate"
)

// Events is the environment of the lifecycle functions (stream,
// reminders, settings). It holds no pepper: unlike Config it never reads
// TOKEN_PEPPER or its secret, so their roles need no access to it.
type Events struct {
	TableName        string
	DynamoDBEndpoint string // local only
	EventBusName     string
	// EmailSender is the SES identity e-mails come from; empty: no e-mail
	// is sent.
	EmailSender           string
	EmailConfigurationSet string
	ConsoleURL            string // optional, linked from e-mails
	ReminderDays          []int  // widest window first
}

// defaultReminderDays is REMINDER_DAYS unless set.
const defaultReminderDays = "14,3"

// LoadEvents reads the lifecycle functions' environment through getenv.
// Like Load, it reports every problem at once.
func LoadEvents(getenv func(string) string) (*Events, error) {
	r := reader{getenv: getenv}
	e := &Events{
		TableName:             r.str("TABLE_NAME", ""),
		DynamoDBEndpoint:      r.str("DYNAMODB_ENDPOINT", ""),
		EventBusName:          r.str("EVENT_BUS_NAME", ""),
		EmailSender:           r.str("EMAIL_SENDER", ""),
		EmailConfigurationSet: r.str("EMAIL_CONFIGURATION_SET", ""),
		ConsoleURL:            r.str("CONSOLE_URL", ""),
	}
	if e.TableName == "" {
		r.fail("TABLE_NAME is required")
	}
	if e.EventBusName == "" {
		r.fail("EVENT_BUS_NAME is required")
	}
	if e.EmailSender != "" && !keygate.ValidEmail(e.EmailSender) {
		r.fail("EMAIL_SENDER: %q is not an e-mail address", e.EmailSender)
	}
	if e.ConsoleURL != "" {
		u, err := url.Parse(e.ConsoleURL)
		if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
			r.fail("CONSOLE_URL: %q is not an http(s) URL", e.ConsoleURL)
		}
	}
	days := r.str("REMINDER_DAYS", defaultReminderDays)
	s := keygate.Settings{}
	for _, f := range strings.Split(days, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(f))
		if err != nil {
			n = -1 // refused by Check with the message below
		}
		s.ReminderDays = append(s.ReminderDays, n)
	}
	if err := s.Check(); err != nil {
		r.fail("REMINDER_DAYS: %q must be distinct whole days from 1 to %d, comma-separated, at most %d", days, keygate.MaxReminderDays, keygate.MaxReminderWindows)
	}
	e.ReminderDays = s.ReminderDays
	if err := r.err(); err != nil {
		return nil, err
	}
	return e, nil
}
