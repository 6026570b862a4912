package lifecycle_test

import (
	"context"
	"encoding/json"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	ddbtypes "github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/aws/aws-sdk-go-v2/service/eventbridge"
	"github.com/aws/aws-sdk-go-v2/service/sesv2"
	"github.com/keygate/keygate/infra/dynamotest"
	"github.com/keygate/keygate/infra/motolocal"
	"github.com/keygate/keygate/infra/streamtest"
	"github.com/keygate/keygate/infra/testkit"
	"github.com/keygate/keygate/shared/apikey"
	"github.com/keygate/keygate/shared/keygate"
	"github.com/keygate/keygate/shared/lifecycle"
	"github.com/keygate/keygate/shared/manage"
	"github.com/keygate/keygate/shared/notify"
	"github.com/keygate/keygate/shared/store"
)

const sender = "keys@keygate.example"

// fixture is one DynamoDB Local table with its stream, the key management
// service on it, and a moto EventBridge bus (forwarded to an SQS queue)
// and SES.
type fixture struct {
	db      *dynamodb.Client
	table   string
	svc     *manage.Service
	store   *store.Lifecycle
	clock   *testkit.Clock
	moto    string
	bus     *motolocal.Bus
	stream  *streamtest.Reader
	logs    *testkit.Buffer
	cfg     lifecycle.Config
	tokens  []string
	handler *lifecycle.StreamHandler
	// seen is every event delivered, checked against docs/events at the
	// end of the test.
	seen []motolocal.Envelope
}

var operator = keygate.Caller{Operator: true}

func newFixture(t *testing.T) *fixture {
	t.Helper()
	f := &fixture{logs: &testkit.Buffer{}}
	f.db, f.table = dynamotest.NewTable(t)
	f.moto = motolocal.Endpoint(t)
	f.bus = motolocal.NewBus(t, f.moto)
	motolocal.VerifySender(t, f.moto, sender)
	format, hasher := testkit.Tokens(t)
	f.clock = testkit.NewClock(time.Date(2026, 11, 23, 12, 0, 0, 0, time.UTC))
	f.svc = manage.New(store.New(f.db, f.table), manage.Config{
		Format: format, Hasher: hasher, DefaultTTL: 90 * 24 * time.Hour, Retention: 30 * 24 * time.Hour,
		MaxUserKeys: 10, MaxServiceKeys: 5, Now: f.clock.Now,
	})
	f.store = store.NewLifecycle(f.db, f.table)
	f.stream = streamtest.NewReader(t, f.db, dynamotest.Endpoint(t), f.table)
	f.cfg = lifecycle.Config{ConsoleURL: "https://keys.example.com/console", DefaultReminderDays: []int{14, 3}, Now: f.clock.Now}
	f.handler = f.handlerOn(f.moto, f.bus.Name)
	t.Cleanup(func() { validate(t, f.seen) })
	return f
}

// handlerOn is the stream handler publishing to bus at endpoint.
func (f *fixture) handlerOn(endpoint, bus string) *lifecycle.StreamHandler {
	cfg := motolocal.Config(endpoint)
	cfg.RetryMaxAttempts = 1
	pub := notify.NewEventBridge(eventbridge.NewFromConfig(cfg), bus)
	mail := notify.NewSES(sesv2.NewFromConfig(motolocal.Config(f.moto)), sender, "")
	c := lifecycle.NewConsumer(f.store, pub, mail, f.cfg, slog.New(slog.NewJSONHandler(f.logs, nil)))
	return lifecycle.NewStreamHandler(store.DecodeChange, c, slog.New(slog.NewJSONHandler(f.logs, nil)))
}

func (f *fixture) reminders() *lifecycle.Reminders {
	pub := notify.NewEventBridge(eventbridge.NewFromConfig(motolocal.Config(f.moto)), f.bus.Name)
	mail := notify.NewSES(sesv2.NewFromConfig(motolocal.Config(f.moto)), sender, "")
	return lifecycle.NewReminders(f.store, pub, mail, f.cfg, slog.New(slog.NewJSONHandler(f.logs, nil)))
}

func (f *fixture) create(t *testing.T, req manage.CreateRequest) *manage.Created {
	t.Helper()
	if req.Tenant == "" {
		req.Tenant = "acme"
	}
	if req.APIs == nil {
		req.APIs = []string{"*"}
	}
	k, err := f.svc.Create(context.Background(), operator, req)
	if err != nil {
		t.Fatal(err)
	}
	f.tokens = append(f.tokens, k.Token.Reveal())
	return k
}

// handle runs the stream handler on records and returns the failed
// sequence numbers.
func (f *fixture) handle(t *testing.T, h *lifecycle.StreamHandler, records []events.DynamoDBEventRecord) []string {
	t.Helper()
	resp, err := h.Handle(context.Background(), events.DynamoDBEvent{Records: records})
	if err != nil {
		t.Fatalf("Handle returned an error: %v", err)
	}
	failed := []string{}
	for _, f := range resp.BatchItemFailures {
		failed = append(failed, f.ItemIdentifier)
	}
	return failed
}

// published is what an event's detail says, decoded. The wire shape
// itself is checked against docs/events' schemas (validate).
type published struct {
	motolocal.Envelope
	D lifecycle.Detail
}

// drain reads the events the bus delivered, checking that none carries a
// secret.
func (f *fixture) drain(t *testing.T) []published {
	t.Helper()
	var out []published
	for _, e := range f.bus.Drain(t, 300*time.Millisecond) {
		raw := string(e.Detail)
		for _, tok := range f.tokens {
			body := strings.TrimPrefix(tok, apikey.DefaultPrefix)
			if strings.Contains(raw, body[:20]) || strings.Contains(raw, body[len(body)-20:]) {
				t.Fatalf("event %s carries a token: %s", e.DetailType, raw)
			}
		}
		if strings.Contains(raw, "verifier") || strings.Contains(raw, "hmac-sha256$") {
			t.Fatalf("event %s carries a verifier: %s", e.DetailType, raw)
		}
		f.seen = append(f.seen, e)
		p := published{Envelope: e}
		var d map[string]json.RawMessage
		if err := json.Unmarshal(e.Detail, &d); err != nil {
			t.Fatal(err)
		}
		if err := json.Unmarshal(e.Detail, &p.D); err != nil {
			t.Fatal(err)
		}
		if e.Source != lifecycle.Source || p.D.EventID == "" || p.D.Tenant == "" || p.D.KeyID == "" {
			t.Fatalf("event lacks source, id, tenant or key: %s %s", e.Source, raw)
		}
		out = append(out, p)
	}
	return out
}

// mailTo returns the e-mails moto accepted for address to.
func (f *fixture) mailTo(t *testing.T, to string) []motolocal.Mail {
	t.Helper()
	var out []motolocal.Mail
	for _, m := range motolocal.SentMail(t, f.moto) {
		for _, d := range m.Destinations["ToAddresses"] {
			if d == to {
				out = append(out, m)
			}
		}
	}
	return out
}

func (f *fixture) deleteKey(t *testing.T, id string) {
	t.Helper()
	_, err := f.db.DeleteItem(context.Background(), &dynamodb.DeleteItemInput{TableName: &f.table, Key: map[string]ddbtypes.AttributeValue{
		"pk": &ddbtypes.AttributeValueMemberS{Value: "KEY#" + id}, "sk": &ddbtypes.AttributeValueMemberS{Value: "KEY"},
	}})
	if err != nil {
		t.Fatal(err)
	}
}
