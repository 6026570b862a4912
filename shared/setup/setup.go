// Package setup builds what every function needs at start, once per
// execution environment: configuration, the JSON logger, the DynamoDB
// client and the token format and hasher. main packages stay a few lines.
package setup

import (
	"context"
	"crypto/rand"
	"fmt"
	"io"
	"log/slog"
	"os"

	"github.com/aws/aws-sdk-go-v2/aws"
	awsconfig "github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
	"github.com/keygate/keygate/shared/apikey"
	"github.com/keygate/keygate/shared/authorizer"
	"github.com/keygate/keygate/shared/config"
	"github.com/keygate/keygate/shared/manage"
)

// Env is a function's wired dependencies.
type Env struct {
	Config   *config.Config
	Logger   *slog.Logger
	DynamoDB *dynamodb.Client
	Format   apikey.Format
	Hasher   *apikey.Hasher
}

// Load reads the environment and builds the clients. Errors name the
// setting at fault and never include secret values.
func Load(ctx context.Context, getenv func(string) string, logs io.Writer) (*Env, error) {
	env := &Env{Logger: slog.New(slog.NewJSONHandler(logs, nil))}
	cfg, err := config.Load(getenv)
	if err != nil {
		return env, err
	}
	env.Config = cfg
	awsCfg, err := awsconfig.LoadDefaultConfig(ctx)
	if err != nil {
		return env, fmt.Errorf("load AWS configuration: %w", err)
	}
	if cfg.DynamoDBEndpoint != "" {
		// DynamoDB Local accepts any credentials; supply some so a machine
		// without an AWS profile still works.
		if getenv("AWS_ACCESS_KEY_ID") == "" {
			awsCfg.Credentials = credentials.NewStaticCredentialsProvider("local", "local", "")
		}
		if awsCfg.Region == "" {
			awsCfg.Region = "us-east-1"
		}
	}
	env.DynamoDB = dynamodb.NewFromConfig(awsCfg, func(o *dynamodb.Options) {
		if cfg.DynamoDBEndpoint != "" {
			o.BaseEndpoint = aws.String(cfg.DynamoDBEndpoint)
		}
	})
	pepper := cfg.TokenPepper
	if cfg.TokenPepperSecretARN != "" {
		out, err := secretsmanager.NewFromConfig(awsCfg).GetSecretValue(ctx, &secretsmanager.GetSecretValueInput{
			SecretId: aws.String(cfg.TokenPepperSecretARN),
		})
		if err != nil {
			return env, fmt.Errorf("read TOKEN_PEPPER_SECRET_ARN: %w", err)
		}
		pepper = []byte(aws.ToString(out.SecretString))
	}
	if env.Format, err = apikey.NewFormat(cfg.TokenPrefix); err != nil {
		return env, err
	}
	if env.Hasher, err = apikey.NewHasher(pepper, cfg.TokenHash, rand.Reader); err != nil {
		return env, err
	}
	return env, nil
}

// MustLoad is Load for main: on error it logs one line and exits.
func MustLoad(ctx context.Context) *Env {
	env, err := Load(ctx, os.Getenv, os.Stdout)
	if err != nil {
		env.Logger.Error("cannot start", "error", err.Error())
		os.Exit(1)
	}
	return env
}

// ManageConfig is the management service's configuration.
func (e *Env) ManageConfig() manage.Config {
	return manage.Config{
		Format:         e.Format,
		Hasher:         e.Hasher,
		DefaultTTL:     e.Config.DefaultKeyTTL,
		Retention:      e.Config.KeyRetention,
		MaxUserKeys:    e.Config.MaxUserKeys,
		MaxServiceKeys: e.Config.MaxServiceKeys,
	}
}

// AuthorizerConfig is the authorizer's configuration.
func (e *Env) AuthorizerConfig() authorizer.Config {
	return authorizer.Config{
		Format:           e.Format,
		Hasher:           e.Hasher,
		CacheTTL:         e.Config.AuthCacheTTL,
		LastUsedInterval: e.Config.LastUsedInterval,
		AllowQueryToken:  e.Config.AllowQueryToken,
		UsageIdentifier:  e.Config.UsageIdentifier,
	}
}
