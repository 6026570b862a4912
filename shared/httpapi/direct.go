package httpapi

import (
	"context"
	"encoding/json"
	"net/http"
	"time"

	"github.com/keygate/keygate/shared/keygate"
	"github.com/keygate/keygate/shared/manage"
)

// Direct-invocation events. Tenant is required: an operator acts on one
// tenant at a time. Each function has a default operation; "op" names
// another it serves (create: "rotate"; list: "audit"; revoke: "update").
type (
	directCreate struct {
		Op             string `json:"op,omitempty"`
		Tenant         string `json:"tenant"`
		IdempotencyKey string `json:"idempotency_key,omitempty"`
		manage.CreateRequest
	}
	directRotate struct {
		Op             string `json:"op"`
		Tenant         string `json:"tenant"`
		ID             string `json:"id"`
		IdempotencyKey string `json:"idempotency_key,omitempty"`
		manage.RotateRequest
	}
	directList struct {
		Op     string         `json:"op,omitempty"`
		Tenant string         `json:"tenant"`
		ID     string         `json:"id,omitempty"` // get one key
		Owner  string         `json:"owner,omitempty"`
		Status keygate.Status `json:"status,omitempty"`
		Limit  int            `json:"limit,omitempty"`
		Cursor string         `json:"cursor,omitempty"`
	}
	directAudit struct {
		Op     string `json:"op"`
		Tenant string `json:"tenant"`
		KeyID  string `json:"key_id,omitempty"`
		Limit  int    `json:"limit,omitempty"`
		Cursor string `json:"cursor,omitempty"`
	}
	directRevoke struct {
		Op      string `json:"op,omitempty"`
		Tenant  string `json:"tenant"`
		ID      string `json:"id"`
		Cascade bool   `json:"cascade,omitempty"`
	}
	directUpdate struct {
		Op     string `json:"op"`
		Tenant string `json:"tenant"`
		ID     string `json:"id"`
		manage.UpdateRequest
	}
)

// handleDirect answers an operator's direct invocation: the response is
// the same JSON as the HTTP body, or the error envelope.
func (h *Handler) handleDirect(ctx context.Context, event json.RawMessage) (json.RawMessage, error) {
	start := time.Now()
	requestID := lambdaRequestID(ctx)
	_, body := h.finish(ctx, requestID, "direct", string(h.fn), start, h.serveDirect(manage.WithRequestID(ctx, requestID), event))
	return body, nil
}

// directOps are the operations each function serves by direct event; the
// first is the default when the event names none.
var directOps = map[Function][]string{
	Create: {"create", "rotate"},
	List:   {"list", "audit"},
	Revoke: {"revoke", "update"},
}

// opOf reads the event's "op" (exactly that name: the strict decode that
// follows refuses any other spelling) and checks fn serves it.
func opOf(fn Function, event json.RawMessage) (string, error) {
	var probe struct {
		Op *string `json:"op"`
	}
	ops := directOps[fn]
	if json.Unmarshal(event, &probe) != nil || probe.Op == nil {
		return ops[0], nil
	}
	for _, op := range ops {
		if *probe.Op == op {
			return op, nil
		}
	}
	return "", keygate.Errorf(keygate.Invalid, "op must be one of %q for the %s function", ops, fn)
}

func (h *Handler) serveDirect(ctx context.Context, event json.RawMessage) outcome {
	op := keygate.Caller{Operator: true}
	res := outcome{caller: op, status: http.StatusOK}
	name, err := opOf(h.fn, event)
	if err != nil {
		return outcome{err: err, caller: op}
	}
	switch name {
	case "create":
		var e directCreate
		if err := decodeStrict(event, &e); err != nil {
			return outcome{err: err, caller: op}
		}
		req := e.CreateRequest
		req.Tenant, req.IdempotencyKey = e.Tenant, e.IdempotencyKey
		return h.create(ctx, op, req)
	case "rotate":
		var e directRotate
		if err := decodeStrict(event, &e); err != nil {
			return outcome{err: err, caller: op}
		}
		req := e.RotateRequest
		req.Tenant, req.ID, req.IdempotencyKey = e.Tenant, e.ID, e.IdempotencyKey
		return h.rotate(ctx, op, req)
	case "list":
		var e directList
		if res.err = decodeStrict(event, &e); res.err != nil {
			return res
		}
		res.keyID = e.ID
		if e.ID != "" {
			res.body, res.err = h.svc.Get(ctx, op, manage.GetRequest{Tenant: e.Tenant, ID: e.ID})
		} else {
			res.body, res.err = h.svc.List(ctx, op, manage.ListRequest{Tenant: e.Tenant, Owner: e.Owner, Status: e.Status, Limit: e.Limit, Cursor: e.Cursor})
		}
	case "audit":
		var e directAudit
		if res.err = decodeStrict(event, &e); res.err != nil {
			return res
		}
		res.keyID = e.KeyID
		res.body, res.err = h.svc.Audit(ctx, op, manage.AuditRequest{Tenant: e.Tenant, KeyID: e.KeyID, Limit: e.Limit, Cursor: e.Cursor})
	case "revoke":
		var e directRevoke
		if res.err = decodeStrict(event, &e); res.err != nil {
			return res
		}
		res.keyID = e.ID
		if e.ID == "" {
			res.err = keygate.Errorf(keygate.Invalid, "id is required")
		} else {
			res.body, res.err = h.svc.Revoke(ctx, op, manage.RevokeRequest{Tenant: e.Tenant, ID: e.ID, Cascade: e.Cascade})
		}
	case "update":
		var e directUpdate
		if res.err = decodeStrict(event, &e); res.err != nil {
			return res
		}
		res.keyID = e.ID
		req := e.UpdateRequest
		req.Tenant, req.ID = e.Tenant, e.ID
		res.body, res.err = h.svc.Update(ctx, op, req)
	}
	return res
}
