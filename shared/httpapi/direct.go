package httpapi

import (
	"context"
	"encoding/json"
	"net/http"
	"time"

	"github.com/aws/aws-lambda-go/lambda/messages"
	"github.com/keygate/keygate/shared/keygate"
	"github.com/keygate/keygate/shared/manage"
)

// Direct-invocation events. Tenant is required: an operator acts on one
// tenant at a time. Each function has a default operation; "op" names
// another it serves (create: "rotate"; list: "audit"; revoke: "update").
type (
	directCreate struct {
		Op             string `json:"op,omitempty"`
		Actor          string `json:"actor,omitempty"`
		Tenant         string `json:"tenant"`
		IdempotencyKey string `json:"idempotency_key,omitempty"`
		manage.CreateRequest
	}
	directRotate struct {
		Op             string `json:"op"`
		Actor          string `json:"actor,omitempty"`
		Tenant         string `json:"tenant"`
		ID             string `json:"id"`
		IdempotencyKey string `json:"idempotency_key,omitempty"`
		manage.RotateRequest
	}
	directList struct {
		Op     string         `json:"op,omitempty"`
		Actor  string         `json:"actor,omitempty"`
		Tenant string         `json:"tenant"`
		ID     string         `json:"id,omitempty"` // get one key
		Owner  string         `json:"owner,omitempty"`
		Status keygate.Status `json:"status,omitempty"`
		Limit  int            `json:"limit,omitempty"`
		Cursor string         `json:"cursor,omitempty"`
		// ExternalID filters the listing; given, it must be valid.
		ExternalID *string `json:"external_id,omitempty"`
	}
	directAudit struct {
		Op     string `json:"op"`
		Actor  string `json:"actor,omitempty"`
		Tenant string `json:"tenant"`
		KeyID  string `json:"key_id,omitempty"`
		Limit  int    `json:"limit,omitempty"`
		Cursor string `json:"cursor,omitempty"`
	}
	directRevoke struct {
		Op      string `json:"op,omitempty"`
		Actor   string `json:"actor,omitempty"`
		Tenant  string `json:"tenant"`
		ID      string `json:"id"`
		Cascade bool   `json:"cascade,omitempty"`
	}
	// directImport is one existing key to import (docs/import.md): its
	// value and the key's fields.
	directImport struct {
		Op     string `json:"op"`
		Actor  string `json:"actor,omitempty"`
		Tenant string `json:"tenant"`
		manage.ImportRequest
	}
	directUpdate struct {
		Op     string `json:"op"`
		Actor  string `json:"actor,omitempty"`
		Tenant string `json:"tenant"`
		ID     string `json:"id"`
		manage.UpdateRequest
	}
)

// handleDirect answers an operator's direct invocation: on success the
// same JSON as the HTTP body; on failure a function error whose errorType
// is the error code and errorMessage the caller-safe message (README,
// "Direct invocation (operators)"), so the AWS console shows "Failed" and
// `aws lambda invoke` reports FunctionError. Internal details are only
// logged.
func (h *Handler) handleDirect(ctx context.Context, event json.RawMessage) (json.RawMessage, error) {
	start := time.Now()
	requestID := lambdaRequestID(ctx)
	res := h.serveDirect(manage.WithRequestID(ctx, requestID), event)
	_, body := h.finish(ctx, requestID, "direct", string(h.fn), start, res)
	if res.err != nil {
		return nil, FunctionError(res.err, requestID)
	}
	return body, nil
}

// FunctionError is the Lambda function error a failed direct invocation
// returns: errorType the code, errorMessage the caller-safe message and
// the request ID, never an internal detail.
func FunctionError(err error, requestID string) messages.InvokeResponse_Error {
	code := keygate.ErrorCode(err)
	msg := keygate.ErrorMessage(err)
	if code == keygate.Internal {
		msg = "internal error"
	}
	if requestID != "" {
		msg += " (request " + requestID + ")"
	}
	return messages.InvokeResponse_Error{Type: string(code), Message: msg}
}

// member peeks at the event's string member called exactly name, before
// the strict decode that follows (which refuses the event if the name is
// repeated, or spelt otherwise): nil if there is none, or the event or
// member is not what the strict decode will accept anyway.
func member(event json.RawMessage, name string) *string {
	var members map[string]json.RawMessage
	var s *string // nil for null, which the strict decode accepts as absent
	if json.Unmarshal(event, &members) != nil || json.Unmarshal(members[name], &s) != nil {
		return nil
	}
	return s
}

// opOf reads the event's "op" and checks fn serves it.
func opOf(fn Function, event json.RawMessage) (string, error) {
	ops := DirectOps(fn)
	name := member(event, "op")
	if name == nil {
		return ops[0], nil
	}
	for _, op := range ops {
		if *name == op {
			return op, nil
		}
	}
	return "", keygate.Errorf(keygate.Invalid, "op must be one of %q for the %s function", ops, fn)
}

// actorOf reads the event's optional "actor": a name, recorded in audit
// records as operator:<actor>.
func actorOf(event json.RawMessage) (string, error) {
	actor := member(event, "actor")
	if actor == nil {
		return "", nil
	}
	if !keygate.ValidName(*actor) {
		return "", keygate.Errorf(keygate.Invalid, "actor must be 1-128 characters of letters, digits and ._@+-, starting with a letter or digit")
	}
	return *actor, nil
}

