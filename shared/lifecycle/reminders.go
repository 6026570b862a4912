package lifecycle

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"time"

	"github.com/keygate/keygate/shared/keygate"
)

const day = 24 * time.Hour

// Reminders is the daily run: it records the expiry of keys whose time
// ran out (published as key.expired through the stream) and sends
// key.expiring once per key and reminder window, with e-mails. It reads
// only the expiry-day partitions of GSI2 from yesterday to
// keygate.MaxReminderDays ahead, never the whole table.
type Reminders struct{ deps }

// NewReminders returns the daily run. Mailer may be nil.
func NewReminders(s Store, p Publisher, m Mailer, cfg Config, log *slog.Logger) *Reminders {
	return &Reminders{deps{s, p, m, cfg, log}}
}

// Report is what a run did.
type Report struct {
	Expired  int `json:"expired"`
	Expiring int `json:"expiring"`
	Mails    int `json:"mails"`
	Failed   int `json:"failed"`
}

// Run does one daily run at the configured clock's now. It takes no event:
// the scheduler's (written by AWS, which adds fields to it over time) is
// not read at all, so nothing in it can fail a run or change what it does.
func (r *Reminders) Run(ctx context.Context) (Report, error) {
	now := r.cfg.now()
	var rep Report
	var errs []error
	fail := func(err error) {
		rep.Failed++
		errs = append(errs, err)
	}
	settings := map[string]keygate.Settings{}
	for d := -1; d <= keygate.MaxReminderDays; d++ {
		keys, err := r.store.ExpiringOn(ctx, now.Add(time.Duration(d)*day))
		if err != nil {
			fail(err)
			continue
		}
		for _, k := range keys {
			switch k.StatusAt(now) {
			case keygate.Expired:
				if a, ok := ExpiredAudit(k, "expiry"); ok {
					wrote, err := r.store.RecordExpired(ctx, a)
					if err != nil {
						fail(err)
					} else if wrote {
						rep.Expired++
					}
				}
			case keygate.Active:
				s, ok := settings[k.Tenant]
				if !ok {
					if s, err = r.store.Settings(ctx, k.Tenant); err != nil {
						fail(err)
						continue
					}
					settings[k.Tenant] = s
				}
				mails, sent, err := r.remind(ctx, k, s, now)
				if err != nil {
					fail(err)
				}
				rep.Mails += mails
				if sent {
					rep.Expiring++
				}
			}
		}
	}
	r.log.Info("reminders run", "expired", rep.Expired, "expiring", rep.Expiring, "mails", rep.Mails, "failed", rep.Failed)
	return rep, errors.Join(errs...)
}

// Window is the reminder window k is in at now: the smallest of windows
// (days, smallest first) that its remaining time fits, 0 if none.
func Window(expires, now time.Time, windows []int) int {
	left := expires.Sub(now)
	for _, w := range windows {
		if left <= time.Duration(w)*day {
			return w
		}
	}
	return 0
}

// remind sends k's reminder for its current window unless it was sent:
// the claim (REMIND item) makes it once per key, window and expiry, and is
// released if publishing fails so that the next run tries again.
func (r *Reminders) remind(ctx context.Context, k *keygate.Record, s keygate.Settings, now time.Time) (mails int, sent bool, err error) {
	w := Window(*k.ExpiresAt, now, s.Windows(r.cfg.DefaultReminderDays))
	if w == 0 {
		return 0, false, nil
	}
	exp := formatExpiry(*k.ExpiresAt)
	claim := "remind:" + k.ID + ":" + strconv.Itoa(w) + ":" + exp
	ttl := k.ExpiresAt.Add(30 * day).Unix()
	claimed, err := r.store.Claim(ctx, claim, ttl)
	if err != nil || !claimed {
		return 0, false, err
	}
	info := Info(&k.Key, now)
	ev := Event{DetailType: KeyExpiring, Time: now, Detail: Detail{
		EventID: EventID("expiring", k.ID, strconv.Itoa(w), exp), Tenant: k.Tenant, KeyID: k.ID, Action: "expiring",
		At: now, Changes: map[string]string{"expires_at": exp}, Key: info, WindowDays: w,
	}}
	if perr := r.pub.Publish(ctx, []Event{ev})[0]; perr != nil {
		err = fmt.Errorf("publish key.expiring of %s: %w", k.ID, perr)
		if rerr := r.store.Release(ctx, claim); rerr != nil {
			err = errors.Join(err, rerr)
		}
		return 0, false, err
	}
	if r.mail == nil {
		return 0, true, nil
	}
	to := recipients(k.Owner, s)
	if len(to) == 0 {
		return 0, true, nil
	}
	if err := sendOnce(ctx, r.store, r.mail, r.log, "mail:"+ev.Detail.EventID, ttl, ExpiringMail(info, to, w, r.cfg.ConsoleURL)); err != nil {
		// Let the next run try again (the event id stays the same).
		err = fmt.Errorf("e-mail reminder of %s: %w", k.ID, err)
		if rerr := r.store.Release(ctx, claim); rerr != nil {
			err = errors.Join(err, rerr)
		}
		return 0, true, err
	}
	return len(to), true, nil
}

func formatExpiry(t time.Time) string { return t.UTC().Format("2006-01-02T15:04:05.000Z") }
