package middleware_test

import (
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/keygate/keygate/infra/testkit"
	"github.com/keygate/keygate/shared/middleware"
)

// fakeKeygate implements POST /v1/verify's JSON contract for the tests:
// it answers each key's verdict from a table, and records what it was
// sent. answer, when set, replaces the verdict with a raw HTTP answer.
type fakeKeygate struct {
	t          *testing.T
	srv        *httptest.Server
	serviceKey string
	calls      atomic.Int32

	mu       sync.Mutex
	verdicts map[string]string // token → response body
	last     map[string]any    // the last request body
	answer   func(w http.ResponseWriter)
}

func newFakeKeygate(t *testing.T) *fakeKeygate {
	k := &fakeKeygate{t: t, serviceKey: mint(), verdicts: map[string]string{}}
	k.srv = httptest.NewServer(http.HandlerFunc(k.serve))
	t.Cleanup(k.srv.Close)
	return k
}

func (k *fakeKeygate) serve(w http.ResponseWriter, r *http.Request) {
	k.calls.Add(1)
	if r.Method != http.MethodPost || r.URL.Path != "/prod/v1/verify" || r.Header.Get("Content-Type") != "application/json" {
		http.Error(w, "not the verify route", http.StatusNotFound)
		return
	}
	if r.Header.Get("Authorization") != "Bearer "+k.serviceKey {
		http.Error(w, `{"error":{"code":"unauthorized"}}`, http.StatusUnauthorized)
		return
	}
	var body map[string]any
	dec := json.NewDecoder(r.Body)
	dec.DisallowUnknownFields()
	if err := dec.Decode(&body); err != nil {
		http.Error(w, "bad body", http.StatusBadRequest)
		return
	}
	k.mu.Lock()
	k.last = body
	answer, verdict := k.answer, k.verdicts[fmt.Sprint(body["key"])]
	k.mu.Unlock()
	if answer != nil {
		answer(w)
		return
	}
	if verdict == "" {
		verdict = `{"valid":false,"code":"NOT_FOUND"}`
	}
	w.Header().Set("Content-Type", "application/json")
	io.WriteString(w, verdict)
}

func (k *fakeKeygate) set(token, verdict string) {
	k.mu.Lock()
	defer k.mu.Unlock()
	k.verdicts[token] = verdict
}

func (k *fakeKeygate) setAnswer(f func(w http.ResponseWriter)) {
	k.mu.Lock()
	defer k.mu.Unlock()
	k.answer = f
}

func (k *fakeKeygate) lastBody() map[string]any {
	k.mu.Lock()
	defer k.mu.Unlock()
	return k.last
}

type remoteFixture struct {
	keygate *fakeKeygate
	clock   *testkit.Clock
	logs    *testkit.Buffer
	handler http.Handler
	seen    *middleware.Identity
}

func newRemote(t *testing.T, tweak func(*middleware.Config)) *remoteFixture {
	t.Helper()
	f := &remoteFixture{keygate: newFakeKeygate(t), clock: testkit.NewClock(time.Now()), logs: &testkit.Buffer{}}
	cfg := middleware.Config{
		API: service, Endpoint: f.keygate.srv.URL + "/prod/v1/verify", ServiceKey: f.keygate.serviceKey, Tenant: "acme",
		Logger: slog.New(slog.NewJSONHandler(f.logs, nil)), Now: f.clock.Now,
		RequestID: func(*http.Request) string { return "rid" },
	}
	if tweak != nil {
		tweak(&cfg)
	}
	mw, err := middleware.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	f.handler = mw(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		id, ok := middleware.KeyFrom(r.Context())
		if !ok {
			t.Error("an admitted request has no identity")
		}
		f.seen = &id
		w.WriteHeader(http.StatusNoContent)
	}))
	t.Cleanup(func() {
		if strings.Contains(f.logs.String(), f.keygate.serviceKey[len("kg_live_"):]) {
			t.Error("logs hold the service key")
		}
	})
	return f
}

