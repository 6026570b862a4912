// Package e2e_test runs Keygate's real function binaries, built as they
// ship, under AWS's Runtime Interface Emulator against DynamoDB Local and
// moto_server, and follows one story across them end to end.
package e2e_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"hash/crc32"
	"maps"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/keygate/keygate/infra/ddblocal"
	"github.com/keygate/keygate/infra/dynamotest"
	"github.com/keygate/keygate/infra/lambdarun"
	"github.com/keygate/keygate/infra/motolocal"
	"github.com/keygate/keygate/infra/streamtest"
	"github.com/keygate/keygate/infra/testkit"
	"github.com/keygate/keygate/shared/keygate"
	"github.com/keygate/keygate/shared/store"
)

const (
	sender      = "keys@keygate.example"
	tenantOwner = "security@acme.example"
	keyOwner    = "dev@acme.example"
	// prefix is a deployment's own: one that joins GitHub's partner
	// program registers a pattern no other issuer uses.
	prefix = "acme_live_"
)

// TestLeakedKeyRevokesItself: a key is minted (create binary) and works
// (authorizer binary); GitHub's signed alert naming it reaches the
// secret-scanning binary, which answers true_positive and revokes it; the
// authorizer refuses it within the revocation bound; the stream binary
// publishes key.leaked (and key.revoked) to EventBridge and e-mails the
// key's owner and the tenant's owner through SES. Every hostile alert is
// refused and changes nothing in the table.
func TestLeakedKeyRevokesItself(t *testing.T) {
	testkit.SkipShort(t, "DynamoDB Local, moto_server and the function binaries")
	ctx := t.Context()
	bins := buildFunctions(t, "create", "authorizer", "secretscan", "stream")

	moto := motolocal.Endpoint(t)
	bus := motolocal.NewBus(t, moto)
	motolocal.VerifySender(t, moto, sender)

	github := newSigner(t)
	keysFile := filepath.Join(t.TempDir(), "secret-scanning-keys.json")
	if err := os.WriteFile(keysFile, github.keyList(t), 0o644); err != nil {
		t.Fatal(err)
	}
	vars := dynamotest.Vars(t, map[string]string{
		"TOKEN_PREFIX":                 prefix,
		"SECRET_SCANNING_KEYS_URL":     "file://" + keysFile,
		"EVENT_BUS_NAME":               bus.Name,
		"EMAIL_SENDER":                 sender,
		"AWS_ENDPOINT_URL_EVENTBRIDGE": moto,
		"AWS_ENDPOINT_URL_SESV2":       moto,
	})
	endpoint, table := vars["DYNAMODB_ENDPOINT"], vars["TABLE_NAME"]
	db := dynamotest.Client(endpoint)
	stream := streamtest.NewReader(t, db, endpoint, table)
	fn := startFunctions(t, bins, vars)

	if err := store.NewLifecycle(db, table).PutSettings(ctx, "acme", keygate.Settings{OwnerEmail: tenantOwner, LeakAction: keygate.LeakRevoke}, time.Now(), nil); err != nil {
		t.Fatal(err)
	}
	var created struct {
		ID    string `json:"id"`
		Token string `json:"token"`
	}
	fn.invoke(t, "create", map[string]any{"tenant": "acme", "owner": keyOwner, "name": "ci", "role": "admin"}, &created)
	if !strings.HasPrefix(created.Token, prefix) {
		t.Fatalf("minted token does not carry the deployment's prefix %q", prefix)
	}
	if got := fn.authorize(t, created.Token); got != "Allow" {
		t.Fatalf("fresh key: authorizer says %s, want Allow", got)
	}
	stream.Read(t) // the creation's records: not this test's subject

	// A real-looking token of another issuer, a checksum-valid token this
	// deployment did not mint, and the leaked one.
	forged := forgeToken(t, created.Token)
	alert := mustJSON(t, []map[string]string{
		{"token": "ghp_" + strings.Repeat("a", 36), "type": "other", "url": "https://github.com/o/r/blob/1/x", "source": "content"},
		{"token": forged, "type": "keygate_api_key", "url": "https://github.com/o/r/blob/1/y", "source": "content"},
		{"token": created.Token, "type": "keygate_api_key", "url": "https://github.com/o/r/blob/1/config.yaml", "source": "commit"},
	})

	// Hostile alerts first: each refused, the table unchanged.
	before := snapshot(t, db, table)
	other := newSigner(t)
	hostile := []struct {
		name       string
		body       []byte
		id, sig    string
		wantStatus int
	}{
		{"no signature", alert, "", "", 401},
		{"unknown key identifier", alert, other.id, other.sign(t, alert), 401},
		{"signed by another key under GitHub's identifier", alert, github.id, other.sign(t, alert), 401},
		{"signature over other bytes", alert, github.id, github.sign(t, []byte("[]")), 401},
		{"one byte of the body changed", flip(alert), github.id, github.sign(t, alert), 401},
		{"signature not base64", alert, github.id, "%%%", 401},
	}
	for _, h := range hostile {
		t.Run(h.name, func(t *testing.T) {
			status, body := fn.alert(t, h.body, h.id, h.sig)
			if status != h.wantStatus {
				t.Fatalf("status %d, want %d: %s", status, h.wantStatus, body)
			}
			var env struct {
				Error struct{ Code string } `json:"error"`
			}
			if err := json.Unmarshal([]byte(body), &env); err != nil || env.Error.Code != "unauthorized" {
				t.Errorf("body %s is not the unauthorized envelope", body)
			}
			if strings.Contains(body, created.Token) || strings.Contains(body, forged) {
				t.Error("the answer quotes a token")
			}
		})
	}
	if after := snapshot(t, db, table); !maps.Equal(before, after) {
		t.Fatalf("a refused alert changed the table:\nbefore %v\nafter  %v", before, after)
	}
	if got := fn.authorize(t, created.Token); got != "Allow" {
		t.Fatalf("after refused alerts the key says %s, want Allow", got)
	}

	// The real alert.
	status, body := fn.alert(t, alert, github.id, github.sign(t, alert))
	if status != 200 {
		t.Fatalf("signed alert: status %d: %s", status, body)
	}
	var labels []struct {
		TokenHash string `json:"token_hash"`
		TokenType string `json:"token_type"`
		Label     string `json:"label"`
	}
	if err := json.Unmarshal([]byte(body), &labels); err != nil {
		t.Fatalf("answer %s: %v", body, err)
	}
	want := map[string]string{sha256Hex(created.Token): "true_positive", sha256Hex(forged): "false_positive"}
	if len(labels) != len(want) {
		t.Fatalf("answer has %d entries, want %d (nothing about the other issuer's token): %s", len(labels), len(want), body)
	}
	for _, l := range labels {
		if want[l.TokenHash] != l.Label || l.TokenType != "keygate_api_key" {
			t.Errorf("entry %+v, want label %q", l, want[l.TokenHash])
		}
	}
	revokedAt := time.Now()

	// Refused within the bound: the authorizer's own cache (AUTH_CACHE_TTL,
	// 5 s) is the only cache between it and the table here; with the
	// gateway's result TTL the documented bound is 10 s.
	for fn.authorize(t, created.Token) != "Unauthorized" {
		if time.Since(revokedAt) > 6*time.Second {
			t.Fatal("the leaked key is still allowed after 6 s")
		}
		time.Sleep(250 * time.Millisecond)
	}

	// A replay records nothing new.
	afterFirst := snapshot(t, db, table)
	if status, body := fn.alert(t, alert, github.id, github.sign(t, alert)); status != 200 || !strings.Contains(body, "true_positive") {
		t.Fatalf("replayed alert: %d %s", status, body)
	}
	if after := snapshot(t, db, table); !maps.Equal(afterFirst, after) {
		t.Fatalf("a replayed alert changed the table:\nbefore %v\nafter  %v", afterFirst, after)
	}

	// The stream function publishes and mails.
	recs := stream.Read(t)
	var resp events.DynamoDBEventResponse
	fn.invoke(t, "stream", events.DynamoDBEvent{Records: recs}, &resp)
	if len(resp.BatchItemFailures) != 0 {
		t.Fatalf("stream batch failures: %+v", resp.BatchItemFailures)
	}
	got := map[string]map[string]any{}
	for _, env := range bus.Drain(t, 3*time.Second) {
		var d map[string]any
		if err := json.Unmarshal(env.Detail, &d); err != nil {
			t.Fatal(err)
		}
		got[env.DetailType] = d
	}
	leaked, ok := got["key.leaked"]
	if !ok {
		t.Fatalf("no key.leaked event; got %v", slices.Sorted(maps.Keys(got)))
	}
	if _, ok := got["key.revoked"]; !ok {
		t.Errorf("no key.revoked event; got %v", slices.Sorted(maps.Keys(got)))
	}
	detail, _ := leaked["detail"].(map[string]any)
	if leaked["key_id"] != created.ID || detail["url"] != "https://github.com/o/r/blob/1/config.yaml" || detail["source"] != "commit" {
		t.Errorf("key.leaked event %v", leaked)
	}
	raw, _ := json.Marshal(got)
	if strings.Contains(string(raw), created.Token) {
		t.Error("an event carries the token")
	}
	mails := motolocal.SentMail(t, moto)
	to := map[string]bool{}
	for _, m := range mails {
		if strings.Contains(m.Body, created.Token) || strings.Contains(m.Subject, created.Token) {
			t.Error("an e-mail carries the token")
		}
		if strings.Contains(m.Body, "config.yaml") {
			for _, r := range m.Destinations["ToAddresses"] {
				to[r] = true
			}
		}
	}
	if !to[keyOwner] || !to[tenantOwner] {
		t.Errorf("leak e-mail went to %v, want %s and %s", to, keyOwner, tenantOwner)
	}
}

