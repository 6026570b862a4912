// Package authsetup wires the authorizer function and its local stand-in:
// setup.Env → DynamoDB store → authorizer. It links no management,
// lifecycle or console code.
package authsetup

import (
	"github.com/keygate/keygate/shared/authorizer"
	"github.com/keygate/keygate/shared/setup"
	"github.com/keygate/keygate/shared/store"
)

// The DynamoDB store is what the authorizer needs.
var _ authorizer.Store = (*store.Store)(nil)

// Config is the authorizer's configuration.
func Config(env *setup.Env) authorizer.Config {
	return authorizer.Config{
		Format:           env.Format,
		Hasher:           env.Hasher,
		CacheTTL:         env.Config.AuthCacheTTL,
		LastUsedInterval: env.Config.LastUsedInterval,
		AllowQueryToken:  env.Config.AllowQueryToken,
		UsageIdentifier:  env.Config.UsageIdentifier,
	}
}

// Authorizer is the Lambda authorizer on the configured table.
func Authorizer(env *setup.Env) *authorizer.Authorizer {
	return authorizer.New(store.New(env.DynamoDB, env.Config.TableName), Config(env), env.Logger)
}
