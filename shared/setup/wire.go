package setup

import (
	"github.com/keygate/keygate/shared/authorizer"
	"github.com/keygate/keygate/shared/httpapi"
	"github.com/keygate/keygate/shared/lifecycle"
	"github.com/keygate/keygate/shared/manage"
	"github.com/keygate/keygate/shared/store"
)

// The one wiring path, config → clients → store → service → handler, used
// by the functions' mains, the local stack, the benchmarks and the tests
// alike: what runs locally is what runs in Lambda.

// The DynamoDB store is what the services need.
var (
	_ manage.Store     = (*store.Store)(nil)
	_ authorizer.Store = (*store.Store)(nil)
)

// Store is the DynamoDB store on the configured table.
func (e *Env) Store() *store.Store { return store.New(e.DynamoDB, e.Config.TableName) }

// Service is the key management service on Store.
func (e *Env) Service() *manage.Service { return manage.New(e.Store(), e.ManageConfig()) }

// Handler is the Lambda handler of management function fn, serving the
// tenant settings routes (shared/lifecycle) beside the key routes.
func (e *Env) Handler(fn httpapi.Function) *httpapi.Handler {
	settings := lifecycle.NewSettingsService(store.NewLifecycle(e.DynamoDB, e.Config.TableName))
	return httpapi.New(fn, e.Service(), settings, e.Logger)
}

// Authorizer is the Lambda authorizer on Store.
func (e *Env) Authorizer() *authorizer.Authorizer {
	return authorizer.New(e.Store(), e.AuthorizerConfig(), e.Logger)
}