// functions are the bootstraps under the emulator, one each.
type functions map[string]*lambdarun.Runtime

func buildFunctions(t *testing.T, names ...string) map[string]string {
	t.Helper()
	root, err := ddblocal.ModuleRoot()
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	bins := map[string]string{}
	var mu sync.Mutex
	var wg sync.WaitGroup
	errs := make([]error, len(names))
	for i, name := range names {
		bin := filepath.Join(dir, name, "bootstrap")
		bins[name] = bin
		wg.Add(1)
		go func() {
			defer wg.Done()
			var log testkit.Buffer
			if err := lambdarun.Build(t.Context(), root, "./functions/"+name, runtime.GOOS, runtime.GOARCH, bin, &log); err != nil {
				mu.Lock()
				errs[i] = fmt.Errorf("%v\n%s", err, log.String())
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	return bins
}

func startFunctions(t *testing.T, bins map[string]string, vars map[string]string) functions {
	t.Helper()
	var env []string
	for k, v := range vars {
		env = append(env, k+"="+v)
	}
	logs := &testkit.Buffer{}
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("function logs:\n%s", logs.String())
		}
	})
	fns := functions{}
	for name, bin := range bins {
		rt, err := lambdarun.Start(t.Context(), lambdarun.Options{
			Binary: bin, Env: env, FunctionName: name, Timeout: 25 * time.Second, Stdout: logs, Stderr: logs,
		})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = rt.Close() })
		fns[name] = rt
	}
	return fns
}

