package notify_test

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/eventbridge"
	"github.com/aws/aws-sdk-go-v2/service/sesv2"
	"github.com/keygate/keygate/infra/motolocal"
	"github.com/keygate/keygate/shared/lifecycle"
	"github.com/keygate/keygate/shared/notify"
)

// TestEventBridgePublish: more events than one PutEvents call takes are
// all delivered, each with its source, detail type and detail; a bus that
// does not exist fails every event. Against moto's EventBridge.
func TestEventBridgePublish(t *testing.T) {
	endpoint := motolocal.Endpoint(t)
	bus := motolocal.NewBus(t, endpoint)
	at := time.Date(2026, 11, 23, 12, 0, 0, 0, time.UTC)
	var evs []lifecycle.Event
	for i := range 23 {
		evs = append(evs, lifecycle.Event{DetailType: lifecycle.KeyCreated, Time: at, Detail: lifecycle.Detail{
			EventID: fmt.Sprintf("ev%02d", i), Tenant: "acme", KeyID: fmt.Sprintf("key%02d", i), Action: "created", At: at,
		}})
	}
	client := eventbridge.NewFromConfig(motolocal.Config(endpoint))
	for i, err := range notify.NewEventBridge(client, bus.Name).Publish(context.Background(), evs) {
		if err != nil {
			t.Fatalf("event %d: %v", i, err)
		}
	}
	got := bus.Drain(t, time.Second)
	if len(got) != len(evs) {
		t.Fatalf("%d events delivered, want %d", len(got), len(evs))
	}
	for _, e := range got {
		if e.Source != "keygate" || e.DetailType != "key.created" || len(e.Detail) == 0 {
			t.Fatalf("event %+v", e)
		}
	}
	for i, err := range notify.NewEventBridge(client, "no-such-bus").Publish(context.Background(), evs[:12]) {
		if err == nil {
			t.Fatalf("event %d published on a bus that does not exist", i)
		}
	}
}

// TestSESSend: a verified sender's mail is accepted with both parts; an
// unverified sender is a permanent rejection (lifecycle.ErrRejected).
func TestSESSend(t *testing.T) {
	endpoint := motolocal.Endpoint(t)
	motolocal.VerifySender(t, endpoint, "keys@notify.example")
	client := sesv2.NewFromConfig(motolocal.Config(endpoint))
	m := lifecycle.Mail{To: []string{"ops@notify-test.example"}, Subject: "s", Text: "plain", HTML: "<p>html</p>"}
	if err := notify.NewSES(client, "keys@notify.example", "").Send(context.Background(), m); err != nil {
		t.Fatal(err)
	}
	var found bool
	for _, sent := range motolocal.SentMail(t, endpoint) {
		found = found || (sent.Source == "keys@notify.example" && sent.Body == "<p>html</p>" && sent.Subject == "s")
	}
	if !found {
		t.Fatal("moto did not receive the e-mail")
	}
	err := notify.NewSES(client, "nobody@unverified.example", "").Send(context.Background(), m)
	if !errors.Is(err, lifecycle.ErrRejected) {
		t.Fatalf("unverified sender: %v, want a rejection", err)
	}
}
