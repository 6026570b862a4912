package lifecycle

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/keygate/keygate/shared/keygate"
)

// Store is what lifecycle needs from storage; shared/store implements it.
type Store interface {
	// GetKey reads a key (NotFound once DynamoDB removed it).
	GetKey(ctx context.Context, id string) (*keygate.Record, error)
	// RecordExpired writes an "expired" audit record unless it exists; it
	// reports whether it wrote.
	RecordExpired(ctx context.Context, a keygate.Audit) (bool, error)
	// ExpiringOn returns the keys whose expiry falls on day's UTC date.
	ExpiringOn(ctx context.Context, day time.Time) ([]*keygate.Record, error)
	// Claim records that the notification id was sent, unless it was
	// already: it reports whether this call claimed it. The claim is kept
	// until ttl (Unix seconds). Release undoes a claim whose sending failed.
	Claim(ctx context.Context, id string, ttl int64) (bool, error)
	Release(ctx context.Context, id string) error
	// Settings reads a tenant's settings (the zero value if it has none).
	Settings(ctx context.Context, tenant string) (keygate.Settings, error)
}

// Config configures the consumer and the reminders.
type Config struct {
	// ConsoleURL is the web console's address for links in e-mails
	// (CONSOLE_URL); empty: no link.
	ConsoleURL string
	// DefaultReminderDays are the reminder windows of tenants that set
	// none (REMINDER_DAYS, default 14 and 3).
	DefaultReminderDays []int
	// Now is the clock; nil is time.Now.
	Now func() time.Time
}

func (c Config) now() time.Time {
	if c.Now != nil {
		return c.Now()
	}
	return time.Now()
}

// deps is what the consumer and the daily run work with. mail may be nil:
// no e-mail is sent.
type deps struct {
	store Store
	pub   Publisher
	mail  Mailer
	cfg   Config
	log   *slog.Logger
}

// Consumer publishes changes.
type Consumer struct{ deps }

// NewConsumer returns a Consumer. Mailer may be nil: no e-mail is sent.
func NewConsumer(s Store, p Publisher, m Mailer, cfg Config, log *slog.Logger) *Consumer {
	return &Consumer{deps{s, p, m, cfg, log}}
}

// Process handles changes and returns each one's outcome: errs[i] is nil
// when changes[i] is done (published, or nothing to do). A failed change
// can be retried as a whole: every step is idempotent or carries a stable
// id.
func (c *Consumer) Process(ctx context.Context, changes []*keygate.Change) []error {
	errs := make([]error, len(changes))
	now := c.cfg.now()
	var batch []Event
	var owners []int // batch[j] belongs to changes[owners[j]]
	for i, ch := range changes {
		switch {
		case ch == nil:
		case ch.Expired != nil:
			// The "expired" audit record this writes comes back through
			// the stream as an INSERT and is published from there.
			if a, ok := ExpiredAudit(ch.Expired, "ttl"); ok {
				if _, err := c.store.RecordExpired(ctx, a); err != nil {
					errs[i] = err
				}
			}
		case ch.Audit != nil:
			info, err := c.keyInfo(ctx, ch.Audit.KeyID, now)
			if err != nil {
				errs[i] = err
				continue
			}
			if ev, ok := FromAudit(*ch.Audit, ch.AuditKey, info); ok {
				batch, owners = append(batch, ev), append(owners, i)
			}
		case ch.CreditsLow != nil:
			info, err := c.keyInfo(ctx, ch.CreditsLow.KeyID, now)
			if err != nil {
				errs[i] = err
				continue
			}
			batch, owners = append(batch, FromCreditsLow(ch.CreditsLow, info, now)), append(owners, i)
		}
	}
	if len(batch) == 0 {
		return errs
	}
	for j, err := range c.pub.Publish(ctx, batch) {
		i := owners[j]
		if err != nil {
			errs[i] = fmt.Errorf("publish %s %s: %w", batch[j].DetailType, batch[j].Detail.EventID, err)
			continue
		}
		if err := c.afterPublish(ctx, batch[j]); err != nil {
			errs[i] = err
		}
	}
	return errs
}

// keyInfo is a key's event metadata at now, nil once the key is gone.
func (c *Consumer) keyInfo(ctx context.Context, id string, now time.Time) (*KeyInfo, error) {
	r, err := c.store.GetKey(ctx, id)
	switch {
	case err == nil:
		return Info(&r.Key, now), nil
	case keygate.ErrorCode(err) == keygate.NotFound:
		return nil, nil
	}
	return nil, err
}

