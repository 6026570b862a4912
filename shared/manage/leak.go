package manage

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/keygate/keygate/shared/keygate"
)

// ReasonLeaked is the "reason" detail of the revoked audit records a leak
// writes: the leaked key's own and, with the tenant's leak_cascade, its
// descendants' (beside cascade_from).
const ReasonLeaked = "leaked"

// ReportLeak acts on a report that r's token was found in public (a
// secret-scanning alert whose signature was checked, and whose token was
// checked against r's verifier, by the caller). l.At is set to the
// service's clock: alerts carry no time of their own.
//
// The first report of a key is recorded once (the key's leaked_at, a
// leaked audit record by keygate.ActorSecretScanning); under the tenant's
// leak action (keygate.Settings.LeakAction) "revoke", the default, the
// same transaction revokes the key (audit detail reason=leaked), and with
// leak_cascade every key minted from it, transitively, is revoked
// afterwards as a cascading revoke does (detail cascade_from and
// reason=leaked). Nobody's authority is checked: the alert is the
// authority, as an operator's IAM is. A key already revoked or expired
// gets the record but nothing else; under "notify" it stays as it is.
//
// It reports whether this call recorded the report. A repeated or
// replayed alert records nothing and is no error; if the first one
// revoked the key and its cascade did not finish (the alert failed and
// is being retried), the cascade is finished, which revokes only what
// it missed.
func (s *Service) ReportLeak(ctx context.Context, r *keygate.Record, l keygate.Leak) (bool, error) {
	set, err := s.store.Settings(ctx, r.Tenant)
	if err != nil {
		return false, fmt.Errorf("report leak of key %s: %w", r.ID, err)
	}
	if set.LeakAction == "" {
		set.LeakAction = keygate.LeakRevoke
	}
	now := s.cfg.Now().UTC().Truncate(time.Millisecond)
	l.At = now
	by := revoker{actor: keygate.ActorSecretScanning, reason: ReasonLeaked}
	audit := keygate.Audit{
		Action: keygate.ActionLeaked, KeyID: r.ID, Tenant: r.Tenant, Owner: r.Owner,
		Actor: keygate.ActorSecretScanning, RequestID: requestID(ctx), At: now,
		Detail: map[string]string{
			"url": l.URL, "source": l.Source, "type": l.Type, "reported_at": now.Format(time.RFC3339),
			"leak_action": set.LeakAction, "leak_cascade": strconv.FormatBool(set.LeakCascade),
		},
	}
	cascade := set.Revokes() && set.LeakCascade
	recorded, revoked, err := s.recordLeak(ctx, r, l, audit, set.Revokes(), by, now)
	switch {
	case err != nil:
		return false, fmt.Errorf("report leak of key %s: %w", r.ID, err)
	case !cascade || (recorded && !revoked):
		return recorded, nil
	}
	root := r
	if !recorded {
		// Reported before: finish that report's cascade if it revoked
		// the key (its revocation and its report share one instant).
		cur, err := s.store.GetKey(ctx, r.ID)
		switch {
		case keygate.ErrorCode(err) == keygate.NotFound:
			return false, nil
		case err != nil:
			return false, fmt.Errorf("report leak of key %s: %w", r.ID, err)
		case cur.Leaked == nil || cur.RevokedAt == nil || !cur.RevokedAt.Equal(cur.Leaked.At):
			return false, nil
		}
		root = cur
	}
	if _, err := s.cascade(ctx, by, nil, root, []string{root.ID}, nil, now); err != nil {
		return recorded, fmt.Errorf("report leak of key %s: %w", r.ID, err)
	}
	return recorded, nil
}

// recordLeak records the report of r (RecordLeak) and, if revoke and r is
// neither revoked nor expired, revokes it in the same transaction. A key
// revoked by someone else meanwhile is read again and its report recorded
// alone. It reports whether it recorded the report and whether it revoked
// the key.
func (s *Service) recordLeak(ctx context.Context, r *keygate.Record, l keygate.Leak, audit keygate.Audit, revoke bool, by revoker, now time.Time) (recorded, revoked bool, err error) {
	for attempt := 1; ; attempt++ {
		var rev *keygate.Revocation
		if st := r.StatusAt(now); revoke && st != keygate.Revoked && st != keygate.Expired {
			rev = &s.revocations(ctx, by, r.ID, []*keygate.Record{r}, now)[0]
		}
		recorded, err := s.store.RecordLeak(ctx, r, l, audit, rev, now)
		var changed *keygate.ChangedError
		if !errors.As(err, &changed) {
			return recorded, recorded && rev != nil, err
		}
		if attempt == maxRevokeRetries {
			return false, false, keygate.Errorf(keygate.Unavailable, "the key is being changed, try again")
		}
		if r, err = s.store.GetKey(ctx, r.ID); err != nil {
			if keygate.ErrorCode(err) == keygate.NotFound {
				return false, false, nil
			}
			return false, false, err
		}
	}
}
