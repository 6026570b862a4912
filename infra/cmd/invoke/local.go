package main

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/keygate/keygate/infra/ddblocal"
	"github.com/keygate/keygate/shared/store"
)

// DDBPort is where make ddb keeps a DynamoDB Local running.
const DDBPort = 8000

// localEnv gives a newcomer's fresh shell what the functions need: unless
// DYNAMODB_ENDPOINT is set (or AWS credentials are, to use AWS), a DynamoDB
// Local on disk under .build/ddb-data (the one make ddb keeps running on
// port 8000, else one started for this invocation on the same data, so
// keys persist from one invocation to the next), table "keygate" created
// if missing, and a development pepper kept in .build/dev-pepper (0600).
// It returns the environment to run the function with and a stop func.
func localEnv(ctx context.Context, root string, log io.Writer) ([]string, func(), error) {
	env := os.Environ()
	if os.Getenv("DYNAMODB_ENDPOINT") != "" || os.Getenv("AWS_ACCESS_KEY_ID") != "" || os.Getenv("AWS_PROFILE") != "" {
		return env, func() {}, nil
	}
	build := filepath.Join(root, ".build")
	if err := os.MkdirAll(filepath.Join(build, "ddb-data"), 0o755); err != nil {
		return nil, nil, err
	}
	endpoint, stop := fmt.Sprintf("http://127.0.0.1:%d", DDBPort), func() {}
	if !answers(DDBPort) {
		srv, err := ddblocal.StartWith(ctx, ddblocal.Options{Log: io.Discard, DBPath: filepath.Join(build, "ddb-data")})
		if err != nil {
			return nil, nil, fmt.Errorf("%w (or set DYNAMODB_ENDPOINT, or run make ddb in another shell)", err)
		}
		endpoint, stop = srv.Endpoint, func() { _ = srv.Stop() }
		fmt.Fprintf(log, "invoke: DynamoDB Local on %s, data in .build/ddb-data (make ddb keeps one running)\n", endpoint)
		if srv.Warning != "" {
			fmt.Fprintf(log, "invoke: WARNING: %s\n", srv.Warning)
		}
	}
	table := os.Getenv("TABLE_NAME")
	if table == "" {
		table = "keygate"
		env = append(env, "TABLE_NAME="+table)
	}
	db := dynamodb.New(dynamodb.Options{
		Region: "us-east-1", BaseEndpoint: aws.String(endpoint),
		Credentials: credentials.NewStaticCredentialsProvider("local", "local", ""),
	})
	if err := store.EnsureTable(ctx, db, table); err != nil {
		stop()
		return nil, nil, fmt.Errorf("create table %s: %w", table, err)
	}
	env = append(env, "DYNAMODB_ENDPOINT="+endpoint)
	if os.Getenv("TOKEN_PEPPER") == "" && os.Getenv("TOKEN_PEPPER_SECRET_ARN") == "" {
		pepper, err := devPepper(filepath.Join(build, "dev-pepper"))
		if err != nil {
			stop()
			return nil, nil, err
		}
		env = append(env, "TOKEN_PEPPER="+pepper)
	}
	return env, stop, nil
}

// devPepper reads the development pepper, making one the first time: the
// same pepper every time, or keys minted before would stop verifying.
func devPepper(path string) (string, error) {
	if b, err := os.ReadFile(path); err == nil {
		return strings.TrimSpace(string(b)), nil
	}
	var b [48]byte
	if _, err := rand.Read(b[:]); err != nil {
		return "", err
	}
	pepper := base64.RawStdEncoding.EncodeToString(b[:])
	return pepper, os.WriteFile(path, []byte(pepper+"\n"), 0o600)
}

func answers(port int) bool {
	c, err := net.DialTimeout("tcp", fmt.Sprintf("127.0.0.1:%d", port), 300*time.Millisecond)
	if err != nil {
		return false
	}
	_ = c.Close()
	return true
}