const (
	validUnmetered = `{"valid":true,"code":"VALID","key_id":"k1","owner":"alice","name":"ci","type":"user","role":"viewer","scopes":["GET /orders/*"],"apis":["orders"],"expires_at":"2030-01-02T03:04:05Z","meta":{"plan":"pro"},"usage":null}`
	validNoUsage   = `{"valid":true,"code":"VALID","key_id":"k1","owner":"alice","scopes":["GET /orders/*"],"apis":["orders"]}`
	validRated     = `{"valid":true,"code":"VALID","key_id":"k2","owner":"bob","usage":{"rate_limit":{"limit":10,"window":"1m","remaining":9,"reset_at":"2030-01-01T00:01:00Z"}}}`
	validCredits   = `{"valid":true,"code":"VALID","key_id":"k3","owner":"bob","usage":{"credits":{"remaining":3,"refill_at":null}}}`
)

// TestRemoteVerdicts: each verdict's status and code, and which ones are
// reused within the TTL (two identical requests: one call or two).
func TestRemoteVerdicts(t *testing.T) {
	tests := []struct {
		name, verdict string
		status        int
		code          string
		calls         int32
		retryAfter    string
	}{
		{"valid, unmetered: cached", validUnmetered, 204, "", 1, ""},
		{"valid without usage: cached", validNoUsage, 204, "", 1, ""},
		{"valid, rate limited key: every call spends", validRated, 204, "", 2, ""},
		{"valid, credits key: every call spends", validCredits, 204, "", 2, ""},
		{"not found: cached", `{"valid":false,"code":"NOT_FOUND"}`, 401, "unauthorized", 1, ""},
		{"expired", `{"valid":false,"code":"EXPIRED","key_id":"k1"}`, 401, "unauthorized", 2, ""},
		{"revoked", `{"valid":false,"code":"REVOKED","key_id":"k1"}`, 401, "unauthorized", 2, ""},
		{"disabled", `{"valid":false,"code":"DISABLED","key_id":"k1"}`, 401, "unauthorized", 2, ""},
		{"forbidden", `{"valid":false,"code":"FORBIDDEN","key_id":"k1"}`, 403, "forbidden", 2, ""},
		{"rate limited", `{"valid":false,"code":"RATE_LIMITED","key_id":"k1","retry_after":17}`, 429, "rate_limited", 2, "17"},
		{"credits exhausted, refilled", `{"valid":false,"code":"CREDITS_EXHAUSTED","key_id":"k1","retry_after":3600}`, 429, "credits_exhausted", 2, "3600"},
		{"credits exhausted for good", `{"valid":false,"code":"CREDITS_EXHAUSTED","key_id":"k1","retry_after":0}`, 429, "credits_exhausted", 2, ""},
		{"valid false with code VALID", `{"valid":false,"code":"VALID"}`, 503, "unavailable", 2, ""},
		{"valid true with another code", `{"valid":true,"code":"NOT_FOUND"}`, 503, "unavailable", 2, ""},
		{"a code this version does not know", `{"valid":false,"code":"SUSPENDED"}`, 503, "unavailable", 2, ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			f := newRemote(t, nil)
			tok := mint()
			f.keygate.set(tok, tc.verdict)
			for range 2 {
				w := serve(f.handler, "GET", "/orders/42", bearer(tok)...)
				wantRefusal(t, w, tc.status, tc.code)
				if got := w.Header().Get("Retry-After"); got != tc.retryAfter {
					t.Errorf("Retry-After %q, want %q", got, tc.retryAfter)
				}
			}
			if n := f.keygate.calls.Load(); n != tc.calls {
				t.Errorf("%d verify calls for two requests, want %d", n, tc.calls)
			}
			if tc.calls == 1 {
				// Reused for the TTL, no longer.
				f.clock.Add(middleware.DefaultCacheTTL)
				serve(f.handler, "GET", "/orders/42", bearer(tok)...)
				if n := f.keygate.calls.Load(); n != 2 {
					t.Errorf("%d verify calls once the TTL passed, want 2", n)
				}
			}
		})
	}
}

