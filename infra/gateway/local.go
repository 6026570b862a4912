package gateway

import (
	"net/http"
	"time"

	"github.com/keygate/keygate/shared/httpapi"
	"github.com/keygate/keygate/shared/secretscan"
	"github.com/keygate/keygate/shared/setup"
	"github.com/keygate/keygate/shared/setup/authsetup"
	"github.com/keygate/keygate/shared/setup/managesetup"
	"github.com/keygate/keygate/shared/setup/scansetup"
	"github.com/keygate/keygate/shared/setup/verifysetup"
	"github.com/keygate/keygate/shared/verify"
)

// Local wires the functions' handlers behind a Gateway, built as their
// mains build them: the management functions through managesetup, whose
// Handler(fn).Handle their mains hand to lambda.Start, as here; the
// authorizer through authsetup, whose main hands lambda.Start the
// Authorizer itself (its Invoke answers prebuilt JSON), while the gateway
// calls Handle for the typed response. Invoke's bytes are those of
// Handle's value as the runtime would encode them (authorizer TestInvoke),
// so both answer alike. The secret-scanning function, through scansetup
// as its main, serves its route without an authorizer; a key list URL it
// cannot use leaves the route out, said in the log. The verify function,
// through verifysetup as its main, serves POST /v1/verify behind the
// authorizer. The functions log to env.Logger.
func Local(env *setup.Env, resultTTL time.Duration, openAPI []byte) *Gateway {
	integrations := map[httpapi.Function]IntegrationFunc{}
	for _, fn := range httpapi.Functions() {
		integrations[fn] = managesetup.Handler(env, fn).Handle
	}
	open := map[string]IntegrationFunc{}
	if scan, err := scansetup.Handler(env); err != nil {
		env.Logger.Error("the secret-scanning route is not served", "error", err.Error())
	} else {
		open[http.MethodPost+" "+secretscan.Path] = scan.Handle
	}
	return &Gateway{
		Authorizer:   authsetup.Authorizer(env).Handle,
		Integrations: integrations,
		Open:         open,
		Authorized:   map[string]IntegrationFunc{http.MethodPost + " " + verify.Path: verifysetup.Handler(env).Handle},
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
