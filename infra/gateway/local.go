package gateway

import (
	"time"

	"github.com/keygate/keygate/shared/httpapi"
	"github.com/keygate/keygate/shared/setup"
	"github.com/keygate/keygate/shared/setup/authsetup"
	"github.com/keygate/keygate/shared/setup/managesetup"
)

// Local wires the four functions' own handlers through authsetup and
// managesetup, exactly as their mains do, behind a Gateway. The functions
// log to env.Logger.
func Local(env *setup.Env, resultTTL time.Duration, openAPI []byte) *Gateway {
	integrations := map[httpapi.Function]IntegrationFunc{}
	for _, fn := range httpapi.Functions() {
		integrations[fn] = managesetup.Handler(env, fn).Handle
	}
	return &Gateway{
		Authorizer:   authsetup.Authorizer(env).Handle,
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
		Authorizer: authsetup.Authorizer(env).Handle,
		Routes:     routes,
		ResultTTL:  resultTTL,
		Log:        env.Logger,
	}
}
