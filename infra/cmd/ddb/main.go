// Command ddb manages the local DynamoDB stand-in (infra/ddblocal):
//
//	go run ./infra/cmd/ddb serve               # make ddb: port 8000, data kept in .build/ddb-data, until Ctrl-C
//	go run ./infra/cmd/ddb run -- go test ./...  # a command with a fresh, in-memory server for it
//	go run ./infra/cmd/ddb table [-print]      # make table: create $TABLE_NAME on $DYNAMODB_ENDPOINT
//
// run gives the command DYNAMODB_ENDPOINT, exits with its status and stops
// the server when it exits; Ctrl-C is the command's to handle.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"syscall"

	"github.com/keygate/keygate/infra/cli"
	"github.com/keygate/keygate/infra/ddblocal"
)

const usage = `usage:
  ddb serve               DynamoDB Local on port 8000, data in .build/ddb-data, until Ctrl-C
  ddb run -- cmd [args]   run cmd with a fresh DynamoDB Local ($DYNAMODB_ENDPOINT)
  ddb table [-print]      create $TABLE_NAME on $DYNAMODB_ENDPOINT (or AWS), or print its definition
`

func main() {
	args := os.Args[1:]
	sub := ""
	if len(args) > 0 {
		sub, args = args[0], args[1:]
	}
	switch sub {
	case "serve":
		cli.Main("ddb serve", func(ctx context.Context) error { return serve(ctx, args) })
	case "table":
		cli.Main("ddb table", func(ctx context.Context) error { return table(ctx, args, os.Stdout, os.Stderr) })
	case "run":
		os.Exit(runWith(args, startLocal, os.Stdin, os.Stdout, os.Stderr))
	case "help", "-h", "-help", "--help":
		fmt.Print(usage)
	default:
		fmt.Fprint(os.Stderr, usage)
		os.Exit(2)
	}
}

// serve keeps a DynamoDB Local running for make invoke: on port 8000,
// with its data on disk, so keys persist between invocations and restarts.
func serve(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("ddb serve", flag.ContinueOnError)
	if err := fs.Parse(args); err != nil {
		return usageError(err)
	}
	if fs.NArg() > 0 {
		fmt.Fprint(os.Stderr, usage)
		return cli.Exit(2)
	}
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

// usageError is the status for a flag parse error: 0 for -h (cli.Status
// maps flag.ErrHelp to it), 2 otherwise; the flag package printed why.
func usageError(err error) error {
	if errors.Is(err, flag.ErrHelp) {
		return err
	}
	return cli.Exit(2)
}

// starter starts a server for one command: its endpoint, a warning to
// show (may be empty), and how to stop it.
type starter func(stderr io.Writer) (endpoint, warning string, stop func(), err error)

// startLocal is DynamoDB Local in memory. Its log is shown only if it
// fails to start.
func startLocal(stderr io.Writer) (string, string, func(), error) {
	log, err := os.CreateTemp("", "dynamodb-local-*.log")
	if err != nil {
		return "", "", nil, err
	}
	cleanup := func() { log.Close(); os.Remove(log.Name()) }
	srv, err := ddblocal.Start(context.Background(), log)
	if err != nil {
		out, _ := os.ReadFile(log.Name())
		cleanup()
		return "", "", nil, fmt.Errorf("%w\n%s", err, out)
	}
	return srv.Endpoint, srv.Warning, func() { srv.Stop(); cleanup() }, nil
}

// runWith runs the command in args (after an optional "--") with a server
// from start, and returns the command's exit status: 2 for a usage error,
// 1 if the server or the command could not start.
func runWith(args []string, start starter, stdin io.Reader, stdout, stderr io.Writer) int {
	if len(args) > 0 && args[0] == "--" {
		args = args[1:]
	}
	if len(args) == 0 {
		fmt.Fprint(stderr, "usage: ddb run -- command [args...]\n")
		return 2
	}
	endpoint, warning, stop, err := start(stderr)
	if err != nil {
		fmt.Fprintln(stderr, "ddb run:", err)
		return 1
	}
	defer stop()
	fmt.Fprintf(stderr, "ddb run: DynamoDB Local on %s\n", endpoint)
	if warning != "" {
		fmt.Fprintf(stderr, "ddb run: WARNING: %s\n", warning)
	}
	cmd := exec.Command(args[0], args[1:]...)
	cmd.Stdin, cmd.Stdout, cmd.Stderr = stdin, stdout, stderr
	cmd.Env = append(os.Environ(), "DYNAMODB_ENDPOINT="+endpoint)
	// Ctrl-C reaches the child through the terminal; we only wait for it
	// and then stop DynamoDB Local. Caught, not ignored: an ignored signal
	// stays ignored across exec, and the child would never see it.
	interrupts := make(chan os.Signal, 1)
	signal.Notify(interrupts, syscall.SIGINT)
	defer signal.Stop(interrupts)
	if err := cmd.Run(); err != nil {
		if exit, ok := errors.AsType[*exec.ExitError](err); ok {
			if ws, ok := exit.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
				return 128 + int(ws.Signal()) // as a shell reports it
			}
			return exit.ExitCode()
		}
		fmt.Fprintln(stderr, "ddb run:", err)
		return 1
	}
	return 0
}
