package console

import (
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"testing"
)

func get(t *testing.T, method, path string) *httptest.ResponseRecorder {
	t.Helper()
	rec := httptest.NewRecorder()
	Handler().ServeHTTP(rec, httptest.NewRequest(method, path, nil))
	return rec
}

func wantSecurityHeaders(t *testing.T, path string, h http.Header) {
	t.Helper()
	for k, v := range map[string]string{
		"Content-Security-Policy": CSP,
		"Referrer-Policy":         "no-referrer",
		"X-Content-Type-Options":  "nosniff",
		"Cache-Control":           "no-store",
	} {
		if got := h.Get(k); got != v {
			t.Errorf("%s: %s = %q, want %q", path, k, got, v)
		}
	}
}

func TestServesPageAndAssets(t *testing.T) {
	for path, ctype := range map[string]string{
		"/console":             "text/html; charset=utf-8",
		"/console/app.js":      "text/javascript; charset=utf-8",
		"/console/api.js":      "text/javascript; charset=utf-8",
		"/console/format.js":   "text/javascript; charset=utf-8",
		"/console/console.css": "text/css; charset=utf-8",
		"/console/favicon.svg": "image/svg+xml",
	} {
		rec := get(t, "GET", path)
		if rec.Code != 200 || rec.Header().Get("Content-Type") != ctype || rec.Body.Len() == 0 {
			t.Errorf("GET %s = %d %q (%d bytes), want 200 %q", path, rec.Code, rec.Header().Get("Content-Type"), rec.Body.Len(), ctype)
		}
		wantSecurityHeaders(t, path, rec.Header())
	}
}

func TestUnknownIsNotFound(t *testing.T) {
	for _, path := range []string{
		"/console/nope.js", "/console/index.html", "/console/../go.mod", "/console/assets/app.js",
		"/console/.hidden.js", "/console/app.go", "/consoles", "/console//app.js",
	} {
		rec := get(t, "GET", path)
		if rec.Code != 404 {
			t.Errorf("GET %s = %d, want 404", path, rec.Code)
		}
		wantSecurityHeaders(t, path, rec.Header())
	}
	rec := get(t, "GET", "/console/")
	if rec.Code != http.StatusPermanentRedirect || rec.Header().Get("Location") != "../console" {
		t.Errorf("GET /console/ = %d %q, want a relative redirect to ../console", rec.Code, rec.Header().Get("Location"))
	}
	rec = get(t, "POST", "/console")
	if rec.Code != 405 || rec.Header().Get("Allow") != "GET, HEAD" {
		t.Errorf("POST /console = %d, want 405", rec.Code)
	}
	wantSecurityHeaders(t, "POST /console", rec.Header())
	if rec := get(t, "HEAD", "/console"); rec.Code != 200 || rec.Body.Len() != 0 {
		t.Errorf("HEAD /console = %d with %d bytes", rec.Code, rec.Body.Len())
	}
}

func TestResponseMatchesHandler(t *testing.T) {
	status, headers, body, ok := Response("/console/app.js")
	rec := get(t, "GET", "/console/app.js")
	if !ok || status != 200 || rec.Body.String() != string(body) {
		t.Fatalf("Response and Handler disagree")
	}
	for k, v := range headers {
		if rec.Header().Get(k) != v {
			t.Errorf("header %s: Response %q, Handler %q", k, v, rec.Header().Get(k))
		}
	}
	if _, _, _, ok := Response("/console/missing.css"); ok {
		t.Error("missing asset reported ok")
	}
}

// The page itself must work under its CSP: no inline script, style or
// event handler, no javascript: URL, no network but its own origin, and
// API data never goes through innerHTML.
func TestAssetsObeyCSP(t *testing.T) {
	total := 0
	for name, size := range Assets() {
		total += size
		_, _, body, ok := Response(Prefix + "/" + name)
		if name == "index.html" {
			_, _, body, ok = Response(Prefix)
		}
		if !ok {
			t.Fatalf("asset %s not served", name)
		}
		s := string(body)
		for _, bad := range []*regexp.Regexp{
			regexp.MustCompile(`(?i)<script(?:\s[^>]*)?>[^<]+</script>`),
			regexp.MustCompile(`(?i)<style`),
			regexp.MustCompile(`(?i)\sstyle=`),
			regexp.MustCompile(`(?i)\son[a-z]+=`),
			regexp.MustCompile(`(?i)javascript:`),
			regexp.MustCompile(`(?i)https?://`),
			regexp.MustCompile(`innerHTML|outerHTML|insertAdjacentHTML|document\.write|\beval\(|new Function`),
		} {
			if loc := bad.FindStringIndex(s); loc != nil && !strings.HasSuffix(name, ".svg") {
				t.Errorf("%s: %q at %d breaks the CSP or the text-only rule", name, s[loc[0]:loc[1]], loc[0])
			}
		}
		if name == "index.html" {
			for _, tag := range regexp.MustCompile(`(?i)<script[^>]*>`).FindAllString(s, -1) {
				if !strings.Contains(tag, `src="console/`) {
					t.Errorf("index.html: script %s is not a console asset", tag)
				}
			}
		}
	}
	if total > 250_000 {
		t.Errorf("console weighs %d bytes, over the 250 kB budget", total)
	}
	t.Logf("console weight: %d bytes uncompressed", total)
}
