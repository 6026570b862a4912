package gateway

import (
	"net/http"
	"strings"

	"github.com/keygate/keygate/shared/console"
)

// WithConsole serves the web console (shared/console) at /console and
// /console/* without the authorizer, as the deployed API serves it from
// its own unauthorized route, and hands every other request to gw.
func WithConsole(gw http.Handler) http.Handler {
	c := console.Handler()
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == console.Prefix || strings.HasPrefix(r.URL.Path, console.Prefix+"/") {
			c.ServeHTTP(w, r)
			return
		}
		gw.ServeHTTP(w, r)
	})
}
