package main

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/keygate/keygate/infra/gateway"
	"github.com/keygate/keygate/infra/testkit"
	"github.com/keygate/keygate/shared/keygate"
	"github.com/keygate/keygate/shared/manage"
	"github.com/keygate/keygate/shared/secretscan"
)

// noKeys is a key store in which no key exists: the recipe's token is
// then a true positive with nothing to act on, which is all this test
// needs to see (the handler's own tests act on stored keys).
type noKeys struct{}

func (noKeys) KeysWithVerifier(context.Context, []string) (map[string]*keygate.Record, error) {
	return map[string]*keygate.Record{}, nil
}

func (noKeys) ReportLeak(context.Context, *keygate.Record, keygate.Leak) (bool, error) {
	return false, nil
}

// TestBannerAlertRecipe runs the recipes file's alert recipe as written
// (openssl signs, curl posts) against the secret-scanning handler behind
// the local gateway, with the key pair devSigningKey wrote: the signature
// verifies and the admin token is judged ours.
func TestBannerAlertRecipe(t *testing.T) {
	for _, tool := range []string{"bash", "openssl", "curl", "base64"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Fatalf("the recipe needs %s: %v", tool, err)
		}
	}
	format, hasher := testkit.Tokens(t)
	tok, err := format.Generate(rand.Reader, hasher)
	if err != nil {
		t.Fatal(err)
	}
	scan, err := devSigningKey(t.TempDir(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	if fi, err := os.Stat(scan.key); err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("private key %s: %v, mode %v; want 0600", scan.key, err, fi.Mode())
	}
	keys, err := secretscan.NewKeys("file://"+scan.keys, nil, time.Now)
	if err != nil {
		t.Fatal(err)
	}
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	h := secretscan.New(secretscan.Config{Format: format, Hasher: hasher, Keys: keys, Store: noKeys{}, Responder: noKeys{}, Log: log})
	srv := httptest.NewServer(&gateway.Gateway{Open: map[string]gateway.IntegrationFunc{http.MethodPost + " " + secretscan.Path: h.Handle}, Log: log})
	defer srv.Close()

	var banner strings.Builder
	recipes := filepath.Join(t.TempDir(), "make-run.sh")
	if err := writeRecipes(recipes, srv.URL, "local", scan); err != nil {
		t.Fatal(err)
	}
	printBanner(&banner, srv.URL, "local", "DynamoDB Local in memory", "", &manage.Created{Token: tok}, recipes, scan)
	if !strings.Contains(banner.String(), recipes+" keys|demo|alert") {
		t.Fatalf("the banner does not point at the alert recipe:\n%s", banner.String())
	}
	for _, want := range []string{shortPath(scan.key), shortPath(scan.keys)} {
		if !strings.Contains(banner.String(), want) {
			t.Fatalf("the banner does not name %s:\n%s", want, banner.String())
		}
	}
	file, err := os.ReadFile(recipes)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{scan.keys, scan.key, scan.id} {
		if !strings.Contains(string(file), want) {
			t.Fatalf("the recipes do not name %s:\n%s", want, file)
		}
	}
	cmd := exec.Command("bash", recipes, "alert")
	cmd.Env = append(os.Environ(), "KEY="+tok.Reveal())
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("the recipe failed: %v\n%s", err, file)
	}
	var labels []secretscan.Label
	sum := sha256.Sum256([]byte(tok.Reveal()))
	if err := json.Unmarshal(out, &labels); err != nil || len(labels) != 1 ||
		labels[0] != (secretscan.Label{TokenHash: hex.EncodeToString(sum[:]), TokenType: "keygate_api_key", Label: secretscan.TruePositive}) {
		t.Fatalf("the recipe's alert got %s", out)
	}

	// Without a current signing key, there is no alert recipe.
	if err := writeRecipes(recipes, srv.URL, "local", scanKey{}); err != nil {
		t.Fatal(err)
	}
	var none strings.Builder
	printBanner(&none, srv.URL, "local", "DynamoDB Local in memory", "", &manage.Created{Token: tok}, recipes, scanKey{})
	file, err = os.ReadFile(recipes)
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(none.String(), "alert") || strings.Contains(string(file), "openssl") {
		t.Fatalf("an alert recipe without a key:\n%s\n%s", none.String(), file)
	}
}
