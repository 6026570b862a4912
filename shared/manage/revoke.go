package manage

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/keygate/keygate/shared/keygate"
)

// RevokeRequest names the key to revoke. Tenant is for operators only.
// With Cascade, every key minted from it, transitively, is revoked too.
type RevokeRequest struct {
	Tenant  string
	ID      string
	Cascade bool
}

// Revoked is the revoked key's metadata and, for a cascade, the IDs of the
// descendants this call revoked.
type Revoked struct {
	keygate.Key
	RevokedDescendants []string `json:"revoked_descendants,omitempty"`
}

// maxRevokeRetries bounds the re-reads when keys of a cascade are revoked
// by someone else meanwhile.
const maxRevokeRetries = 5

// Revoke revokes a key, and with req.Cascade its descendants. Revoking a
// revoked key changes nothing and is not an error (a cascade still reaches
// descendants that are not yet revoked).
//
// A cascade first checks, on one listing, that the caller covers every
// unrevoked descendant (else 403, nothing written), revokes the root on
// its own, then lists the descendants again (lineages, see descendants)
// and revokes the unrevoked ones in atomic batches (the store's
// transactions), with an audit record per key (detail cascade_from),
// pass after pass until one finds none left. A descendant that appears
// only in a later pass (GSI1 lags) and that the caller does not cover
// stops the cascade with 403 after the root and earlier batches were
// revoked.
func (s *Service) Revoke(ctx context.Context, c keygate.Caller, req RevokeRequest) (*Revoked, error) {
	now := s.cfg.Now().UTC().Truncate(time.Millisecond)
	c, actor, err := s.authority(ctx, c, now)
	if err != nil {
		return nil, err
	}
	r, err := s.coverable(ctx, c, actor, req.Tenant, req.ID, "revoke")
	if err != nil {
		return nil, err
	}
	if req.Cascade {
		// Refuse before writing anything if the lineage holds a key the
		// caller does not cover (it may have narrowed its own scopes since
		// it minted them).
		desc, err := s.descendants(ctx, r)
		if err != nil {
			return nil, fmt.Errorf("revoke key %s: %w", r.ID, err)
		}
		for _, d := range desc {
			if ok, err := covers(c, &d.Key); d.RevokedAt == nil && (err != nil || !ok) {
				return nil, keygate.Errorf(keygate.Forbidden, "descendant %s is wider than the calling key: cascade with a key that covers it", d.ID)
			}
		}
	}
	// The root first: once it is revoked it mints nothing more (the store
	// checks a minting key is active), so the listing below can only grow
	// by keys committed before that, which repeated passes catch even
	// while GSI1 lags.
	by := revoker{actor: c.Name()}
	revoked, err := s.revokeAll(ctx, by, actor, r.ID, []*keygate.Record{r}, now)
	if err != nil {
		return nil, err
	}
	if req.Cascade {
		// Children are minted within their creator's scopes, but a key may
		// have narrowed its own since: it still revokes only keys it
		// covers.
		allow := func(d *keygate.Record) error {
			if ok, err := covers(c, &d.Key); err != nil || !ok {
				return keygate.Errorf(keygate.Forbidden, "key %s was revoked, but its descendant %s is wider than the calling key: revoke it with a key that covers it", r.ID, d.ID)
			}
			return nil
		}
		if revoked, err = s.cascade(ctx, by, actor, r, revoked, allow, now); err != nil {
			return nil, err
		}
	}
	root, err := s.store.GetKey(ctx, r.ID)
	if err != nil {
		return nil, fmt.Errorf("revoke key %s: %w", r.ID, err)
	}
	out := &Revoked{Key: s.view(root, s.cfg.Now())}
	for _, id := range revoked {
		if id != r.ID {
			out.RevokedDescendants = append(out.RevokedDescendants, id)
		}
	}
	return out, nil
}

// maxCascadePasses bounds the listings of one cascade.
const maxCascadePasses = 5

// cascade revokes root's unrevoked descendants (see descendants) after
// root itself, pass after pass until one finds none left, and returns
// revoked (the IDs revoked so far) with the ones it revoked. allow, if
// set, is asked about every descendant of a pass before the pass writes
// anything; its error stops the cascade. actor is the acting key as read
// (nil for an operator or an alert).
func (s *Service) cascade(ctx context.Context, by revoker, actor, root *keygate.Record, revoked []string, allow func(*keygate.Record) error, now time.Time) ([]string, error) {
	for pass := 0; pass < maxCascadePasses; pass++ {
		desc, err := s.descendants(ctx, root)
		if err != nil {
			return revoked, fmt.Errorf("revoke key %s: %w", root.ID, err)
		}
		var pending []*keygate.Record
		for _, d := range desc {
			if d.RevokedAt == nil && !slices.Contains(revoked, d.ID) {
				pending = append(pending, d)
			}
		}
		if len(pending) == 0 {
			break
		}
		for _, d := range pending {
			if allow != nil {
				if err := allow(d); err != nil {
					return revoked, err
				}
			}
		}
		if actor != nil && slices.Contains(revoked, actor.ID) {
			// The calling key revoked itself in an earlier batch of this
			// cascade, conditioned on its item as read: the rest of the
			// cascade is that same decision, and only takes power away.
			actor = nil
		}
		done, err := s.revokeAll(ctx, by, actor, root.ID, pending, now)
		revoked = append(revoked, done...)
		if err != nil {
			return revoked, err
		}
	}
	return revoked, nil
}

// revoker is who revokes, and why, as the audit records say: the actor
// (keygate.Caller.Name, or keygate.ActorSecretScanning) and, if set, a
// reason (detail "reason").
type revoker struct {
	actor, reason string
}

