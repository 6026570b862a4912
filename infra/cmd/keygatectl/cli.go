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
	"strconv"
	"strings"
	"text/tabwriter"
	"time"
)

// Exit statuses.
const (
	exitOK       = 0
	exitRefused  = 1
	exitUsage    = 2
	exitFailure  = 3
	usageSummary = `usage: keygatectl (--stack NAME --tenant T | --endpoint URL) [--json] COMMAND [flags]

With --endpoint, the API key is read from $KEYGATE_KEY. --key KEY works too,
but a command line is visible to other users (ps) and kept in shell history.

commands:
  create  [--owner O] [--name N] [--type user|service] [--role viewer|admin]
          [--scope "GET /x/*"]... [--api ID[/STAGE]]... [--expires-in-hours H] [--out FILE]
          [--rate-limit 100/1m] [--credits 5000 [--refill 5000/month]]
          [--meta '{"plan":"pro"}'] [--external-id c_123]
  list    [--owner O] [--external-id X] [--status active|disabled|revoked|expired]
          [--limit N] [--cursor C] [--imported]   (--imported: only imported keys, to rotate)
  get     ID
  revoke  ID [--cascade]
  rotate  ID [--grace SECONDS] [--out FILE]
  update  ID [--name N] [--enable|--disable] [--rate-limit 100/1m | --no-rate-limit]
          [--credits 5000 [--refill 5000/day] | --no-credits]   (--credits sets the balance)
          [--meta JSON | --no-meta] [--external-id X | --no-external-id]
  audit   [--key-id ID] [--limit N] [--cursor C]
  import  --csv FILE   (value,tenant,owner,name[,scopes,apis,expires_at]; lists split by ;)
  import  --from-apigateway --owner O [--usage-plan ID] [--scope S]... [--api ID[/STAGE]]...
          (with --stack only; each key reported: imported, already imported, refused: why)
  settings [--owner-email E] [--reminder-days 14,3] [--leak-action revoke|notify]
          [--leak-cascade[=false]]   (reads the tenant's settings; with a flag, changes them)
  verify  TOKEN|- [--api ID[/STAGE]] [--method GET --path /p]   (with --endpoint only;
          "-" reads the token from stdin; exit 0 when VALID, 1 otherwise)
`
)

// op is one management operation, whichever way it is sent.
type op struct {
	Name string         // create, list, get, revoke, rotate, update, audit, settings, save_settings, verify
	ID   string         // the key, for get, revoke, rotate, update
	Body map[string]any // the fields, as the HTTP body / query or the direct event
	// Imported shows only imported keys of a listing (list --imported).
	Imported bool
}

// apiError is a refusal or failure the service answered with.
type apiError struct {
	Code    string
	Message string
	Status  int // HTTP status; 0 from a direct invocation
}

func (e *apiError) Error() string { return e.Code + ": " + e.Message }

// exitCode classifies an answer: the caller's mistake or the service's.
func (e *apiError) exitCode() int {
	switch e.Code {
	case "internal", "unavailable":
		return exitFailure
	}
	if e.Status >= 500 {
		return exitFailure
	}
	return exitRefused
}

// backend sends an operation and returns the service's JSON answer.
type backend interface {
	do(ctx context.Context, o op) (json.RawMessage, error)
}

type global struct {
	stack, tenant, actor, endpoint, key, region string
	json                                        bool
}

type newBackendFunc func(ctx context.Context, g global) (backend, error)

// stdin is where verify - reads its token (tests replace it).
var stdin io.Reader = os.Stdin