func (h *Handler) serveDirect(ctx context.Context, event json.RawMessage) outcome {
	op := keygate.Caller{Operator: true}
	name, err := opOf(h.fn, event)
	if err == nil {
		op.Actor, err = actorOf(event)
	}
	if err != nil {
		return outcome{err: err, caller: op}
	}
	for _, d := range directOnly {
		if d.op == name {
			return d.invoke(h, ctx, op, event)
		}
	}
	route, _ := Operation(name)
	return route.invoke(h, ctx, op, event)
}

// directOnly are the operations served by direct event only: no route,
// no authorizer, no key can call them. An import sets a key's token to a
// value chosen elsewhere, which is an operator's decision.
var directOnly = []struct {
	op     string
	fn     Function
	invoke func(*Handler, context.Context, keygate.Caller, json.RawMessage) outcome
}{
	{"import", Create, (*Handler).invokeImport},
}

// invokeImport imports one key: 200 with what happened (imported, or
// already imported), or the refusal as a function error.
func (h *Handler) invokeImport(ctx context.Context, op keygate.Caller, event json.RawMessage) outcome {
	res := outcome{caller: op, status: http.StatusOK}
	var e directImport
	if res.err = decodeKey(event, &e); res.err != nil {
		return res
	}
	req := e.ImportRequest
	req.Tenant = e.Tenant
	imported, err := h.svc.Import(ctx, op, req)
	if err != nil {
		res.err = err
		return res
	}
	res.keyID, res.body = imported.KeyID, imported
	return res
}

func (h *Handler) invokeCreate(ctx context.Context, op keygate.Caller, event json.RawMessage) outcome {
	var e directCreate
	if err := decodeKey(event, &e); err != nil {
		return outcome{err: err, caller: op}
	}
	req := e.CreateRequest
	req.Tenant, req.IdempotencyKey = e.Tenant, e.IdempotencyKey
	return h.create(ctx, op, req)
}

func (h *Handler) invokeRotate(ctx context.Context, op keygate.Caller, event json.RawMessage) outcome {
	var e directRotate
	if err := decodeBody(event, &e); err != nil {
		return outcome{err: err, caller: op}
	}
	req := e.RotateRequest
	req.Tenant, req.ID, req.IdempotencyKey = e.Tenant, e.ID, e.IdempotencyKey
	return h.rotate(ctx, op, req)
}

// invokeList lists keys, or with an id gets one (keygatectl's get).
func (h *Handler) invokeList(ctx context.Context, op keygate.Caller, event json.RawMessage) outcome {
	res := outcome{caller: op, status: http.StatusOK}
	var e directList
	if res.err = decodeBody(event, &e); res.err != nil {
		return res
	}
	res.keyID = e.ID
	if e.ID != "" {
		res.body, res.err = h.svc.Get(ctx, op, manage.GetRequest{Tenant: e.Tenant, ID: e.ID})
	} else {
		lr := manage.ListRequest{Tenant: e.Tenant, Owner: e.Owner, Status: e.Status, Limit: e.Limit, Cursor: e.Cursor}
		if e.ExternalID != nil {
			if res.err = keygate.CheckExternalID(*e.ExternalID); res.err != nil {
				return res
			}
			lr.ExternalID = *e.ExternalID
		}
		res.body, res.err = h.svc.List(ctx, op, lr)
	}
	return res
}

func (h *Handler) invokeAudit(ctx context.Context, op keygate.Caller, event json.RawMessage) outcome {
	res := outcome{caller: op, status: http.StatusOK}
	var e directAudit
	if res.err = decodeBody(event, &e); res.err != nil {
		return res
	}
	res.keyID = e.KeyID
	res.body, res.err = h.svc.Audit(ctx, op, manage.AuditRequest{Tenant: e.Tenant, KeyID: e.KeyID, Limit: e.Limit, Cursor: e.Cursor})
	return res
}

func (h *Handler) invokeRevoke(ctx context.Context, op keygate.Caller, event json.RawMessage) outcome {
	res := outcome{caller: op, status: http.StatusOK}
	var e directRevoke
	if res.err = decodeBody(event, &e); res.err != nil {
		return res
	}
	res.keyID = e.ID
	if e.ID == "" {
		res.err = keygate.Errorf(keygate.Invalid, "id is required")
	} else {
		res.body, res.err = h.svc.Revoke(ctx, op, manage.RevokeRequest{Tenant: e.Tenant, ID: e.ID, Cascade: e.Cascade})
	}
	return res
}

func (h *Handler) invokeUpdate(ctx context.Context, op keygate.Caller, event json.RawMessage) outcome {
	res := outcome{caller: op, status: http.StatusOK}
	var e directUpdate
	if res.err = decodeUpdate(event, &e, &e.UpdateRequest); res.err != nil {
		return res
	}
	res.keyID = e.ID
	req := e.UpdateRequest
	req.Tenant, req.ID = e.Tenant, e.ID
	res.body, res.err = h.svc.Update(ctx, op, req)
	return res
}
