package middleware_test

import (
	"bytes"
	"crypto/rand"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"

	"github.com/keygate/keygate/shared/apikey"
	"github.com/keygate/keygate/shared/middleware"
)

// An orders service checks keys through Keygate's POST /v1/verify (Remote
// mode, the default). Here an httptest server stands in for Keygate; a
// real service sets Endpoint to its deployment's verify URL and ServiceKey
// to a service key with the scope "POST /v1/verify".
func Example() {
	alice, serviceKey := mint(), mint() // keys as Keygate mints them
	keygate := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var req struct{ Key, API, Method, Path string }
		if r.Header.Get("Authorization") != "Bearer "+serviceKey || json.NewDecoder(r.Body).Decode(&req) != nil {
			http.Error(w, "unauthorized", http.StatusUnauthorized)
			return
		}
		switch {
		case req.Key != alice:
			fmt.Fprint(w, `{"valid":false,"code":"NOT_FOUND"}`)
		case req.API == "orders" && req.Method == "GET":
			fmt.Fprint(w, `{"valid":true,"code":"VALID","key_id":"k1","owner":"alice","role":"viewer","scopes":["GET /orders/*"],"apis":["orders"],"meta":{"plan":"pro"}}`)
		default:
			fmt.Fprint(w, `{"valid":false,"code":"FORBIDDEN","key_id":"k1","owner":"alice"}`)
		}
	}))
	defer keygate.Close()

	check, err := middleware.New(middleware.Config{
		API:        "orders",
		Endpoint:   keygate.URL + "/v1/verify",
		ServiceKey: serviceKey,
		RequestID:  func(*http.Request) string { return "req-1" },
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	orders := check(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		id, _ := middleware.KeyFrom(r.Context())
		fmt.Fprintf(w, "orders of %s (plan %s)", id.Owner, id.Meta)
	}))
	srv := httptest.NewServer(orders)
	defer srv.Close()

	for _, c := range []struct{ method, key string }{{"GET", alice}, {"DELETE", alice}, {"GET", mint()}, {"GET", ""}} {
		req, _ := http.NewRequest(c.method, srv.URL+"/orders/42", nil)
		if c.key != "" {
			req.Header.Set("Authorization", "Bearer "+c.key)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			fmt.Println(err)
			return
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		fmt.Println(resp.StatusCode, string(body))
	}
	// Output:
	// 200 orders of alice (plan {"plan":"pro"})
	// 403 {"error":{"code":"forbidden","message":"this API key may not call this route","request_id":"req-1"}}
	// 401 {"error":{"code":"unauthorized","message":"a valid API key is required","request_id":"req-1"}}
	// 401 {"error":{"code":"unauthorized","message":"a valid API key is required","request_id":"req-1"}}
}

// mint makes a token in Keygate's default format, as a deployment with
// this pepper would.
func mint() string {
	format, _ := apikey.NewFormat(apikey.DefaultPrefix)
	hasher, _ := apikey.NewHasher(bytes.Repeat([]byte("k"), 32), apikey.HMACSHA256, rand.Reader)
	tok, _ := format.Generate(rand.Reader, hasher)
	return tok.Reveal()
}
