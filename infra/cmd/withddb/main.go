// Command withddb runs a command with DynamoDB Local started for it:
//
//	go run ./infra/cmd/withddb -- go test ./...
//
// The command sees DYNAMODB_ENDPOINT; the server is stopped when it exits.
package main

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"os/signal"
	"syscall"

	"github.com/keygate/keygate/infra/ddblocal"
)

func main() { os.Exit(run(os.Args[1:])) }

func run(args []string) int {
	if len(args) > 0 && args[0] == "--" {
		args = args[1:]
	}
	if len(args) == 0 {
		fmt.Fprintln(os.Stderr, "usage: withddb -- command [args...]")
		return 2
	}
	log, err := os.CreateTemp("", "dynamodb-local-*.log")
	if err != nil {
		fmt.Fprintln(os.Stderr, "withddb:", err)
		return 1
	}
	defer os.Remove(log.Name())
	srv, err := ddblocal.Start(context.Background(), log)
	if err != nil {
		out, _ := os.ReadFile(log.Name())
		fmt.Fprintf(os.Stderr, "withddb: %v\n%s", err, out)
		return 1
	}
	defer srv.Stop()
	fmt.Fprintf(os.Stderr, "withddb: DynamoDB Local on %s\n", srv.Endpoint)
	if srv.Warning != "" {
		// Its log, where StartWith also wrote this, is shown only on failure.
		fmt.Fprintf(os.Stderr, "withddb: WARNING: %s\n", srv.Warning)
	}

	cmd := exec.Command(args[0], args[1:]...)
	cmd.Stdin, cmd.Stdout, cmd.Stderr = os.Stdin, os.Stdout, os.Stderr
	cmd.Env = append(os.Environ(), "DYNAMODB_ENDPOINT="+srv.Endpoint)
	// Ctrl-C reaches the child through the terminal; we only wait for it.
	signal.Ignore(syscall.SIGINT)
	if err := cmd.Run(); err != nil {
		if exit, ok := err.(*exec.ExitError); ok {
			return exit.ExitCode()
		}
		fmt.Fprintln(os.Stderr, "withddb:", err)
		return 1
	}
	return 0
}
