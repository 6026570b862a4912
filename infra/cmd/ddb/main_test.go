package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"strings"
	"testing"

	"github.com/keygate/keygate/infra/cli"
)

// fakeStart stands in for DynamoDB Local: runWith's contract with its
// command does not depend on the server.
func fakeStart(started, stopped *int, fail error) starter {
	return func(io.Writer) (string, string, func(), error) {
		if fail != nil {
			return "", "", nil, fail
		}
		*started++
		return "http://127.0.0.1:8999", "slow disk", func() { *stopped++ }, nil
	}
}

func TestRunWith(t *testing.T) {
	tests := []struct {
		name    string
		args    []string
		fail    error
		code    int
		stdout  string
		stderr  string
		started int
	}{
		{"exit status passes through", []string{"--", "sh", "-c", "exit 3"}, nil, 3, "", "DynamoDB Local on http://127.0.0.1:8999", 1},
		{"success", []string{"--", "true"}, nil, 0, "", "WARNING: slow disk", 1},
		{"endpoint in the environment", []string{"--", "sh", "-c", `printf %s "$DYNAMODB_ENDPOINT"`}, nil, 0, "http://127.0.0.1:8999", "", 1},
		{"without --", []string{"sh", "-c", "echo hi"}, nil, 0, "hi\n", "", 1},
		{"no command", []string{"--"}, nil, 2, "", "usage: ddb run", 0},
		{"command not found", []string{"--", "/nonexistent/command"}, nil, 1, "", "ddb run:", 1},
		{"server fails", []string{"--", "true"}, errors.New("no java"), 1, "", "ddb run: no java", 0},
		// Ctrl-C must reach the command: were SIGINT ignored in it (an
		// ignored signal stays ignored across exec), the kill would do
		// nothing and it would exit 0. Its death by a signal is reported as
		// a shell does (128+2).
		{"interrupt reaches the command", []string{"--", "sh", "-c", `kill -INT $$; exit 0`}, nil, 130, "", "", 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var started, stopped int
			var stdout, stderr bytes.Buffer
			code := runWith(tt.args, fakeStart(&started, &stopped, tt.fail), strings.NewReader(""), &stdout, &stderr)
			if code != tt.code {
				t.Errorf("exit %d, want %d (stderr %q)", code, tt.code, stderr.String())
			}
			if stdout.String() != tt.stdout {
				t.Errorf("stdout %q, want %q", stdout.String(), tt.stdout)
			}
			if !strings.Contains(stderr.String(), tt.stderr) {
				t.Errorf("stderr %q lacks %q", stderr.String(), tt.stderr)
			}
			if started != tt.started || stopped != started {
				t.Errorf("started %d, stopped %d; want %d started, all stopped", started, stopped, tt.started)
			}
		})
	}
}

func TestTable(t *testing.T) {
	tests := []struct {
		name  string
		args  []string
		env   string // TABLE_NAME
		code  int
		table string // TableName printed, if any
	}{
		{"print, default name", []string{"-print"}, "", 0, "keygate"},
		{"print, TABLE_NAME", []string{"-print"}, "keys-dev", 0, "keys-dev"},
		{"no TABLE_NAME", nil, "", 2, ""},
		{"stray argument", []string{"-print", "extra"}, "", 2, ""},
		{"unknown flag", []string{"-x"}, "", 2, ""},
		{"help", []string{"-h"}, "", 0, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Setenv("TABLE_NAME", tt.env)
			t.Setenv("DYNAMODB_ENDPOINT", "http://127.0.0.1:1")
			var stdout, stderr bytes.Buffer
			err := table(context.Background(), tt.args, &stdout, &stderr)
			if code := cli.Status("ddb table", err, io.Discard); code != tt.code {
				t.Fatalf("exit %d, want %d: %v %s", code, tt.code, err, stderr.String())
			}
			if tt.table == "" {
				return
			}
			var def struct {
				TableName               string
				TimeToLiveSpecification struct{ Enabled bool }
				KeySchema               []map[string]string
			}
			if err := json.Unmarshal(stdout.Bytes(), &def); err != nil {
				t.Fatal(err)
			}
			if def.TableName != tt.table || !def.TimeToLiveSpecification.Enabled || len(def.KeySchema) == 0 {
				t.Fatalf("definition %+v", def)
			}
		})
	}
}
