package authorizer_test

import (
	"context"
	"encoding/json"
	"strings"
	"testing"

	"github.com/aws/aws-lambda-go/events"
	"github.com/keygate/keygate/shared/manage"
)

// FuzzHandle feeds arbitrary events to the authorizer. "{{TOKEN}}" in an
// input stands for a real key's token, so mutations explore around a valid
// one. Invariants: no panic, and no allow unless the event carries the
// token of a key whose scopes cover the route.
func FuzzHandle(f *testing.F) {
	for _, shape := range shapes {
		f.Add(string(event(f, shape, "{{TOKEN}}", "GET", "/x")))
		f.Add(string(event(f, shape, "kg_live_x", "POST", "/x/../y")))
	}
	f.Add(`{"type":"TOKEN","authorizationToken":"bearer {{TOKEN}}","methodArn":"arn:aws:execute-api:r:1:a/s/GET/x"}`)
	f.Add(string(wsEvent(f, wsConnectQuery, "{{TOKEN}}")))
	fx := newFixture(f, nil)
	key := fx.create(f, manage.CreateRequest{APIs: []string{"*"}, Scopes: []string{"GET /x"}})
	f.Fuzz(func(t *testing.T, ev string) {
		ev = strings.ReplaceAll(ev, "{{TOKEN}}", key.Token.Reveal())
		resp, err := fx.auth.Handle(context.Background(), json.RawMessage(ev))
		if err != nil {
			return
		}
		allowed := false
		switch r := resp.(type) {
		case events.APIGatewayV2CustomAuthorizerSimpleResponse:
			allowed = r.IsAuthorized
		case events.APIGatewayCustomAuthorizerResponse:
			for _, s := range r.PolicyDocument.Statement {
				allowed = allowed || (s.Effect == "Allow" && len(s.Resource) > 0)
			}
			if r.PrincipalID != key.ID {
				t.Fatalf("policy for principal %q from %s", r.PrincipalID, ev)
			}
		default:
			t.Fatalf("unexpected response %T", resp)
		}
		if allowed && !strings.Contains(ev, key.Token.Reveal()) {
			t.Fatalf("allowed without the token: %s", ev)
		}
	})
}
