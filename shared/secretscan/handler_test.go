package secretscan_test

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/keygate/keygate/infra/dynamotest"
	"github.com/keygate/keygate/infra/testkit"
	"github.com/keygate/keygate/shared/apierror"
	"github.com/keygate/keygate/shared/apikey"
	"github.com/keygate/keygate/shared/keygate"
	"github.com/keygate/keygate/shared/manage"
	"github.com/keygate/keygate/shared/secretscan"
	"github.com/keygate/keygate/shared/store"
)

// countingDB is the real DynamoDB Local client counting the items each
// read asks for.
type countingDB struct {
	*dynamodb.Client
	mu    sync.Mutex
	items int
}

func (d *countingDB) add(n int) {
	d.mu.Lock()
	d.items += n
	d.mu.Unlock()
}

func (d *countingDB) reads() int {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.items
}

func (d *countingDB) GetItem(ctx context.Context, in *dynamodb.GetItemInput, opts ...func(*dynamodb.Options)) (*dynamodb.GetItemOutput, error) {
	d.add(1)
	return d.Client.GetItem(ctx, in, opts...)
}

func (d *countingDB) BatchGetItem(ctx context.Context, in *dynamodb.BatchGetItemInput, opts ...func(*dynamodb.Options)) (*dynamodb.BatchGetItemOutput, error) {
	for _, ka := range in.RequestItems {
		d.add(len(ka.Keys))
	}
	return d.Client.BatchGetItem(ctx, in, opts...)
}

func (d *countingDB) Query(ctx context.Context, in *dynamodb.QueryInput, opts ...func(*dynamodb.Options)) (*dynamodb.QueryOutput, error) {
	out, err := d.Client.Query(ctx, in, opts...)
	if err == nil {
		d.add(len(out.Items))
	}
	return out, err
}

// recorder is the Responder: it records each report, and reports a key's
// leak as recorded the first time only, as manage.Service does.
type recorder struct {
	mu      sync.Mutex
	reports []report
	seen    map[string]bool
	err     error
}

type report struct {
	keyID string
	leak  keygate.Leak
}

func (r *recorder) ReportLeak(_ context.Context, rec *keygate.Record, l keygate.Leak) (bool, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.err != nil {
		return false, r.err
	}
	r.reports = append(r.reports, report{rec.ID, l})
	if r.seen == nil {
		r.seen = map[string]bool{}
	}
	first := !r.seen[rec.ID]
	r.seen[rec.ID] = true
	return first, nil
}

var _ secretscan.Responder = (*recorder)(nil)

type fixture struct {
	t         *testing.T
	signer    signer
	handler   *secretscan.Handler
	db        *countingDB
	responder *recorder
	format    apikey.Format
	hasher    *apikey.Hasher
	svc       *manage.Service
	st        *store.Store
	clock     *testkit.Clock
	logs      *testkit.Buffer
	secrets   []string // every token minted, to check the logs
}

func newFixture(t *testing.T) *fixture {
	t.Helper()
	client, table := dynamotest.NewTable(t)
	f := &fixture{t: t, signer: newSigner(t), db: &countingDB{Client: client}, responder: &recorder{},
		clock: testkit.NewClock(time.Date(2026, 12, 5, 12, 0, 0, 0, time.UTC)), logs: &testkit.Buffer{}}
	f.format, f.hasher = testkit.Tokens(t)
	f.st = store.New(client, table)
	f.svc = manage.New(f.st, manage.Config{Format: f.format, Hasher: f.hasher, Retention: time.Hour, MaxUserKeys: 100, MaxServiceKeys: 100, Now: f.clock.Now})
	path := filepath.Join(t.TempDir(), "keys.json")
	if err := os.WriteFile(path, f.signer.list, 0o600); err != nil {
		t.Fatal(err)
	}
	keys, err := secretscan.NewKeys("file://"+path, nil, f.clock.Now)
	if err != nil {
		t.Fatal(err)
	}
	f.handler = secretscan.New(secretscan.Config{Format: f.format, Hasher: f.hasher, Keys: keys,
		Store: store.New(f.db, table), Responder: f.responder, Log: slog.New(slog.NewJSONHandler(f.logs, nil)), Now: f.clock.Now})
	return f
}

