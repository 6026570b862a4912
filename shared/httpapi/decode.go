package httpapi

import (
	"encoding/json"
	"errors"
	"strconv"

	"github.com/keygate/keygate/shared/keygate"
	"github.com/keygate/keygate/shared/manage"
	"github.com/keygate/keygate/shared/strictjson"
)

// MaxBody is the largest request body (and direct-invocation event) accepted.
const MaxBody = 16 << 10

// decodeBody decodes a request body or a direct event into v with
// strictjson: exact field names, no duplicates, no unknown fields. Its
// refusals are the client's invalid_request, with strictjson's message,
// which names the field but shows nothing else of the input.
func decodeBody(data []byte, v any) error {
	if len(data) > MaxBody {
		return keygate.Errorf(keygate.PayloadTooLarge, "request body is larger than %d bytes", MaxBody)
	}
	err := strictjson.Decode(data, v)
	var bad *strictjson.Error
	if errors.As(err, &bad) {
		return keygate.Errorf(keygate.Invalid, "%s", bad)
	}
	return err // nil, or a bug here (not a pointer): internal
}

// decodeUpdate decodes a PATCH body or a direct update event into v (which
// holds req) and marks in req the limits given as null: strictjson reads
// null as absent, but in a PATCH "rate_limit": null and "credits": null
// remove the limit.
func decodeUpdate(data []byte, v any, req *manage.UpdateRequest) error {
	if err := decodeBody(data, v); err != nil {
		return err
	}
	// data passed the strict decode: exact names, each once, so this
	// lenient second look sees the same members.
	var raw struct {
		RateLimit json.RawMessage `json:"rate_limit"`
		Credits   json.RawMessage `json:"credits"`
	}
	if err := json.Unmarshal(data, &raw); err != nil {
		return err
	}
	req.RemoveRateLimit = string(raw.RateLimit) == "null"
	req.RemoveCredits = string(raw.Credits) == "null"
	return nil
}

// quoteName quotes a client-supplied name (a query parameter's) for an
// error message only if it looks like a field name: messages are logged,
// and people paste tokens in the oddest places. strictjson applies the
// same rule to JSON member names.
func quoteName(name string) string {
	if len(name) == 0 || len(name) > 40 {
		return "(not shown)"
	}
	for _, c := range name {
		if !(c == '_' || c == '-' || c == '.' || '0' <= c && c <= '9' || 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z') {
			return "(not shown)"
		}
	}
	return strconv.Quote(name)
}