// afterPublish sends the e-mail an event calls for: a new service key
// tells the tenant's owner address; a leaked key tells its owner (if an
// address) and the tenant's owner address.
func (c *Consumer) afterPublish(ctx context.Context, ev Event) error {
	k := ev.Detail.Key
	leaked := ev.DetailType == KeyLeaked
	if c.mail == nil || k == nil || !(leaked || (ev.DetailType == KeyCreated && k.Type == keygate.Service)) {
		return nil
	}
	s, err := c.store.Settings(ctx, k.Tenant)
	if err != nil {
		return err
	}
	var m Mail
	if leaked {
		d := ev.Detail.Changes
		cascade := d["leak_action"] == keygate.LeakRevoke && d["leak_cascade"] == "true"
		m = LeakedMail(k, recipients(k.Owner, s), d["url"], d["source"], cascade, c.cfg.ConsoleURL)
	} else if s.OwnerEmail != "" {
		m = ServiceKeyMail(k, s.OwnerEmail, c.cfg.ConsoleURL)
	}
	if len(m.To) == 0 {
		return nil
	}
	return c.sendOnce(ctx, "mail:"+ev.Detail.EventID, ev.Time.Add(30*24*time.Hour).Unix(), m)
}

// recipients are who hears about a key: its owner when the owner is an
// e-mail address, and the tenant's owner address, each once.
func recipients(owner string, s keygate.Settings) []string {
	var to []string
	if keygate.ValidEmail(owner) {
		to = append(to, owner)
	}
	if s.OwnerEmail != "" && s.OwnerEmail != owner {
		to = append(to, s.OwnerEmail)
	}
	return to
}

// sendOnce sends m unless the claim id says it was sent. A permanent
// rejection is logged and counts as done; any other failure releases the
// claim and is returned, so a retry sends it.
func (c *Consumer) sendOnce(ctx context.Context, id string, ttl int64, m Mail) error {
	return sendOnce(ctx, c.store, c.mail, c.log, id, ttl, m)
}

func sendOnce(ctx context.Context, s Store, mailer Mailer, log *slog.Logger, id string, ttl int64, m Mail) error {
	claimed, err := s.Claim(ctx, id, ttl)
	if err != nil || !claimed {
		return err
	}
	err = mailer.Send(ctx, m)
	switch {
	case err == nil:
		return nil
	case errors.Is(err, ErrRejected):
		log.Warn("e-mail rejected", "notification", id, "error", err.Error())
		return nil
	}
	if rerr := s.Release(ctx, id); rerr != nil {
		return errors.Join(err, rerr)
	}
	return err
}

// Decoder turns a stream record into a keygate.Change; nil for a record lifecycle
// has nothing to do with. shared/store's DecodeChange is the one.
type Decoder func(events.DynamoDBEventRecord) (*keygate.Change, error)

// StreamHandler is the Lambda handler of the table's stream.
type StreamHandler struct {
	decode   Decoder
	consumer *Consumer
	log      *slog.Logger
}

// NewStreamHandler returns the stream handler.
func NewStreamHandler(decode Decoder, c *Consumer, log *slog.Logger) *StreamHandler {
	return &StreamHandler{decode: decode, consumer: c, log: log}
}

// Handle processes a batch and reports the records that failed
// (ReportBatchItemFailures): Lambda retries from the first of them, and
// after the event source mapping's retries sends the batch's description
// to the on-failure destination. It never returns an error, so one bad
// record never fails the others.
//
// aws-lambda-go decodes ev with encoding/json, tolerantly, and that is
// deliberate: DynamoDB Streams writes these records and AWS adds fields to
// them over time, which strict decoding (shared/strictjson, for what
// people write) would turn into failed batches.
func (h *StreamHandler) Handle(ctx context.Context, ev events.DynamoDBEvent) (events.DynamoDBEventResponse, error) {
	resp := events.DynamoDBEventResponse{BatchItemFailures: []events.DynamoDBBatchItemFailure{}}
	changes := make([]*keygate.Change, len(ev.Records))
	failed := make([]error, len(ev.Records))
	var todo []*keygate.Change
	var idx []int
	for i, rec := range ev.Records {
		ch, err := h.decode(rec)
		if err != nil {
			failed[i] = err
			continue
		}
		changes[i] = ch
		if ch != nil {
			todo, idx = append(todo, ch), append(idx, i)
		}
	}
	for j, err := range h.consumer.Process(ctx, todo) {
		failed[idx[j]] = err
	}
	published := 0
	for i, err := range failed {
		rec := ev.Records[i]
		if err != nil {
			h.log.Error("stream record failed", "event_id", rec.EventID, "event_name", rec.EventName,
				"sequence_number", rec.Change.SequenceNumber, "error", err.Error())
			resp.BatchItemFailures = append(resp.BatchItemFailures, events.DynamoDBBatchItemFailure{ItemIdentifier: rec.Change.SequenceNumber})
		} else if changes[i] != nil {
			published++
		}
	}
	h.log.Info("stream batch", "records", len(ev.Records), "handled", published, "failed", len(resp.BatchItemFailures))
	return resp, nil
}
