package console_test

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/log"
	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/cdproto/page"
	"github.com/chromedp/chromedp"
	"github.com/chromedp/chromedp/kb"
	"github.com/keygate/keygate/infra/dynamotest"
	"github.com/keygate/keygate/infra/gateway"
	"github.com/keygate/keygate/infra/testkit"
	"github.com/keygate/keygate/shared/keygate"
	"github.com/keygate/keygate/shared/manage"
	"github.com/keygate/keygate/shared/setup"
	"github.com/keygate/keygate/shared/setup/managesetup"
)

var (
	chromiumPath string
	axeSource    string
	// Screenshots of the main screens go to docs/console (set
	// CONSOLE_SCREENSHOTS=0 to leave the docs alone); failures keep theirs
	// in .build/console-failures.
	docsDir     = filepath.Join("..", "..", "docs", "console")
	failuresDir = filepath.Join("..", "..", ".build", "console-failures")
)

// TestMain finds Chromium and axe-core, failing loudly (never skipping)
// when either is missing: make console-deps installs both. Under -short,
// the fast tier, it looks for neither and every test skips (newBrowser).
func TestMain(m *testing.M) {
	flag.Parse()
	if testing.Short() {
		os.Exit(m.Run())
	}
	if err := findTools(); err != nil {
		fmt.Fprintf(os.Stderr, "\nFAIL: the console's browser tests need %v\n"+
			"      Run `make console-deps` (infra/console/setup.sh) to install Chromium and axe-core.\n\n", err)
		os.Exit(1)
	}
	os.Exit(m.Run())
}

func findTools() error {
	p, err := exec.LookPath("chromium")
	if err != nil {
		return fmt.Errorf("the `chromium` binary on PATH (%v)", err)
	}
	chromiumPath = p
	const axe = "node_modules/axe-core/axe.min.js"
	if _, err := os.Stat(axe); err != nil {
		// The lockfile pins it; install it as setup.sh would.
		cmd := exec.Command("npm", "ci", "--no-audit", "--no-fund", "--silent")
		if out, err := cmd.CombinedOutput(); err != nil {
			return fmt.Errorf("axe-core from infra/console/package-lock.json (npm ci: %v)\n%s", err, out)
		}
	}
	b, err := os.ReadFile(axe)
	if err != nil {
		return fmt.Errorf("axe-core (%v)", err)
	}
	axeSource = string(b)
	return nil
}

// stack is the local stack (DynamoDB Local, the real handlers behind the
// local API Gateway, the console in front) over real HTTP on 127.0.0.1.
type stack struct {
	url   string
	admin string
}

