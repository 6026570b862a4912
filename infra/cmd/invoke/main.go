// Command invoke runs a Keygate function locally, once, the way Lambda would:
// it builds ./functions/<name> as a provided.al2023 bootstrap and runs it
// under AWS's Runtime Interface Emulator through lambdarun, the emulator
// sam local invoke uses, without the Docker container around it.
//
//	go run ./infra/cmd/invoke -fn create -event events/create/direct.json
//	echo '{}' | go run ./infra/cmd/invoke -fn list -event -
//
// The response payload goes to stdout (indented if JSON); function logs, the
// emulator's log and REPORT line, and errors go to stderr. The exit status is 1 on a
// function error or a failure to run the function, 2 on bad usage. The
// current environment (DYNAMODB_ENDPOINT, TABLE_NAME, TOKEN_PEPPER, AWS_*, ...)
// is passed to the function.
package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"time"

	"github.com/keygate/keygate/infra/cli"
	"github.com/keygate/keygate/infra/ddblocal"
	"github.com/keygate/keygate/infra/lambdarun"
)

func main() {
	cli.Main("invoke", func(ctx context.Context) error {
		return cli.Exit(run(ctx, os.Args[1:], os.Stdin, os.Stdout, os.Stderr))
	})
}

// run is the whole command, minus process plumbing, so tests can drive it.
// The function's and the emulator's logs go to stderr too, from a copying
// goroutine per stream while we write, so it must be safe for concurrent
// use (tests pass a testkit.Buffer).
func run(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("invoke", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fn := fs.String("fn", "", "function to build and run: the package ./functions/`name`")
	eventPath := fs.String("event", "", "`file` holding the event JSON, - for stdin (default {})")
	binary := fs.String("binary", "", "run this prebuilt bootstrap `path` instead of building -fn")
	timeout := fs.Duration("timeout", 30*time.Second, "function timeout (generous: local dependencies start slowly)")
	fs.Usage = func() {
		fmt.Fprintln(stderr, "usage: invoke -fn name [-event file|-] [-binary path] [-timeout d]")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); errors.Is(err, flag.ErrHelp) {
		return 0
	} else if err != nil {
		return 2
	}
	if fs.NArg() > 0 || (*fn == "" && *binary == "") {
		fs.Usage()
		return 2
	}
	if *fn != "" && (!filepath.IsLocal(*fn) || strings.ContainsAny(*fn, `/\`)) {
		fmt.Fprintf(stderr, "invoke: -fn %q is not a function name\n", *fn)
		return 2
	}

	fail := func(err error) int {
		fmt.Fprintf(stderr, "invoke: %v\n", err)
		return 1
	}
	payload, err := readEvent(*eventPath, stdin)
	if err != nil {
		return fail(err)
	}
	root, err := ddblocal.ModuleRoot()
	if err != nil {
		return fail(err)
	}
	env, stop, err := localEnv(ctx, root, stderr)
	if err != nil {
		return fail(err)
	}
	defer stop()
	bin := *binary
	if bin == "" {
		bin = filepath.Join(root, ".build", "invoke", *fn, "bootstrap")
		if err := lambdarun.Build(ctx, root, "./functions/"+*fn, runtime.GOOS, runtime.GOARCH, bin, stderr); err != nil {
			return fail(err)
		}
	}

	rt, err := lambdarun.Start(ctx, lambdarun.Options{
		Binary:       bin,
		Env:          env,
		FunctionName: *fn,
		Timeout:      *timeout,
		Stdout:       stderr,
		Stderr:       stderr,
	})
	if err != nil {
		return fail(err)
	}
	defer rt.Close()

	res, err := rt.Invoke(ctx, payload)
	if err != nil {
		return fail(err)
	}
	report(stderr, rt) // before Close, while the process can still be measured
	if res.FunctionError != nil {
		fmt.Fprintf(stderr, "invoke: function error: %v\n", res.FunctionError)
		writePretty(stderr, res.Payload)
		return 1
	}
	writePretty(stdout, res.Payload)
	return 0
}

func readEvent(path string, stdin io.Reader) ([]byte, error) {
	switch path {
	case "":
		return []byte("{}"), nil
	case "-":
		b, err := io.ReadAll(stdin)
		if err != nil {
			return nil, fmt.Errorf("reading event from stdin: %w", err)
		}
		return b, nil
	default:
		return os.ReadFile(path)
	}
}

// report adds the figures the emulator's REPORT line cannot give: it
// prints the time its init request took and the memory size as the memory
// used.
func report(w io.Writer, rt *lambdarun.Runtime) {
	line := "invoke: measured"
	if d := rt.InitDuration(); d > 0 {
		line += fmt.Sprintf("\tInit Duration: %.2f ms", float64(d.Microseconds())/1000)
	}
	if mb := maxMemoryMB(rt.PID()); mb > 0 {
		line += fmt.Sprintf("\tMax Memory Used: %d MB", mb)
	}
	fmt.Fprintln(w, line)
}

// maxMemoryMB reads the peak RSS (VmHWM) of a live process, 0 where /proc
// does not exist.
func maxMemoryMB(pid int) int {
	f, err := os.Open("/proc/" + strconv.Itoa(pid) + "/status")
	if err != nil {
		return 0
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), "VmHWM:"); ok {
			kb, _ := strconv.Atoi(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")))
			return (kb + 1023) / 1024
		}
	}
	return 0
}

// writePretty writes a payload indented if it is JSON, verbatim otherwise,
// and always newline-terminated.
func writePretty(w io.Writer, payload []byte) {
	var buf bytes.Buffer
	if json.Indent(&buf, payload, "", "  ") == nil {
		payload = buf.Bytes()
	}
	_, _ = w.Write(payload)
	_, _ = io.WriteString(w, "\n")
}
