// Package setup builds what every function needs at start, once per
// execution environment: configuration, the JSON logger, the AWS clients,
// the token format and hasher. It wires no service: each family of
// functions does that in its own package (authsetup, managesetup,
// eventsetup) or main, so no binary links another's handlers (the links
// each function may have are checked by TestFunctionLinks).
// Why clients are built from Lambda's environment rather than the SDK's
// shared configuration, and what is read: docs/architecture.md, "Start-up".
package setup

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
	"github.com/keygate/keygate/shared/apikey"
	"github.com/keygate/keygate/shared/config"
)

// Env is a function's wired dependencies.
type Env struct {
	Config   *config.Config
	Logger   *slog.Logger
	DynamoDB *dynamodb.Client
	Format   apikey.Format
	Hasher   *apikey.Hasher
}

// SecretTimeout bounds reading the pepper's secret at init, retries
// included, well inside Lambda's 10 s init limit.
const SecretTimeout = 5 * time.Second

// Load reads the environment and builds the clients. Errors name the
// setting at fault and never include secret values.
func Load(ctx context.Context, getenv func(string) string, logs io.Writer) (*Env, error) {
	env := &Env{Logger: slog.New(slog.NewJSONHandler(logs, nil))}
	// Every problem at once: the environment's and the AWS settings' (so
	// DYNAMODB_ENDPOINT is read here too, even if config refuses the rest).
	cfg, cerr := config.Load(getenv)
	ae, aerr := NewAWS(getenv, getenv("DYNAMODB_ENDPOINT") != "")
	if err := errors.Join(cerr, aerr); err != nil {
		return env, err
	}
	env.Config = cfg
	env.DynamoDB = ae.DynamoDB(cfg.DynamoDBEndpoint)
	pepper := cfg.TokenPepper
	if cfg.TokenPepperSecretARN != "" {
		sm := secretsmanager.NewFromConfig(ae.Config, func(o *secretsmanager.Options) {
			o.EndpointOptions.UseFIPSEndpoint, o.EndpointOptions.UseDualStackEndpoint = ae.FIPS, ae.DualStack
			o.BaseEndpoint = ae.Endpoint("SECRETS_MANAGER")
		})
		ctx, cancel := context.WithTimeout(ctx, SecretTimeout)
		defer cancel()
		out, err := sm.GetSecretValue(ctx, &secretsmanager.GetSecretValueInput{SecretId: &cfg.TokenPepperSecretARN})
		if err != nil {
			return env, fmt.Errorf("read TOKEN_PEPPER_SECRET_ARN: %w", err)
		}
		if out.SecretString == nil {
			return env, fmt.Errorf("read TOKEN_PEPPER_SECRET_ARN: the secret has no string value")
		}
		pepper = []byte(*out.SecretString)
	}
	var err error
	if env.Format, err = apikey.NewFormat(cfg.TokenPrefix); err != nil {
		return env, err
	}
	peppers, err := apikey.ParsePeppers(string(pepper))
	if err != nil {
		return env, err
	}
	if env.Hasher, err = apikey.NewVersionedHasher(peppers, cfg.TokenHash, rand.Reader); err != nil {
		return env, err
	}
	return env, nil
}

// sharedOnly are SDK settings that only config.LoadDefaultConfig (shared
// configuration files, custom CA bundles, defaults modes) would honour.
var sharedOnly = []string{
	"AWS_PROFILE", "AWS_DEFAULT_PROFILE", "AWS_CONFIG_FILE", "AWS_SHARED_CREDENTIALS_FILE",
	"AWS_CA_BUNDLE", "AWS_DEFAULTS_MODE",
}

// AWS is the AWS configuration read from the environment, from which
// every client is built: DynamoDB here, the others by the packages of the
// functions that use them (so a function links only its own clients).
type AWS struct {
	Config    aws.Config
	FIPS      aws.FIPSEndpointState
	DualStack aws.DualStackEndpointState
	getenv    func(string) string
	ignoreURL bool
}

// DynamoDB is the DynamoDB client: at local (DYNAMODB_ENDPOINT) if set.
func (a *AWS) DynamoDB(local string) *dynamodb.Client {
	return dynamodb.NewFromConfig(a.Config, func(o *dynamodb.Options) {
		o.EndpointOptions.UseFIPSEndpoint, o.EndpointOptions.UseDualStackEndpoint = a.FIPS, a.DualStack
		o.BaseEndpoint = a.Endpoint("DYNAMODB")
		if local != "" {
			o.BaseEndpoint = &local
		}
	})
}

