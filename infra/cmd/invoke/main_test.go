package main

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"

	"github.com/keygate/keygate/infra/ddblocal"
	"github.com/keygate/keygate/infra/lambdarun"
	"github.com/keygate/keygate/infra/testkit"
)

func TestRun(t *testing.T) {
	testkit.SkipShort(t, "DynamoDB Local")
	root, err := ddblocal.ModuleRoot()
	if err != nil {
		t.Fatal(err)
	}
	// Building through lambdarun.Build checks the real build flags too.
	bin := filepath.Join(t.TempDir(), "echo", "bootstrap")
	var buildLog bytes.Buffer
	if err := lambdarun.Build(t.Context(), root, "./infra/lambdarun/testdata/echo", runtime.GOOS, runtime.GOARCH, bin, &buildLog); err != nil {
		t.Fatalf("%v\n%s", err, buildLog.String())
	}

	eventFile := filepath.Join(t.TempDir(), "event.json")
	if err := os.WriteFile(eventFile, []byte(`{"hello":"world"}`), 0o644); err != nil {
		t.Fatal(err)
	}
	t.Setenv("ECHO_ENV", "from-parent")

	tests := []struct {
		name       string
		args       []string
		stdin      string
		wantCode   int
		wantStdout []string // substrings
		wantStderr []string
	}{
		{
			name:       "event file",
			args:       []string{"-fn", "echo", "-binary", bin, "-event", eventFile},
			wantStdout: []string{"{\n  \"event\": {\n    \"hello\": \"world\"\n  },", `"echoEnv": "from-parent"`, `"functionName": "echo"`},
			wantStderr: []string{"echo: handling event", "REPORT RequestId: ", "Memory Size: 256 MB", "invoke: measured\tInit Duration: "},
		},
		{
			name:       "event from stdin",
			args:       []string{"-binary", bin, "-event", "-"},
			stdin:      `{"from":"stdin"}`,
			wantStdout: []string{`"from": "stdin"`},
		},
		{
			name:       "default event",
			args:       []string{"-binary", bin},
			wantStdout: []string{`"event": {}`},
		},
		{
			name:       "function error",
			args:       []string{"-binary", bin, "-event", "-"},
			stdin:      `{"fail":true}`,
			wantCode:   1,
			wantStderr: []string{"function error: failError: asked to fail", `"errorType": "failError"`},
		},
		{
			name:       "process exits",
			args:       []string{"-binary", bin, "-event", "-"},
			stdin:      `{"exit":true}`,
			wantCode:   1,
			wantStderr: []string{"exit status 3"},
		},
		{
			name:       "invalid event",
			args:       []string{"-binary", bin, "-event", "-"},
			stdin:      `{`,
			wantCode:   1,
			wantStderr: []string{"not valid JSON"},
		},
		{
			name:       "missing event file",
			args:       []string{"-binary", bin, "-event", filepath.Join(t.TempDir(), "none.json")},
			wantCode:   1,
			wantStderr: []string{"no such file"},
		},
		{name: "no function", args: nil, wantCode: 2, wantStderr: []string{"usage:"}},
		{name: "path as function", args: []string{"-fn", "../echo"}, wantCode: 2, wantStderr: []string{"not a function name"}},
		{name: "stray argument", args: []string{"-binary", bin, "extra"}, wantCode: 2},
		{name: "unknown flag", args: []string{"-nope"}, wantCode: 2},
		{name: "help", args: []string{"-h"}, wantCode: 0, wantStderr: []string{"usage:"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var stdout bytes.Buffer
			var stderr testkit.Buffer
			code := run(t.Context(), tt.args, strings.NewReader(tt.stdin), &stdout, &stderr)
			if code != tt.wantCode {
				t.Fatalf("exit code %d, want %d\nstdout: %s\nstderr: %s", code, tt.wantCode, stdout.String(), stderr.String())
			}
			for _, want := range tt.wantStdout {
				if !strings.Contains(stdout.String(), want) {
					t.Errorf("stdout lacks %q:\n%s", want, stdout.String())
				}
			}
			for _, want := range tt.wantStderr {
				if !strings.Contains(stderr.String(), want) {
					t.Errorf("stderr lacks %q:\n%s", want, stderr.String())
				}
			}
			if len(tt.wantStdout) == 0 {
				if stdout.Len() != 0 {
					t.Errorf("stdout should be empty, got %q", stdout.String())
				}
				return
			}
			// Stdout is exactly the payload: valid JSON, newline-terminated, no logs.
			if !json.Valid(stdout.Bytes()) || !bytes.HasSuffix(stdout.Bytes(), []byte("}\n")) {
				t.Errorf("stdout is not one JSON document plus newline: %q", stdout.String())
			}
		})
	}
}

func TestWritePretty(t *testing.T) {
	tests := []struct{ in, want string }{
		{`{"a":[1,2]}`, "{\n  \"a\": [\n    1,\n    2\n  ]\n}\n"},
		{`"text"`, "\"text\"\n"},
		{`not json`, "not json\n"},
		{``, "\n"},
	}
	for _, tt := range tests {
		var b bytes.Buffer
		writePretty(&b, []byte(tt.in))
		if b.String() != tt.want {
			t.Errorf("writePretty(%q) = %q, want %q", tt.in, b.String(), tt.want)
		}
	}
}
