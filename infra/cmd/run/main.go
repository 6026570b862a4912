// Command run serves the whole Keygate stack locally (make run): DynamoDB
// Local, the table, the authorizer in front of the management routes as API
// Gateway would call it, a metered sample API under /demo/ behind the same
// authorizer, and a freshly minted admin key printed once.
package main

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"encoding/base64"
	"encoding/pem"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/keygate/keygate/infra/cli"
	"github.com/keygate/keygate/infra/ddblocal"
	"github.com/keygate/keygate/infra/gateway"
	"github.com/keygate/keygate/shared/keygate"
	"github.com/keygate/keygate/shared/manage"
	"github.com/keygate/keygate/shared/secretscan"
	"github.com/keygate/keygate/shared/setup"
	"github.com/keygate/keygate/shared/setup/managesetup"
	"github.com/keygate/keygate/shared/store"
)

func main() { cli.Main("run", run) }

func run(ctx context.Context) error {
	port := flag.Int("port", envInt("PORT", 3000), "port to serve on (also $PORT)")
	resultTTL := flag.Duration("result-ttl", 5*time.Second, "gateway authorizer result cache TTL, as the template's AuthorizerResultTtl")
	keyFile := flag.String("key-file", "", "also write the admin key to this file (mode 0600), for scripts")
	quiet := flag.Bool("quiet", false, "do not print function logs")
	flag.Parse()

	// The port first: a port in use is reported before anything starts.
	ln, err := net.Listen("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(*port)))
	if err != nil {
		return fmt.Errorf("port %d: %w (another make run? choose one with PORT=...)", *port, err)
	}
	defer ln.Close()

	root, err := ddblocal.ModuleRoot()
	if err != nil {
		return err
	}
	// GitHub's alerts, locally: a signing key made for this run, and its
	// key list where the secret-scanning handler reads it.
	scan, err := devSigningKey(filepath.Join(root, ".build"), rand.Reader)
	if err != nil {
		return fmt.Errorf("make the secret-scanning key: %w", err)
	}
	defaults := map[string]string{"TABLE_NAME": "keygate", "TOKEN_PEPPER": randomPepper(),
		"SECRET_SCANNING_KEYS_URL": "file://" + scan.keys,
		// Imported keys are tried out locally (docs/import.md).
		"IMPORTED_KEYS": "on"}
	var local *ddblocal.Server
	if os.Getenv("DYNAMODB_ENDPOINT") == "" {
		if local, err = ddblocal.Start(ctx, io.Discard); err != nil {
			return err
		}
		defer local.Stop()
		defaults["DYNAMODB_ENDPOINT"] = local.Endpoint
	}
	getenv := func(k string) string {
		if v := os.Getenv(k); v != "" {
			return v
		}
		return defaults[k]
	}
	logs := io.Writer(os.Stderr)
	if *quiet {
		logs = io.Discard
	}
	env, err := setup.Load(ctx, getenv, logs)
	if err != nil {
		return err
	}
	if !*quiet && isTerminal(os.Stderr) {
		// A person is reading: text lines. Piped or collected, the JSON
		// lines Lambda would write.
		env.Logger = slog.New(slog.NewTextHandler(os.Stderr, nil))
	}
	if err := store.EnsureTable(ctx, env.DynamoDB, env.Config.TableName); err != nil {
		return err
	}
	admin, err := managesetup.Service(env).Create(ctx, keygate.Caller{Operator: true}, manage.CreateRequest{Tenant: "demo",
		Owner: "admin", Name: "make run", Role: keygate.Admin,
	})
	if err != nil {
		return fmt.Errorf("mint the admin key: %w", err)
	}
	if *keyFile != "" {
		if err := os.WriteFile(*keyFile, []byte(admin.Token.Reveal()+"\n"), 0o600); err != nil {
			return err
		}
	}
	openAPI, err := os.ReadFile(filepath.Join(root, "openapi.yaml"))
	if err != nil {
		return fmt.Errorf("read openapi.yaml: %w", err)
	}

	gw := gateway.Local(env, *resultTTL, openAPI)
	// One authorizer function serves both APIs, as one deployed function
	// would: its cache and counters are shared.
	demo := gateway.Demo(gw.Authorizer, env.Logger)
	server := &http.Server{Handler: byPrefix(gateway.DemoBase, demo, gw), ReadHeaderTimeout: 10 * time.Second, MaxHeaderBytes: 10 << 10}
	go func() {
		<-ctx.Done()
		shutdown, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = server.Shutdown(shutdown)
	}()
	db, warning := storage(local, getenv("DYNAMODB_ENDPOINT"))
	if getenv("SECRET_SCANNING_KEYS_URL") != "file://"+scan.keys {
		scan = scanKey{} // another key list: this run's key signs nothing it accepts
	}
	url := "http://" + ln.Addr().String()
	recipes := filepath.Join(root, ".build", "make-run.sh")
	if err := writeRecipes(recipes, url, gateway.APIID, scan); err != nil {
		return fmt.Errorf("write the recipes: %w", err)
	}
	printBanner(os.Stdout, url, gateway.APIID, db, warning, admin, shortPath(recipes), scan)
	if err := server.Serve(ln); !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	fmt.Fprintln(os.Stderr, "stopped")
	return nil
}

// byPrefix sends requests for base and below it to h, the rest to other.
// (http.ServeMux would also clean and redirect paths, which API Gateway
// does not.)
func byPrefix(base string, h, other http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if p := r.URL.Path; p == base || strings.HasPrefix(p, base+"/") {
			h.ServeHTTP(w, r)
			return
		}
		other.ServeHTTP(w, r)
	})
}

