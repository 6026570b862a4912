// Command leakalert measures what a GitHub secret-scanning alert costs
// Keygate: an alert of -tokens tokens of which -real were minted here
// (the rest: a third checksum-valid but forged, a third with a bad
// checksum, a third of another issuer's prefix), signed by a key pair made
// for the run, through the secret-scanning handler as the function wires
// it (the real key management service acting on each leak under the
// default leak action, revoke) against DynamoDB Local. It prints the
// latency of -alerts alerts (median, p99, max) and the DynamoDB calls of
// each, and exits 1 if the p99 reaches -max-p99 (GitHub waits 30 s) or an
// alert reads other than one item per real token to judge them.
//
//	go run ./infra/cmd/ddb run -- go run ./infra/bench/leakalert
//
// The handler runs in this process (what the function adds, Lambda's own
// event hand-over, is the same for any handler); the DynamoDB calls are
// counted on the client.
package main

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"math/big"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/keygate/keygate/infra/cli"
	"github.com/keygate/keygate/shared/apikey"
	"github.com/keygate/keygate/shared/keygate"
	"github.com/keygate/keygate/shared/manage"
	"github.com/keygate/keygate/shared/secretscan"
	"github.com/keygate/keygate/shared/setup"
	"github.com/keygate/keygate/shared/setup/keysetup"
	"github.com/keygate/keygate/shared/store"
)

func main() { cli.Main("leakalert", run) }

func run(ctx context.Context) error {
	alerts := flag.Int("alerts", 100, "alerts to send")
	tokens := flag.Int("tokens", 1000, "tokens per alert")
	real := flag.Int("real", 10, "tokens per alert minted by this deployment")
	maxP99 := flag.Duration("max-p99", 5*time.Second, "fail if the p99 latency reaches this")
	flag.Parse()
	if os.Getenv("DYNAMODB_ENDPOINT") == "" {
		return errors.New("DYNAMODB_ENDPOINT is not set: run under go run ./infra/cmd/ddb run")
	}
	vars := map[string]string{"TABLE_NAME": fmt.Sprintf("leakalert-%d", time.Now().UnixNano()), "TOKEN_PEPPER": randomText(32)}
	env, err := setup.Load(ctx, func(k string) string {
		if v, ok := vars[k]; ok {
			return v
		}
		return os.Getenv(k)
	}, io.Discard)
	if err != nil {
		return err
	}
	if err := store.EnsureTable(ctx, env.DynamoDB, env.Config.TableName); err != nil {
		return err
	}
	db := &counting{Client: env.DynamoDB}
	st := store.New(db, env.Config.TableName)
	cfg := keysetup.Config(env)
	cfg.MaxUserKeys = *alerts * *real
	svc := manage.New(st, cfg)

	github, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return err
	}
	id, list, err := secretscan.KeyList(&github.PublicKey)
	if err != nil {
		return err
	}
	dir, err := os.MkdirTemp("", "leakalert")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	listFile := filepath.Join(dir, "keys.json")
	if err := os.WriteFile(listFile, list, 0o600); err != nil {
		return err
	}
	keys, err := secretscan.NewKeys("file://"+listFile, nil, time.Now)
	if err != nil {
		return err
	}
	h := secretscan.New(secretscan.Config{Format: env.Format, Hasher: env.Hasher, Keys: keys, Store: st, Responder: svc, Log: env.Logger})
	other, err := apikey.NewHasher([]byte(randomText(32)), apikey.HMACSHA256, rand.Reader)
	if err != nil {
		return err
	}

	fmt.Printf("%d alerts of %d tokens, %d minted here, each signed; DynamoDB Local at %s\n\n", *alerts, *tokens, *real, os.Getenv("DYNAMODB_ENDPOINT"))
	var took []time.Duration
	var perAlert calls
	for n := range *alerts {
		toks, err := alertTokens(ctx, svc, env.Format, env.Hasher, other, n, *tokens, *real)
		if err != nil {
			return err
		}
		event, err := signedEvent(github, id, toks)
		if err != nil {
			return err
		}
		db.reset()
		start := time.Now()
		out, err := h.Handle(ctx, event)
		took = append(took, time.Since(start))
		if err != nil {
			return err
		}
		if err := check(out, *real); err != nil {
			return fmt.Errorf("alert %d: %w", n, err)
		}
		c := db.snapshot()
		if c.batchItems != *real {
			return fmt.Errorf("alert %d read %d items to judge %d real tokens, want %d", n, c.batchItems, *real, *real)
		}
		if n == 0 {
			perAlert = c
		} else if c != perAlert {
			return fmt.Errorf("alert %d made %+v DynamoDB calls, alert 0 made %+v", n, c, perAlert)
		}
	}
	slices.Sort(took)
	p50, p99 := took[len(took)/2], took[(len(took)*99+99)/100-1]
	fmt.Printf("latency per alert: median %s, p99 %s, max %s (target: p99 < %s)\n", round(p50), round(p99), round(took[len(took)-1]), *maxP99)
	fmt.Printf("per alert: %d items read in %d BatchGetItem call(s) to judge %d real tokens of %d (0 for the other %d);\n",
		perAlert.batchItems, perAlert.batchCalls, *real, *tokens, *tokens-*real)
	fmt.Printf("           acting on the %d leaks: %d GetItem (the tenant's settings, one per leak), %d TransactWriteItems (record + revoke, one per leak), %d Query\n",
		*real, perAlert.getItems, perAlert.transactions, perAlert.queries)
	if p99 >= *maxP99 {
		return fmt.Errorf("p99 %s reaches the target %s", p99, *maxP99)
	}
	return nil
}

