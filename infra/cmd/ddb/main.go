// Command ddb keeps a DynamoDB Local running for make invoke (make ddb): on
// port 8000, with its data on disk under .build/ddb-data, so keys persist
// between invocations and restarts, until Ctrl-C.
package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"

	"github.com/keygate/keygate/infra/cli"
	"github.com/keygate/keygate/infra/ddblocal"
)

func main() { cli.Main("ddb", run) }

func run(ctx context.Context) error {
	root, err := ddblocal.ModuleRoot()
	if err != nil {
		return err
	}
	data := filepath.Join(root, ".build", "ddb-data")
	if err := os.MkdirAll(data, 0o755); err != nil {
		return err
	}
	srv, err := ddblocal.StartWith(ctx, ddblocal.Options{Log: os.Stderr, Port: 8000, DBPath: data})
	if err != nil {
		return fmt.Errorf("%w (is port 8000 taken?)", err)
	}
	defer srv.Stop()
	fmt.Printf("DynamoDB Local on %s, data in %s; make invoke uses it. Ctrl-C stops it.\n", srv.Endpoint, data)
	<-ctx.Done()
	return nil
}
