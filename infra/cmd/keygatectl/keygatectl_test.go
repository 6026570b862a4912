package main

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"runtime"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/keygate/keygate/infra/ddblocal"
	"github.com/keygate/keygate/infra/dynamotest"
	"github.com/keygate/keygate/infra/gateway"
	"github.com/keygate/keygate/infra/lambdarun"
	"github.com/keygate/keygate/infra/testkit"
	"github.com/keygate/keygate/shared/httpapi"
	"github.com/keygate/keygate/shared/keygate"
	"github.com/keygate/keygate/shared/manage"
	"github.com/keygate/keygate/shared/setup"
	"github.com/keygate/keygate/shared/setup/managesetup"
)

// localVars is the functions' environment on a fresh DynamoDB Local table.
func localVars(t *testing.T) map[string]string {
	t.Helper()
	return dynamotest.Vars(t, nil)
}

// ctl runs keygatectl and returns its exit status, stdout and stderr.
func ctl(t *testing.T, newBackend newBackendFunc, args ...string) (int, string, string) {
	t.Helper()
	var out, errOut bytes.Buffer
	code := run(context.Background(), args, &out, &errOut, newBackend)
	return code, out.String(), errOut.String()
}

// TestAgainstGateway drives the CLI over HTTP against the local stack (what
// make run serves): every command, --json, --out, and the exit statuses.
func TestAgainstGateway(t *testing.T) {
	vars := localVars(t)
	env, err := setup.Load(context.Background(), func(k string) string { return vars[k] }, &testkit.Buffer{})
	if err != nil {
		t.Fatal(err)
	}
	admin, err := managesetup.Service(env).Create(context.Background(), keygate.Caller{Operator: true}, manage.CreateRequest{Tenant: "acme", Owner: "root", Role: keygate.Admin})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(gateway.Local(env, 0, nil))
	t.Cleanup(srv.Close)
	t.Setenv("KEYGATE_KEY", admin.Token.Reveal())
	base := []string{"--endpoint", srv.URL}
	c := func(args ...string) (int, string, string) { return ctl(t, newBackend, append(base, args...)...) }

	// create --out: the token goes to a new 0600 file, not to the screen.
	out := filepath.Join(t.TempDir(), "bob.key")
	code, stdout, _ := c("create", "--owner", "bob", "--name", "ci", "--api", "kglocal001", "--scope", "GET /v1/whoami", "--out", out)
	raw, _ := os.ReadFile(out)
	fi, statErr := os.Stat(out)
	token := strings.TrimSpace(string(raw))
	if code != exitOK || !strings.HasPrefix(token, "kg_live_") || statErr != nil || fi.Mode().Perm() != 0o600 || strings.Contains(stdout, token) {
		t.Fatalf("create --out: %d, file %q (%v), stdout %q", code, token, fi.Mode(), stdout)
	}
	if code, _, stderr := c("create", "--owner", "bob", "--api", "kglocal001", "--scope", "GET /v1/whoami", "--out", out); code != exitUsage || !strings.Contains(stderr, "exists") {
		t.Fatalf("--out over an existing file: %d %s", code, stderr)
	}
	// list as JSON, and as a table.
	code, stdout, _ = c("--json", "list", "--owner", "bob")
	var list struct{ Keys []keygate.Key }
	if code != exitOK || json.Unmarshal([]byte(stdout), &list) != nil || len(list.Keys) != 1 {
		t.Fatalf("list --json: %d %s", code, stdout)
	}
	id := list.Keys[0].ID
	if code, stdout, _ = c("list"); code != exitOK || !strings.Contains(stdout, "ID") || !strings.Contains(stdout, id) {
		t.Fatalf("list: %d %s", code, stdout)
	}
	// rotate prints the successor's token once, with a warning.
	code, stdout, stderr := c("rotate", id, "--grace", "60")
	if code != exitOK || !strings.Contains(stdout, "kg_live_") || !strings.Contains(stderr, "shown only now") {
		t.Fatalf("rotate: %d %s %s", code, stdout, stderr)
	}
	for _, args := range [][]string{{"get", id}, {"update", id, "--disable"}, {"audit", "--key-id", id}, {"revoke", id, "--cascade"},
		{"settings"}, {"settings", "--owner-email", "ops@acme.example", "--reminder-days", "21,7"}, {"settings", "--leak-action", "notify", "--leak-cascade"}} {
		if code, stdout, stderr := c(args...); code != exitOK {
			t.Fatalf("%v: %d %s %s", args, code, stdout, stderr)
		}
	}
	// The leak settings took: the API holds them.
	if code, stdout, _ := c("--json", "settings"); code != exitOK || !strings.Contains(stdout, `"leak_action":"notify"`) || !strings.Contains(stdout, `"leak_cascade":true`) {
		t.Fatalf("settings after --leak-action notify --leak-cascade: %d %s", code, stdout)
	}
	// Exit statuses: refused, usage, unreachable.
	if code, _, stderr := c("get", "AAAAAAAAAAAAAAAAA"); code != exitRefused || !strings.Contains(stderr, "not_found") {
		t.Fatalf("unknown key: %d %s", code, stderr)
	}
	if code, _, _ := c("frobnicate"); code != exitUsage {
		t.Fatalf("unknown command: %d", code)
	}
	if code, _, _ := ctl(t, newBackend, "list"); code != exitUsage {
		t.Fatalf("no --endpoint or --stack: %d", code)
	}
	// Help that was asked for is an answer, not a usage error.
	if code, stdout, stderr := ctl(t, newBackend, "-h"); code != 0 || !strings.Contains(stdout, "usage: keygatectl") || stderr != "" {
		t.Fatalf("-h: %d %q %q", code, stdout, stderr)
	}
	// --key still works, for scripts with no other way.
	t.Setenv("KEYGATE_KEY", "")
	if code, _, _ := ctl(t, newBackend, "--endpoint", "http://127.0.0.1:1", "--key", admin.Token.Reveal(), "list"); code != exitFailure {
		t.Fatalf("unreachable endpoint: %d", code)
	}
}