// storage says which DynamoDB the stack uses, for the banner, and the
// warning of a local one that the network can reach.
func storage(local *ddblocal.Server, endpoint string) (db, warning string) {
	switch {
	case local == nil:
		return "DynamoDB at " + endpoint, ""
	case local.Isolated:
		return "DynamoDB Local in memory, reachable only from this machine", ""
	default:
		return "DynamoDB Local in memory", local.Warning
	}
}

// Banner budget: the banner fits one terminal screen, so the admin key
// and the URLs are never scrolled away by the stack's first log lines.
const (
	bannerLines   = 24
	bannerColumns = 100
)

// printBanner tells a person what serves where, with the admin key, in at
// most bannerLines lines of bannerColumns: the longer recipes are in the
// recipes file (writeRecipes), which it points at. A warning, if any,
// follows the first lines: it is the one thing to act on. It ends with the
// two URLs to open.
func printBanner(w io.Writer, url, apiID, db, warning string, admin *manage.Created, recipes string, scan scanKey) {
	if warning != "" {
		// A command the warning gives (after "e.g.") goes on a line of its
		// own, whole, to be copied.
		text, command, ok := strings.Cut(warning, "e.g. ")
		if ok {
			text += "e.g."
		}
		warning = wrap("WARNING: "+text, bannerColumns, "  ")
		if ok {
			warning += "\n  " + command
		}
		warning += "\n"
	}
	which, alert := "keys|demo", ""
	if scan.id != "" {
		which = "keys|demo|alert"
		alert = "  alert  a signed GitHub secret-scanning alert for $KEY (openssl + curl): it REVOKES the key\n" +
			"         signed with " + shortPath(scan.key) + ", listed in " + shortPath(scan.keys) + "\n"
	}
	fmt.Fprintf(w, `
Keygate is serving on %[1]s until Ctrl-C
Storage: %[4]s
%[5]sAPI id of this gateway: %[3]s (keys name it in "apis" to call its routes)

Admin key for tenant "demo" (shown once, never stored):
  export KEY=%[2]s

Try it (curl and jq):
  curl -s %[1]s/v1/whoami -H "Authorization: Bearer $KEY"
  curl -s %[1]s/openapi.yaml
More recipes, with KEY exported: bash %[8]s %[9]s
  keys   mint a key for bob, list the keys, revoke bob's key
  demo   mint a key limited to 5 calls a minute and run it into its limit
%[10]s
Metered sample API %[6]s: every call goes through the authorizer (gateway cache off).
Sample API:  %[1]s%[7]s/
Web console: %[1]s/console (paste the key above)

`, url, admin.Token.Reveal(), apiID, db, warning, gateway.DemoAPIID, gateway.DemoBase, recipes, which, alert)
}

// wrap breaks text into lines of at most width columns at spaces, the
// lines after the first indented; a word longer than a line stays whole.
func wrap(text string, width int, indent string) string {
	var b strings.Builder
	line := 0
	for i, word := range strings.Fields(text) {
		switch {
		case i == 0:
		case line+1+len(word) > width:
			b.WriteString("\n" + indent)
			line = len(indent)
		default:
			b.WriteByte(' ')
			line++
		}
		b.WriteString(word)
		line += len(word)
	}
	return b.String()
}

