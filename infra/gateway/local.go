package gateway

import (
	"log/slog"
	"time"

	"github.com/keygate/keygate/shared/authorizer"
	"github.com/keygate/keygate/shared/httpapi"
	"github.com/keygate/keygate/shared/manage"
	"github.com/keygate/keygate/shared/setup"
	"github.com/keygate/keygate/shared/store"
)

// Local wires the four functions' own handlers, as their mains do, behind a
// Gateway. log receives the functions' log lines.
func Local(env *setup.Env, resultTTL time.Duration, openAPI []byte, log *slog.Logger) *Gateway {
	st := store.New(env.DynamoDB, env.Config.TableName)
	svc := manage.New(st, env.ManageConfig())
	return &Gateway{
		Authorizer: authorizer.New(st, env.AuthorizerConfig(), log).Handle,
		Integrations: map[httpapi.Function]IntegrationFunc{
			httpapi.Create: httpapi.New(httpapi.Create, svc, log).Handle,
			httpapi.List:   httpapi.New(httpapi.List, svc, log).Handle,
			httpapi.Revoke: httpapi.New(httpapi.Revoke, svc, log).Handle,
		},
		ResultTTL: resultTTL,
		OpenAPI:   openAPI,
		Log:       log,
	}
}

// LocalHTTP puts the real authorizer in front of routes as an HTTP API
// attached like docs/snippets/http-api.yaml: payload format 2.0, simple
// responses, identity sources DefaultIdentitySources(HTTPAPI).
func LocalHTTP(env *setup.Env, resultTTL time.Duration, routes []Route, log *slog.Logger) *Gateway {
	st := store.New(env.DynamoDB, env.Config.TableName)
	return &Gateway{
		API:        HTTPAPI,
		Authorizer: authorizer.New(st, env.AuthorizerConfig(), log).Handle,
		Routes:     routes,
		ResultTTL:  resultTTL,
		Log:        log,
	}
}