// mint stores a key and returns its token.
func (f *fixture) mint(owner string) string {
	f.t.Helper()
	c, err := f.svc.Create(context.Background(), keygate.Caller{Operator: true}, manage.CreateRequest{Tenant: "acme", Owner: owner, Role: keygate.Viewer, Scopes: []string{"GET /v1/whoami"}, APIs: []string{"kglocal001"}})
	if err != nil {
		f.t.Fatal(err)
	}
	f.secrets = append(f.secrets, c.Token.Reveal())
	return c.Token.Reveal()
}

// generate makes a token with h's tag, stored nowhere.
func (f *fixture) generate(h *apikey.Hasher) apikey.Token {
	f.t.Helper()
	tok, err := f.format.Generate(rand.Reader, h)
	if err != nil {
		f.t.Fatal(err)
	}
	f.secrets = append(f.secrets, tok.Reveal())
	return tok
}

// mismatched is a token with this deployment's tag whose ID is stored
// with another token's verifier.
func (f *fixture) mismatched() string {
	f.t.Helper()
	tok, other := f.generate(f.hasher), f.generate(f.hasher)
	verifier, err := f.hasher.Verifier(other)
	if err != nil {
		f.t.Fatal(err)
	}
	now := f.clock.Now()
	r := &keygate.Record{Key: keygate.Key{ID: tok.ID(), Hint: f.format.Hint(tok.ID()), Tenant: "acme", Owner: "mallory",
		Type: keygate.User, Role: keygate.Viewer, CreatedAt: now, CreatedBy: "operator", Enabled: true}, Verifier: verifier}
	if _, err := f.st.CreateKey(context.Background(), r, 100, now, keygate.Audit{Action: keygate.ActionCreated, KeyID: r.ID, Tenant: "acme", At: now}, nil, nil); err != nil {
		f.t.Fatal(err)
	}
	return tok.Reveal()
}

func (f *fixture) forged() string {
	f.t.Helper()
	other, err := apikey.NewHasher(bytes.Repeat([]byte("x"), 32), apikey.HMACSHA256, rand.Reader)
	if err != nil {
		f.t.Fatal(err)
	}
	return f.generate(other).Reveal()
}

func sign(t testing.TB, priv *ecdsa.PrivateKey, body []byte) string {
	t.Helper()
	digest := sha256.Sum256(body)
	sig, err := ecdsa.SignASN1(rand.Reader, priv, digest[:])
	if err != nil {
		t.Fatal(err)
	}
	return base64.StdEncoding.EncodeToString(sig)
}

func alertBody(tokens ...string) []byte {
	var entries []map[string]string
	for _, tok := range tokens {
		entries = append(entries, map[string]string{"token": tok, "type": "keygate_api_key", "url": "https://github.com/octo/repo/blob/main/.env", "source": "content"})
	}
	b, _ := json.Marshal(entries)
	return b
}

// signed is the headers of body signed by s.
func (s signer) signed(t testing.TB, body []byte) map[string]string {
	return map[string]string{secretscan.HeaderKeyID: s.id, secretscan.HeaderSignature: sign(t, s.priv, body)}
}

func restEvent(body string, headers map[string]string, b64 bool) json.RawMessage {
	ev, _ := json.Marshal(events.APIGatewayProxyRequest{HTTPMethod: "POST", Resource: secretscan.Path, Path: secretscan.Path,
		Headers: headers, Body: body, IsBase64Encoded: b64, RequestContext: events.APIGatewayProxyRequestContext{RequestID: "req-1"}})
	return ev
}

func v2Event(body string, headers map[string]string) json.RawMessage {
	lower := map[string]string{}
	for k, v := range headers {
		lower[strings.ToLower(k)] = v
	}
	ev, _ := json.Marshal(events.APIGatewayV2HTTPRequest{Version: "2.0", RouteKey: "POST " + secretscan.Path, RawPath: secretscan.Path,
		Headers: lower, Body: body, RequestContext: events.APIGatewayV2HTTPRequestContext{RequestID: "req-2"}})
	return ev
}

