// Package testkit holds what tests of several packages share and that is
// not about storage (infra/dynamotest is): a settable clock for expiry and
// cache tests, a goroutine-safe buffer that captures logs written by
// handlers running in parallel, HTTP and YAML helpers, the token format and
// hasher the service tests mint with, Server, the start-once handle on a
// local stand-in, and (on Linux) Exposures and the listening-socket
// readers (Listeners, SocketInodes) that check a stand-in is closed to the
// network. Production code
// never imports it.
package testkit

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"go.yaml.in/yaml/v3"
)

// Clock is a settable clock, safe for concurrent use. The zero Clock
// reads the zero time.
type Clock struct {
	mu  sync.Mutex
	now time.Time
}

// NewClock returns a Clock reading now.
func NewClock(now time.Time) *Clock { return &Clock{now: now} }

// Now returns the clock's time; it fits a Now func() time.Time field.
func (c *Clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

// Add moves the clock by d.
func (c *Clock) Add(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

// Buffer is a bytes.Buffer safe for concurrent writers, for log capture.
type Buffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (b *Buffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.Write(p)
}

// String returns everything written so far.
func (b *Buffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.String()
}

// Send makes one HTTP request with an optional Authorization header and a
// JSON body (if any), and returns the status, the Content-Type and the raw
// body. A transport error fails the test.
func Send(t testing.TB, method, url, authorization, body string) (int, string, []byte) {
	t.Helper()
	req, err := http.NewRequest(method, url, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if authorization != "" {
		req.Header.Set("Authorization", authorization)
	}
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, resp.Header.Get("Content-Type"), raw
}

// SendJSON is Send for an answer that must be a JSON object.
func SendJSON(t testing.TB, method, url, authorization, body string) (int, string, map[string]any) {
	t.Helper()
	status, contentType, raw := Send(t, method, url, authorization, body)
	var m map[string]any
	if err := json.Unmarshal(raw, &m); err != nil {
		t.Fatalf("%s %s: body is not a JSON object: %q", method, url, raw)
	}
	return status, contentType, m
}

// Bearer is the Authorization value for token, "" for none.
func Bearer(token string) string {
	if token == "" {
		return ""
	}
	return "Bearer " + token
}

// YAMLChild is the value of key in a YAML mapping node, or nil: for tests
// that read template.yaml and the docs' snippets without losing their tags.
func YAMLChild(n *yaml.Node, key string) *yaml.Node {
	if n == nil || n.Kind != yaml.MappingNode {
		return nil
	}
	for i := 0; i+1 < len(n.Content); i += 2 {
		if n.Content[i].Value == key {
			return n.Content[i+1]
		}
	}
	return nil
}