// writeRecipes writes, at path, make run's longer recipes as one bash
// script with a command each (keys, demo and, with a signing key, alert),
// for the stack at url. It holds no secret: the recipes read the admin key
// from $KEY, and name the signing key's file, not its contents.
func writeRecipes(path, url, apiID string, scan scanKey) error {
	var b strings.Builder
	alertUsage, alertCase := "", ""
	if scan.id != "" {
		alertUsage = "#   alert   send a signed secret-scanning alert for $KEY: it REVOKES the key\n"
		alertCase = fmt.Sprintf(`alert)
  # GitHub's alerts are checked against a key pair made for this run:
  #   key list (SECRET_SCANNING_KEYS_URL): %[2]s
  #   private key:                         %[3]s
  BODY='[{"token":"'"$KEY"'","type":"keygate_api_key","url":"https://github.com/octo/repo/blob/main/.env","source":"content"}]'
  SIG=$(printf '%%s' "$BODY" | openssl dgst -sha256 -sign %[3]s | base64 -w0)
  curl -s -X POST %[1]s%[5]s -H 'Content-Type: application/json' \
       -H 'Github-Public-Key-Identifier: %[4]s' -H "Github-Public-Key-Signature: $SIG" --data-binary "$BODY"
  ;;
`, url, scan.keys, scan.key, scan.id, secretscan.Path)
	}
	fmt.Fprintf(&b, `#!/usr/bin/env bash
# make run's recipes for the stack on %[1]s, written by infra/cmd/run
# when it starts. Run one as "bash <this file> <recipe>", with the admin key
# make run printed exported as KEY:
#   keys    mint a key for bob, list the keys, revoke bob's key
#   demo    mint a key limited to 5 calls a minute on the metered sample API
#           and run it into its limit (5 x 200, then 403 rate_limited)
%[5]s# Each recipe is the few lines of curl and jq under its name below.
set -euo pipefail
: "${KEY:?export KEY=<the admin key make run printed>}"
case ${1:-} in
keys)
  ID=$(curl -s -X POST %[1]s/v1/keys -H "Authorization: Bearer $KEY" -H 'Content-Type: application/json' \
       -d '{"owner":"bob","name":"laptop","apis":["%[2]s"],"scopes":["GET /v1/whoami","GET /v1/keys"]}' | tee /dev/stderr | jq -er .id)
  echo >&2
  curl -s %[1]s/v1/keys -H "Authorization: Bearer $KEY"; echo
  curl -s -X DELETE "%[1]s/v1/keys/$ID?cascade=true" -H "Authorization: Bearer $KEY"; echo
  ;;
demo)
  MINTED=$(curl -s -X POST %[1]s/v1/keys -H "Authorization: Bearer $KEY" -H 'Content-Type: application/json' \
       -d '{"owner":"carol","name":"metered","apis":["%[3]s"],"scopes":["GET %[4]s/*"],"rate_limit":{"limit":5,"window":"1m"}}')
  DEMO=$(jq -er .token <<<"$MINTED") || { echo "$MINTED" >&2; exit 1; }
  for i in 1 2 3 4 5 6 7; do curl -s %[1]s%[4]s/hello -H "Authorization: Bearer $DEMO" -w '\n%%{http_code}\n' |
    jq -Rrs 'split("\n") as [$b,$c] | "\($c) \(try ($b|fromjson|.error // "key \(.key_id)") catch $b)"'; done
  ;;
%[6]s*)
  echo "usage: KEY=<the admin key make run printed> bash $0 <recipe>, one of:" >&2
  grep '^#   ' "$0" >&2
  exit 2
  ;;
esac
`, url, apiID, gateway.DemoAPIID, gateway.DemoBase, alertUsage, alertCase)
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return err
	}
	return os.WriteFile(path, []byte(b.String()), 0o755)
}

// scanKey is make run's secret-scanning signing key: where its key list
// and private key are, and its identifier.
type scanKey struct {
	keys, key, id string
}

// devSigningKey makes an ECDSA P-256 key pair for this run and writes,
// in dir, its key list in GitHub's format (secret-scanning-keys.json) and
// the private key (secret-scanning-key.pem, PKCS #8, mode 0600), so that
// alerts signed with openssl verify as GitHub's would.
func devSigningKey(dir string, random io.Reader) (scanKey, error) {
	priv, err := ecdsa.GenerateKey(elliptic.P256(), random)
	if err != nil {
		return scanKey{}, err
	}
	id, list, err := secretscan.KeyList(&priv.PublicKey)
	if err != nil {
		return scanKey{}, err
	}
	der, err := x509.MarshalPKCS8PrivateKey(priv)
	if err != nil {
		return scanKey{}, err
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return scanKey{}, err
	}
	k := scanKey{keys: filepath.Join(dir, "secret-scanning-keys.json"), key: filepath.Join(dir, "secret-scanning-key.pem"), id: id}
	// Written afresh with 0600 even if an earlier run left the file
	// with other permissions.
	_ = os.Remove(k.key)
	if err := os.WriteFile(k.key, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}), 0o600); err != nil {
		return scanKey{}, err
	}
	if err := os.WriteFile(k.keys, list, 0o644); err != nil {
		return scanKey{}, err
	}
	return k, nil
}

// shortPath is path relative to the working directory when it lies below
// it (make run's case: .build/make-run.sh), else path itself.
func shortPath(path string) string {
	wd, err := os.Getwd()
	if err != nil {
		return path
	}
	if rel, err := filepath.Rel(wd, path); err == nil && !strings.HasPrefix(rel, "..") {
		return rel
	}
	return path
}

// isTerminal reports whether f is a character device (a terminal).
func isTerminal(f *os.File) bool {
	fi, err := f.Stat()
	return err == nil && fi.Mode()&os.ModeCharDevice != 0
}

// randomPepper gives a one-run server secret when TOKEN_PEPPER is unset:
// the table is in memory, so nothing outlives the run anyway.
func randomPepper() string {
	var b [32]byte
	_, _ = rand.Read(b[:])
	return base64.RawStdEncoding.EncodeToString(b[:])
}

func envInt(name string, def int) int {
	if n, err := strconv.Atoi(os.Getenv(name)); err == nil {
		return n
	}
	return def
}