// revokeAll revokes the unrevoked keys of targets in atomic batches,
// reading again and leaving out any that someone else revoked meanwhile,
// and returns the IDs it revoked.
//
// The acting key, if it is among targets, goes last: once it is revoked it
// acts on nothing more.
func (s *Service) revokeAll(ctx context.Context, by revoker, actor *keygate.Record, rootID string, targets []*keygate.Record, now time.Time) ([]string, error) {
	if actor != nil {
		if i := slices.IndexFunc(targets, func(t *keygate.Record) bool { return t.ID == actor.ID }); i >= 0 {
			targets = append(slices.Delete(slices.Clone(targets), i, i+1), actor)
		}
	}
	var revoked []string
	for attempt := 0; ; attempt++ {
		pending := make([]*keygate.Record, 0, len(targets))
		for _, t := range targets {
			if t.RevokedAt == nil && !slices.Contains(revoked, t.ID) {
				pending = append(pending, t)
			}
		}
		if len(pending) == 0 {
			return revoked, nil
		}
		done, err := s.store.RevokeKeys(ctx, now, s.revocations(ctx, by, rootID, pending, now), actor)
		revoked = append(revoked, done...)
		var changed *keygate.ChangedError
		if !errors.As(err, &changed) {
			if err != nil {
				return revoked, fmt.Errorf("revoke key %s: %w", rootID, err)
			}
			return revoked, nil
		}
		if attempt+1 >= maxRevokeRetries {
			return revoked, keygate.Errorf(keygate.Unavailable, "keys are being changed, try again")
		}
		for i, t := range targets {
			if t.ID == changed.ID {
				if targets[i], err = s.store.GetKey(ctx, t.ID); err != nil {
					return revoked, fmt.Errorf("revoke key %s: %w", rootID, err)
				}
			}
		}
	}
}

// revocations are the writes that revoke recs: each with its TTL shortened
// to the retention and its audit record by by, which names the cascade's
// root for every key but the root itself, and by's reason if it has one.
func (s *Service) revocations(ctx context.Context, by revoker, rootID string, recs []*keygate.Record, now time.Time) []keygate.Revocation {
	revs := make([]keygate.Revocation, len(recs))
	for i, r := range recs {
		ttl := now.Add(s.cfg.Retention).Unix()
		if r.TTL > 0 && r.TTL < ttl {
			ttl = r.TTL
		}
		audit := keygate.Audit{Action: keygate.ActionRevoked, KeyID: r.ID, Tenant: r.Tenant, Owner: r.Owner, Actor: by.actor, RequestID: requestID(ctx), At: now}
		if r.ID != rootID || by.reason != "" {
			audit.Detail = map[string]string{}
		}
		if r.ID != rootID {
			audit.Detail["cascade_from"] = rootID
		}
		if by.reason != "" {
			audit.Detail["reason"] = by.reason
		}
		revs[i] = keygate.Revocation{Record: r, TTL: ttl, Audit: audit}
	}
	return revs
}

// descendants returns every key minted from root or from any key of its
// rotation chain, transitively, in breadth-first order. Keys are minted
// within their creator's tenant, so one pass over the tenant's keys (GSI1,
// then their lineages from the items, which no index carries) finds them.
//
// A rotation chain is one class of key IDs: joined by each key's lineage
// (the ID its chain shares) and, for keys written before lineages were
// recorded, by rotated_from and rotated_to links, which still name an item
// DynamoDB's TTL removed. A key belongs to the class its parent lineage
// names, or else the class of the key its created_by names. So a
// successor's cascade reaches what its predecessors minted, and a cascade
// from above reaches through rotated items that are gone.
func (s *Service) descendants(ctx context.Context, root *keygate.Record) ([]*keygate.Record, error) {
	var all []*keygate.Record
	cursor := ""
	for {
		recs, next, err := s.store.ListKeys(ctx, keygate.KeyQuery{Tenant: root.Tenant, Limit: MaxListLimit, Cursor: cursor, SkipMeta: true})
		if err != nil {
			return nil, err
		}
		all = append(all, recs...)
		if next == "" {
			break
		}
		cursor = next
	}
	if err := s.store.FillLineage(ctx, all); err != nil {
		return nil, err
	}
	rc := chains{}
	for _, r := range append(all, root) {
		rc.join(r.ID, r.LineageID())
		if r.Lineage == "" {
			rc.join(r.ID, r.RotatedFrom)
			rc.join(r.ID, r.RotatedTo)
		}
	}
	children := map[string][]*keygate.Record{} // chain -> keys minted by it
	for _, r := range all {
		parent := r.ParentLineage
		if parent == "" {
			parent, _ = strings.CutPrefix(r.CreatedBy, "key:")
		}
		if parent != "" {
			c := rc.find(parent)
			children[c] = append(children[c], r)
		}
	}
	var out []*keygate.Record
	seen := map[string]bool{root.ID: true}
	done := map[string]bool{rc.find(root.ID): true}
	queue := []string{rc.find(root.ID)}
	for len(queue) > 0 {
		c := queue[0]
		queue = queue[1:]
		for _, child := range children[c] {
			if seen[child.ID] {
				continue
			}
			seen[child.ID] = true
			out = append(out, child)
			if cc := rc.find(child.ID); !done[cc] {
				done[cc] = true
				queue = append(queue, cc)
			}
		}
	}
	return out, nil
}

// chains is a union-find over key IDs: the rotation chains of a tenant.
type chains map[string]string

func (c chains) find(id string) string {
	for {
		p, ok := c[id]
		if !ok || p == id {
			return id
		}
		if gp, ok := c[p]; ok {
			c[id] = gp // path halving
		}
		id = p
	}
}

func (c chains) join(a, b string) {
	if a == "" || b == "" {
		return
	}
	ra, rb := c.find(a), c.find(b)
	if ra != rb {
		c[ra] = rb
	}
}
