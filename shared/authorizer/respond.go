package authorizer

import (
	"sync"

	"github.com/aws/aws-lambda-go/events"
)

// Responses for a valid key depend on nothing but its cache entry and the
// API stage of the request, so they are built once per entry and stage and
// returned as the same interface value on every cache hit after, instead
// of rebuilding the policy's slices and boxing the struct each time (a
// dozen allocations per request). Entries are immutable once cached and
// replaced, by a new pointer, when re-read, so a memo keyed by the entry's
// pointer can never answer with stale data: an old entry's memo is simply
// no longer asked for. Callers (the Lambda runtime, which only encodes the
// value) must not modify a returned response.

// notAuthorized is the HTTP API simple response for every request that is
// not allowed.
var notAuthorized any = events.APIGatewayV2CustomAuthorizerSimpleResponse{IsAuthorized: false}

// memoKey identifies one response: an entry, the API/stage prefix of its
// REST policy ("" for the HTTP API simple response) and whether the key
// may call that API at all.
type memoKey struct {
	e        *entry
	prefix   string
	wrongAPI bool
}

// memoMax bounds the memo. It is emptied when full: the next request per
// key and stage rebuilds its response, which is what every request cost
// before. A Lambda execution environment serves one key-and-stage pair per
// cache entry, so the bound is only reached by a flood of distinct keys.
const memoMax = 4096

// memo is shared by every Authorizer in the process: keys are entry
// pointers, which belong to one Authorizer, so they never collide.
var memo = struct {
	sync.Mutex
	m map[memoKey]any
}{m: map[memoKey]any{}}

func memoized(k memoKey, build func() (any, bool)) (any, bool) {
	memo.Lock()
	v, ok := memo.m[k]
	memo.Unlock()
	if ok {
		return v, true
	}
	v, ok = build()
	if !ok {
		return nil, false
	}
	// The prefix is a slice of the event's ARN string; keep a copy of it
	// rather than the ARN it came from.
	k.prefix = string([]byte(k.prefix))
	memo.Lock()
	if len(memo.m) >= memoMax {
		clear(memo.m)
	}
	memo.m[k] = v
	memo.Unlock()
	return v, true
}

// simpleAllow is the HTTP API payload 2.0 simple response allowing a
// request for e's key, with the key's context.
func simpleAllow(e *entry) any {
	v, _ := memoized(memoKey{e: e}, func() (any, bool) {
		return events.APIGatewayV2CustomAuthorizerSimpleResponse{IsAuthorized: true, Context: e.context}, true
	})
	return v
}

// cachedPolicy returns d's REST policy from the memo when it depends only
// on the entry and the stage: an Allow for a key without a mid-path "*"
// scope (those are granted for the request's own ARN only), or a Deny of
// an API the key may not call. Any other decision (a Deny naming this
// request's ARN) is built per request by policy.
func (a *Authorizer) cachedPolicy(d Decision, prefix string) (any, bool) {
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