// TestRemoteRequest: what is sent to Keygate, and the identity that comes
// back.
func TestRemoteRequest(t *testing.T) {
	f := newRemote(t, nil)
	tok := mint()
	f.keygate.set(tok, validUnmetered)
	wantRefusal(t, serve(f.handler, "PUT", "/orders/caf%C3%A9/..;x", "X-API-Key", tok), 204, "")
	want := map[string]any{"key": tok, "api": service, "method": "PUT", "path": "/orders/caf%C3%A9/..;x"}
	if got := f.keygate.lastBody(); fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("verify body %v, want %v", got, want)
	}
	id := f.seen
	if id == nil || id.KeyID != "k1" || id.Tenant != "acme" || id.Owner != "alice" || id.Name != "ci" || id.Type != "user" ||
		id.Role != "viewer" || fmt.Sprint(id.Scopes) != "[GET /orders/*]" || fmt.Sprint(id.APIs) != "[orders]" ||
		id.ExpiresAt == nil || !id.ExpiresAt.Equal(time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC)) || string(id.Meta) != `{"plan":"pro"}` {
		t.Errorf("identity %+v", id)
	}

	t.Run("cached per method and path", func(t *testing.T) {
		before := f.keygate.calls.Load()
		serve(f.handler, "GET", "/orders/1", bearer(tok)...)
		serve(f.handler, "GET", "/orders/2", bearer(tok)...)
		serve(f.handler, "GET", "/orders/2", bearer(tok)...)
		if n := f.keygate.calls.Load() - before; n != 2 {
			t.Errorf("%d calls for two routes, want 2", n)
		}
	})
	t.Run("malformed keys never reach Keygate", func(t *testing.T) {
		before := f.keygate.calls.Load()
		for _, bad := range []string{"kg_live_nope", tok[:len(tok)-1] + map[bool]string{true: "1", false: "0"}[strings.HasSuffix(tok, "0")], "sk_" + tok[len("kg_live_"):]} {
			wantRefusal(t, serve(f.handler, "GET", "/orders/1", bearer(bad)...), 401, "unauthorized")
		}
		wantRefusal(t, serve(f.handler, "GET", "/orders/1", "Authorization", "Bearer "+tok, "Authorization", "Bearer "+tok), 401, "unauthorized")
		if n := f.keygate.calls.Load() - before; n != 0 {
			t.Errorf("%d calls for malformed or ambiguous keys", n)
		}
	})
	t.Run("no cache when the TTL is negative", func(t *testing.T) {
		g := newRemote(t, func(c *middleware.Config) { c.CacheTTL = -1 })
		g.keygate.set(tok, validUnmetered)
		for range 3 {
			serve(g.handler, "GET", "/orders/1", bearer(tok)...)
		}
		if n := g.keygate.calls.Load(); n != 3 {
			t.Errorf("%d calls, want 3", n)
		}
	})
}

