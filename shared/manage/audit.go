package manage

import (
	"context"
	"fmt"
	"time"

	"github.com/keygate/keygate/shared/apikey"
	"github.com/keygate/keygate/shared/keygate"
)

// AuditRequest selects a tenant's audit events. Tenant is for operators
// only; KeyID, if set, keeps one key's.
type AuditRequest struct {
	Tenant string
	KeyID  string
	Limit  int
	Cursor string
}

// AuditEvent is one change as GET /v1/audit shows it. Detail never holds a
// token, secret or verifier: only IDs, names, scopes, flags and times.
type AuditEvent struct {
	At        time.Time         `json:"at"`
	Action    string            `json:"action"`
	KeyID     string            `json:"key_id"`
	Actor     string            `json:"actor"`
	RequestID string            `json:"request_id"`
	Detail    map[string]string `json:"detail"`
}

// AuditPage is a page of events, newest first.
type AuditPage struct {
	Events     []AuditEvent `json:"events"`
	NextCursor *string      `json:"next_cursor"`
}

// Audit returns a tenant's audit trail, newest first: tenant admins and
// operators only. Cursors are sealed and bound like List's.
func (s *Service) Audit(ctx context.Context, c keygate.Caller, req AuditRequest) (*AuditPage, error) {
	tenant, err := tenantOf(c, req.Tenant)
	if err != nil {
		return nil, err
	}
	if !c.IsAdmin() {
		return nil, keygate.Errorf(keygate.Forbidden, "only admin keys may read the audit trail")
	}
	if req.KeyID != "" && !apikey.ValidID(req.KeyID) {
		return nil, keygate.Errorf(keygate.Invalid, "key_id is not a key ID")
	}
	limit, err := pageLimit(req.Limit)
	if err != nil {
		return nil, err
	}
	binding := "audit\x00" + c.Name() + "\x00" + tenant + "\x00" + req.KeyID
	q := keygate.AuditQuery{Tenant: tenant, KeyID: req.KeyID, Limit: limit}
	if q.Cursor, err = s.openCursor(req.Cursor, binding); err != nil {
		return nil, err
	}
	records, next, err := s.store.ListAudit(ctx, q)
	if err != nil {
		return nil, err
	}
	out := &AuditPage{Events: make([]AuditEvent, 0, len(records))}
	for _, a := range records {
		detail := a.Detail
		if detail == nil {
			detail = map[string]string{}
		}
		out.Events = append(out.Events, AuditEvent{At: a.At, Action: a.Action, KeyID: a.KeyID, Actor: a.Actor, RequestID: a.RequestID, Detail: detail})
	}
	if out.NextCursor, err = s.sealCursor(next, binding); err != nil {
		return nil, fmt.Errorf("audit: %w", err)
	}
	return out, nil
}
