// Package managesetup wires the management functions (create, list,
// revoke) and their local stand-ins: setup.Env → DynamoDB store → key
// management and tenant settings services → httpapi handler. It links no
// lifecycle event, e-mail or authorizer code.
package managesetup

import (
	"github.com/keygate/keygate/shared/httpapi"
	"github.com/keygate/keygate/shared/manage"
	"github.com/keygate/keygate/shared/settings"
	"github.com/keygate/keygate/shared/setup"
	"github.com/keygate/keygate/shared/store"
)

// The DynamoDB store is what the services need.
var (
	_ manage.Store   = (*store.Store)(nil)
	_ settings.Store = (*store.Lifecycle)(nil)
)

// Config is the management service's configuration.
func Config(env *setup.Env) manage.Config {
	return manage.Config{
		Format:         env.Format,
		Hasher:         env.Hasher,
		DefaultTTL:     env.Config.DefaultKeyTTL,
		Retention:      env.Config.KeyRetention,
		MaxUserKeys:    env.Config.MaxUserKeys,
		MaxServiceKeys: env.Config.MaxServiceKeys,
	}
}

// Service is the key management service on the configured table.
func Service(env *setup.Env) *manage.Service {
	return manage.New(store.New(env.DynamoDB, env.Config.TableName), Config(env))
}

// Handler is the Lambda handler of management function fn, serving the
// tenant settings routes (shared/settings) beside the key routes.
func Handler(env *setup.Env, fn httpapi.Function) *httpapi.Handler {
	s := settings.NewService(store.NewLifecycle(env.DynamoDB, env.Config.TableName))
	return httpapi.New(fn, Service(env), s, env.Logger)
}
