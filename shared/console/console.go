// Package console is Keygate's web console: one HTML page, plain ES
// modules and a stylesheet, embedded in the binary and served at /console
// (the page) and /console/<asset>.
//
// The console has no server-side logic and no authorizer in front of it:
// the person pastes a key, the page keeps it in sessionStorage only, and
// every management API call it makes carries that key, so the authorizer
// decides exactly as it does for any other client. The API is found
// relative to the page (the parent of /console), which works on the local
// stack and behind an API Gateway stage (/prod/console → /prod/v1/...);
// its routes come from /console/routes.json, which the management API
// (shared/httpapi, RoutesPath) serves from its route table, so the page
// keeps no copy of them.
//
// Every response carries a strict Content-Security-Policy (no inline
// script or style, no eval, no network but the page's own origin),
// Referrer-Policy: no-referrer, X-Content-Type-Options: nosniff and
// Cache-Control: no-store. Handler serves an http.Server; Response gives
// the same status, headers and bytes to a Lambda proxy integration.
package console

import (
	"embed"
	"io/fs"
	"net/http"
	"path"
	"sort"
	"strconv"
	"strings"
)

//go:embed assets
var assets embed.FS

// Prefix is the path the console is served under.
const Prefix = "/console"

// CSP is the Content-Security-Policy of every console response.
const CSP = "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; " +
	"img-src 'self' data:; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"

var contentTypes = map[string]string{
	".html": "text/html; charset=utf-8",
	".js":   "text/javascript; charset=utf-8",
	".css":  "text/css; charset=utf-8",
	".svg":  "image/svg+xml",
	".png":  "image/png",
}

// SecurityHeaders returns the headers every console response carries.
func SecurityHeaders() map[string]string {
	return map[string]string{
		"Content-Security-Policy":      CSP,
		"Referrer-Policy":              "no-referrer",
		"X-Content-Type-Options":       "nosniff",
		"Cache-Control":                "no-store",
		"Cross-Origin-Opener-Policy":   "same-origin",
		"Cross-Origin-Resource-Policy": "same-origin",
		"Permissions-Policy":           "camera=(), microphone=(), geolocation=(), payment=()",
	}
}

// Assets lists the served asset names (the index is "index.html") with
// their sizes in bytes, for tests and page-weight checks.
func Assets() map[string]int {
	out := map[string]int{}
	_ = fs.WalkDir(assets, "assets", func(p string, d fs.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			b, _ := assets.ReadFile(p)
			out[strings.TrimPrefix(p, "assets/")] = len(b)
		}
		return nil
	})
	return out
}

// Response is the console's answer to a GET of path, the request path
// without any API Gateway stage ("/console", "/console/app.js"). ok
// reports whether path names the page or an asset; when it does not, the
// status is 404 (or a redirect for "/console/") and headers and body are
// still a complete response to send. headers always include
// SecurityHeaders and Content-Type. A Lambda proxy handler returns them as
// they are (the body is UTF-8 text for every shipped asset).
func Response(p string) (status int, headers map[string]string, body []byte, ok bool) {
	headers = SecurityHeaders()
	name, found := assetName(p)
	if p == Prefix+"/" {
		// Relative asset URLs need the page at /console exactly. A relative
		// Location keeps any stage prefix.
		headers["Location"] = "../console"
		headers["Content-Type"] = "text/plain; charset=utf-8"
		return http.StatusPermanentRedirect, headers, []byte("moved to ../console\n"), false
	}
	if found {
		b, err := assets.ReadFile("assets/" + name)
		if err == nil {
			headers["Content-Type"] = contentTypes[path.Ext(name)]
			headers["Content-Length"] = strconv.Itoa(len(b))
			return http.StatusOK, headers, b, true
		}
	}
	body = []byte("404 not found: the console has no such page or asset\n")
	headers["Content-Type"] = "text/plain; charset=utf-8"
	headers["Content-Length"] = strconv.Itoa(len(body))
	return http.StatusNotFound, headers, body, false
}

// assetName maps a request path to an embedded file name.
func assetName(p string) (string, bool) {
	if p == Prefix {
		return "index.html", true
	}
	rest, ok := strings.CutPrefix(p, Prefix+"/")
	if !ok || rest == "" || rest == "index.html" || strings.ContainsAny(rest, "/\\") || strings.HasPrefix(rest, ".") {
		return "", false
	}
	if _, known := contentTypes[path.Ext(rest)]; !known {
		return "", false
	}
	return rest, true
}

// Handler serves GET and HEAD of /console and /console/<asset>; anything
// else is 404, other methods 405, always with the security headers.
func Handler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodGet && r.Method != http.MethodHead {
			h := w.Header()
			for k, v := range SecurityHeaders() {
				h.Set(k, v)
			}
			h.Set("Allow", "GET, HEAD")
			h.Set("Content-Type", "text/plain; charset=utf-8")
			w.WriteHeader(http.StatusMethodNotAllowed)
			_, _ = w.Write([]byte("405 method not allowed\n"))
			return
		}
		status, headers, body, _ := Response(r.URL.Path)
		keys := make([]string, 0, len(headers))
		for k := range headers {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for _, k := range keys {
			w.Header().Set(k, headers[k])
		}
		w.WriteHeader(status)
		if r.Method != http.MethodHead {
			_, _ = w.Write(body)
		}
	})
}
