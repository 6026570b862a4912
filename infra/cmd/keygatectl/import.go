package main

import (
	"bufio"
	"context"
	"crypto/sha256"
	"encoding/csv"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/aws/aws-sdk-go-v2/aws"
	awsconfig "github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/apigateway"
)

// Bounds of an import file: it is read as a stream, one line at a time,
// so its size does not matter, but no line may be longer than
// maxImportLine bytes and no file hold more than maxImportRows keys.
const maxImportLine = 8 << 10

var maxImportRows = 1_000_000 // a variable for the tests

// importColumns are the columns of an import file, in order; the last
// three may be left out. A first row that spells them is a header.
var importColumns = []string{"value", "tenant", "owner", "name", "scopes", "apis", "expires_at"}

// importOptions are import's flags.
type importOptions struct {
	csv          string
	fromAPIGW    bool
	usagePlan    string
	owner        string
	scopes, apis stringsFlag
}

func parseImport(args []string) (importOptions, error) {
	var o importOptions
	fs := flag.NewFlagSet("import", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	fs.StringVar(&o.csv, "csv", "", "a CSV file: value,tenant,owner,name[,scopes,apis,expires_at]")
	fs.BoolVar(&o.fromAPIGW, "from-apigateway", false, "import the account's API Gateway API keys, with their values")
	fs.StringVar(&o.usagePlan, "usage-plan", "", "with --from-apigateway: only the keys of this usage plan")
	fs.StringVar(&o.owner, "owner", "", "with --from-apigateway: the owner of the imported keys")
	fs.Var(&o.scopes, "scope", "with --from-apigateway: a route the keys may call (repeat)")
	fs.Var(&o.apis, "api", "with --from-apigateway: an API id or id/stage the keys may call (repeat)")
	if err := fs.Parse(args); err != nil {
		return o, err
	}
	switch {
	case fs.NArg() > 0:
		return o, fmt.Errorf("import: unexpected %q", fs.Arg(0))
	case (o.csv == "") == !o.fromAPIGW:
		return o, errors.New("import: give --csv FILE or --from-apigateway")
	case o.csv != "" && (o.usagePlan != "" || o.owner != "" || len(o.scopes) > 0 || len(o.apis) > 0):
		return o, errors.New("import --csv: owner, scopes and apis come from the file")
	case o.fromAPIGW && o.owner == "":
		return o, errors.New("import --from-apigateway needs --owner")
	}
	return o, nil
}

// importLine is one key to import and where it came from.
type importLine struct {
	where string         // "line 3", "API key abc123"
	body  map[string]any // the direct event's fields; nil: refused
	why   string         // why it was refused
}

// runImport sends one import event per key and reports each: imported,
// already imported, or refused and why. The exit status is 0 if nothing
// was refused, 1 if something was, 3 if the import could not go on.
func runImport(ctx context.Context, g global, o importOptions, b backend, stdout, stderr io.Writer) int {
	var counts = map[string]int{}
	report := func(l importLine, kind, outcome string) {
		counts[kind]++
		fmt.Fprintf(stdout, "%s: %s\n", l.where, outcome)
	}
	send := func(l importLine) error {
		if l.body == nil {
			report(l, "refused", "refused: "+l.why)
			return nil
		}
		answer, err := b.do(ctx, op{Name: "import", Body: l.body})
		var ae *apiError
		switch {
		case errors.As(err, &ae) && ae.exitCode() == exitRefused:
			report(l, "refused", "refused: "+ae.Message)
			return nil
		case err != nil:
			return err
		}
		var res struct {
			Result string `json:"result"`
			KeyID  string `json:"key_id"`
		}
		if json.Unmarshal(answer, &res) != nil {
			return errors.New("the service answered something that is not an import's result")
		}
		if res.Result == "already_imported" {
			report(l, "already", "already imported (key "+res.KeyID+")")
		} else {
			report(l, "imported", "imported (key "+res.KeyID+")")
		}
		return nil
	}
	var err error
	if o.csv != "" {
		err = importCSV(o.csv, g.tenant, send)
	} else {
		err = importAPIGateway(ctx, g, o, send)
	}
	fmt.Fprintf(stderr, "keygatectl: import: %d imported, %d already imported, %d refused\n", counts["imported"], counts["already"], counts["refused"])
	switch {
	case err != nil:
		fmt.Fprintln(stderr, "keygatectl: import stopped:", err)
		return exitFailure
	case counts["refused"] > 0:
		return exitRefused
	}
	return exitOK
}

// importCSV reads path as RFC 4180 CSV (a UTF-8 byte order mark, CRLF
// line ends and a header row tolerated) and sends each row. A value
// that appears twice in the file is refused on its later line, naming
// the first; duplicates are checked by a digest, never by keeping the
// values themselves.
func importCSV(path, tenant string, send func(importLine) error) error {
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	br := bufio.NewReaderSize(&lineBound{r: f, max: maxImportLine}, 64<<10)
	if bom, _ := br.Peek(3); string(bom) == "\ufeff" {
		_, _ = br.Discard(3)
	}
	r := csv.NewReader(br)
	r.FieldsPerRecord = -1
	r.ReuseRecord = true
	seen := map[[32]byte]int{}
	for rows := 0; ; {
		rec, err := r.Read()
		if errors.Is(err, io.EOF) {
			return nil
		}
		var pe *csv.ParseError
		switch {
		case errors.Is(err, errLineTooLong):
			return fmt.Errorf("a line is longer than %d bytes", maxImportLine)
		case errors.As(err, &pe):
			// The reader cannot find the next row after a broken quote:
			// stop rather than guess.
			return fmt.Errorf("line %d: not CSV (%v)", pe.Line, pe.Err)
		case err != nil:
			return err
		}
		line, _ := r.FieldPos(0)
		where := fmt.Sprintf("line %d", line)
		if rows == 0 && strings.EqualFold(strings.TrimSpace(rec[0]), "value") {
			rows++
			continue // the header
		}
		if rows++; rows > maxImportRows+1 {
			return fmt.Errorf("%s: more than %d keys in one file; split it", where, maxImportRows)
		}
		l := csvLine(where, rec, tenant)
		if l.body != nil {
			d := valueDigest(l.body["value"].(string))
			if first, dup := seen[d]; dup {
				l.body, l.why = nil, fmt.Sprintf("the same value as line %d", first)
			} else {
				seen[d] = line
			}
		}
		if err := send(l); err != nil {
			return err
		}
	}
}

// csvLine turns one row into an import event, or says why not. Nothing
// is trimmed or rewritten: a name is imported exactly as the file has
// it, as text, within the service's name rules (which refuse control
// characters); the service judges every field but the columns' count.
func csvLine(where string, rec []string, tenant string) importLine {
	l := importLine{where: where}
	if len(rec) < 4 || len(rec) > len(importColumns) {
		l.why = fmt.Sprintf("%d columns; want %s (the last three optional)", len(rec), strings.Join(importColumns, ","))
		return l
	}
	for i, f := range rec {
		if !utf8.ValidString(f) {
			l.why = importColumns[i] + " is not UTF-8"
			return l
		}
		if i > 0 && strings.IndexFunc(f, unicode.IsControl) >= 0 {
			l.why = importColumns[i] + " holds a control character"
			return l
		}
	}
	body := map[string]any{"value": rec[0], "owner": rec[2]}
	if rec[1] != "" {
		body["tenant"] = rec[1]
	} else if tenant == "" {
		l.why = "no tenant"
		return l
	}
	if rec[3] != "" {
		body["name"] = rec[3]
	}
	if len(rec) > 4 && rec[4] != "" {
		body["scopes"] = strings.Split(rec[4], ";")
	}
	if len(rec) > 5 && rec[5] != "" {
		body["apis"] = strings.Split(rec[5], ";")
	}
	if len(rec) > 6 && rec[6] != "" {
		body["expires_at"] = rec[6]
	}
	l.body = body
	return l
}

// importAPIGateway reads the account's API keys with their values
// (GetApiKeys with includeValues, every page) through the AWS SDK, and
// with --usage-plan only those of that plan (GetUsagePlanKeys), and
// sends each.
func importAPIGateway(ctx context.Context, g global, o importOptions, send func(importLine) error) error {
	var opts []func(*awsconfig.LoadOptions) error
	if g.region != "" {
		opts = append(opts, awsconfig.WithRegion(g.region))
	}
	cfg, err := awsconfig.LoadDefaultConfig(ctx, opts...)
	if err != nil {
		return fmt.Errorf("AWS configuration: %w", err)
	}
	client := apigateway.NewFromConfig(cfg)
	var only map[string]bool
	if o.usagePlan != "" {
		only = map[string]bool{}
		p := apigateway.NewGetUsagePlanKeysPaginator(client, &apigateway.GetUsagePlanKeysInput{UsagePlanId: &o.usagePlan})
		for p.HasMorePages() {
			page, err := p.NextPage(ctx)
			if err != nil {
				return fmt.Errorf("read usage plan %s: %w", o.usagePlan, err)
			}
			for _, k := range page.Items {
				only[aws.ToString(k.Id)] = true
			}
		}
	}
	p := apigateway.NewGetApiKeysPaginator(client, &apigateway.GetApiKeysInput{IncludeValues: aws.Bool(true)})
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			return fmt.Errorf("read API keys: %w", err)
		}
		for _, k := range page.Items {
			id := aws.ToString(k.Id)
			if only != nil && !only[id] {
				continue
			}
			l := importLine{where: "API key " + id}
			switch {
			case k.Value == nil:
				l.why = "API Gateway gave no value"
			case !k.Enabled:
				l.why = "disabled in API Gateway"
			default:
				l.body = map[string]any{"value": *k.Value, "owner": o.owner}
				if name := aws.ToString(k.Name); name != "" {
					l.body["name"] = name
				}
				if len(o.scopes) > 0 {
					l.body["scopes"] = []string(o.scopes)
				}
				if len(o.apis) > 0 {
					l.body["apis"] = []string(o.apis)
				}
			}
			if err := send(l); err != nil {
				return err
			}
		}
	}
	return nil
}

// valueDigest stands for a value in the duplicate check, so the values
// read are not kept.
func valueDigest(v string) [32]byte { return sha256.Sum256([]byte(v)) }

// errLineTooLong is a line of the import file over maxImportLine bytes.
var errLineTooLong = errors.New("line too long")

// lineBound passes r through but fails once a line runs past max bytes,
// so a file with no line ends cannot fill memory.
type lineBound struct {
	r   io.Reader
	max int
	n   int   // bytes since the last line end
	err error // errLineTooLong once it was: bufio hands an error out once
}

func (l *lineBound) Read(p []byte) (int, error) {
	if l.err != nil {
		return 0, l.err
	}
	n, err := l.r.Read(p)
	for _, c := range p[:n] {
		if c == '\n' {
			l.n = 0
		} else if l.n++; l.n > l.max {
			l.err = errLineTooLong
			return 0, l.err
		}
	}
	return n, err
}
