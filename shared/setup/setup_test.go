package setup_test

import (
	"context"
	"crypto/rand"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/keygate/keygate/shared/apikey"
	"github.com/keygate/keygate/shared/setup"
)

const pepper = "setup-test-pepper-0123456789abcdefghij"

func getenv(m map[string]string) func(string) string { return func(k string) string { return m[k] } }

// lambdaEnv is what a deployed function sees (less the AWS_LAMBDA_*
// variables): the template's settings and the credentials Lambda sets.
func lambdaEnv() map[string]string {
	return map[string]string{
		"TABLE_NAME":              "keygate",
		"TOKEN_PEPPER_SECRET_ARN": "arn:aws:secretsmanager:eu-west-1:123456789012:secret:keygate-pepper-AbCdEf",
		"AWS_REGION":              "eu-west-1",
		"AWS_DEFAULT_REGION":      "eu-west-1",
		"AWS_ACCESS_KEY_ID":       "ASIATESTACCESSKEY000",
		"AWS_SECRET_ACCESS_KEY":   "test-secret-access-key",
		"AWS_SESSION_TOKEN":       "test-session-token",
	}
}

// noCalls fails the test if anything calls it: Load must not touch
// DynamoDB.
func noCalls(t *testing.T) string {
	t.Helper()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		t.Errorf("unexpected %s %s at init", r.Method, r.Header.Get("X-Amz-Target"))
		w.WriteHeader(http.StatusInternalServerError)
	}))
	t.Cleanup(srv.Close)
	return srv.URL
}

