package main

import (
	"context"
	"encoding/json"
	"net/http/httptest"
	"reflect"
	"testing"

	"github.com/keygate/keygate/infra/gateway"
	"github.com/keygate/keygate/infra/testkit"
	"github.com/keygate/keygate/shared/keygate"
	"github.com/keygate/keygate/shared/manage"
	"github.com/keygate/keygate/shared/setup"
	"github.com/keygate/keygate/shared/setup/managesetup"
)

// localStack serves the local gateway on a fresh table with an admin key
// of tenant acme in KEYGATE_KEY, and returns the key service and the CLI
// pointed at it.
func localStack(t *testing.T) (*manage.Service, func(args ...string) (int, string, string)) {
	t.Helper()
	vars := localVars(t)
	env, err := setup.Load(context.Background(), func(k string) string { return vars[k] }, &testkit.Buffer{})
	if err != nil {
		t.Fatal(err)
	}
	svc := managesetup.Service(env)
	admin, err := svc.Create(context.Background(), keygate.Caller{Operator: true}, manage.CreateRequest{Tenant: "acme", Owner: "root", Role: keygate.Admin})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(gateway.Local(env, 0, nil))
	t.Cleanup(srv.Close)
	t.Setenv("KEYGATE_KEY", admin.Token.Reveal())
	return svc, func(args ...string) (int, string, string) {
		return ctl(t, newBackend, append([]string{"--endpoint", srv.URL}, args...)...)
	}
}

// wantBody checks the request body parseCommand builds from args against
// want, JSON compared as values; want "" means args are refused.
func wantBody(t *testing.T, args []string, want string) {
	t.Helper()
	o, _, err := parseCommand(args[0], args[1:])
	if want == "" {
		if err == nil {
			t.Fatalf("accepted: %v", o.Body)
		}
		return
	}
	if err != nil {
		t.Fatal(err)
	}
	var got, wantV any
	b, _ := json.Marshal(o.Body)
	_ = json.Unmarshal(b, &got)
	_ = json.Unmarshal([]byte(want), &wantV)
	if !reflect.DeepEqual(got, wantV) {
		t.Fatalf("body %s, want %s", b, want)
	}
}
