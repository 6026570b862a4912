package gateway

import (
	"time"

	"github.com/keygate/keygate/shared/httpapi"
	"github.com/keygate/keygate/shared/setup"
)

// Local wires the four functions' handlers, built through setup as their
// mains build them, behind a Gateway. The management mains hand
// Handler(fn).Handle to lambda.Start, as here; the authorizer's main hands
// lambda.Start the Authorizer itself (its Invoke answers prebuilt JSON),
// while the gateway calls Handle for the typed response. Invoke's bytes are
// those of Handle's value as the runtime would encode them (authorizer
// TestInvoke), so both answer alike. The functions log to env.Logger.
func Local(env *setup.Env, resultTTL time.Duration, openAPI []byte) *Gateway {
	integrations := map[httpapi.Function]IntegrationFunc{}
	for _, fn := range []httpapi.Function{httpapi.Create, httpapi.List, httpapi.Revoke} {
		integrations[fn] = env.Handler(fn).Handle
	}
	return &Gateway{
		Authorizer:   env.Authorizer().Handle,
		Integrations: integrations,
		ResultTTL:    resultTTL,
		OpenAPI:      openAPI,
		Log:          env.Logger,
	}
}

// LocalHTTP puts the real authorizer in front of routes as an HTTP API
// attached like docs/snippets/http-api.yaml: payload format 2.0, simple
// responses, identity sources DefaultIdentitySources(HTTPAPI).
func LocalHTTP(env *setup.Env, resultTTL time.Duration, routes []Route) *Gateway {
	return &Gateway{
		API:        HTTPAPI,
		Authorizer: env.Authorizer().Handle,
		Routes:     routes,
		ResultTTL:  resultTTL,
		Log:        env.Logger,
	}
}