// call runs an event and returns the status and body of the response.
func (f *fixture) call(event json.RawMessage) (int, []byte) {
	f.t.Helper()
	out, err := f.handler.Handle(context.Background(), event)
	if err != nil {
		f.t.Fatalf("Handle returned an error: %v", err)
	}
	var resp struct {
		StatusCode int               `json:"statusCode"`
		Headers    map[string]string `json:"headers"`
		Body       string            `json:"body"`
	}
	if err := json.Unmarshal(out, &resp); err != nil {
		f.t.Fatalf("not a proxy response: %s", out)
	}
	if resp.Headers["Content-Type"] != "application/json" || resp.Headers["Cache-Control"] != "no-store" {
		f.t.Errorf("headers %v", resp.Headers)
	}
	return resp.StatusCode, []byte(resp.Body)
}

func hashOf(tok string) string {
	sum := sha256.Sum256([]byte(tok))
	return hex.EncodeToString(sum[:])
}

// TestAlerts: every hostile alert is refused before anything is read or
// changed; a signed one gets one label per distinct token of this
// format, reads only tokens with this deployment's tag and reports only
// true positives whose key is stored.
func TestAlerts(t *testing.T) {
	f := newFixture(t)
	other := newSigner(t)
	real1, real2 := f.mint("alice"), f.mint("bob")
	forged, mismatch := f.forged(), f.mismatched()
	gone := f.generate(f.hasher).Reveal()
	body := alertBody(real1)
	changed := bytes.Clone(body)
	changed[len(changed)-3] ^= 1 // in "content"
	huge := bytes.Repeat([]byte(" "), secretscan.MaxBody+1)
	upper := strings.ToUpper(real1[:len(apikey.DefaultPrefix)]) + real1[len(apikey.DefaultPrefix):]
	otherPrefix := "sk_live_" + real1[len(apikey.DefaultPrefix):]
	signedRest := func(b []byte) json.RawMessage { return restEvent(string(b), f.signer.signed(t, b), false) }
	label := func(tok, l string) secretscan.Label {
		return secretscan.Label{TokenHash: hashOf(tok), TokenType: "keygate_api_key", Label: l}
	}
	tests := []struct {
		name    string
		event   json.RawMessage
		status  int
		code    keygate.Code
		labels  []secretscan.Label
		reads   int
		reports []string // key IDs reported
	}{
		{name: "no headers", event: restEvent(string(body), nil, false), status: 401, code: keygate.Unauthorized},
		{name: "no signature", event: restEvent(string(body), map[string]string{secretscan.HeaderKeyID: f.signer.id}, false), status: 401, code: keygate.Unauthorized},
		{name: "unknown key id", event: restEvent(string(body), map[string]string{secretscan.HeaderKeyID: other.id, secretscan.HeaderSignature: sign(t, other.priv, body)}, false), status: 401, code: keygate.Unauthorized},
		{name: "signed by another key", event: restEvent(string(body), map[string]string{secretscan.HeaderKeyID: f.signer.id, secretscan.HeaderSignature: sign(t, other.priv, body)}, false), status: 401, code: keygate.Unauthorized},
		{name: "signature over other bytes", event: restEvent(string(body), map[string]string{secretscan.HeaderKeyID: f.signer.id, secretscan.HeaderSignature: sign(t, f.signer.priv, alertBody(real2))}, false), status: 401, code: keygate.Unauthorized},
		{name: "reused signature, one byte changed", event: restEvent(string(changed), f.signer.signed(t, body), false), status: 401, code: keygate.Unauthorized},
		{name: "signature not base64", event: restEvent(string(body), map[string]string{secretscan.HeaderKeyID: f.signer.id, secretscan.HeaderSignature: "%%%"}, false), status: 401, code: keygate.Unauthorized},
		{name: "signature header twice, differing", event: func() json.RawMessage {
			ev := events.APIGatewayProxyRequest{HTTPMethod: "POST", Body: string(body), Headers: f.signer.signed(t, body),
				MultiValueHeaders: map[string][]string{"github-public-key-signature": {sign(t, f.signer.priv, body), sign(t, other.priv, body)}}}
			b, _ := json.Marshal(ev)
			return b
		}(), status: 401, code: keygate.Unauthorized},
		{name: "body not base64", event: restEvent("!!not base64!!", f.signer.signed(t, body), true), status: 400, code: keygate.Invalid},
		{name: "empty body", event: signedRest(nil), status: 400, code: keygate.Invalid},
		{name: "not an array", event: signedRest([]byte(`{"token":"` + real1 + `"}`)), status: 400, code: keygate.Invalid},
		{name: "token not a string", event: signedRest([]byte(`[{"token":12}]`)), status: 400, code: keygate.Invalid},
		{name: "entry not an object", event: signedRest([]byte(`["` + real1 + `"]`)), status: 400, code: keygate.Invalid},
		{name: "entry without token", event: signedRest([]byte(`[{"type":"x"}]`)), status: 400, code: keygate.Invalid},
		{name: "huge body", event: signedRest(huge), status: 413, code: keygate.PayloadTooLarge},
		{name: "not a gateway event", event: json.RawMessage(`{"op":"scan"}`), status: 400, code: keygate.Invalid},
		{name: "empty alert", event: signedRest([]byte(`[]`)), status: 200, labels: []secretscan.Label{}},
		{name: "true positive", event: signedRest(body), status: 200, labels: []secretscan.Label{label(real1, "true_positive")}, reads: 1, reports: []string{real1[8:25]}},
		{name: "true positive, HTTP API", event: v2Event(string(alertBody(real2)), f.signer.signed(t, alertBody(real2))), status: 200,
			labels: []secretscan.Label{label(real2, "true_positive")}, reads: 1, reports: []string{real2[8:25]}},
		{name: "base64 body, header names in any case", event: restEvent(base64.StdEncoding.EncodeToString(body),
			map[string]string{"GITHUB-PUBLIC-KEY-IDENTIFIER": f.signer.id, "github-public-key-signature": sign(t, f.signer.priv, body)}, true),
			status: 200, labels: []secretscan.Label{label(real1, "true_positive")}, reads: 1, reports: []string{real1[8:25]}},
		{name: "duplicates of one token", event: signedRest(alertBody(real1, real1, real1)), status: 200,
			labels: []secretscan.Label{label(real1, "true_positive")}, reads: 1, reports: []string{real1[8:25]}},
		{name: "other prefixes and case are not ours", event: signedRest(alertBody(upper, otherPrefix, "kg_live_short", "ghp_"+strings.Repeat("a", 36))), status: 200, labels: []secretscan.Label{}},
		{name: "checksum valid, forged tag: no read", event: signedRest(alertBody(forged)), status: 200, labels: []secretscan.Label{label(forged, "false_positive")}},
		{name: "tag valid, key gone", event: signedRest(alertBody(gone)), status: 200, labels: []secretscan.Label{label(gone, "true_positive")}, reads: 1},
		{name: "tag valid, verifier differs", event: signedRest(alertBody(mismatch)), status: 200, labels: []secretscan.Label{label(mismatch, "false_positive")}, reads: 1},
		{name: "mixed, in order", event: signedRest(alertBody(forged, real2, upper, mismatch, real2, gone)), status: 200,
			labels: []secretscan.Label{label(forged, "false_positive"), label(real2, "true_positive"), label(mismatch, "false_positive"), label(gone, "true_positive")},
			reads:  3, reports: []string{real2[8:25]}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			reads := f.db.reads()
			f.responder.reports = nil
			status, raw := f.call(tt.event)
			if status != tt.status {
				t.Fatalf("status %d, want %d: %s", status, tt.status, raw)
			}
			if tt.code != "" {
				var env apierror.Envelope
				if err := json.Unmarshal(raw, &env); err != nil || env.Error.Code != tt.code {
					t.Fatalf("body %s, want the envelope with %s", raw, tt.code)
				}
			} else {
				var got []secretscan.Label
				if err := json.Unmarshal(raw, &got); err != nil || got == nil || fmt.Sprint(got) != fmt.Sprint(tt.labels) {
					t.Fatalf("labels %s\nwant %v", raw, tt.labels)
				}
			}
			if n := f.db.reads() - reads; n != tt.reads {
				t.Errorf("%d items read, want %d", n, tt.reads)
			}
			var reported []string
			for _, r := range f.responder.reports {
				reported = append(reported, r.keyID)
				want := keygate.Leak{At: f.clock.Now(), URL: "https://github.com/octo/repo/blob/main/.env", Source: "content", Type: "keygate_api_key"}
				if r.leak != want {
					t.Errorf("leak %+v, want %+v", r.leak, want)
				}
			}
			if fmt.Sprint(reported) != fmt.Sprint(tt.reports) {
				t.Errorf("reported %v, want %v", reported, tt.reports)
			}
		})
	}
	logs := f.logs.String()
	for _, s := range f.secrets {
		if strings.Contains(logs, s) || strings.Contains(logs, s[8:len(s)-6]) {
			t.Fatal("a token is in the logs")
		}
	}
	if !strings.Contains(logs, `"key_id":"`+real1[8:25]+`"`) || !strings.Contains(logs, `"label":"true_positive"`) {
		t.Fatalf("the true positive is not logged with its key id:\n%s", logs)
	}
}