// invoke runs event through fn and decodes its answer into out.
func (f functions) invoke(t *testing.T, fn string, event, out any) {
	t.Helper()
	res, err := f[fn].Invoke(t.Context(), mustJSON(t, event))
	if err != nil {
		t.Fatalf("%s: %v", fn, err)
	}
	if res.FunctionError != nil {
		t.Fatalf("%s: %v", fn, res.FunctionError)
	}
	if err := json.Unmarshal(res.Payload, out); err != nil {
		t.Fatalf("%s answered %s: %v", fn, res.Payload, err)
	}
}

// alert posts body to the secret-scanning function as API Gateway's REST
// proxy integration does, with GitHub's headers when id is set.
func (f functions) alert(t *testing.T, body []byte, id, sig string) (int, string) {
	t.Helper()
	headers := map[string]string{"Content-Type": "application/json"}
	if id != "" {
		headers["Github-Public-Key-Identifier"] = id
		headers["Github-Public-Key-Signature"] = sig
	}
	ev := events.APIGatewayProxyRequest{
		Resource: "/v1/secret-scanning/github", Path: "/v1/secret-scanning/github", HTTPMethod: "POST",
		Headers: headers, Body: string(body),
		RequestContext: events.APIGatewayProxyRequestContext{
			RequestID: "e2e-" + hex.EncodeToString(randomBytes(t, 4)), APIID: "e2eapi", Stage: "prod",
			ResourcePath: "/v1/secret-scanning/github", HTTPMethod: "POST",
		},
	}
	var resp events.APIGatewayProxyResponse
	f.invoke(t, "secretscan", ev, &resp)
	return resp.StatusCode, resp.Body
}

// authorize asks the authorizer (REST TOKEN event) about token: "Allow",
// "Deny" or "Unauthorized".
func (f functions) authorize(t *testing.T, token string) string {
	t.Helper()
	ev := events.APIGatewayCustomAuthorizerRequest{
		Type: "TOKEN", AuthorizationToken: "Bearer " + token,
		MethodArn: "arn:aws:execute-api:us-east-1:123456789012:e2eapi/prod/GET/v1/whoami",
	}
	res, err := f["authorizer"].Invoke(t.Context(), mustJSON(t, ev))
	if err != nil {
		t.Fatal(err)
	}
	if res.FunctionError != nil {
		if res.FunctionError.Message == "Unauthorized" {
			return "Unauthorized"
		}
		t.Fatalf("authorizer: %v", res.FunctionError)
	}
	var resp events.APIGatewayCustomAuthorizerResponse
	if err := json.Unmarshal(res.Payload, &resp); err != nil {
		t.Fatal(err)
	}
	return resp.PolicyDocument.Statement[0].Effect
}

