// Package keysetup wires the key management service: setup.Env →
// DynamoDB store → manage.Service. The management functions
// (managesetup) put it behind their HTTP handlers and the secret-scanning
// function (scansetup) reports leaks to it; it links neither's handlers.
package keysetup

import (
	"github.com/keygate/keygate/shared/manage"
	"github.com/keygate/keygate/shared/setup"
	"github.com/keygate/keygate/shared/store"
)

// The DynamoDB store is what the service needs.
var _ manage.Store = (*store.Store)(nil)

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
	return manage.New(Store(env), Config(env))
}

// Store is the key store on the configured table.
func Store(env *setup.Env) *store.Store {
	return store.New(env.DynamoDB, env.Config.TableName)
}