// TestAlertReadCost: an alert of 1,000 tokens of which 10 were minted here
// costs exactly 10 item reads, in one batch: the rest are judged offline.
func TestAlertReadCost(t *testing.T) {
	f := newFixture(t)
	var tokens []string
	for i := range 10 {
		tokens = append(tokens, f.mint(fmt.Sprintf("owner%d", i)))
	}
	for len(tokens) < 1000 {
		switch len(tokens) % 3 {
		case 0:
			tokens = append(tokens, f.forged()) // our format, not our tag
		case 1:
			tok := f.generate(f.hasher).Reveal()
			tokens = append(tokens, tok[:len(tok)-1]+"!") // bad checksum
		default:
			tokens = append(tokens, fmt.Sprintf("kg_test_%077d", len(tokens))) // another prefix
		}
	}
	body := alertBody(tokens...)
	before := f.db.reads()
	status, raw := f.call(restEvent(string(body), f.signer.signed(t, body), false))
	if status != 200 {
		t.Fatalf("status %d: %s", status, raw)
	}
	if n := f.db.reads() - before; n != 10 {
		t.Fatalf("an alert of 1,000 tokens, 10 real, read %d items, want 10", n)
	}
	var labels []secretscan.Label
	if err := json.Unmarshal(raw, &labels); err != nil {
		t.Fatal(err)
	}
	counts := map[string]int{}
	for _, l := range labels {
		counts[l.Label]++
	}
	if counts["true_positive"] != 10 || counts["false_positive"] != 330 || len(f.responder.reports) != 10 {
		t.Fatalf("labels %v, %d reports; want 10 true and 330 false positives, 10 reports", counts, len(f.responder.reports))
	}
}

