package setup_test

import (
	"context"
	"io"
	"testing"

	awsconfig "github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/keygate/keygate/shared/setup"
)

// BenchmarkLoad is the init work of setup.Load in a Lambda-like
// environment with TOKEN_PEPPER set (no network): configuration, clients,
// hasher. Package initialisation and process start are measured by
// infra/bench/coldstart instead.
func BenchmarkLoad(b *testing.B) {
	m := lambdaEnv()
	delete(m, "TOKEN_PEPPER_SECRET_ARN")
	m["TOKEN_PEPPER"] = pepper
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		if _, err := setup.Load(ctx, getenv(m), io.Discard); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkLoadDefaultConfig is what setup did before: the SDK's
// config.LoadDefaultConfig and a DynamoDB client from it, in the same
// Lambda-like environment (no HOME, so no shared files; no CA bundle).
// It is the "before" of BENCHMARKS.md's init figures.
func BenchmarkLoadDefaultConfig(b *testing.B) {
	for k, v := range lambdaEnv() {
		b.Setenv(k, v)
	}
	for _, k := range []string{"HOME", "AWS_CA_BUNDLE", "AWS_PROFILE", "AWS_CONFIG_FILE", "AWS_SHARED_CREDENTIALS_FILE"} {
		b.Setenv(k, "")
	}
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		cfg, err := awsconfig.LoadDefaultConfig(ctx)
		if err != nil {
			b.Fatal(err)
		}
		dynamodb.NewFromConfig(cfg)
	}
}
