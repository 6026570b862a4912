// Command lifecycle runs Keygate's lifecycle functions locally: it reads
// the stream of the table at $DYNAMODB_ENDPOINT ($TABLE_NAME, default
// keygate) through the DynamoDB Streams API, runs the real stream
// handler (shared/setup's StreamHandler) on it, once a second, against a
// moto_server it starts as EventBridge and SES (installing moto if
// needed), and prints every event the bus delivered and every e-mail SES
// accepted. It runs the daily reminder run once at start. make run-events
// runs it next to make run's stack:
//
//	DYNAMODB_ENDPOINT=http://127.0.0.1:8000 go run ./infra/cmd/lifecycle
package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/keygate/keygate/infra/cli"
	"github.com/keygate/keygate/infra/motolocal"
	"github.com/keygate/keygate/infra/streamtest"
	"github.com/keygate/keygate/shared/setup/eventsetup"
	"github.com/keygate/keygate/shared/store"
)

const sender = "keys@keygate.local"

func main() { cli.Main("lifecycle", run) }

func run(ctx context.Context) error {
	endpoint := os.Getenv("DYNAMODB_ENDPOINT")
	if endpoint == "" {
		return fmt.Errorf("DYNAMODB_ENDPOINT is required (make run-events sets it)")
	}
	moto, err := motolocal.Start(ctx, io.Discard)
	if err != nil {
		return err
	}
	defer moto.Stop()
	bus, err := motolocal.CreateBus(ctx, moto.Endpoint)
	if err != nil {
		return err
	}
	if err := motolocal.Verify(ctx, moto.Endpoint, sender); err != nil {
		return err
	}
	vars := map[string]string{
		"TABLE_NAME": "keygate", "EVENT_BUS_NAME": bus.Name, "EMAIL_SENDER": sender,
		"CONSOLE_URL":                  "http://127.0.0.1:3000/console",
		"AWS_ENDPOINT_URL_EVENTBRIDGE": moto.Endpoint, "AWS_ENDPOINT_URL_SESV2": moto.Endpoint,
	}
	getenv := func(k string) string {
		if v, ok := vars[k]; ok && (k != "TABLE_NAME" || os.Getenv(k) == "") {
			return v
		}
		return os.Getenv(k)
	}
	env, err := eventsetup.Load(getenv, os.Stderr)
	if err != nil {
		return err
	}
	if err := store.EnsureTable(ctx, env.DynamoDB, env.Env.TableName); err != nil {
		return err
	}
	reader, err := streamtest.Open(ctx, env.DynamoDB, endpoint, env.Env.TableName)
	if err != nil {
		return err
	}
	fmt.Fprintf(os.Stderr, "lifecycle: watching the stream of %s; events go to moto's EventBridge (%s)\n", env.Env.TableName, moto.Endpoint)
	if _, err := env.Reminders().Run(ctx); err != nil {
		fmt.Fprintln(os.Stderr, "lifecycle: reminders:", err)
	}
	handler := env.StreamHandler()
	mailed := map[string]bool{}
	tick := time.NewTicker(time.Second)
	defer tick.Stop()
	for {
		recs, err := reader.Next(ctx)
		if err != nil && ctx.Err() == nil {
			return err
		}
		if len(recs) > 0 {
			if _, err := handler.Handle(ctx, events.DynamoDBEvent{Records: recs}); err != nil {
				return err
			}
		}
		for {
			evs, err := bus.Receive(ctx)
			if err != nil || len(evs) == 0 {
				break
			}
			for _, e := range evs {
				fmt.Printf("event %s %s\n", e.DetailType, e.Detail)
			}
		}
		if mails, err := motolocal.Sent(moto.Endpoint); err == nil {
			for _, m := range mails {
				if !mailed[m.ID] {
					mailed[m.ID] = true
					to, _ := json.Marshal(m.Destinations["ToAddresses"])
					fmt.Printf("e-mail to %s: %s\n", to, m.Subject)
				}
			}
		}
		select {
		case <-ctx.Done():
			return nil
		case <-tick.C:
		}
	}
}