// TestKeyStaysOffTheCommandLine: a command line is readable by every user
// of the machine (ps, /proc/PID/cmdline) and kept in shell history, so no
// keygatectl invocation that the usage, the package documentation or the
// operators' guide shows passes a key as an argument; $KEYGATE_KEY does.
func TestKeyStaysOffTheCommandLine(t *testing.T) {
	t.Setenv("KEYGATE_KEY", "")
	root, err := ddblocal.ModuleRoot()
	if err != nil {
		t.Fatal(err)
	}
	read := func(path string) string {
		b, err := os.ReadFile(filepath.Join(root, path))
		if err != nil {
			t.Fatal(err)
		}
		return string(b)
	}
	_, help, _ := ctl(t, nil, "-h")
	code, _, missing := ctl(t, nil, "--endpoint", "http://127.0.0.1:1", "list")
	if code != exitUsage {
		t.Fatalf("--endpoint without a key: exit %d", code)
	}
	invocation := regexp.MustCompile(`keygatectl\s+[-(]`)
	keyArg := regexp.MustCompile(`--key(\s|=|$)`) // not --key-id
	tests := []struct {
		name, text, want string
	}{
		{"usage", help, "visible to other users"},
		{"missing key error", strings.SplitN(missing, "\n", 2)[0], "$KEYGATE_KEY"},
		{"package documentation", read("infra/cmd/keygatectl/main.go"), "KEYGATE_KEY"},
		{"docs/operators.md", read("docs/operators.md"), "KEYGATE_KEY"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if !strings.Contains(tt.text, tt.want) {
				t.Errorf("does not mention %q:\n%s", tt.want, tt.text)
			}
			for _, line := range strings.Split(tt.text, "\n") {
				if (invocation.MatchString(line) || tt.name == "missing key error") && keyArg.MatchString(line) {
					t.Errorf("puts the key on the command line: %s", line)
				}
			}
		})
	}
}

// runtimeInvoker invokes the real function binaries under AWS's Runtime
// Interface Emulator (lambdarun), as Lambda's Invoke would.
type runtimeInvoker struct{ runtimes map[string]*lambdarun.Runtime }

func (r *runtimeInvoker) invoke(ctx context.Context, function string, payload []byte) ([]byte, string, string, error) {
	res, err := r.runtimes[function].Invoke(ctx, payload)
	if err != nil {
		return nil, "", "", err
	}
	if res.FunctionError != nil {
		return nil, res.FunctionError.Type, res.FunctionError.Message, nil
	}
	return res.Payload, "", "", nil
}

