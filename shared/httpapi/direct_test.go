package httpapi

import (
	"encoding/json"
	"testing"

	"github.com/keygate/keygate/shared/keygate"
)

// opOf and actorOf peek at "op" and "actor" before the strict decode, by
// exactly those names: a folded spelling is left for the strict decode to
// refuse by name, and never picks the operation or the actor.
func TestDirectPeek(t *testing.T) {
	tests := []struct {
		name, event string
		op, actor   string
		code        keygate.Code // of opOf, then actorOf; "" for none
	}{
		{"none", `{"tenant":"acme"}`, "list", "", ""},
		{"op and actor", `{"op":"audit","actor":"alice"}`, "audit", "alice", ""},
		{"OP is not op", `{"OP":"audit","ACTOR":"alice"}`, "list", "", ""},
		{"Op after op", `{"op":"list","Op":"audit"}`, "list", "", ""},
		{"null", `{"op":null,"actor":null}`, "list", "", ""},
		{"not a string", `{"op":5,"actor":["alice"]}`, "list", "", ""},
		{"not an object", `[{"op":"audit"}]`, "list", "", ""},
		{"unknown op", `{"op":"revoke"}`, "", "", keygate.Invalid},
		{"bad actor", `{"actor":"a b"}`, "list", "", keygate.Invalid},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			event := json.RawMessage(tt.event)
			op, err := opOf(List, event)
			var actor string
			if err == nil {
				actor, err = actorOf(event)
			}
			if tt.code == "" && err != nil || tt.code != "" && keygate.ErrorCode(err) != tt.code {
				t.Fatalf("err = %v, want %s", err, tt.code)
			}
			if tt.code == "" && (op != tt.op || actor != tt.actor) {
				t.Fatalf("op %q, actor %q; want %q, %q", op, actor, tt.op, tt.actor)
			}
		})
	}
}
