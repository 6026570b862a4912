// Package notify delivers lifecycle events and e-mails: EventBridge
// PutEvents on one bus and Amazon SES (v2) SendEmail from one identity.
// It implements shared/lifecycle's Publisher and Mailer.
package notify

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/eventbridge"
	ebtypes "github.com/aws/aws-sdk-go-v2/service/eventbridge/types"
	"github.com/aws/aws-sdk-go-v2/service/sesv2"
	sestypes "github.com/aws/aws-sdk-go-v2/service/sesv2/types"
	"github.com/aws/smithy-go"
	"github.com/keygate/keygate/shared/lifecycle"
)

// EventsAPI is the part of the EventBridge client the publisher uses.
type EventsAPI interface {
	PutEvents(context.Context, *eventbridge.PutEventsInput, ...func(*eventbridge.Options)) (*eventbridge.PutEventsOutput, error)
}

// EventBridge publishes lifecycle events on one bus.
type EventBridge struct {
	api EventsAPI
	bus string
}

var _ lifecycle.Publisher = (*EventBridge)(nil)

// NewEventBridge returns a publisher on bus (a name or ARN).
func NewEventBridge(api EventsAPI, bus string) *EventBridge { return &EventBridge{api: api, bus: bus} }

// maxEntries is PutEvents' limit per call.
const maxEntries = 10

// Publish puts events in calls of up to ten entries. A failed call fails
// its entries; a failed entry (FailedEntryCount) fails only itself.
func (e *EventBridge) Publish(ctx context.Context, events []lifecycle.Event) []error {
	errs := make([]error, len(events))
	for start := 0; start < len(events); start += maxEntries {
		chunk := events[start:min(start+maxEntries, len(events))]
		entries := make([]ebtypes.PutEventsRequestEntry, len(chunk))
		for i, ev := range chunk {
			detail, err := json.Marshal(ev.Detail)
			if err != nil {
				errs[start+i] = err
				continue
			}
			entries[i] = ebtypes.PutEventsRequestEntry{
				EventBusName: aws.String(e.bus),
				Source:       aws.String(lifecycle.Source),
				DetailType:   aws.String(ev.DetailType),
				Detail:       aws.String(string(detail)),
				Time:         aws.Time(ev.Time),
			}
		}
		out, err := e.api.PutEvents(ctx, &eventbridge.PutEventsInput{Entries: entries})
		for i := range chunk {
			switch {
			case errs[start+i] != nil:
			case err != nil:
				errs[start+i] = err
			case i >= len(out.Entries):
				errs[start+i] = errors.New("PutEvents answered fewer entries than it was given")
			case out.Entries[i].ErrorCode != nil:
				errs[start+i] = fmt.Errorf("%s: %s", aws.ToString(out.Entries[i].ErrorCode), aws.ToString(out.Entries[i].ErrorMessage))
			}
		}
	}
	return errs
}

// EmailAPI is the part of the SES v2 client the mailer uses.
type EmailAPI interface {
	SendEmail(context.Context, *sesv2.SendEmailInput, ...func(*sesv2.Options)) (*sesv2.SendEmailOutput, error)
}

// SES sends e-mail from one verified identity, optionally through a
// configuration set (where bounces and complaints are routed).
type SES struct {
	api    EmailAPI
	from   string
	config string
}

var _ lifecycle.Mailer = (*SES)(nil)

// NewSES returns a mailer sending from from; configSet may be "".
func NewSES(api EmailAPI, from, configSet string) *SES {
	return &SES{api: api, from: from, config: configSet}
}

// rejected are SES errors that no retry fixes.
var rejected = map[string]bool{
	"MessageRejected": true, "MailFromDomainNotVerifiedException": true, "AccountSuspendedException": true,
	"SendingPausedException": true, "BadRequestException": true, "NotFoundException": true,
}

// Send sends m as plain text and HTML. Permanent refusals wrap
// lifecycle.ErrRejected.
func (s *SES) Send(ctx context.Context, m lifecycle.Mail) error {
	in := &sesv2.SendEmailInput{
		FromEmailAddress: aws.String(s.from),
		Destination:      &sestypes.Destination{ToAddresses: m.To},
		Content: &sestypes.EmailContent{Simple: &sestypes.Message{
			Subject: &sestypes.Content{Data: aws.String(m.Subject), Charset: aws.String("UTF-8")},
			Body: &sestypes.Body{
				Text: &sestypes.Content{Data: aws.String(m.Text), Charset: aws.String("UTF-8")},
				Html: &sestypes.Content{Data: aws.String(m.HTML), Charset: aws.String("UTF-8")},
			},
		}},
	}
	if s.config != "" {
		in.ConfigurationSetName = aws.String(s.config)
	}
	_, err := s.api.SendEmail(ctx, in)
	var api smithy.APIError
	if errors.As(err, &api) && rejected[api.ErrorCode()] {
		return fmt.Errorf("%w: %w", lifecycle.ErrRejected, err)
	}
	return err
}