// TestRemoteFailsClosed: anything but a verdict is a 503, is never cached
// (the next request asks again and is admitted), and is logged without a
// key.
func TestRemoteFailsClosed(t *testing.T) {
	redirected := atomic.Int32{}
	elsewhere := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Authorization") != "" {
			redirected.Add(1)
		}
		io.WriteString(w, validUnmetered)
	}))
	defer elsewhere.Close()
	tests := []struct {
		name   string
		answer func(w http.ResponseWriter)
		tweak  func(*middleware.Config)
	}{
		{"500", func(w http.ResponseWriter) { http.Error(w, "boom", http.StatusInternalServerError) }, nil},
		{"502", func(w http.ResponseWriter) { http.Error(w, "bad gateway", http.StatusBadGateway) }, nil},
		{"429 from the gateway", func(w http.ResponseWriter) { http.Error(w, "slow down", http.StatusTooManyRequests) }, nil},
		{"not JSON", func(w http.ResponseWriter) { io.WriteString(w, "<html>") }, nil},
		{"a redirect", func(w http.ResponseWriter) {
			w.Header().Set("Location", elsewhere.URL+"/v1/verify")
			w.WriteHeader(http.StatusTemporaryRedirect)
		}, nil},
		{"timeout", func(w http.ResponseWriter) { time.Sleep(300 * time.Millisecond); io.WriteString(w, validUnmetered) },
			func(c *middleware.Config) { c.Client = &http.Client{Timeout: 50 * time.Millisecond} }},
		{"the service key refused", func(w http.ResponseWriter) {
			http.Error(w, `{"error":{"code":"unauthorized"}}`, http.StatusUnauthorized)
		}, nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			f := newRemote(t, tc.tweak)
			k := f.keygate
			tok := mint()
			k.set(tok, validUnmetered)
			k.setAnswer(tc.answer)
			wantRefusal(t, serve(f.handler, "GET", "/orders/1", bearer(tok)...), 503, "unavailable")
			if !strings.Contains(f.logs.String(), `"key check failed"`) {
				t.Errorf("no error logged: %s", f.logs)
			}
			if strings.Contains(f.logs.String(), tok[len("kg_live_"):]) {
				t.Error("logs hold the client's key")
			}
			// Keygate answers again: the failure was not cached.
			k.setAnswer(nil)
			wantRefusal(t, serve(f.handler, "GET", "/orders/1", bearer(tok)...), 204, "")
		})
	}
	if n := redirected.Load(); n != 0 {
		t.Errorf("a redirect carried the service key away %d times", n)
	}

	t.Run("Keygate unreachable", func(t *testing.T) {
		f := newRemote(t, nil)
		f.keygate.srv.Close()
		wantRefusal(t, serve(f.handler, "GET", "/orders/1", bearer(mint())...), 503, "unavailable")
	})
}

// TestNewRefuses: a configuration that could not check keys safely is an
// error at start, and the error never quotes the service key.
func TestNewRefuses(t *testing.T) {
	key := mint()
	base := func() middleware.Config {
		return middleware.Config{API: service, Endpoint: "https://kg.example.com/prod/v1/verify", ServiceKey: key}
	}
	if _, err := middleware.New(base()); err != nil {
		t.Fatalf("the base configuration: %v", err)
	}
	tests := []struct {
		name  string
		tweak func(*middleware.Config)
	}{
		{"no API", func(c *middleware.Config) { c.API = "" }},
		{"every API", func(c *middleware.Config) { c.API = "*" }},
		{"an API id keys cannot name", func(c *middleware.Config) { c.API = "Orders-API" }},
		{"no endpoint", func(c *middleware.Config) { c.Endpoint = "" }},
		{"a relative endpoint", func(c *middleware.Config) { c.Endpoint = "/v1/verify" }},
		{"http off the machine", func(c *middleware.Config) { c.Endpoint = "http://kg.example.com/v1/verify" }},
		{"credentials in the endpoint", func(c *middleware.Config) { c.Endpoint = "https://u:p@kg.example.com/v1/verify" }},
		{"no service key", func(c *middleware.Config) { c.ServiceKey = "" }},
		{"a mistyped service key", func(c *middleware.Config) { c.ServiceKey = key[:len(key)-1] }},
		{"a long cache", func(c *middleware.Config) { c.CacheTTL = time.Hour }},
		{"a bad prefix", func(c *middleware.Config) { c.TokenPrefix = "no spaces " }},
		{"an unknown mode", func(c *middleware.Config) { c.Mode = 7 }},
		{"Direct without a table", func(c *middleware.Config) { c.Mode = middleware.Direct }},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			cfg := base()
			tc.tweak(&cfg)
			_, err := middleware.New(cfg)
			if err == nil {
				t.Fatal("accepted")
			}
			if strings.Contains(err.Error(), key[len("kg_live_"):len(key)-2]) {
				t.Errorf("error quotes the service key: %v", err)
			}
		})
	}
}
