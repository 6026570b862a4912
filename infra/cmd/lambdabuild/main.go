// Command lambdabuild builds one function's bootstrap the way it ships,
// with lambdarun.Build and its BuildFlags, so the Makefile's build targets
// (which sam build runs) and the local harnesses cannot drift apart:
//
//	go run ./infra/cmd/lambdabuild -fn create -o "$ARTIFACTS_DIR/bootstrap"
//
// It builds for linux/arm64 unless -goos/-goarch say otherwise.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"

	"github.com/keygate/keygate/infra/cli"
	"github.com/keygate/keygate/infra/ddblocal"
	"github.com/keygate/keygate/infra/lambdarun"
)

func main() {
	cli.Main("lambdabuild", func(ctx context.Context) error { return run(ctx, os.Args[1:], os.Stderr) })
}

func run(ctx context.Context, args []string, stderr io.Writer) error {
	fs := flag.NewFlagSet("lambdabuild", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fn := fs.String("fn", "", "the function, a folder of functions/ (create, list, revoke, authorizer, stream, reminders, settings, secretscan, verify)")
	out := fs.String("o", "", "the binary to write, e.g. $ARTIFACTS_DIR/bootstrap")
	goos := fs.String("goos", lambdarun.TargetOS, "target OS")
	goarch := fs.String("goarch", lambdarun.TargetArch, "target architecture")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *fn == "" || *out == "" || fs.NArg() > 0 {
		fs.Usage()
		return errors.New("-fn and -o are required")
	}
	root, err := ddblocal.ModuleRoot()
	if err != nil {
		return err
	}
	// A name, not a path: -fn ../x must not build something outside
	// functions/.
	if filepath.Base(*fn) != *fn {
		return fmt.Errorf("-fn %q: want a folder name under functions/", *fn)
	}
	if fi, err := os.Stat(filepath.Join(root, "functions", *fn)); err != nil || !fi.IsDir() {
		return fmt.Errorf("-fn %q: no such function under functions/", *fn)
	}
	dst, err := filepath.Abs(*out)
	if err != nil {
		return err
	}
	return lambdarun.Build(ctx, root, "./functions/"+*fn, *goos, *goarch, dst, stderr)
}
