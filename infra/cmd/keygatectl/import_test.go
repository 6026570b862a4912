package main

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/aws/aws-lambda-go/lambda/messages"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/apigateway"
	"github.com/keygate/keygate/infra/dynamotest"
	"github.com/keygate/keygate/infra/motolocal"
	"github.com/keygate/keygate/infra/testkit"
	"github.com/keygate/keygate/shared/authorizer"
	"github.com/keygate/keygate/shared/httpapi"
	"github.com/keygate/keygate/shared/setup"
	"github.com/keygate/keygate/shared/setup/authsetup"
	"github.com/keygate/keygate/shared/setup/managesetup"
)

// handlerInvoker invokes the management functions' handlers in this
// process, as Lambda's Invoke would the functions (TestAgainstFunctions
// runs the real binaries for the same events).
type handlerInvoker struct{ handlers map[string]*httpapi.Handler }

func (h handlerInvoker) invoke(ctx context.Context, function string, payload []byte) ([]byte, string, string, error) {
	out, err := h.handlers[function].Handle(ctx, payload)
	var fe messages.InvokeResponse_Error
	if asFunctionError(err, &fe) {
		return nil, fe.Type, fe.Message, nil
	}
	return out, "", "", err
}

func asFunctionError(err error, fe *messages.InvokeResponse_Error) bool {
	e, ok := err.(messages.InvokeResponse_Error)
	*fe = e
	return ok
}

// importStack is a DynamoDB Local table with the management handlers, an
// authorizer with IMPORTED_KEYS on, and keygatectl's --stack path to them.
type importStack struct {
	auth *authorizer.Authorizer
	ctl  func(args ...string) (int, string, string)
}

func newImportStack(t *testing.T) *importStack {
	t.Helper()
	vars := dynamotest.Vars(t, map[string]string{"IMPORTED_KEYS": "on"})
	env, err := setup.Load(context.Background(), func(k string) string { return vars[k] }, &testkit.Buffer{})
	if err != nil {
		t.Fatal(err)
	}
	inv := handlerInvoker{handlers: map[string]*httpapi.Handler{}}
	fns := map[httpapi.Function]string{}
	for _, fn := range httpapi.Functions() {
		inv.handlers[string(fn)], fns[fn] = managesetup.Handler(env, fn), string(fn)
	}
	stack := func(context.Context, global) (backend, error) {
		return &directBackend{tenant: "acme", actor: "ops.jane", invoker: inv, functions: fns}, nil
	}
	return &importStack{auth: authsetup.Authorizer(env), ctl: func(args ...string) (int, string, string) {
		return ctl(t, stack, append([]string{"--stack", "keygate", "--tenant", "acme"}, args...)...)
	}}
}

// allowed reports whether the authorizer allows token on GET /x.
func (s *importStack) allowed(t *testing.T, token string) bool {
	t.Helper()
	d, _, err := s.auth.Authorize(context.Background(), authorizer.Request{Token: token, Method: "GET", Path: "/x"})
	if err != nil {
		t.Fatal(err)
	}
	return d.Outcome == authorizer.Allow
}

var keyOf = regexp.MustCompile(`\(key ([0-9A-Za-z]+)\)`)

// rotateToKeygate rotates an imported key with keygatectl and checks the
// successor's token is a Keygate token the authorizer allows.
func (s *importStack) rotateToKeygate(t *testing.T, id string) {
	t.Helper()
	code, stdout, stderr := s.ctl("--json", "rotate", id)
	var next struct {
		Token    string `json:"token"`
		Imported bool   `json:"imported"`
	}
	if code != exitOK || json.Unmarshal([]byte(stdout), &next) != nil || !strings.HasPrefix(next.Token, "kg_live_") || next.Imported {
		t.Fatalf("rotate %s: %d %s %s", id, code, stdout, stderr)
	}
	if !s.allowed(t, next.Token) {
		t.Fatalf("the successor's Keygate token is refused")
	}
}

const (
	good  = "ak_live_4f8b2c9d1e7a6b3c5d0e9f8a7b6c"
	other = "AbCdEfGhIjKlMnOpQrStUvWxYz0123456789"
)

