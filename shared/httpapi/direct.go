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
// tenant at a time.
type (
	directCreate struct {
		Tenant         string `json:"tenant"`
		IdempotencyKey string `json:"idempotency_key,omitempty"`
		manage.CreateRequest
	}
	directList struct {
		Tenant string         `json:"tenant"`
		ID     string         `json:"id,omitempty"` // get one key
		Owner  string         `json:"owner,omitempty"`
		Status keygate.Status `json:"status,omitempty"`
		Limit  int            `json:"limit,omitempty"`
		Cursor string         `json:"cursor,omitempty"`
	}
	directRevoke struct {
		Tenant  string `json:"tenant"`
		ID      string `json:"id"`
		Cascade bool   `json:"cascade,omitempty"`
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

func (h *Handler) serveDirect(ctx context.Context, event json.RawMessage) outcome {
	op := keygate.Caller{Operator: true}
	res := outcome{caller: op, status: http.StatusOK}
	switch h.fn {
	case Create:
		var e directCreate
		if err := decodeStrict(event, &e); err != nil {
			return outcome{err: err, caller: op}
		}
		req := e.CreateRequest
		req.Tenant, req.IdempotencyKey = e.Tenant, e.IdempotencyKey
		return h.create(ctx, op, req)
	case List:
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
	case Revoke:
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
	}
	return res
}