// alertTokens mints real tokens for alert n and mixes them with tokens of
// the kinds an alert also carries.
func alertTokens(ctx context.Context, svc *manage.Service, f apikey.Format, h, other *apikey.Hasher, n, total, real int) ([]string, error) {
	var out []string
	for i := range real {
		c, err := svc.Create(ctx, keygate.Caller{Operator: true}, manage.CreateRequest{
			Tenant: "bench", Owner: fmt.Sprintf("owner-%d-%d", n, i), Role: keygate.Viewer,
			Scopes: []string{"GET /v1/whoami"}, APIs: []string{"bench"},
		})
		if err != nil {
			return nil, fmt.Errorf("mint: %w", err)
		}
		out = append(out, c.Token.Reveal())
	}
	for i := 0; len(out) < total; i++ {
		switch i % 3 {
		case 0: // this format, another deployment's tag
			t, err := f.Generate(rand.Reader, other)
			if err != nil {
				return nil, err
			}
			out = append(out, t.Reveal())
		case 1: // a bad checksum
			t, err := f.Generate(rand.Reader, h)
			if err != nil {
				return nil, err
			}
			s := t.Reveal()
			out = append(out, s[:len(s)-1]+flip(s[len(s)-1]))
		default: // another issuer
			out = append(out, "ghp_"+randomText(36))
		}
	}
	// Real tokens anywhere in the alert, not first.
	for i := len(out) - 1; i > 0; i-- {
		j, _ := rand.Int(rand.Reader, big.NewInt(int64(i+1)))
		out[i], out[j.Int64()] = out[j.Int64()], out[i]
	}
	return out, nil
}

func flip(c byte) string {
	if c == 'a' {
		return "b"
	}
	return "a"
}