func newStack(t *testing.T) *stack {
	t.Helper()
	// Every test starts here, before its browser: the fast tier skips.
	testkit.SkipShort(t, "Chromium, axe-core and DynamoDB Local")
	// Revocation takes effect on the next request: no caches.
	vars := dynamotest.Vars(t, map[string]string{"AUTH_CACHE_TTL": "0"})
	env, err := setup.Load(context.Background(), func(k string) string { return vars[k] }, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	admin, err := managesetup.Service(env).Create(context.Background(), keygate.Caller{Operator: true},
		manage.CreateRequest{Tenant: "demo", Owner: "alice", Name: "alice admin", Role: keygate.Admin})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(gateway.Local(env, 0, nil))
	t.Cleanup(srv.Close)
	return &stack{url: srv.URL, admin: admin.Token.Reveal()}
}

// call makes an API request from Go and returns the status and JSON body.
func (s *stack) call(t *testing.T, method, path, token, body string) (int, map[string]any) {
	t.Helper()
	status, _, m := testkit.SendJSON(t, method, s.url+path, testkit.Bearer(token), body)
	return status, m
}

// create makes a key over the API and returns its token and ID.
func (s *stack) create(t *testing.T, body string) (token, id string) {
	t.Helper()
	status, m := s.call(t, "POST", "/v1/keys", s.admin, body)
	if status != 201 {
		t.Fatalf("seed create %s = %d %v", body, status, m)
	}
	return m["token"].(string), m["id"].(string)
}

// browser is one headless Chromium tab on the console, recording what the
// page must never do: open a JavaScript dialog, throw, or break its CSP.
type browser struct {
	t   *testing.T
	ctx context.Context

	mu       sync.Mutex
	dialogs  []string
	problems []string
	// failed are the page's requests answered 4xx/5xx and the errors the
	// browser's console logged about the network (what devtools shows in
	// red), in order; tests that expect none read and reset them.
	failed []string
}

// failures returns the failed requests and network errors since the last
// call, and forgets them.
func (b *browser) failures() []string {
	b.mu.Lock()
	defer b.mu.Unlock()
	f := b.failed
	b.failed = nil
	return f
}

func newBrowser(t *testing.T, width, height int) *browser {
	t.Helper()
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(chromiumPath),
		chromedp.NoSandbox,
		chromedp.DisableGPU,
		chromedp.WindowSize(width, height),
		chromedp.Flag("hide-scrollbars", true),
		chromedp.Flag("font-render-hinting", "none"),
	)
	alloc, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancel := chromedp.NewContext(alloc)
	t.Cleanup(func() { cancel(); cancelAlloc() })
	b := &browser{t: t, ctx: ctx}
	err := chromedp.Listen(ctx, func(ev any) {
		if r, ok := ev.(*network.EventResponseReceived); ok && r.Response != nil && r.Response.Status >= 400 {
			b.mu.Lock()
			b.failed = append(b.failed, fmt.Sprintf("%d %s", r.Response.Status, r.Response.URL))
			b.mu.Unlock()
		}
		if d, ok := ev.(*page.EventJavascriptDialogOpening); ok {
			b.mu.Lock()
			b.dialogs = append(b.dialogs, string(d.Type)+": "+d.Message)
			b.mu.Unlock()
			go func() {
				_, _ = chromedp.Call(ctx, page.HandleJavaScriptDialog, page.HandleJavaScriptDialogParams{Accept: false})
			}()
		}
	})
	if err != nil {
		t.Fatalf("start chromium (%s): %v", chromiumPath, err)
	}
	if _, err := chromedp.Call(ctx, log.Enable, cdp.Empty{}); err != nil {
		t.Fatalf("log.enable: %v", err)
	}
	if _, err := chromedp.Call(ctx, network.Enable, network.EnableParams{}); err != nil {
		t.Fatalf("network.enable: %v", err)
	}
	go func() {
		for msg, err := range chromedp.Console(ctx) {
			if err != nil {
				return
			}
			text := msg.String()
			bad := msg.IsException() ||
				strings.Contains(text, "Content Security Policy") ||
				strings.Contains(text, "Refused to") ||
				(msg.Type == "error" && msg.Source != "network")
			if bad {
				b.mu.Lock()
				b.problems = append(b.problems, text)
				b.mu.Unlock()
			}
			if msg.Type == "error" && msg.Source == "network" {
				b.mu.Lock()
				b.failed = append(b.failed, "console: "+text)
				b.mu.Unlock()
			}
		}
	}()
	t.Cleanup(func() {
		b.mu.Lock()
		defer b.mu.Unlock()
		if len(b.dialogs) > 0 {
			t.Errorf("the page opened JavaScript dialogs: %q", b.dialogs)
		}
		if len(b.problems) > 0 {
			t.Errorf("the page logged errors or CSP violations: %q", b.problems)
		}
	})
	return b
}

// do runs one named step; a failure names the step and keeps a screenshot.
func (b *browser) do(step string, actions ...chromedp.Action[chromedp.Void]) {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, 15*time.Second)
	defer cancel()
	if err := chromedp.Do(ctx, actions...); err != nil {
		b.fail(step, err)
	}
}

// eval evaluates a JavaScript expression (promises awaited).
func eval[T any](b *browser, step, expr string) T {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, 20*time.Second)
	defer cancel()
	v, err := chromedp.Run(ctx, chromedp.Evaluate[T](expr, chromedp.EvalAwaitPromise))
	if err != nil {
		b.fail(step, err)
	}
	return v
}

// waitFor polls a JavaScript predicate until it holds.
func (b *browser) waitFor(step, predicate string) {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, 10*time.Second)
	defer cancel()
	if _, err := chromedp.Run(ctx, chromedp.Poll[bool](predicate)); err != nil {
		b.fail(step, fmt.Errorf("waiting for %s: %w", predicate, err))
	}
}

func (b *browser) check(step string, ok bool, format string, args ...any) {
	b.t.Helper()
	if !ok {
		b.fail(step, fmt.Errorf(format, args...))
	}
}

var unsafeName = regexp.MustCompile(`[^A-Za-z0-9_-]+`)

func (b *browser) fail(step string, err error) {
	b.t.Helper()
	shot := filepath.Join(failuresDir, unsafeName.ReplaceAllString(b.t.Name()+"-"+step, "_")+".png")
	ctx, cancel := context.WithTimeout(b.ctx, 5*time.Second)
	defer cancel()
	if png, serr := chromedp.Run(ctx, chromedp.FullScreenshot(100)); serr == nil {
		_ = os.MkdirAll(failuresDir, 0o755)
		if werr := os.WriteFile(shot, png, 0o644); werr == nil {
			b.t.Fatalf("step %q failed: %v\n  screenshot: %s", step, err, shot)
		}
	}
	b.t.Fatalf("step %q failed: %v (no screenshot)", step, err)
}

