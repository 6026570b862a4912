package main

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	vegeta "github.com/tsenart/vegeta/v12/lib"
)

func TestAttack(t *testing.T) {
	var served atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		served.Add(1)
		switch {
		case r.URL.Path == "/redirect":
			http.Redirect(w, r, "/elsewhere", http.StatusFound)
		case r.Header.Get("Authorization") != "Bearer k":
			w.WriteHeader(http.StatusUnauthorized)
		default:
			w.Write([]byte("ok"))
		}
	}))
	defer srv.Close()
	auth := http.Header{"Authorization": {"Bearer k"}}
	tests := []struct {
		name    string
		target  vegeta.Target
		conc    int
		code    string // every response's status; "0" for no response
		wantErr string
	}{
		{"answered", vegeta.Target{Method: "GET", URL: srv.URL, Header: auth}, 4, "200", ""},
		{"statuses are counted", vegeta.Target{Method: "GET", URL: srv.URL}, 2, "401", ""},
		{"no redirect is followed", vegeta.Target{Method: "GET", URL: srv.URL + "/redirect", Header: auth}, 1, "302", ""},
		{"no response", vegeta.Target{Method: "GET", URL: "http://127.0.0.1:1/"}, 2, "0", ""},
		{"too many workers", vegeta.Target{Method: "GET", URL: srv.URL}, maxConc + 1, "", "-c 1025"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			before := served.Load()
			m, err := attack(context.Background(), tt.target, tt.conc, 200*time.Millisecond)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) || served.Load() != before {
					t.Fatalf("err %v, %d served", err, served.Load()-before)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if m.Requests == 0 || m.StatusCodes[tt.code] != int(m.Requests) {
				t.Fatalf("%d requests, codes %v", m.Requests, m.StatusCodes)
			}
			if answered := served.Load() - before; tt.code != "0" && answered != int64(m.Requests) {
				t.Fatalf("%d requests counted, %d served", m.Requests, answered)
			}
			if (len(m.Errors) > 0) != (tt.code != "200" && tt.code != "302") {
				t.Fatalf("errors %v", m.Errors)
			}
			if m.Latencies.P50 <= 0 || m.Latencies.Max < m.Latencies.P99 {
				t.Fatalf("latencies %+v", m.Latencies)
			}
		})
	}
}

func TestAttackCancel(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(http.ResponseWriter, *http.Request) {}))
	defer srv.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	start := time.Now()
	_, err := attack(ctx, vegeta.Target{Method: "GET", URL: srv.URL}, 2, time.Minute)
	if err == nil || time.Since(start) > 10*time.Second {
		t.Fatalf("err %v after %v", err, time.Since(start))
	}
}
