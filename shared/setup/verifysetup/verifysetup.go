// Package verifysetup wires the verify function (POST /v1/verify) and its
// local stand-in: setup.Env → DynamoDB store → usage meter → authorizer
// (authsetup's, so a verify decides and meters as the authorizer does) →
// verify handler. It links no management, console, lifecycle or
// notification code.
package verifysetup

import (
	"github.com/keygate/keygate/shared/setup"
	"github.com/keygate/keygate/shared/setup/authsetup"
	"github.com/keygate/keygate/shared/store"
	"github.com/keygate/keygate/shared/verify"
)

// The store reads the usage counters of the answers.
var _ verify.UsageReader = (*store.Store)(nil)

// Handler is the verify function's handler: the authorizer function's
// decision, configuration and kind of meter, so a verify spends a metered
// key's calls from the same counters.
func Handler(env *setup.Env) *verify.Handler {
	return verify.New(verify.Config{
		Checker: authsetup.Authorizer(env),
		Usage:   store.New(env.DynamoDB, env.Config.TableName),
		Log:     env.Logger,
	})
}