// signedEvent is the alert as API Gateway's REST proxy integration hands
// it over, signed as GitHub signs.
func signedEvent(key *ecdsa.PrivateKey, id string, tokens []string) (json.RawMessage, error) {
	entries := make([]map[string]string, len(tokens))
	for i, t := range tokens {
		entries[i] = map[string]string{"token": t, "type": "keygate_api_key", "url": fmt.Sprintf("https://github.com/acme/app/blob/main/f%d.env", i), "source": "content"}
	}
	body, err := json.Marshal(entries)
	if err != nil {
		return nil, err
	}
	sum := sha256.Sum256(body)
	sig, err := ecdsa.SignASN1(rand.Reader, key, sum[:])
	if err != nil {
		return nil, err
	}
	return json.Marshal(events.APIGatewayProxyRequest{
		Resource: secretscan.Path, Path: secretscan.Path, HTTPMethod: "POST", Body: string(body),
		Headers:        map[string]string{"Content-Type": "application/json", secretscan.HeaderKeyID: id, secretscan.HeaderSignature: base64.StdEncoding.EncodeToString(sig)},
		RequestContext: events.APIGatewayProxyRequestContext{RequestID: randomText(12), Stage: "prod", HTTPMethod: "POST", ResourcePath: secretscan.Path},
	})
}

// check holds the answer to real true positives and the forged third as
// false positives.
func check(out json.RawMessage, real int) error {
	var resp events.APIGatewayProxyResponse
	if err := json.Unmarshal(out, &resp); err != nil {
		return err
	}
	if resp.StatusCode != 200 {
		return fmt.Errorf("status %d: %s", resp.StatusCode, resp.Body)
	}
	var labels []secretscan.Label
	if err := json.Unmarshal([]byte(resp.Body), &labels); err != nil {
		return err
	}
	n := 0
	for _, l := range labels {
		if l.Label == secretscan.TruePositive {
			n++
		}
	}
	if n != real {
		return fmt.Errorf("%d true positives, want %d", n, real)
	}
	return nil
}

// calls are the DynamoDB calls of one alert.
type calls struct {
	batchCalls, batchItems, getItems, queries, transactions int
}

// counting counts the calls the store makes on the real client.
type counting struct {
	*dynamodb.Client
	mu sync.Mutex
	c  calls
}

var _ store.DB = (*counting)(nil)

func (d *counting) count(f func(*calls)) {
	d.mu.Lock()
	defer d.mu.Unlock()
	f(&d.c)
}

func (d *counting) reset() { d.count(func(c *calls) { *c = calls{} }) }

func (d *counting) snapshot() (c calls) {
	d.count(func(cur *calls) { c = *cur })
	return c
}

func (d *counting) GetItem(ctx context.Context, in *dynamodb.GetItemInput, opts ...func(*dynamodb.Options)) (*dynamodb.GetItemOutput, error) {
	d.count(func(c *calls) { c.getItems++ })
	return d.Client.GetItem(ctx, in, opts...)
}

func (d *counting) BatchGetItem(ctx context.Context, in *dynamodb.BatchGetItemInput, opts ...func(*dynamodb.Options)) (*dynamodb.BatchGetItemOutput, error) {
	d.count(func(c *calls) {
		c.batchCalls++
		for _, ka := range in.RequestItems {
			c.batchItems += len(ka.Keys)
		}
	})
	return d.Client.BatchGetItem(ctx, in, opts...)
}

func (d *counting) Query(ctx context.Context, in *dynamodb.QueryInput, opts ...func(*dynamodb.Options)) (*dynamodb.QueryOutput, error) {
	d.count(func(c *calls) { c.queries++ })
	return d.Client.Query(ctx, in, opts...)
}

func (d *counting) TransactWriteItems(ctx context.Context, in *dynamodb.TransactWriteItemsInput, opts ...func(*dynamodb.Options)) (*dynamodb.TransactWriteItemsOutput, error) {
	d.count(func(c *calls) { c.transactions++ })
	return d.Client.TransactWriteItems(ctx, in, opts...)
}

func round(d time.Duration) time.Duration { return d.Round(100 * time.Microsecond) }

const alphabet = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"

func randomText(n int) string {
	var b strings.Builder
	for range n {
		i, _ := rand.Int(rand.Reader, big.NewInt(int64(len(alphabet))))
		b.WriteByte(alphabet[i.Int64()])
	}
	return b.String()
}
