package manage

import (
	"encoding/json"
	"fmt"
	"log/slog"

	"github.com/keygate/keygate/shared/apikey"
	"github.com/keygate/keygate/shared/keygate"
)

// Created is a new key with its token: the only time the token is shown.
//
// The token is an [apikey.Token], so it prints and marshals as "[token]"
// wherever a Created ends up: under every fmt verb, in slog's handlers
// (which print a Created nested in a slice or struct with fmt or
// encoding/json, never through LogValue), and in the JSON of a struct
// that embeds or holds it. A token string here would show in all of
// those but the top-level ones. [Created.Response] is the one way to the
// token other than Token.Reveal: the JSON the create and rotate responses
// carry.
type Created struct {
	keygate.Key
	Token apikey.Token `json:"token"`
	// ExpiryCapped says expires_at was lowered to the creating key's own:
	// a key never outlives the key that minted it.
	ExpiryCapped bool `json:"expiry_capped,omitempty"`
}

// Format prints the key's ID and a placeholder for the token, whatever
// the verb.
func (c Created) Format(f fmt.State, verb rune) {
	fmt.Fprintf(f, "{id:%s token:[token]}", c.ID)
}

// LogValue keeps the token out of structured logs.
func (c Created) LogValue() slog.Value {
	return slog.GroupValue(slog.String("id", c.ID), slog.String("token", "[token]"))
}

// Response returns c as the create and rotate responses send it: its JSON
// with the token in full. Write it to the response and nowhere else.
func (c *Created) Response() ([]byte, error) {
	return json.Marshal(createdResponse{Key: c.Key, Token: c.Token.Reveal(), ExpiryCapped: c.ExpiryCapped})
}

// createdResponse is the wire form of a Created: the same fields in the
// same order, the token as a string.
type createdResponse struct {
	keygate.Key
	Token        string `json:"token"`
	ExpiryCapped bool   `json:"expiry_capped,omitempty"`
}