// Endpoint is AWS_ENDPOINT_URL_<service>, else AWS_ENDPOINT_URL, unless
// configured endpoints are ignored; nil for the SDK's own.
func (a *AWS) Endpoint(service string) *string {
	if a.ignoreURL {
		return nil
	}
	for _, name := range []string{"AWS_ENDPOINT_URL_" + service, "AWS_ENDPOINT_URL"} {
		if v := a.getenv(name); v != "" {
			return &v
		}
	}
	return nil
}

// NewAWS reads the region, credentials and client settings. local is
// DynamoDB Local: it accepts any region and credentials.
func NewAWS(getenv func(string) string, local bool) (*AWS, error) {
	a := &AWS{getenv: getenv}
	var problems []string
	fail := func(format string, args ...any) { problems = append(problems, fmt.Sprintf(format, args...)) }

	a.Config.Region = first(getenv, "AWS_REGION", "AWS_DEFAULT_REGION")
	creds := aws.Credentials{
		AccessKeyID:     first(getenv, "AWS_ACCESS_KEY_ID", "AWS_ACCESS_KEY"),
		SecretAccessKey: first(getenv, "AWS_SECRET_ACCESS_KEY", "AWS_SECRET_KEY"),
		SessionToken:    getenv("AWS_SESSION_TOKEN"),
		AccountID:       getenv("AWS_ACCOUNT_ID"),
		Source:          "EnvConfigCredentials",
	}
	hasCreds := creds.AccessKeyID != "" && creds.SecretAccessKey != ""
	switch {
	case local:
		if a.Config.Region == "" {
			a.Config.Region = "us-east-1"
		}
		if !hasCreds {
			creds = aws.Credentials{AccessKeyID: "local", SecretAccessKey: "local", Source: "DynamoDBLocal"}
		}
	default:
		if a.Config.Region == "" {
			fail("AWS_REGION is required (Lambda sets it)")
		}
		if !hasCreds {
			fail("AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY are required (Lambda sets them from the execution role); profiles and container credentials are not read")
		}
		for _, name := range sharedOnly {
			if getenv(name) != "" {
				fail("%s is not supported: the functions read their AWS settings from the environment only (see shared/setup)", name)
			}
		}
	}
	a.Config.Credentials = credentials.StaticCredentialsProvider{Value: creds}

	if v := getenv("AWS_MAX_ATTEMPTS"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 {
			fail("AWS_MAX_ATTEMPTS: %q must be a whole number of at least 1", v)
		}
		a.Config.RetryMaxAttempts = n
	}
	if v := getenv("AWS_RETRY_MODE"); v != "" {
		mode, err := aws.ParseRetryMode(v)
		if err != nil {
			fail("AWS_RETRY_MODE: %q must be standard or adaptive", v)
		}
		a.Config.RetryMode = mode
	}
	flag := func(name string) bool {
		v := getenv(name)
		if v == "" {
			return false
		}
		b, err := strconv.ParseBool(v)
		if err != nil {
			fail("%s: %q must be true or false", name, v)
		}
		return b
	}
	if flag("AWS_USE_FIPS_ENDPOINT") {
		a.FIPS = aws.FIPSEndpointStateEnabled
	}
	if flag("AWS_USE_DUALSTACK_ENDPOINT") {
		a.DualStack = aws.DualStackEndpointStateEnabled
	}
	a.ignoreURL = flag("AWS_IGNORE_CONFIGURED_ENDPOINT_URLS")
	if len(problems) > 0 {
		return nil, fmt.Errorf("invalid AWS configuration: %s", strings.Join(problems, "; "))
	}
	return a, nil
}

func first(getenv func(string) string, names ...string) string {
	for _, n := range names {
		if v := getenv(n); v != "" {
			return v
		}
	}
	return ""
}

// MustLoad is Load for main, from the process environment: on error it
// logs one line and exits. It runs at init, before any request, so it has
// no request context to honour.
func MustLoad() *Env {
	env, err := Load(context.Background(), os.Getenv, os.Stdout)
	if err != nil {
		env.Logger.Error("cannot start", "error", err.Error())
		os.Exit(1)
	}
	return env
}