// screenshot writes docs/console/<name>.png of the viewport.
func (b *browser) screenshot(name string) {
	b.t.Helper()
	if os.Getenv("CONSOLE_SCREENSHOTS") == "0" {
		return
	}
	ctx, cancel := context.WithTimeout(b.ctx, 10*time.Second)
	defer cancel()
	png, err := chromedp.Run(ctx, chromedp.CaptureScreenshot())
	if err != nil {
		b.fail("screenshot "+name, err)
	}
	if err := os.MkdirAll(docsDir, 0o755); err != nil {
		b.t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(docsDir, name+".png"), png, 0o644); err != nil {
		b.t.Fatal(err)
	}
}

// axe runs axe-core on the page as it is and fails on any serious or
// critical violation. The page's CSP forbids injected scripts, so axe is
// evaluated through DevTools, which CSP does not govern.
func (b *browser) axe(screen string) {
	b.t.Helper()
	step := "accessibility scan of " + screen
	if !eval[bool](b, step, "typeof window.axe === 'object'") {
		eval[any](b, step, axeSource+"\n;true")
	}
	type violation struct {
		ID     string   `json:"id"`
		Impact string   `json:"impact"`
		Help   string   `json:"help"`
		Nodes  []string `json:"nodes"`
	}
	type result struct {
		Passes     int         `json:"passes"`
		Violations []violation `json:"violations"`
	}
	res := eval[result](b, step, `axe.run(document).then(r => ({passes: r.passes.length, violations: r.violations
		.filter(v => v.impact === 'serious' || v.impact === 'critical')
		.map(v => ({id: v.id, impact: v.impact, help: v.help, nodes: v.nodes.slice(0, 5).map(n => n.target.join(' ') + ' ' + (n.failureSummary || ''))}))}))`)
	vs := res.Violations
	if res.Passes == 0 {
		b.fail(step, fmt.Errorf("axe-core checked nothing"))
	}
	b.t.Logf("axe-core, %s: %d rules pass, %d serious or critical violations", screen, res.Passes, len(vs))
	if len(vs) > 0 {
		var sb strings.Builder
		for _, v := range vs {
			fmt.Fprintf(&sb, "\n  %s (%s): %s\n    %s", v.ID, v.Impact, v.Help, strings.Join(v.Nodes, "\n    "))
		}
		b.fail(step, fmt.Errorf("serious or critical accessibility violations:%s", sb.String()))
	}
}

// open loads the console and waits for its script to be ready.
func (b *browser) open(url string) {
	b.t.Helper()
	b.do("open the console", chromedp.Navigate(url+"/console"))
	b.waitFor("console script ready", `document.documentElement.dataset.ready === 'true'`)
}

// signIn types a key into the sign-in form and submits it.
func (b *browser) signIn(token string) {
	b.t.Helper()
	b.do("type the key", chromedp.SendKeys(chromedp.CSS("#token"), token), chromedp.Click(chromedp.CSS("#signin-submit")))
}

// signedIn is how most browser tests start: a stack, filled by prepare
// (when not nil) before the page loads, and a width×height browser on its
// console, signed in as the stack's admin.
func signedIn(t *testing.T, width, height int, prepare func(*testing.T, *stack)) (*stack, *browser) {
	t.Helper()
	s := newStack(t)
	if prepare != nil {
		prepare(t, s)
	}
	b := newBrowser(t, width, height)
	b.open(s.url)
	b.signIn(s.admin)
	b.waitFor("signed in", `!document.getElementById('app-view').hidden`)
	return s, b
}

// press sends key events to whatever has focus.
func (b *browser) press(step string, keys string) {
	b.t.Helper()
	b.do(step, chromedp.KeyEvent(keys))
}

// tabTo presses Tab until the focused element matches selector.
func (b *browser) tabTo(step, selector string) {
	b.t.Helper()
	for range 60 {
		if eval[bool](b, step, fmt.Sprintf(`document.activeElement && document.activeElement.matches(%q)`, selector)) {
			return
		}
		b.press(step, kb.Tab)
	}
	b.fail(step, fmt.Errorf("Tab never reached %s", selector))
}

// focused reports whether the focused element matches selector.
func (b *browser) focused(step, selector string) bool {
	return eval[bool](b, step, fmt.Sprintf(`document.activeElement && document.activeElement.matches(%q)`, selector))
}

func js(s string) string { q, _ := json.Marshal(s); return string(q) }

// keyID finds the ID of the tenant's key with this name (the newest, if
// several share it).
func (s *stack) keyID(t *testing.T, name string) string {
	t.Helper()
	status, body := s.call(t, "GET", "/v1/keys?limit=100", s.admin, "")
	keys, _ := body["keys"].([]any)
	id, newest := "", ""
	for _, k := range keys {
		m := k.(map[string]any)
		if m["name"] == name && m["created_at"].(string) >= newest {
			id, newest = m["id"].(string), m["created_at"].(string)
		}
	}
	if status != 200 || id == "" {
		t.Fatalf("no key named %q: %d %v", name, status, body)
	}
	return id
}
