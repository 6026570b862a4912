// Command keygatectl is the operators' CLI for Keygate: create, list, get,
// revoke, rotate and read the audit trail of keys, against a deployed stack
// (it invokes the management functions directly, authorized by IAM, with
// the standard AWS credential chain: profiles, SSO, environment) or against
// any gateway with a key (the local stack of make run, or a deployed API).
//
//	keygatectl --stack keygate --tenant acme create --owner alice --role admin --name bootstrap
//	KEYGATE_KEY="$(cat alice.key)" keygatectl --endpoint http://127.0.0.1:3000 list
//
// With --endpoint the key is read from $KEYGATE_KEY. The --key flag also
// takes it, but an argument is visible to every user of the machine (ps)
// and kept in shell history.
//
// Output is a table for people, or the API's JSON with --json. A new token
// is printed once, or with --out written to a new file of mode 0600 and not
// printed. Exit status: 0 success, 1 the request was refused (a 4xx: bad
// input, not found, forbidden, conflict), 2 bad usage, 3 the service failed
// or could not be reached (5xx, throttling, network, credentials).
//
// Install with: go install ./infra/cmd/keygatectl
package main

import (
	"context"
	"os"

	"github.com/keygate/keygate/infra/cli"
)

func main() {
	cli.Main("keygatectl", func(ctx context.Context) error {
		return cli.Exit(run(ctx, os.Args[1:], os.Stdout, os.Stderr, newBackend))
	})
}
