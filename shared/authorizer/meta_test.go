package authorizer_test

import (
	"encoding/json"
	"testing"

	"github.com/aws/aws-lambda-go/events"
	"github.com/keygate/keygate/shared/manage"
)

// TestContextCarriesMeta: the integration gets the key's meta as JSON
// text in the authorizer context ("" for none), in every event shape that
// has a context; a Deny's context too.
func TestContextCarriesMeta(t *testing.T) {
	f := newFixture(t, nil)
	with := f.create(t, manage.CreateRequest{APIs: []string{"*"}, Scopes: []string{"GET /x"}, Meta: json.RawMessage(`{ "plan": "pro" }`)})
	without := f.create(t, manage.CreateRequest{APIs: []string{"*"}, Scopes: []string{"GET /x"}})
	for _, tc := range []struct {
		token, path string
		allowed     bool
		want        string
	}{
		{with.Token.Reveal(), "/x", true, `{"plan":"pro"}`},
		{with.Token.Reveal(), "/y", false, `{"plan":"pro"}`},
		{without.Token.Reveal(), "/x", true, ""},
	} {
		for _, shape := range []string{"rest-request", "http-v2"} {
			verdict, resp := f.outcome(t, event(t, shape, tc.token, "GET", tc.path))
			var ctx map[string]any
			switch r := resp.(type) {
			case events.APIGatewayCustomAuthorizerResponse:
				ctx = r.Context
			case events.APIGatewayV2CustomAuthorizerSimpleResponse:
				ctx = r.Context
			}
			if (verdict == "allow") != tc.allowed || ctx["meta"] != tc.want {
				t.Errorf("%s GET %s: %s with context meta %q, want allowed %v with %q", shape, tc.path, verdict, ctx["meta"], tc.allowed, tc.want)
			}
		}
	}
}