// TestReportFailure: a failed report fails the alert (GitHub retries it),
// in the envelope, after the other keys were reported.
func TestReportFailure(t *testing.T) {
	f := newFixture(t)
	f.responder.err = keygate.Errorf(keygate.Unavailable, "try again")
	body := alertBody(f.mint("alice"))
	status, raw := f.call(restEvent(string(body), f.signer.signed(t, body), false))
	if status != 503 || !strings.Contains(string(raw), `"unavailable"`) {
		t.Fatalf("status %d: %s", status, raw)
	}
}

// TestLeakTextBounded: the alert's text is kept within bounds, as valid
// UTF-8, and the token_type echoes the alert's.
func TestLeakTextBounded(t *testing.T) {
	f := newFixture(t)
	tok := f.mint("alice")
	long := "https://example.com/" + strings.Repeat("é", 3000)
	raw, _ := json.Marshal([]map[string]string{{"token": tok, "type": strings.Repeat("t", 500), "url": long, "source": "content\xff" + strings.Repeat("s", 100)}})
	status, out := f.call(restEvent(string(raw), f.signer.signed(t, raw), false))
	if status != 200 || len(f.responder.reports) != 1 {
		t.Fatalf("status %d: %s", status, out)
	}
	l := f.responder.reports[0].leak
	if len(l.URL) > secretscan.MaxLeakURL || len(l.URL) < secretscan.MaxLeakURL-1 || !strings.HasPrefix(long, l.URL) ||
		len(l.Source) != secretscan.MaxLeakSource || !strings.HasPrefix(l.Source, "content\uFFFD") || len(l.Type) != secretscan.MaxLeakType {
		t.Fatalf("leak text not bounded: url %d bytes, source %q, type %d bytes", len(l.URL), l.Source, len(l.Type))
	}
	if !strings.Contains(string(out), `"token_type":"`+strings.Repeat("t", 500)+`"`) {
		t.Fatalf("token_type is not the alert's: %s", out)
	}
}