func credentialsOf(t *testing.T, env *setup.Env) aws.Credentials {
	t.Helper()
	c, err := env.DynamoDB.Options().Credentials.Retrieve(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func TestLocal(t *testing.T) {
	endpoint := noCalls(t)
	m := map[string]string{"TABLE_NAME": "keygate", "DYNAMODB_ENDPOINT": endpoint, "TOKEN_PEPPER": pepper,
		// Shared-config settings do not matter for DynamoDB Local.
		"AWS_PROFILE": "someone", "AWS_CA_BUNDLE": "/nonexistent.pem"}
	env, err := setup.Load(context.Background(), getenv(m), io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	o := env.DynamoDB.Options()
	if o.Region != "us-east-1" || aws.ToString(o.BaseEndpoint) != endpoint {
		t.Fatalf("region %q, endpoint %q", o.Region, aws.ToString(o.BaseEndpoint))
	}
	if c := credentialsOf(t, env); c.AccessKeyID != "local" {
		t.Fatalf("credentials %q, want dummy ones", c.AccessKeyID)
	}
	if env.Format.Prefix() != apikey.DefaultPrefix || env.Hasher == nil || env.Config.TableName != "keygate" {
		t.Fatalf("env = %+v", env)
	}

	// Credentials and region in the environment are used when present.
	m["AWS_REGION"], m["AWS_ACCESS_KEY_ID"], m["AWS_SECRET_ACCESS_KEY"] = "eu-central-1", "AKIDLOCAL", "secret"
	env, err = setup.Load(context.Background(), getenv(m), io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if env.DynamoDB.Options().Region != "eu-central-1" || credentialsOf(t, env).AccessKeyID != "AKIDLOCAL" {
		t.Fatalf("environment credentials or region ignored")
	}
}

func TestAWSSettings(t *testing.T) {
	m := lambdaEnv()
	delete(m, "TOKEN_PEPPER_SECRET_ARN")
	m["TOKEN_PEPPER"] = pepper
	m["AWS_ACCOUNT_ID"] = "123456789012"
	env, err := setup.Load(context.Background(), getenv(m), io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	o := env.DynamoDB.Options()
	c := credentialsOf(t, env)
	if o.Region != "eu-west-1" || o.BaseEndpoint != nil || c.AccessKeyID != "ASIATESTACCESSKEY000" ||
		c.SecretAccessKey != "test-secret-access-key" || c.SessionToken != "test-session-token" || c.AccountID != "123456789012" {
		t.Fatalf("region %q, endpoint %v, credentials %+v", o.Region, o.BaseEndpoint, c)
	}
	if o.EndpointOptions.UseFIPSEndpoint == aws.FIPSEndpointStateEnabled || o.RetryMaxAttempts != 0 {
		t.Fatal("defaults changed")
	}

	m["AWS_ENDPOINT_URL_DYNAMODB"] = "https://dynamodb.example.test"
	m["AWS_USE_FIPS_ENDPOINT"] = "true"
	m["AWS_USE_DUALSTACK_ENDPOINT"] = "true"
	m["AWS_MAX_ATTEMPTS"] = "5"
	m["AWS_RETRY_MODE"] = "adaptive"
	env, err = setup.Load(context.Background(), getenv(m), io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	o = env.DynamoDB.Options()
	if aws.ToString(o.BaseEndpoint) != "https://dynamodb.example.test" || o.EndpointOptions.UseFIPSEndpoint != aws.FIPSEndpointStateEnabled ||
		o.EndpointOptions.UseDualStackEndpoint != aws.DualStackEndpointStateEnabled || o.RetryMaxAttempts != 5 || o.RetryMode != aws.RetryModeAdaptive {
		t.Fatalf("settings not applied: endpoint %v, %+v, attempts %d, mode %s", o.BaseEndpoint, o.EndpointOptions, o.RetryMaxAttempts, o.RetryMode)
	}

	m["AWS_IGNORE_CONFIGURED_ENDPOINT_URLS"] = "true"
	if env, err = setup.Load(context.Background(), getenv(m), io.Discard); err != nil || env.DynamoDB.Options().BaseEndpoint != nil {
		t.Fatalf("configured endpoint not ignored: %v", err)
	}
}

func TestAWSInvalid(t *testing.T) {
	tests := []struct {
		name  string
		tweak func(map[string]string)
		want  []string
	}{
		{"no region", func(m map[string]string) { delete(m, "AWS_REGION"); delete(m, "AWS_DEFAULT_REGION") }, []string{"AWS_REGION is required"}},
		{"no credentials", func(m map[string]string) { delete(m, "AWS_ACCESS_KEY_ID") }, []string{"AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY are required"}},
		{"profile", func(m map[string]string) { m["AWS_PROFILE"] = "dev" }, []string{"AWS_PROFILE is not supported"}},
		{"config file", func(m map[string]string) { m["AWS_CONFIG_FILE"] = "/var/task/config" }, []string{"AWS_CONFIG_FILE is not supported"}},
		{"ca bundle", func(m map[string]string) { m["AWS_CA_BUNDLE"] = "/etc/ca.pem" }, []string{"AWS_CA_BUNDLE is not supported"}},
		{"attempts", func(m map[string]string) { m["AWS_MAX_ATTEMPTS"] = "many" }, []string{"AWS_MAX_ATTEMPTS"}},
		{"retry mode", func(m map[string]string) { m["AWS_RETRY_MODE"] = "eager" }, []string{"AWS_RETRY_MODE"}},
		{"fips", func(m map[string]string) { m["AWS_USE_FIPS_ENDPOINT"] = "yes please" }, []string{"AWS_USE_FIPS_ENDPOINT"}},
		{"all at once", func(m map[string]string) {
			delete(m, "AWS_REGION")
			delete(m, "AWS_DEFAULT_REGION")
			m["AWS_PROFILE"] = "x"
		},
			[]string{"AWS_REGION is required", "AWS_PROFILE is not supported"}},
		{"environment and AWS at once", func(m map[string]string) {
			delete(m, "AWS_REGION")
			delete(m, "AWS_DEFAULT_REGION")
			m["MAX_USER_KEYS"] = "ten"
		},
			[]string{"AWS_REGION is required", "MAX_USER_KEYS"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m := lambdaEnv()
			tt.tweak(m)
			// No Secrets Manager is reachable: the configuration must be
			// refused before any call.
			m["AWS_ENDPOINT_URL_SECRETS_MANAGER"] = noCalls(t)
			_, err := setup.Load(context.Background(), getenv(m), io.Discard)
			if err == nil {
				t.Fatal("Load accepted it")
			}
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not mention %q", err, w)
				}
			}
			if strings.Contains(err.Error(), "test-secret-access-key") || strings.Contains(err.Error(), "test-session-token") {
				t.Fatal("error quotes a credential")
			}
		})
	}
}

// secretsManager is an HTTP server answering GetSecretValue the way
// Secrets Manager does (JSON 1.1 protocol), after checking the request is
// signed with the environment's credentials for the right region.
func secretsManager(t *testing.T, handle func(w http.ResponseWriter, r *http.Request)) (string, *atomic.Int32) {
	t.Helper()
	var calls atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		calls.Add(1)
		auth := r.Header.Get("Authorization")
		if r.Method != http.MethodPost || r.Header.Get("X-Amz-Target") != "secretsmanager.GetSecretValue" ||
			!strings.Contains(auth, "Credential=ASIATESTACCESSKEY000/") || !strings.Contains(auth, "/eu-west-1/secretsmanager/aws4_request") ||
			r.Header.Get("X-Amz-Security-Token") != "test-session-token" {
			t.Errorf("unexpected request: %s %q %q", r.Method, r.Header.Get("X-Amz-Target"), auth)
		}
		var in struct{ SecretId string }
		if err := json.NewDecoder(r.Body).Decode(&in); err != nil || in.SecretId != lambdaEnv()["TOKEN_PEPPER_SECRET_ARN"] {
			t.Errorf("SecretId = %q, %v", in.SecretId, err)
		}
		w.Header().Set("Content-Type", "application/x-amz-json-1.1")
		handle(w, r)
	}))
	t.Cleanup(srv.Close)
	return srv.URL, &calls
}

func TestPepperFromSecretsManager(t *testing.T) {
	url, calls := secretsManager(t, func(w http.ResponseWriter, r *http.Request) {
		_ = json.NewEncoder(w).Encode(map[string]any{"ARN": lambdaEnv()["TOKEN_PEPPER_SECRET_ARN"], "Name": "keygate-pepper", "SecretString": pepper})
	})
	m := lambdaEnv()
	m["AWS_ENDPOINT_URL_SECRETS_MANAGER"] = url
	m["AWS_ENDPOINT_URL_DYNAMODB"] = noCalls(t)
	env, err := setup.Load(context.Background(), getenv(m), io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if calls.Load() != 1 {
		t.Fatalf("%d GetSecretValue calls, want 1", calls.Load())
	}
	// The hasher is keyed with the secret: it computes the same verifier
	// as one built from the pepper directly.
	want, err := apikey.NewHasher([]byte(pepper), apikey.HMACSHA256, rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tok, err := env.Format.Generate(rand.Reader, env.Hasher)
	if err != nil {
		t.Fatal(err)
	}
	v, err := want.Verifier(tok)
	if err != nil {
		t.Fatal(err)
	}
	if ok, err := env.Hasher.Verify(tok, v); !ok || err != nil {
		t.Fatalf("hasher not keyed with the secret: %v %v", ok, err)
	}
}

func TestPepperSecretErrors(t *testing.T) {
	tests := []struct {
		name   string
		handle func(w http.ResponseWriter, r *http.Request)
		ctx    time.Duration
		want   string
	}{
		{"denied", func(w http.ResponseWriter, r *http.Request) {
			w.WriteHeader(http.StatusBadRequest)
			_, _ = io.WriteString(w, `{"__type":"AccessDeniedException","message":"not allowed"}`)
		}, 0, "AccessDeniedException"},
		{"binary secret", func(w http.ResponseWriter, r *http.Request) {
			_, _ = io.WriteString(w, `{"Name":"keygate-pepper","SecretBinary":"cGVwcGVy"}`)
		}, 0, "no string value"},
		{"short secret", func(w http.ResponseWriter, r *http.Request) {
			_, _ = io.WriteString(w, `{"Name":"keygate-pepper","SecretString":"tiny-sekrit"}`)
		}, 0, "at least 32 bytes"},
		{"hangs", func(w http.ResponseWriter, r *http.Request) { <-r.Context().Done() }, 300 * time.Millisecond, "TOKEN_PEPPER_SECRET_ARN"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			url, _ := secretsManager(t, tt.handle)
			m := lambdaEnv()
			m["AWS_ENDPOINT_URL_SECRETS_MANAGER"] = url
			ctx := context.Background()
			if tt.ctx > 0 {
				var cancel context.CancelFunc
				ctx, cancel = context.WithTimeout(ctx, tt.ctx)
				defer cancel()
			}
			_, err := setup.Load(ctx, getenv(m), io.Discard)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("err = %v, want it to mention %q", err, tt.want)
			}
			if strings.Contains(err.Error(), "tiny-sekrit") {
				t.Fatal("error quotes the secret")
			}
		})
	}
}
