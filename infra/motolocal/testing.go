package motolocal

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"os"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/eventbridge"
	ebtypes "github.com/aws/aws-sdk-go-v2/service/eventbridge/types"
	"github.com/aws/aws-sdk-go-v2/service/sesv2"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	sqstypes "github.com/aws/aws-sdk-go-v2/service/sqs/types"

	"github.com/keygate/keygate/infra/testkit"
)

var server = testkit.Server{Name: "moto_server", Env: "MOTO_ENDPOINT", Start: start}

func start() (string, error) {
	// Its request log is noise in test output; it goes to a file.
	log, err := os.CreateTemp("", "moto-server-*.log")
	if err != nil {
		return "", err
	}
	srv, err := Start(context.Background(), log)
	if err != nil {
		return "", err
	}
	return srv.Endpoint, nil
}

// Endpoint is moto's endpoint for tests: $MOTO_ENDPOINT, else a server
// started once for the test process (installing moto if needed).
func Endpoint(t testing.TB) string {
	t.Helper()
	return server.Endpoint(t)
}

// Config is an AWS configuration for moto at endpoint.
func Config(endpoint string) aws.Config {
	return aws.Config{
		Region:       "us-east-1",
		BaseEndpoint: aws.String(endpoint),
		Credentials:  credentials.NewStaticCredentialsProvider("moto", "moto", ""),
	}
}

func unique(prefix string) string {
	var b [6]byte
	_, _ = rand.Read(b[:])
	return prefix + hex.EncodeToString(b[:])
}

// Bus is an event bus in moto whose keygate events are forwarded to an SQS
// queue by a rule, so a test reads what was published.
type Bus struct {
	Name     string
	QueueURL string
	sqs      *sqs.Client
}

