package settings

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"

	"github.com/aws/aws-lambda-go/lambda/messages"
	"github.com/keygate/keygate/shared/keygate"
	"github.com/keygate/keygate/shared/strictjson"
)

// Handler is the settings function's handler for operators'
// direct invocations (IAM decides who may invoke it):
//
//	{"tenant": "acme"}                                  read
//	{"tenant": "acme", "owner_email": "ops@acme.example", "reminder_days": [14, 3]}   change
//	{"tenant": "acme", "leak_action": "revoke", "leak_cascade": true}                change
//
// Omitted fields stay as they are; "owner_email": "" removes the address.
// Field names are exact and appear once (strictjson): encoding/json would
// act on {"tenant":"acme","Tenant":"victim"} as victim's.
// Failures are function errors whose errorType is the error code
// (invalid_request, forbidden, unavailable, internal), like the management
// functions' direct invocations.
type Handler struct {
	svc *Service
	log *slog.Logger
}

// NewHandler returns the direct-invocation handler.
func NewHandler(svc *Service, log *slog.Logger) *Handler {
	return &Handler{svc: svc, log: log}
}

// settingsEvent is a direct invocation's event.
type settingsEvent struct {
	Tenant string `json:"tenant"`
	Change
}

// Handle answers one direct invocation.
func (h *Handler) Handle(ctx context.Context, raw json.RawMessage) (*keygate.Settings, error) {
	var ev settingsEvent
	if err := strictjson.Decode(raw, &ev); err != nil {
		var bad *strictjson.Error
		if errors.As(err, &bad) {
			err = keygate.Errorf(keygate.Invalid, "%s; the event is {\"tenant\", \"owner_email\"?, \"reminder_days\"?, \"leak_action\"?, \"leak_cascade\"?}", bad)
		}
		return nil, h.fail(err)
	}
	var s keygate.Settings
	var err error
	if ev.empty() {
		s, err = h.svc.Get(ctx, keygate.Caller{Operator: true}, ev.Tenant)
	} else {
		s, err = h.svc.Update(ctx, keygate.Caller{Operator: true}, ev.Tenant, ev.Change)
		if err == nil {
			h.log.Info("settings changed", "tenant", ev.Tenant, "actor", "operator")
		}
	}
	if err != nil {
		return nil, h.fail(err)
	}
	return &s, nil
}

func (h *Handler) fail(err error) error {
	var ke *keygate.Error
	if !errors.As(err, &ke) || ke.Code == keygate.Internal {
		h.log.Error("settings failed", "error", err.Error())
		return messages.InvokeResponse_Error{Type: string(keygate.Internal), Message: "internal error"}
	}
	return messages.InvokeResponse_Error{Type: string(ke.Code), Message: ke.Message}
}
