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

// decodeKey decodes a create's body or direct event into v like
// decodeBody, but first judges its "meta" member with keygate.ParseMeta:
// a meta the strict decode would refuse as well (a name twice, a lone
// surrogate) is then refused with an error that names meta, not with one
// about a member inside it or the input as a whole.
func decodeKey(data []byte, v any) error {
	if len(data) > MaxBody {
		return keygate.Errorf(keygate.PayloadTooLarge, "request body is larger than %d bytes", MaxBody)
	}
	if err := metaFirst(data); err != nil {
		return err
	}
	return decodeBody(data, v)
}

// metaFirst is keygate.ParseMeta's verdict on data's "meta" member, if
// data is a JSON object that has one (not null); nil otherwise, for the
// strict decode to judge.
func metaFirst(data []byte) error {
	var members map[string]json.RawMessage
	if json.Unmarshal(data, &members) != nil {
		return nil
	}
	raw, ok := members["meta"]
	if !ok || string(raw) == "null" {
		return nil
	}
	_, err := keygate.ParseMeta(raw)
	return err
}

// decodeUpdate decodes a PATCH body or a direct update event into v (which
// holds req) and marks in req the members given as null: strictjson reads
// null as absent, but in a PATCH "rate_limit", "credits", "meta" and
// "external_id" given as null remove what the key has.
func decodeUpdate(data []byte, v any, req *manage.UpdateRequest) error {
	if err := decodeKey(data, v); err != nil {
		return err
	}
	// data passed the strict decode: exact names, each once, so this
	// lenient second look sees the same members.
	var raw struct {
		RateLimit  json.RawMessage `json:"rate_limit"`
		Credits    json.RawMessage `json:"credits"`
		Meta       json.RawMessage `json:"meta"`
		ExternalID json.RawMessage `json:"external_id"`
	}
	if err := json.Unmarshal(data, &raw); err != nil {
		return err
	}
	req.RemoveRateLimit = string(raw.RateLimit) == "null"
	req.RemoveCredits = string(raw.Credits) == "null"
	req.RemoveMeta = string(raw.Meta) == "null"
	req.RemoveExternalID = string(raw.ExternalID) == "null"
	if req.RemoveMeta {
		req.Meta = nil // however the strict decode kept it
	}
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
