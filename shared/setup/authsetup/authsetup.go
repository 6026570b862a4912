// Package authsetup wires the authorizer function and its local stand-in:
// setup.Env → DynamoDB store → usage meter → authorizer. It links no
// management, lifecycle or console code.
package authsetup

import (
	"github.com/keygate/keygate/shared/authorizer"
	"github.com/keygate/keygate/shared/setup"
	"github.com/keygate/keygate/shared/store"
	"github.com/keygate/keygate/shared/usage"
)

// The DynamoDB store is what the authorizer and its meter need.
var (
	_ authorizer.Store   = (*store.Store)(nil)
	_ usage.Store        = (*store.Store)(nil)
	_ authorizer.Imports = (*store.Store)(nil)
)

// Config is the authorizer's configuration, without a Meter.
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

// Authorizer is the Lambda authorizer on the configured table, metering
// keys with usage limits through one Meter for this execution environment.
func Authorizer(env *setup.Env) *authorizer.Authorizer {
	st := store.New(env.DynamoDB, env.Config.TableName)
	cfg := Config(env)
	cfg.Meter = usage.NewMeter(st)
	if env.Config.ImportedKeys {
		cfg.Imports = st
	}
	return authorizer.New(st, cfg, env.Logger)
}