// signer is a key pair standing in for GitHub's secret-scanning key,
// generated per test: no private key is kept in the repository.
type signer struct {
	key *ecdsa.PrivateKey
	id  string
}

func newSigner(t *testing.T) *signer {
	t.Helper()
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	der, err := x509.MarshalPKIXPublicKey(&k.PublicKey)
	if err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256(der)
	return &signer{key: k, id: hex.EncodeToString(sum[:])}
}

// keyList is the key list in GitHub's format.
func (s *signer) keyList(t *testing.T) []byte {
	der, err := x509.MarshalPKIXPublicKey(&s.key.PublicKey)
	if err != nil {
		t.Fatal(err)
	}
	pub := pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der})
	return mustJSON(t, map[string]any{"public_keys": []map[string]any{
		{"key_identifier": s.id, "key": string(pub), "is_current": true},
	}})
}

// sign is GitHub's signature header: base64 of the ASN.1 DER ECDSA
// signature over SHA-256 of the raw body.
func (s *signer) sign(t *testing.T, body []byte) string {
	sum := sha256.Sum256(body)
	sig, err := ecdsa.SignASN1(rand.Reader, s.key, sum[:])
	if err != nil {
		t.Fatal(err)
	}
	return base64.StdEncoding.EncodeToString(sig)
}

// forgeToken is a token of the deployment's format with a valid checksum
// whose secret and tag this deployment never made.
func forgeToken(t *testing.T, real string) string {
	t.Helper()
	body := []byte(real[len(prefix):])
	// Change one character of the secret, then repair the checksum.
	if body[20] == 'A' {
		body[20] = 'B'
	} else {
		body[20] = 'A'
	}
	s := prefix + string(body[:len(body)-6])
	return s + checksum(s)
}

func checksum(s string) string {
	const alphabet = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
	sum := crc32.ChecksumIEEE([]byte(s))
	out := make([]byte, 6)
	for i := 5; i >= 0; i-- {
		out[i] = alphabet[sum%62]
		sum /= 62
	}
	return string(out)
}

func flip(b []byte) []byte {
	c := slices.Clone(b)
	i := strings.Index(string(c), "config.yaml")
	c[i] = 'C'
	return c
}

// snapshot is every item of the table, by key, as DynamoDB JSON: what a
// refused alert must leave as it was.
func snapshot(t *testing.T, db *dynamodb.Client, table string) map[string]string {
	t.Helper()
	out := map[string]string{}
	p := dynamodb.NewScanPaginator(db, &dynamodb.ScanInput{TableName: aws.String(table), ConsistentRead: aws.Bool(true)})
	for p.HasMorePages() {
		page, err := p.NextPage(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		for _, item := range page.Items {
			// The authorizer's throttled last-used write is not the alert's.
			delete(item, "last_used_at")
			out[canonical(item["pk"])+" "+canonical(item["sk"])] = canonical(&types.AttributeValueMemberM{Value: item})
		}
	}
	return out
}

// canonical writes an attribute value in one fixed form, map keys sorted.
func canonical(v types.AttributeValue) string {
	switch v := v.(type) {
	case *types.AttributeValueMemberS:
		return fmt.Sprintf("S:%q", v.Value)
	case *types.AttributeValueMemberN:
		return "N:" + v.Value
	case *types.AttributeValueMemberBOOL:
		return fmt.Sprint("BOOL:", v.Value)
	case *types.AttributeValueMemberSS:
		return fmt.Sprint("SS:", slices.Sorted(slices.Values(v.Value)))
	case *types.AttributeValueMemberL:
		parts := make([]string, len(v.Value))
		for i, e := range v.Value {
			parts[i] = canonical(e)
		}
		return "L:[" + strings.Join(parts, ",") + "]"
	case *types.AttributeValueMemberM:
		var parts []string
		for _, k := range slices.Sorted(maps.Keys(v.Value)) {
			parts = append(parts, fmt.Sprintf("%q=%s", k, canonical(v.Value[k])))
		}
		return "M:{" + strings.Join(parts, ",") + "}"
	default:
		return fmt.Sprintf("%T:%v", v, v)
	}
}

func sha256Hex(s string) string {
	sum := sha256.Sum256([]byte(s))
	return hex.EncodeToString(sum[:])
}

func mustJSON(t *testing.T, v any) []byte {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func randomBytes(t *testing.T, n int) []byte {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	return b
}
