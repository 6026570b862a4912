package setup

import (
	"errors"
	"io"
	"log/slog"
	"os"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/keygate/keygate/shared/config"
)

// Events is the start of the lifecycle functions (functions/stream,
// functions/reminders and functions/settings): their environment, logger
// and DynamoDB client. They hold no pepper: unlike Env they never read
// TOKEN_PEPPER or its secret, so their roles need no access to it. The
// EventBridge and SES clients, which only stream and reminders use, are
// built by shared/setup/eventsetup from AWS.
type Events struct {
	Logger   *slog.Logger
	DynamoDB *dynamodb.Client
	AWS      *AWS
	// Env is the environment the functions were started with.
	Env *config.Events
}

// LoadEvents reads the lifecycle functions' environment (config.LoadEvents)
// and the AWS settings Load reads, and builds the DynamoDB client.
func LoadEvents(getenv func(string) string, logs io.Writer) (*Events, error) {
	e := &Events{Logger: slog.New(slog.NewJSONHandler(logs, nil))}
	// Every problem at once: the environment's and the AWS settings' (so
	// DYNAMODB_ENDPOINT is read here too, even if config refuses the rest).
	cfg, cerr := config.LoadEvents(getenv)
	ae, aerr := NewAWS(getenv, getenv("DYNAMODB_ENDPOINT") != "")
	if err := errors.Join(cerr, aerr); err != nil {
		return e, err
	}
	e.Env, e.AWS = cfg, ae
	e.DynamoDB = ae.DynamoDB(cfg.DynamoDBEndpoint)
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