// NewBus creates a bus, a queue and a rule forwarding every event of
// source keygate from the bus to the queue.
func NewBus(t testing.TB, endpoint string) *Bus {
	t.Helper()
	b, err := CreateBus(context.Background(), endpoint)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// CreateBus is NewBus outside tests.
func CreateBus(ctx context.Context, endpoint string) (*Bus, error) {
	cfg := Config(endpoint)
	eb, q := eventbridge.NewFromConfig(cfg), sqs.NewFromConfig(cfg)
	b := &Bus{Name: unique("keygate-"), sqs: q}
	// The name is this call's own, so "already exists" means the SDK
	// retried a create that had succeeded (moto answered slowly).
	var exists *ebtypes.ResourceAlreadyExistsException
	if _, err := eb.CreateEventBus(ctx, &eventbridge.CreateEventBusInput{Name: &b.Name}); err != nil && !errors.As(err, &exists) {
		return nil, fmt.Errorf("create bus: %w", err)
	}
	qo, err := q.CreateQueue(ctx, &sqs.CreateQueueInput{QueueName: &b.Name})
	if err != nil {
		return nil, fmt.Errorf("create queue: %w", err)
	}
	b.QueueURL = *qo.QueueUrl
	attrs, err := q.GetQueueAttributes(ctx, &sqs.GetQueueAttributesInput{QueueUrl: qo.QueueUrl, AttributeNames: []sqstypes.QueueAttributeName{sqstypes.QueueAttributeNameQueueArn}})
	if err != nil {
		return nil, fmt.Errorf("queue arn: %w", err)
	}
	if _, err := eb.PutRule(ctx, &eventbridge.PutRuleInput{Name: aws.String("all"), EventBusName: &b.Name,
		EventPattern: aws.String(`{"source":["keygate"]}`)}); err != nil {
		return nil, fmt.Errorf("put rule: %w", err)
	}
	if _, err := eb.PutTargets(ctx, &eventbridge.PutTargetsInput{Rule: aws.String("all"), EventBusName: &b.Name,
		Targets: []ebtypes.Target{{Id: aws.String("queue"), Arn: aws.String(attrs.Attributes["QueueArn"])}}}); err != nil {
		return nil, fmt.Errorf("put targets: %w", err)
	}
	return b, nil
}

// Envelope is an event as EventBridge delivers it.
type Envelope struct {
	ID         string          `json:"id"`
	Source     string          `json:"source"`
	DetailType string          `json:"detail-type"`
	Time       string          `json:"time"`
	Detail     json.RawMessage `json:"detail"`
}

// Drain returns every event the bus delivered to its queue so far (it
// waits up to wait for the first), deleting them from the queue.
func (b *Bus) Drain(t testing.TB, wait time.Duration) []Envelope {
	t.Helper()
	deadline := time.Now().Add(wait)
	var out []Envelope
	for {
		got, err := b.Receive(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, got...)
		if len(got) == 0 && (len(out) > 0 || time.Now().After(deadline)) {
			return out
		}
		if len(got) == 0 {
			time.Sleep(50 * time.Millisecond)
		}
	}
}

// Receive returns up to ten events waiting in the queue, deleting them.
func (b *Bus) Receive(ctx context.Context) ([]Envelope, error) {
	res, err := b.sqs.ReceiveMessage(ctx, &sqs.ReceiveMessageInput{QueueUrl: &b.QueueURL, MaxNumberOfMessages: 10})
	if err != nil {
		return nil, fmt.Errorf("receive: %w", err)
	}
	var out []Envelope
	for _, m := range res.Messages {
		var e Envelope
		if err := json.Unmarshal([]byte(aws.ToString(m.Body)), &e); err != nil {
			return nil, fmt.Errorf("event %q: %w", aws.ToString(m.Body), err)
		}
		out = append(out, e)
		if _, err := b.sqs.DeleteMessage(ctx, &sqs.DeleteMessageInput{QueueUrl: &b.QueueURL, ReceiptHandle: m.ReceiptHandle}); err != nil {
			return nil, fmt.Errorf("delete: %w", err)
		}
	}
	return out, nil
}

// VerifySender makes addr (an address or a domain) a verified SES
// identity in moto, as SES requires of a sender.
func VerifySender(t testing.TB, endpoint, addr string) {
	t.Helper()
	if err := Verify(context.Background(), endpoint, addr); err != nil {
		t.Fatal(err)
	}
}

// Verify is VerifySender outside tests.
func Verify(ctx context.Context, endpoint, addr string) error {
	if _, err := sesv2.NewFromConfig(Config(endpoint)).CreateEmailIdentity(ctx,
		&sesv2.CreateEmailIdentityInput{EmailIdentity: &addr}); err != nil {
		return fmt.Errorf("verify %s: %w", addr, err)
	}
	return nil
}

// Mail is an e-mail moto accepted (moto keeps the HTML body when there is
// one).
type Mail struct {
	ID           string              `json:"id"`
	Source       string              `json:"source"`
	Subject      string              `json:"subject"`
	Body         string              `json:"body"`
	Destinations map[string][]string `json:"destinations"`
}

// SentMail returns every e-mail moto's SES accepted, from its
// /moto-api/data.json.
func SentMail(t testing.TB, endpoint string) []Mail {
	t.Helper()
	m, err := Sent(endpoint)
	if err != nil {
		t.Fatal(err)
	}
	return m
}

// Sent is SentMail outside tests.
func Sent(endpoint string) ([]Mail, error) {
	resp, err := http.Get(endpoint + "/moto-api/data.json")
	if err != nil {
		return nil, fmt.Errorf("moto data: %w", err)
	}
	defer resp.Body.Close()
	var data struct {
		SES struct {
			Message []Mail `json:"Message"`
		} `json:"ses"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&data); err != nil {
		return nil, fmt.Errorf("moto data: %w", err)
	}
	return data.SES.Message, nil
}

// ClosedEndpoint is an address nothing listens on, for failure tests.
func ClosedEndpoint() string { return fmt.Sprintf("http://127.0.0.1:%d", 1) }
