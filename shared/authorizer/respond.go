package authorizer

import (
	"bytes"
	"context"
	"encoding/json"
	"sync"

	"github.com/aws/aws-lambda-go/events"
	"github.com/keygate/keygate/shared/keygate"
)

// Responses for a valid key depend on nothing but its cache entry and the
// API stage of the request, so they are built once per entry and stage and
// returned as the same interface value on every cache hit after, instead
// of rebuilding the policy's slices and boxing the struct each time (a
// dozen allocations per request), together with their JSON for Invoke.
// Entries are immutable once cached and replaced, by a new pointer, when
// re-read, so a memo keyed by the entry's pointer can never answer with
// stale data: an old entry's memo is simply no longer asked for. Callers
// (the Lambda runtime, which only encodes the value) must not modify a
// returned response.

// response is an answer: the value Handle returns and, when memoized, its
// JSON as the Lambda runtime would encode it.
type response struct {
	value any
	json  []byte
}

func newResponse(v any) *response {
	js, err := encodeResponse(v)
	if err != nil { // cannot happen for these types; Invoke encodes again
		return &response{value: v}
	}
	return &response{value: v, json: js}
}

// encodeResponse encodes v as aws-lambda-go's runtime does: json.Encoder
// with HTML escaping off (its default), which ends the value with '\n'.
func encodeResponse(v any) ([]byte, error) {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return nil, err
	}
	return b.Bytes(), nil
}

// notAuthorized is the HTTP API simple response for every request without
// a valid key.
var notAuthorized = newResponse(events.APIGatewayV2CustomAuthorizerSimpleResponse{IsAuthorized: false})

// memoKey identifies one response: an entry, the API/stage prefix of its
// REST policy ("" for the HTTP API simple response), whether the key may
// call that API at all, whether it is a scope or API denial (the HTTP
// API's and the WebSocket $connect's), and whether it answers a WebSocket
// $connect.
type memoKey struct {
	e        *entry
	prefix   string
	wrongAPI bool
	denied   bool
	connect  bool
}

// memoMax bounds the memo. It is emptied when full: the next request per
// key and stage rebuilds its response, which is what every request cost
// before. An execution environment holds at most maxCacheEntries keys, and
// each is normally called through one or two stages.
const memoMax = 2 * maxCacheEntries

// memo is shared by every Authorizer in the process: keys are entry
// pointers, which belong to one Authorizer, so they never collide.
var memo = struct {
	sync.Mutex
	m map[memoKey]*response
}{m: map[memoKey]*response{}}

func memoized(k memoKey, build func() (any, bool)) (*response, bool) {
	memo.Lock()
	r, ok := memo.m[k]
	memo.Unlock()
	if ok {
		return r, true
	}
	v, ok := build()
	if !ok {
		return nil, false
	}
	r = newResponse(v)
	// The prefix is a slice of the event's ARN string; keep a copy of it
	// rather than the ARN it came from.
	k.prefix = string([]byte(k.prefix))
	memo.Lock()
	if len(memo.m) >= memoMax {
		clear(memo.m)
	}
	memo.m[k] = r
	memo.Unlock()
	return r, true
}

// simpleAllow is the HTTP API payload 2.0 simple response allowing a
// request for e's key, with the key's context.
func simpleAllow(e *entry) *response {
	r, _ := memoized(memoKey{e: e}, func() (any, bool) {
		return events.APIGatewayV2CustomAuthorizerSimpleResponse{IsAuthorized: true, Context: e.context}, true
	})
	return r
}

// simpleDeny is the HTTP API payload 2.0 simple response refusing a
// request of a valid key, with its context and the reason (API Gateway
// answers the client its own 403). A scope or API denial is the same for
// every request and memoized; a usage refusal is built per request.
func simpleDeny(d Decision) *response {
	if d.Refusal != keygate.ReasonForbidden {
		return &response{value: events.APIGatewayV2CustomAuthorizerSimpleResponse{IsAuthorized: false, Context: d.denyContext()}}
	}
	r, _ := memoized(memoKey{e: d.entry, denied: true}, func() (any, bool) {
		return events.APIGatewayV2CustomAuthorizerSimpleResponse{IsAuthorized: false, Context: d.entry.denied}, true
	})
	return r
}

// cachedPolicy returns d's REST policy from the memo when it depends only
// on the entry and the stage: an Allow for a key without a mid-path "*"
// scope (those are granted for the request's own ARN only), or a Deny of
// an API the key may not call. Any other decision (a Deny naming this
// request's ARN) is built per request by policy.
func (a *Authorizer) cachedPolicy(d Decision, prefix string) (*response, bool) {
	switch {
	case d.Outcome == Allow:
		for _, s := range d.entry.scopes {
			if s.InnerWildcard() {
				return nil, false
			}
		}
	case d.Outcome == Deny && d.wrongAPI:
	default:
		return nil, false
	}
	return memoized(memoKey{e: d.entry, prefix: prefix, wrongAPI: d.wrongAPI}, func() (any, bool) {
		p, err := a.policy(d, prefix, "", Request{})
		return p, err == nil
	})
}

// Invoke makes the Authorizer a lambda.Handler: given to lambda.Start in
// place of Handle, the runtime passes the event's bytes as they arrived
// and posts the bytes returned, instead of first decoding the event into
// a json.RawMessage (a full scan and copy) and afterwards encoding
// Handle's value with encoding/json and reflection (8-10 µs and 17
// allocations for a REST policy, BENCHMARKS.md). Memoized answers are
// returned as their prebuilt JSON. Errors are the same as Handle's.
func (a *Authorizer) Invoke(ctx context.Context, payload []byte) ([]byte, error) {
	r, err := a.handle(ctx, payload)
	if err != nil {
		return nil, err
	}
	if r.json != nil {
		// Capped, so that nothing appending to the answer can write into
		// the memo's copy.
		return r.json[:len(r.json):len(r.json)], nil
	}
	return encodeResponse(r.value)
}
