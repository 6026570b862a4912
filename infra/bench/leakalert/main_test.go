package main

import (
	"os"
	"testing"

	"github.com/keygate/keygate/infra/dynamotest"
	"github.com/keygate/keygate/infra/testkit"
)

// TestRun keeps make bench's alert measurement working: a small run
// against DynamoDB Local passes its own checks (labels, one read per real
// token, the same calls every alert).
func TestRun(t *testing.T) {
	testkit.SkipShort(t, "DynamoDB Local")
	t.Setenv("DYNAMODB_ENDPOINT", dynamotest.Endpoint(t))
	os.Args = []string{"leakalert", "-alerts", "3", "-tokens", "60", "-real", "4"}
	if err := run(t.Context()); err != nil {
		t.Fatal(err)
	}
}
