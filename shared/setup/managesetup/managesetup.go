// Package managesetup wires the management functions (create, list,
// revoke) and their local stand-ins: setup.Env → DynamoDB store → key
// management (keysetup) and tenant settings services → httpapi handler.
// It links no lifecycle event, e-mail or authorizer code.
package managesetup

import (
	"github.com/keygate/keygate/shared/httpapi"
	"github.com/keygate/keygate/shared/manage"
	"github.com/keygate/keygate/shared/settings"
	"github.com/keygate/keygate/shared/setup"
	"github.com/keygate/keygate/shared/setup/keysetup"
	"github.com/keygate/keygate/shared/store"
)

// The DynamoDB store is what the settings service needs.
var _ settings.Store = (*store.Lifecycle)(nil)

// Service is the key management service on the configured table
// (keysetup.Service), for the local tools that mint keys beside the
// handlers.
func Service(env *setup.Env) *manage.Service { return keysetup.Service(env) }

// Handler is the Lambda handler of management function fn, serving the
// tenant settings routes (shared/settings) beside the key routes.
func Handler(env *setup.Env, fn httpapi.Function) *httpapi.Handler {
	s := settings.NewService(store.NewLifecycle(env.DynamoDB, env.Config.TableName))
	return httpapi.New(fn, keysetup.Service(env), s, env.Logger)
}
