// Package cli is the process plumbing the project's commands share: a
// context that Ctrl-C and SIGTERM cancel, and one mapping from a command's
// result to its exit status, so every command stops and fails alike.
package cli

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strconv"
	"syscall"
)

// Main runs a command and exits with Status(name, err). The context is
// cancelled on the first Ctrl-C or SIGTERM; that also restores the default
// handling, so a second one kills a command that is slow to stop.
func Main(name string, run func(ctx context.Context) error) {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	context.AfterFunc(ctx, stop)
	err := run(ctx)
	stop()
	os.Exit(Status(name, err, os.Stderr))
}

// Exit is an exit status that needs no message: the command has already
// said why (a missed benchmark target, a CLI that maps errors to codes).
type Exit int

func (e Exit) Error() string { return "exit status " + strconv.Itoa(int(e)) }

// Status is the exit status for a command's result: 0 for nil and for
// -h/-help (flag.ErrHelp, the usage is already printed), the code of an
// Exit, else 1 after one line "name: err" on stderr.
func Status(name string, err error, stderr io.Writer) int {
	var code Exit
	switch {
	case err == nil, errors.Is(err, flag.ErrHelp):
		return 0
	case errors.As(err, &code):
		return int(code)
	}
	fmt.Fprintf(stderr, "%s: %v\n", name, err)
	return 1
}