// TestAgainstFunctions drives the CLI's --stack path: direct events into
// the real function binaries, function errors as refusals.
func TestAgainstFunctions(t *testing.T) {
	vars := localVars(t)
	root, err := ddblocal.ModuleRoot()
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	inv := &runtimeInvoker{runtimes: map[string]*lambdarun.Runtime{}}
	var env []string
	for k, v := range vars {
		env = append(env, k+"="+v)
	}
	for _, fn := range []string{"create", "list", "revoke"} {
		bin := filepath.Join(t.TempDir(), "bootstrap")
		if err := lambdarun.Build(ctx, root, "./functions/"+fn, runtime.GOOS, runtime.GOARCH, bin, os.Stderr); err != nil {
			t.Fatal(err)
		}
		// The template gives the functions 10 s; a loaded test machine
		// needs more than lambdarun's 3 s default.
		rt, err := lambdarun.Start(ctx, lambdarun.Options{Binary: bin, Env: env, FunctionName: "keygate-" + fn, Timeout: 30 * time.Second, Stdout: &testkit.Buffer{}, Stderr: &testkit.Buffer{}})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = rt.Close() })
		inv.runtimes["keygate-"+fn] = rt
	}
	stack := func(context.Context, global) (backend, error) {
		return &directBackend{tenant: "acme", actor: "ops.jane", invoker: inv,
			functions: map[httpapi.Function]string{httpapi.Create: "keygate-create", httpapi.List: "keygate-list", httpapi.Revoke: "keygate-revoke"}}, nil
	}
	c := func(args ...string) (int, string, string) {
		return ctl(t, stack, append([]string{"--stack", "keygate", "--tenant", "acme", "--json"}, args...)...)
	}
	code, stdout, _ := c("create", "--owner", "alice", "--role", "admin", "--name", "bootstrap")
	var created map[string]any
	if code != exitOK || json.Unmarshal([]byte(stdout), &created) != nil || created["created_by"] != "operator:ops.jane" {
		t.Fatalf("create: %d %s", code, stdout)
	}
	id := created["id"].(string)
	for _, args := range [][]string{{"get", id}, {"list"}, {"update", id, "--name", "boot"}, {"rotate", id, "--grace", "0"}, {"audit"}, {"revoke", id}} {
		if code, stdout, stderr := c(args...); code != exitOK {
			t.Fatalf("%v: %d %s %s", args, code, stdout, stderr)
		}
	}
	// A function error is a refusal, with the code.
	if code, _, stderr := c("create", "--owner", "bob"); code != exitRefused || !strings.Contains(stderr, "invalid_request") {
		t.Fatalf("a refused create: %d %s", code, stderr)
	}
}

// TestSettingsCommand: settings reads, and with any flag changes, the
// tenant's settings; the flags become exactly the API's fields.
func TestSettingsCommand(t *testing.T) {
	tests := []struct {
		args    []string
		op      string
		body    string
		wantErr string
	}{
		{[]string{}, "settings", `{}`, ""},
		{[]string{"--leak-action", "notify"}, "save_settings", `{"leak_action":"notify"}`, ""},
		{[]string{"--leak-action", "revoke", "--leak-cascade"}, "save_settings", `{"leak_action":"revoke","leak_cascade":true}`, ""},
		{[]string{"--leak-cascade=false"}, "save_settings", `{"leak_cascade":false}`, ""},
		{[]string{"--owner-email", "ops@acme.example", "--reminder-days", "14, 3"}, "save_settings", `{"owner_email":"ops@acme.example","reminder_days":[14,3]}`, ""},
		{[]string{"--reminder-days", ""}, "save_settings", `{"reminder_days":[]}`, ""},
		{[]string{"--leak-action", "delete"}, "", "", "revoke or notify"},
		{[]string{"--leak-cascade=maybe"}, "", "", "true or false"},
		{[]string{"--reminder-days", "two"}, "", "", "whole numbers"},
		{[]string{"acme"}, "", "", "unexpected"},
	}
	for _, tt := range tests {
		t.Run(strings.Join(tt.args, " "), func(t *testing.T) {
			o, _, err := parseCommand("settings", tt.args)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("err = %v, want %q", err, tt.wantErr)
				}
				return
			}
			body, _ := json.Marshal(o.Body)
			if err != nil || o.Name != tt.op || string(body) != tt.body {
				t.Fatalf("got %s %s (%v), want %s %s", o.Name, body, err, tt.op, tt.body)
			}
		})
	}
}