// TestImportCSV: a hostile CSV file (BOM, CRLF, a header, quoting,
// duplicates, short values, formula- and markup-looking names, control
// characters, wrong column counts) is imported line by line, each line
// reported; the imported values authenticate through the authorizer;
// importing again writes nothing; list --imported shows them; rotation
// issues Keygate tokens.
func TestImportCSV(t *testing.T) {
	s := newImportStack(t)
	file := filepath.Join(t.TempDir(), "keys.csv")
	rows := []string{
		"\ufeffvalue,tenant,owner,name,scopes,apis,expires_at",
		good + ",acme,alice,\"ci, legacy\",GET /x;GET /y,*,",                                   // line 2: imported
		other + ",,bob,\"=cmd|' /C calc'!A0\",GET /x,*",                                        // line 3: imported, name as text
		good + ",acme,carol,dup,GET /x,*,",                                                     // line 4: duplicate of line 2
		"tooshort12345,acme,dave,short,GET /x,*,",                                              // line 5: short
		"ZyXwVuTsRqPoNmLkJiHgFeDcBa987654321,acme,erin,\"<script>alert(1)</script>\",GET /x,*", // line 6: imported
		"QwErTyUiOpAsDfGhJkLzXcVbNm13579,acme,frank,\"bell\a\",GET /x,*",                       // line 7: control character
		"only,three,columns", // line 8
		"PlMoKnIjBuHvYgCtFxRdZeSwAq24680,acme,\"not an owner!\",x,GET /x,*", // line 9: the service refuses
	}
	if err := os.WriteFile(file, []byte(strings.Join(rows, "\r\n")+"\r\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	code, stdout, stderr := s.ctl("import", "--csv", file)
	want := []string{
		`^line 2: imported \(key \w+\)$`,
		`^line 3: imported \(key \w+\)$`,
		`^line 4: refused: the same value as line 2$`,
		`^line 5: refused: value: shorter than 20 characters$`,
		`^line 6: imported \(key \w+\)$`,
		`^line 7: refused: name holds a control character$`,
		`^line 8: refused: 3 columns; want value,tenant,owner,name,scopes,apis,expires_at \(the last three optional\)$`,
		`^line 9: refused: owner must be`,
	}
	lines := strings.Split(strings.TrimSpace(stdout), "\n")
	if code != exitRefused || len(lines) != len(want) || !strings.Contains(stderr, "3 imported, 0 already imported, 5 refused") {
		t.Fatalf("import: %d\n%s\n%s", code, stdout, stderr)
	}
	for i, w := range want {
		if !regexp.MustCompile(w).MatchString(lines[i]) {
			t.Errorf("line %d of the report: %q, want %s", i+1, lines[i], w)
		}
	}
	if strings.Contains(stdout+stderr, good) || strings.Contains(stdout+stderr, other) {
		t.Error("the report shows a value")
	}
	// The names are kept exactly, as text.
	id3 := keyOf.FindStringSubmatch(lines[1])[1]
	code, stdout, _ = s.ctl("--json", "get", id3)
	var k struct {
		Name     string `json:"name"`
		Imported bool   `json:"imported"`
	}
	if code != exitOK || json.Unmarshal([]byte(stdout), &k) != nil || k.Name != "=cmd|' /C calc'!A0" || !k.Imported {
		t.Fatalf("get %s: %d %s", id3, code, stdout)
	}
	// The old values authenticate; near misses do not.
	if !s.allowed(t, good) || !s.allowed(t, other) || s.allowed(t, good[:len(good)-1]) {
		t.Fatal("imported values through the authorizer")
	}
	// Again: nothing written, each line says so.
	code, stdout, stderr = s.ctl("import", "--csv", file)
	if code != exitRefused || !strings.Contains(stdout, "line 2: already imported (key ") || !strings.Contains(stderr, "0 imported, 3 already imported, 5 refused") {
		t.Fatalf("import again: %d\n%s\n%s", code, stdout, stderr)
	}
	// list --imported: the keys to rotate.
	code, stdout, _ = s.ctl("--json", "list", "--imported")
	var list struct{ Keys []map[string]any }
	if code != exitOK || json.Unmarshal([]byte(stdout), &list) != nil || len(list.Keys) != 3 {
		t.Fatalf("list --imported: %d %s", code, stdout)
	}
	if code, stdout, _ := s.ctl("list", "--imported"); code != exitOK || strings.Count(stdout, "(imported)") != 3 {
		t.Fatalf("list --imported as a table: %d %s", code, stdout)
	}
	id2 := keyOf.FindStringSubmatch(lines[0])[1]
	s.rotateToKeygate(t, id2)
	// The audit trail says imported.
	if code, stdout, _ := s.ctl("--json", "audit", "--key-id", id2); code != exitOK || !strings.Contains(stdout, `"action":"imported"`) {
		t.Fatalf("audit: %d %s", code, stdout)
	}
}

// TestImportCSVBounds: a line past the length bound, a file past the row
// bound, a broken quote and --endpoint stop the import with a reason.
func TestImportCSVBounds(t *testing.T) {
	s := newImportStack(t)
	dir := t.TempDir()
	write := func(name, text string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(text), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	old := maxImportRows
	maxImportRows = 2
	t.Cleanup(func() { maxImportRows = old })
	tests := []struct{ name, file, want string }{
		{"long line", write("long.csv", strings.Repeat("a", maxImportLine+1)), "longer than 8192 bytes"},
		{"too many rows", write("rows.csv", strings.Repeat("x,acme,o,n\n", 4)), "more than 2 keys in one file"},
		{"broken quote", write("quote.csv", "\"abc,acme,o,n\nrest"), "not CSV"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if code, _, stderr := s.ctl("import", "--csv", tt.file); code != exitFailure || !strings.Contains(stderr, tt.want) {
				t.Fatalf("%d %s", code, stderr)
			}
		})
	}
	if code, _, stderr := ctl(t, nil, "--endpoint", "http://127.0.0.1:1", "--key", "x", "import", "--csv", "f"); code != exitUsage || !strings.Contains(stderr, "--stack") {
		t.Fatalf("import over --endpoint: %d %s", code, stderr)
	}
}

// TestImportFromAPIGateway: API Gateway's API keys, read with their values
// from moto_server's API Gateway (GetApiKeys with includeValues, and
// GetUsagePlanKeys for --usage-plan), authenticate through the authorizer
// with their old values once imported, and rotate to Keygate tokens.
func TestImportFromAPIGateway(t *testing.T) {
	endpoint := motolocal.Endpoint(t)
	ctx := context.Background()
	client := apigateway.NewFromConfig(motolocal.Config(endpoint))
	values := map[string]string{}
	create := func(name, value string, enabled bool) string {
		out, err := client.CreateApiKey(ctx, &apigateway.CreateApiKeyInput{Name: aws.String(name), Value: aws.String(value), Enabled: enabled})
		if err != nil {
			t.Fatal(err)
		}
		values[*out.Id] = value
		return *out.Id
	}
	inPlan := create("partner-a", "PaRtNeRaKeY0123456789abcdEFGH", true)
	outside := create("partner-b", "PaRtNeRbKeY0123456789abcdEFGH", true)
	disabled := create("partner-c", "PaRtNeRcKeY0123456789abcdEFGH", false)
	plan, err := client.CreateUsagePlan(ctx, &apigateway.CreateUsagePlanInput{Name: aws.String("gold")})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := client.CreateUsagePlanKey(ctx, &apigateway.CreateUsagePlanKeyInput{UsagePlanId: plan.Id, KeyId: aws.String(inPlan), KeyType: aws.String("API_KEY")}); err != nil {
		t.Fatal(err)
	}
	// The SDK's own settings, pointed at moto.
	t.Setenv("AWS_ENDPOINT_URL_API_GATEWAY", endpoint)
	t.Setenv("AWS_ACCESS_KEY_ID", "moto")
	t.Setenv("AWS_SECRET_ACCESS_KEY", "moto")
	t.Setenv("AWS_REGION", "us-east-1")
	t.Setenv("AWS_CONFIG_FILE", filepath.Join(t.TempDir(), "none"))
	t.Setenv("AWS_SHARED_CREDENTIALS_FILE", filepath.Join(t.TempDir(), "none"))
	s := newImportStack(t)
	flags := []string{"--owner", "partners", "--scope", "GET /x", "--api", "*"}

	code, stdout, stderr := s.ctl(append([]string{"import", "--from-apigateway", "--usage-plan", *plan.Id}, flags...)...)
	if code != exitOK || strings.TrimSpace(stdout) == "" || strings.Count(strings.TrimSpace(stdout), "\n") != 0 || !strings.Contains(stdout, "API key "+inPlan+": imported (key ") {
		t.Fatalf("--usage-plan: %d\n%s\n%s", code, stdout, stderr)
	}
	code, stdout, stderr = s.ctl(append([]string{"import", "--from-apigateway"}, flags...)...)
	for _, w := range []string{"API key " + inPlan + ": already imported", "API key " + outside + ": imported (key ", "API key " + disabled + ": refused: disabled in API Gateway"} {
		if !strings.Contains(stdout, w) {
			t.Errorf("want %q in\n%s", w, stdout)
		}
	}
	if code != exitRefused {
		t.Fatalf("all keys: %d %s", code, stderr)
	}
	if !s.allowed(t, values[inPlan]) || !s.allowed(t, values[outside]) || s.allowed(t, values[disabled]) {
		t.Fatal("API Gateway values through the authorizer")
	}
	m := regexp.MustCompile(`API key ` + outside + `: imported \(key (\w+)\)`).FindStringSubmatch(stdout)
	s.rotateToKeygate(t, m[1])
}