func run(ctx context.Context, args []string, stdout, stderr io.Writer, newBackend newBackendFunc) int {
	var g global
	fs := flag.NewFlagSet("keygatectl", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	fs.StringVar(&g.stack, "stack", "", "deployed stack whose functions to invoke (AWS credentials from the usual chain)")
	fs.StringVar(&g.tenant, "tenant", "", "tenant to act on (with --stack)")
	fs.StringVar(&g.actor, "actor", "", "your name, recorded in the audit trail as operator:<actor> (with --stack)")
	fs.StringVar(&g.region, "region", "", "AWS Region (default: from the profile or AWS_REGION)")
	fs.StringVar(&g.endpoint, "endpoint", "", "management API base URL, e.g. http://127.0.0.1:3000")
	// The key is read from the environment first: an argument is
	// readable by every user of the machine (ps, /proc/PID/cmdline) and
	// lands in shell history. --key stays for scripts that have no other
	// way, and usageSummary says why not to use it.
	fs.StringVar(&g.key, "key", os.Getenv("KEYGATE_KEY"), "API key for --endpoint; prefer $KEYGATE_KEY, as a command line is visible to other users")
	fs.BoolVar(&g.json, "json", false, "print the API's JSON instead of a table")
	usage := func(err error) int {
		if errors.Is(err, flag.ErrHelp) { // asked for: not a mistake
			fmt.Fprint(stdout, usageSummary)
			return 0
		}
		if err != nil {
			fmt.Fprintln(stderr, "keygatectl:", err)
		}
		fmt.Fprint(stderr, usageSummary)
		return exitUsage
	}
	if err := fs.Parse(args); err != nil {
		return usage(err)
	}
	switch {
	case fs.NArg() == 0:
		return usage(nil)
	case (g.stack == "") == (g.endpoint == ""):
		return usage(errors.New("give either --stack or --endpoint"))
	case g.stack != "" && g.tenant == "":
		return usage(errors.New("--stack needs --tenant"))
	case g.endpoint != "" && g.key == "":
		return usage(errors.New("--endpoint needs an API key in $KEYGATE_KEY"))
	case fs.Arg(0) == "verify" && g.endpoint == "":
		// POST /v1/verify answers for the tenant of the key that calls
		// it, through the authorizer: there is no direct event for it.
		return usage(errors.New("verify goes through the API: give --endpoint and a key whose scopes cover POST /v1/verify"))
	}
	if fs.Arg(0) == "import" {
		if g.endpoint != "" {
			// An import sets a key's token to a value chosen elsewhere:
			// an operator's direct event, never an API route.
			return usage(errors.New("import is an operator's operation: give --stack and --tenant"))
		}
		imp, err := parseImport(fs.Args()[1:])
		if err != nil {
			return usage(err)
		}
		b, err := newBackend(ctx, g)
		if err != nil {
			fmt.Fprintln(stderr, "keygatectl:", err)
			return exitFailure
		}
		return runImport(ctx, g, imp, b, stdout, stderr)
	}
	o, out, err := parseCommand(fs.Arg(0), fs.Args()[1:])
	if err != nil {
		return usage(err)
	}
	if o.Name == "verify" && o.ID == "-" {
		if o.Body["key"], err = readToken(stdin); err != nil {
			return usage(err)
		}
	}
	if out != "" {
		// Refuse before anything is created: the token must not be lost.
		if _, err := os.Stat(out); err == nil {
			return usage(fmt.Errorf("--out %s exists; the token is never written over a file", out))
		}
	}
	b, err := newBackend(ctx, g)
	if err != nil {
		fmt.Fprintln(stderr, "keygatectl:", err)
		return exitFailure
	}
	answer, err := b.do(ctx, o)
	var ae *apiError
	switch {
	case errors.As(err, &ae):
		fmt.Fprintf(stderr, "keygatectl: %s refused: %s (%s)\n", o.Name, ae.Message, ae.Code)
		return ae.exitCode()
	case err != nil:
		fmt.Fprintln(stderr, "keygatectl:", err)
		return exitFailure
	}
	if o.Name == "verify" {
		return printVerdict(answer, g.json, stdout, stderr)
	}
	return printAnswer(o, answer, g.json, out, stdout, stderr)
}

// strings is a repeatable string flag.
type stringsFlag []string

func (s *stringsFlag) String() string     { return strings.Join(*s, ",") }
func (s *stringsFlag) Set(v string) error { *s = append(*s, v); return nil }

// parseCommand reads one command's flags into an op, and --out.
func parseCommand(name string, args []string) (op, string, error) {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	o := op{Name: name, Body: map[string]any{}}
	var out string
	str := func(flagName, field, usage string) {
		fs.Func(flagName, usage, func(v string) error { o.Body[field] = v; return nil })
	}
	num := func(flagName, field, usage string) {
		fs.Func(flagName, usage, func(v string) error {
			var n int64
			if _, err := fmt.Sscan(v, &n); err != nil {
				return fmt.Errorf("--%s wants a whole number", flagName)
			}
			o.Body[field] = n
			return nil
		})
	}
	needsID := false
	var scopes, apis stringsFlag
	var lim limitFlags
	var onlyImported bool
	switch name {
	case "create":
		str("owner", "owner", "owner of a user key")
		str("name", "name", "label")
		str("type", "type", "user or service")
		str("role", "role", "viewer or admin")
		fs.Var(&scopes, "scope", "a route the key may call (repeat)")
		fs.Var(&apis, "api", "an API id or id/stage the key may call (repeat)")
		num("expires-in-hours", "expires_in_hours", "hours until expiry, 0 for never")
		fs.StringVar(&out, "out", "", "write the token to this new file (mode 0600) instead of printing it")
		lim.flags(fs, false)
		metaFlags(fs, o.Body, false)
	case "list":
		str("owner", "owner", "only this owner's keys")
		str("external-id", "external_id", "only keys with this external_id")
		str("status", "status", "only keys with this status")
		num("limit", "limit", "page size")
		str("cursor", "cursor", "next_cursor of the previous page")
		fs.BoolVar(&onlyImported, "imported", false, "only imported keys (of each page)")
	case "get":
		needsID = true
	case "revoke":
		needsID = true
		fs.BoolFunc("cascade", "also revoke every key minted from it", func(string) error { o.Body["cascade"] = true; return nil })
	case "rotate":
		needsID = true
		num("grace", "grace_seconds", "seconds the old key keeps working (0-604800)")
		fs.StringVar(&out, "out", "", "write the token to this new file (mode 0600) instead of printing it")
	case "update":
		needsID = true
		str("name", "name", "new label")
		fs.BoolFunc("enable", "enable the key", func(string) error { o.Body["enabled"] = true; return nil })
		fs.BoolFunc("disable", "disable the key", func(string) error { o.Body["enabled"] = false; return nil })
		lim.flags(fs, true)
		metaFlags(fs, o.Body, true)
	case "audit":
		str("key-id", "key_id", "only this key's events")
		num("limit", "limit", "page size")
		str("cursor", "cursor", "next_cursor of the previous page")
	case "verify":
		// The token is the argument ("-": read from stdin, which keeps it
		// out of ps and shell history), kept in ID until it is read.
		needsID = true
		str("api", "api", "the API id or id/stage the call is for")
		str("method", "method", "the call's HTTP method (with --path)")
		str("path", "path", "the call's path (with --method)")
	case "settings":
		str("owner-email", "owner_email", "where service-key creations, reminders and leak reports are mailed; \"\" for none")
		fs.Func("reminder-days", "reminder windows in days before expiry, e.g. 14,3; \"\" for the default", func(v string) error {
			days := []int64{}
			for _, d := range strings.Split(v, ",") {
				if d = strings.TrimSpace(d); d == "" {
					continue
				}
				n, err := strconv.ParseInt(d, 10, 64)
				if err != nil {
					return fmt.Errorf("--reminder-days wants whole numbers separated by commas")
				}
				days = append(days, n)
			}
			o.Body["reminder_days"] = days
			return nil
		})
		fs.Func("leak-action", "what a leak report of a key does: revoke or notify", func(v string) error {
			if v != "revoke" && v != "notify" {
				return fmt.Errorf("--leak-action wants revoke or notify")
			}
			o.Body["leak_action"] = v
			return nil
		})
		fs.BoolFunc("leak-cascade", "with revoke, also revoke every key minted from a leaked key (--leak-cascade=false to stop)", func(v string) error {
			b, err := strconv.ParseBool(v)
			if err != nil {
				return fmt.Errorf("--leak-cascade wants true or false")
			}
			o.Body["leak_cascade"] = b
			return nil
		})
	default:
		return o, "", fmt.Errorf("unknown command %q", name)
	}
	// The key ID may come before or after the flags.
	if needsID && len(args) > 0 && (!strings.HasPrefix(args[0], "-") || (name == "verify" && args[0] == "-")) {
		o.ID, args = args[0], args[1:]
	}
	if err := fs.Parse(args); err != nil {
		return o, "", err
	}
	if needsID && o.ID == "" && fs.NArg() == 1 {
		o.ID = fs.Arg(0)
	} else if fs.NArg() > 0 {
		return o, "", fmt.Errorf("%s: unexpected %q", name, fs.Arg(0))
	}
	if needsID && o.ID == "" {
		if name == "verify" {
			return o, "", errors.New("verify needs a token, or - to read it from stdin")
		}
		return o, "", fmt.Errorf("%s needs a key ID", name)
	}
	if name == "verify" {
		if _, m := o.Body["method"]; m != (o.Body["path"] != nil) {
			return o, "", errors.New("verify: give --method and --path together")
		}
		if o.ID != "-" {
			o.Body["key"] = o.ID
		}
	}
	if err := lim.apply(o.Body); err != nil {
		return o, "", err
	}
	if len(scopes) > 0 {
		o.Body["scopes"] = []string(scopes)
	}
	if len(apis) > 0 {
		o.Body["apis"] = []string(apis)
	}
	if onlyImported {
		o.Imported = true
	}
	// settings reads; with a change it is the save_settings route.
	if name == "settings" && len(o.Body) > 0 {
		o.Name = "save_settings"
	}
	return o, out, nil
}

// readToken reads a token, the first line of r.
func readToken(r io.Reader) (string, error) {
	line, err := bufio.NewReader(io.LimitReader(r, 4096)).ReadString('\n')
	if err != nil && err != io.EOF {
		return "", fmt.Errorf("read the token from stdin: %w", err)
	}
	if line = strings.TrimSpace(line); line == "" {
		return "", errors.New("verify -: no token on stdin")
	}
	return line, nil
}

// printVerdict shows POST /v1/verify's answer: the code and the key's
// fields. Its exit status is 0 for a valid key and 1 for any other code,
// so scripts can test it.
func printVerdict(answer json.RawMessage, asJSON bool, stdout, stderr io.Writer) int {
	var m map[string]any
	if err := json.Unmarshal(answer, &m); err != nil {
		fmt.Fprintf(stderr, "keygatectl: the service answered something that is not a JSON object\n")
		return exitFailure
	}
	if asJSON {
		fmt.Fprintln(stdout, string(answer))
	} else {
		tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
		for _, f := range []string{"valid", "code", "key_id", "name", "owner", "type", "role", "scopes", "apis", "expires_at", "retry_after"} {
			if v, ok := m[f]; ok && v != nil {
				fmt.Fprintf(tw, "%s\t%v\n", f, v)
			}
		}
		if v, ok := m["meta"]; ok && v != nil {
			meta, _ := json.Marshal(v)
			fmt.Fprintf(tw, "meta\t%s\n", meta)
		}
		tw.Flush()
	}
	if m["valid"] != true {
		return exitRefused
	}
	return exitOK
}

// printAnswer shows an answer as a table (or JSON), handling the token.
func printAnswer(o op, answer json.RawMessage, asJSON bool, out string, stdout, stderr io.Writer) int {
	var m map[string]any
	if err := json.Unmarshal(answer, &m); err != nil {
		fmt.Fprintf(stderr, "keygatectl: the service answered something that is not a JSON object\n")
		return exitFailure
	}
	if tok, ok := m["token"].(string); ok && out != "" {
		f, err := os.OpenFile(out, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
		if err == nil {
			_, err = fmt.Fprintln(f, tok)
			if cerr := f.Close(); err == nil {
				err = cerr
			}
		}
		if err != nil {
			// The key exists and its token is shown nowhere else: print it
			// rather than lose it.
			fmt.Fprintf(stderr, "keygatectl: could not write %s (%v); the token, shown once:\n%s\n", out, err, tok)
			return exitFailure
		}
		m["token"] = "(written to " + out + ")"
		answer, _ = json.Marshal(m)
	}
	if keys, ok := m["keys"].([]any); ok && o.Imported {
		var only []any
		for _, k := range keys {
			if km, _ := k.(map[string]any); km["imported"] == true {
				only = append(only, k)
			}
		}
		m["keys"] = append([]any{}, only...)
		if asJSON {
			answer, _ = json.Marshal(m)
		}
	}
	if asJSON {
		fmt.Fprintln(stdout, string(answer))
		return exitOK
	}
	tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
	defer tw.Flush()
	switch {
	case m["keys"] != nil:
		fmt.Fprintln(tw, "ID\tNAME\tOWNER\tTYPE\tROLE\tSTATUS\tEXPIRES\tLAST USED")
		for _, k := range m["keys"].([]any) {
			km := k.(map[string]any)
			if km["imported"] == true {
				km["status"] = fmt.Sprint(km["status"]) + " (imported)"
			} else if o.Imported {
				continue
			}
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n", km["id"], km["name"], km["owner"], km["type"], km["role"], km["status"], when(km["expires_at"], "never"), when(km["last_used_at"], "never"))
		}
		if c, ok := m["next_cursor"].(string); ok {
			fmt.Fprintf(tw, "\nmore: --cursor %s\n", c)
		}
	case m["events"] != nil:
		fmt.Fprintln(tw, "AT\tACTION\tKEY\tACTOR\tDETAIL")
		for _, e := range m["events"].([]any) {
			em := e.(map[string]any)
			detail, _ := json.Marshal(em["detail"])
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", em["at"], em["action"], em["key_id"], em["actor"], detail)
		}
		if c, ok := m["next_cursor"].(string); ok {
			fmt.Fprintf(tw, "\nmore: --cursor %s\n", c)
		}
	default:
		for _, f := range []string{"id", "name", "tenant", "owner", "type", "role", "scopes", "apis", "status", "imported", "created_at", "created_by", "expires_at", "last_used_at", "revoked_at", "rotated_from", "revoked_descendants",
			"owner_email", "reminder_days", "leak_action", "leak_cascade"} {
			if v, ok := m[f]; ok && v != nil {
				fmt.Fprintf(tw, "%s\t%v\n", f, v)
			}
		}
		if v, ok := m["external_id"].(string); ok {
			// %q: the holder's text, kept from acting on the terminal.
			fmt.Fprintf(tw, "external_id\t%q\n", v)
		}
		// The meta as the service sent it (numbers as written), compacted:
		// JSON text holds no raw control characters.
		var raw struct {
			Meta json.RawMessage `json:"meta"`
		}
		var meta bytes.Buffer
		if json.Unmarshal(answer, &raw) == nil && len(raw.Meta) > 0 && json.Compact(&meta, raw.Meta) == nil && meta.String() != "null" {
			fmt.Fprintf(tw, "meta\t%s\n", meta.String())
		}
		if v, ok := m["rate_limit"].(map[string]any); ok {
			fmt.Fprintf(tw, "rate_limit\t%v/%v\n", v["limit"], v["window"])
		}
		if v, ok := m["credits"].(map[string]any); ok {
			fmt.Fprintf(tw, "credits\t%s\n", describeCredits(v))
		}
		if u, ok := m["usage"].(map[string]any); ok {
			if r, ok := u["rate_limit"].(map[string]any); ok {
				fmt.Fprintf(tw, "usage\t%v of %v/%v left until %s\n", r["remaining"], r["limit"], r["window"], when(r["reset_at"], "?"))
			}
			if c, ok := u["credits"].(map[string]any); ok {
				fmt.Fprintf(tw, "usage\t%v credits left, refill %s\n", c["remaining"], when(c["refill_at"], "never"))
			}
		}
		if l, ok := m["leaked"].(map[string]any); ok {
			// Alert text: %q keeps a URL with control characters or
			// escape sequences from acting on the terminal.
			fmt.Fprintf(tw, "leaked\t%s at %q (%v, %v)\n", when(l["at"], "?"), fmt.Sprint(l["url"]), l["source"], l["type"])
		}
		if tok, ok := m["token"].(string); ok {
			fmt.Fprintf(tw, "token\t%s\n", tok)
			if out == "" {
				fmt.Fprintln(stderr, "keygatectl: the token is shown only now; store it (or use --out FILE next time)")
			}
		}
	}
	return exitOK
}

func when(v any, none string) string {
	s, ok := v.(string)
	if !ok || s == "" {
		return none
	}
	if t, err := time.Parse(time.RFC3339Nano, s); err == nil {
		return t.UTC().Format("2006-01-02 15:04")
	}
	return s
}

// metaFlags are the --meta and --external-id flags of create and update
// (with removable, also --no-meta and --no-external-id: null). --meta must
// be JSON, sent as written (the service judges it: an object of at most
// 1 KiB, …); a flag and its --no- form together are a usage error.
func metaFlags(fs *flag.FlagSet, body map[string]any, removable bool) {
	set := map[string]bool{}
	fs.Func("meta", `the key holder's own JSON object, e.g. '{"plan":"pro"}'`, func(v string) error {
		if !json.Valid([]byte(v)) {
			return errors.New("--meta wants JSON, e.g. '{\"plan\":\"pro\"}'")
		}
		if set["meta"] {
			return errors.New("give --meta or --no-meta once")
		}
		set["meta"], body["meta"] = true, json.RawMessage(v)
		return nil
	})
	fs.Func("external-id", "the key holder's own id for its customer", func(v string) error {
		if set["external_id"] {
			return errors.New("give --external-id or --no-external-id once")
		}
		set["external_id"], body["external_id"] = true, v
		return nil
	})
	if !removable {
		return
	}
	fs.BoolFunc("no-meta", "remove the meta", func(string) error {
		if set["meta"] {
			return errors.New("give --meta or --no-meta once")
		}
		set["meta"], body["meta"] = true, nil
		return nil
	})
	fs.BoolFunc("no-external-id", "remove the external_id", func(string) error {
		if set["external_id"] {
			return errors.New("give --external-id or --no-external-id once")
		}
		set["external_id"], body["external_id"] = true, nil
		return nil
	})
}

// limitFlags are the usage-limit flags of create and update.
type limitFlags struct {
	rate, credits, refill string
	noRate, noCredits     bool
}

func (l *limitFlags) flags(fs *flag.FlagSet, removable bool) {
	fs.Func("rate-limit", "allowed calls per window: LIMIT/WINDOW, e.g. 100/1m (a Go duration, 1s-24h)", func(v string) error {
		l.rate = v
		return nil
	})
	fs.Func("credits", "calls the key may make (sets the balance)", func(v string) error {
		l.credits = v
		return nil
	})
	fs.Func("refill", "with --credits: AMOUNT/day or AMOUNT/month", func(v string) error {
		l.refill = v
		return nil
	})
	if removable {
		fs.BoolVar(&l.noRate, "no-rate-limit", false, "remove the rate limit")
		fs.BoolVar(&l.noCredits, "no-credits", false, "remove the credits")
	}
}

// apply puts the limits given into body (null for a removal); the service
// checks the ranges.
func (l *limitFlags) apply(body map[string]any) error {
	switch {
	case l.rate != "" && l.noRate:
		return errors.New("give --rate-limit or --no-rate-limit, not both")
	case (l.credits != "" || l.refill != "") && l.noCredits:
		return errors.New("give --credits or --no-credits, not both")
	case l.refill != "" && l.credits == "":
		return errors.New("--refill needs --credits (the balance to start from)")
	}
	if l.rate != "" {
		n, window, ok := strings.Cut(l.rate, "/")
		limit, err := strconv.ParseInt(n, 10, 64)
		if !ok || err != nil || window == "" {
			return errors.New("--rate-limit wants LIMIT/WINDOW, e.g. 100/1m")
		}
		body["rate_limit"] = map[string]any{"limit": limit, "window": window}
	}
	if l.noRate {
		body["rate_limit"] = nil
	}
	if l.credits != "" {
		remaining, err := strconv.ParseInt(l.credits, 10, 64)
		if err != nil {
			return errors.New("--credits wants a whole number")
		}
		c := map[string]any{"remaining": remaining}
		if l.refill != "" {
			n, interval, ok := strings.Cut(l.refill, "/")
			amount, err := strconv.ParseInt(n, 10, 64)
			if !ok || err != nil || (interval != "day" && interval != "month") {
				return errors.New("--refill wants AMOUNT/day or AMOUNT/month, e.g. 5000/month")
			}
			c["refill"] = map[string]any{"amount": amount, "interval": interval}
		}
		body["credits"] = c
	}
	if l.noCredits {
		body["credits"] = nil
	}
	return nil
}

// describeCredits shows a key's credits as set: "5000" or "5000 (refill
// 5000/month)".
func describeCredits(c map[string]any) string {
	s := fmt.Sprint(c["remaining"])
	if r, ok := c["refill"].(map[string]any); ok {
		s += fmt.Sprintf(" (refill %v/%v)", r["amount"], r["interval"])
	}
	return s
}