// TestSettingsOverHTTP: the settings command's requests as the API sees
// them (method, path, body), and its answer printed.
func TestSettingsOverHTTP(t *testing.T) {
	var got []string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		got = append(got, r.Method+" "+r.URL.Path+" "+string(body))
		w.Header().Set("Content-Type", "application/json")
		_, _ = io.WriteString(w, `{"owner_email":"","reminder_days":[],"leak_action":"notify","leak_cascade":true}`)
	}))
	t.Cleanup(srv.Close)
	t.Setenv("KEYGATE_KEY", "kg_live_test")
	code, stdout, stderr := ctl(t, newBackend, "--endpoint", srv.URL, "settings", "--leak-action", "notify", "--leak-cascade")
	if code != exitOK || !regexp.MustCompile(`leak_action\s+notify`).MatchString(stdout) || !regexp.MustCompile(`leak_cascade\s+true`).MatchString(stdout) {
		t.Fatalf("settings: %d %q %q", code, stdout, stderr)
	}
	if code, _, _ := ctl(t, newBackend, "--endpoint", srv.URL, "settings"); code != exitOK {
		t.Fatalf("settings read: %d", code)
	}
	want := []string{`PUT /v1/settings {"leak_action":"notify","leak_cascade":true}`, "GET /v1/settings "}
	if !slices.Equal(got, want) {
		t.Fatalf("requests:\n  %s\nwant:\n  %s", strings.Join(got, "\n  "), strings.Join(want, "\n  "))
	}
}

// recordingInvoker answers every invocation with answer and keeps what it
// was sent, for the direct path's event shapes.
type recordingInvoker struct {
	answer string
	calls  []string
}

func (r *recordingInvoker) invoke(_ context.Context, function string, payload []byte) ([]byte, string, string, error) {
	r.calls = append(r.calls, function+" "+string(payload))
	return []byte(r.answer), "", "", nil
}

// TestSettingsDirect: with --stack, settings invokes the settings
// function with its event ({"tenant", the changes}); a stack without that
// function is a clear failure.
func TestSettingsDirect(t *testing.T) {
	inv := &recordingInvoker{answer: `{"owner_email":"","reminder_days":null,"leak_action":"revoke","leak_cascade":false}`}
	settingsFn := "keygate-settings"
	stack := func(context.Context, global) (backend, error) {
		return &directBackend{tenant: "acme", actor: "ops.jane", invoker: inv, settings: settingsFn}, nil
	}
	c := func(args ...string) (int, string, string) {
		return ctl(t, stack, append([]string{"--stack", "keygate", "--tenant", "acme"}, args...)...)
	}
	if code, stdout, stderr := c("settings", "--leak-action", "revoke", "--leak-cascade=false"); code != exitOK || !strings.Contains(stdout, "revoke") {
		t.Fatalf("settings: %d %s %s", code, stdout, stderr)
	}
	if code, _, stderr := c("settings"); code != exitOK {
		t.Fatalf("settings read: %d %s", code, stderr)
	}
	want := []string{
		`keygate-settings {"leak_action":"revoke","leak_cascade":false,"tenant":"acme"}`,
		`keygate-settings {"tenant":"acme"}`,
	}
	if !slices.Equal(inv.calls, want) {
		t.Fatalf("invocations:\n  %s\nwant:\n  %s", strings.Join(inv.calls, "\n  "), strings.Join(want, "\n  "))
	}
	settingsFn = ""
	if code, _, stderr := c("settings"); code != exitFailure || !strings.Contains(stderr, "SettingsFunctionName") {
		t.Fatalf("a stack without the settings function: %d %s", code, stderr)
	}
}

// TestLeakedShown: a key's leak report is printed with its date, and its
// URL (alert text) quoted, so escape sequences in it cannot act on the
// terminal.
func TestLeakedShown(t *testing.T) {
	answer := `{"id":"AAAAAAAAAAAAAAAAA","status":"revoked","leaked":{"at":"2026-11-23T19:42:52.07Z","url":"https://github.com/octo/app/blob/1/x.env\u001b[2J","source":"content","type":"keygate_api_key"}}`
	var out, errOut bytes.Buffer
	if code := printAnswer(op{Name: "get"}, json.RawMessage(answer), false, "", &out, &errOut); code != exitOK {
		t.Fatalf("printAnswer: %d %s", code, errOut.String())
	}
	line := regexp.MustCompile(`(?m)^leaked\s+(.*)$`).FindStringSubmatch(out.String())
	if line == nil || !strings.Contains(line[1], "2026-11-23 19:42") || !strings.Contains(line[1], `"https://github.com/octo/app/blob/1/x.env\x1b[2J"`) ||
		!strings.Contains(line[1], "content") || strings.ContainsRune(out.String(), 0x1b) {
		t.Fatalf("leaked line: %q", out.String())
	}
	out.Reset()
	printAnswer(op{Name: "get"}, json.RawMessage(`{"id":"AAAAAAAAAAAAAAAAA","status":"active"}`), false, "", &out, &errOut)
	if strings.Contains(out.String(), "leaked") {
		t.Fatalf("a key without a leak report shows one: %q", out.String())
	}
}
