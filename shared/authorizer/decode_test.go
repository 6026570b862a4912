package authorizer

import (
	"bytes"
	"encoding/json"
	"errors"
	"os"
	"slices"
	"strings"
	"testing"

	"github.com/aws/aws-lambda-go/events"
)

// oracleResult is what the authorizer used to read from an event with
// encoding/json and aws-lambda-go's types, before decodeEvent.
type oracleResult struct {
	shape Shape
	arn   string
	// tokens are the tokens the map-based lookup could return: more than
	// one when several spellings of a header name are present, since Go
	// map iteration picked one at random.
	tokens []string
	// syntax: json.Unmarshal refused the input outright (or it had no
	// known shape); typeErr: it decoded it with a type error somewhere,
	// leaving the other fields filled in.
	syntax, typeErr bool
}

// oracle decodes an event the way Handle did before decodeEvent: a probe
// of version and type, then the shape's aws-lambda-go struct.
func oracle(event []byte, allowQuery bool) oracleResult {
	var probe struct {
		Version string `json:"version"`
		Type    string `json:"type"`
	}
	if err := json.Unmarshal(event, &probe); err != nil {
		return oracleResult{syntax: true}
	}
	var r oracleResult
	switch {
	case probe.Version == "2.0":
		r.shape = HTTPv2
	case probe.Version == "1.0" && probe.Type == "REQUEST":
		r.shape = HTTPv1
	case probe.Type == "TOKEN":
		r.shape = RESTToken
	case probe.Type == "REQUEST":
		r.shape = RESTRequest
	default:
		return oracleResult{syntax: true}
	}
	var err error
	switch r.shape {
	case RESTToken:
		var e events.APIGatewayCustomAuthorizerRequest
		err = json.Unmarshal(event, &e)
		r.arn, r.tokens = e.MethodArn, []string{oracleTokenFromValue(e.AuthorizationToken)}
	case RESTRequest:
		var e events.APIGatewayCustomAuthorizerRequestTypeRequest
		err = json.Unmarshal(event, &e)
		r.arn, r.tokens = e.MethodArn, oracleTokenFrom(e.Headers, e.QueryStringParameters, allowQuery)
	case HTTPv1:
		var e events.APIGatewayV2CustomAuthorizerV1Request
		err = json.Unmarshal(event, &e)
		r.arn, r.tokens = e.MethodArn, oracleTokenFrom(e.Headers, e.QueryStringParameters, allowQuery)
	case HTTPv2:
		var e events.APIGatewayV2CustomAuthorizerV2Request
		err = json.Unmarshal(event, &e)
		r.arn, r.tokens = e.RouteArn, oracleTokenFrom(e.Headers, e.QueryStringParameters, allowQuery)
	}
	var typeErr *json.UnmarshalTypeError
	switch {
	case errors.As(err, &typeErr):
		r.typeErr = true
	case err != nil:
		r.syntax = true
	}
	return r
}

// oracleTokenFrom is the map-based lookup Handle used before, returning
// every answer some map iteration order gives.
func oracleTokenFrom(headers, query map[string]string, allowQuery bool) []string {
	var auth, keys []string
	for k, v := range headers {
		if strings.EqualFold(k, "Authorization") {
			tok, _ := oracleBearer(v)
			auth = append(auth, tok)
		}
		if strings.EqualFold(k, "X-API-Key") {
			keys = append(keys, strings.TrimSpace(v))
		}
	}
	switch {
	case len(auth) > 0:
		return auth
	case len(keys) > 0:
		return keys
	case allowQuery:
		return []string{strings.TrimSpace(query["token"])}
	}
	return []string{""}
}

func oracleTokenFromValue(v string) string {
	if tok, ok := oracleBearer(v); ok {
		return tok
	}
	return strings.TrimSpace(v)
}

func oracleBearer(v string) (string, bool) {
	v = strings.TrimSpace(v)
	if len(v) < 7 || !strings.EqualFold(v[:6], "bearer") || (v[6] != ' ' && v[6] != '\t') {
		return "", false
	}
	return strings.TrimSpace(v[7:]), true
}

// checkAgainstOracle fails t if decodeEvent reads event differently from
// encoding/json into aws-lambda-go's types: same shape, ARN and token for
// input encoding/json accepts; a refusal for input it refuses, or (for a
// type error in a field the authorizer does not read) the same fields
// encoding/json filled in regardless.
func checkAgainstOracle(t *testing.T, event []byte) {
	t.Helper()
	for _, allowQuery := range []bool{false, true} {
		want := oracle(event, allowQuery)
		f, shape, ok := decodeEvent(event)
		switch {
		case want.syntax:
			if ok {
				t.Fatalf("decoded %q (shape %s), which encoding/json refuses", event, shape)
			}
			continue
		case !ok && want.typeErr:
			continue // refused: fails closed
		case !ok:
			t.Fatalf("refused %q, which encoding/json decodes as %s", event, want.shape)
		}
		got := string(f.token(shape, allowQuery))
		if shape != want.shape || string(f.arn(shape)) != want.arn || !slices.Contains(want.tokens, got) {
			t.Fatalf("%q (allowQuery %v): got %s %q %q, encoding/json %s %q %q",
				event, allowQuery, shape, f.arn(shape), got, want.shape, want.arn, want.tokens)
		}
	}
}

func TestDecodeEvent(t *testing.T) {
	const arn = "arn:aws:execute-api:us-east-1:1:abc/prod/GET/x"
	deep := func(n int) string {
		return `{"type":"TOKEN","x":` + strings.Repeat("[", n-1) + strings.Repeat("]", n-1) + `}`
	}
	tests := []struct {
		name  string
		event string
		ok    bool // what decodeEvent must answer; the rest is the oracle's
	}{
		{"token", `{"type":"TOKEN","authorizationToken":"Bearer kg_a","methodArn":"` + arn + `"}`, true},
		{"keys fold case", `{"TYPE":"TOKEN","AuthorizationTOKEN":"kg_a","METHODARN":"` + arn + `"}`, true},
		{"keys fold Unicode: long s, Kelvin sign", `{"type":"REQUEST","methodArn":"` + arn + `","headerſ":{"x-api-\u212aey":"kg_b"}}`, true},
		{"escaped key and value", `{"typ\u0065":"TOKEN","authorizationToken":"Bearer kg\u005fa","methodArn":"arn:aws:execute-api:us-east-1:1:abc\/prod\/GET\/x"}`, true},
		{"last key wins", `{"type":"REQUEST","type":"TOKEN","authorizationToken":"a","authorizationToken":"b","methodArn":"` + arn + `"}`, true},
		{"null keeps a string", `{"type":"TOKEN","type":null,"methodArn":"` + arn + `","methodArn":null}`, true},
		{"headers objects merge", `{"type":"REQUEST","methodArn":"` + arn + `","headers":{"X-API-Key":"kg_b"},"headers":{"Host":"h"}}`, true},
		{"null empties headers", `{"type":"REQUEST","methodArn":"` + arn + `","headers":{"Authorization":"Bearer kg_a"},"headers":null}`, true},
		{"null header value", `{"type":"REQUEST","methodArn":"` + arn + `","headers":{"authorization":null,"X-API-Key":"kg_b"}}`, true},
		{"Authorization spellings: last wins", `{"version":"2.0","type":"REQUEST","routeArn":"` + arn + `","headers":{"Authorization":"Bearer a","authorization":"Bearer b"}}`, true},
		{"query token", `{"version":"2.0","type":"REQUEST","routeArn":"` + arn + `","queryStringParameters":{"TOKEN":"no","token":" kg_q "}}`, true},
		{"surrogates", `{"type":"TOKEN","authorizationToken":"\ud83d\ude00 \ud800 \udc00\u0041","methodArn":"` + arn + `"}`, true},
		{"invalid UTF-8", "{\"type\":\"TOKEN\",\"authorizationToken\":\"\xff\xc3\",\"methodArn\":\"" + arn + "\"}", true},
		{"nested objects skipped", `{"type":"REQUEST","requestContext":{"headers":{"Authorization":"Bearer x"},"a":[1,-2.5e+3,true,false,null,{}]},"methodArn":"` + arn + `"}`, true},
		{"unread field of the wrong type", `{"type":"REQUEST","methodArn":"` + arn + `","requestContext":5}`, true},
		{"TOKEN ignores headers' type", `{"type":"TOKEN","methodArn":"` + arn + `","headers":5}`, true},
		{"depth 10000", deep(10000), true},
		{"depth 10001", deep(10001), false},
		{"methodArn a number", `{"type":"TOKEN","methodArn":5}`, false},
		{"routeArn a number", `{"version":"2.0","routeArn":5}`, false},
		{"type a number", `{"type":5,"type":"TOKEN","methodArn":"` + arn + `"}`, false},
		{"headers an array", `{"type":"REQUEST","methodArn":"` + arn + `","headers":[]}`, false},
		{"header value a number", `{"type":"REQUEST","methodArn":"` + arn + `","headers":{"Host":1}}`, false},
		{"no shape", `{"type":"OTHER","methodArn":"` + arn + `"}`, false},
		{"empty", ``, false},
		{"array", `[]`, false},
		{"null", `null`, false},
		{"trailing data", `{"type":"TOKEN","methodArn":"` + arn + `"} {}`, false},
		{"trailing comma", `{"type":"TOKEN","methodArn":"` + arn + `",}`, false},
		{"control character", "{\"type\":\"TOKEN\",\"methodArn\":\"a\tb\"}", false},
		{"bad escape", `{"type":"TOKEN","methodArn":"\x41"}`, false},
		{"bad number", `{"type":"TOKEN","n":01}`, false},
		{"bad literal", `{"type":"TOKEN","n":nul}`, false},
		{"unterminated", `{"type":"TOKEN"`, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, _, ok := decodeEvent([]byte(tt.event)); ok != tt.ok {
				t.Fatalf("ok = %v, want %v", ok, tt.ok)
			}
			checkAgainstOracle(t, []byte(tt.event))
		})
	}
}

// FuzzDecodeEvent checks decodeEvent against encoding/json and
// aws-lambda-go's event types, the decoder it replaced.
func FuzzDecodeEvent(f *testing.F) {
	for _, fx := range shapeEvents(f) {
		f.Add(string(fx.event))
	}
	f.Add(`{"version":"2.0","routeArn":"a","headers":{"X-Api-Key":"k","AUTHORIZATION":null},"queryStringParameters":{"token":"q"}}`)
	f.Add(`{"type":"TOKEN","authorizationToken":"bearer\t\u0041","methodArn":"\ud800\u00e9"}`)
	f.Fuzz(func(t *testing.T, event string) {
		checkAgainstOracle(t, []byte(event))
	})
}

// TestDecodeEventAllocs counts: an event without escapes decodes without
// allocating, whatever its shape.
func TestDecodeEventAllocs(t *testing.T) {
	for _, fx := range shapeEvents(t) {
		if n := testing.AllocsPerRun(100, func() {
			if _, _, ok := decodeEvent(fx.event); !ok {
				t.Fatal("refused")
			}
		}); n != 0 {
			t.Errorf("%s: %v allocations per decode, want 0", fx.shape, n)
		}
	}
}

// BenchmarkDecodeEvent times decodeEvent alone on each shape's fixture,
// where BenchmarkHandle's figures include the token check and the answer.
func BenchmarkDecodeEvent(b *testing.B) {
	for _, fx := range shapeEvents(b) {
		b.Run(fx.shape, func(b *testing.B) {
			b.SetBytes(int64(len(fx.event)))
			b.ReportAllocs()
			for b.Loop() {
				if _, _, ok := decodeEvent(fx.event); !ok {
					b.Fatal("refused")
				}
			}
		})
	}
}

// shapeEvent is a shape's shipped event, with a token and route filled
// in: no escapes, so decodeEvent keeps slices of it.
type shapeEvent struct {
	shape string
	event []byte
}

func shapeEvents(tb testing.TB) []shapeEvent {
	tb.Helper()
	var evs []shapeEvent
	for _, shape := range []string{"rest-token", "rest-request", "http-v1", "http-v2"} {
		evs = append(evs, shapeEvent{shape, ShippedEvent(tb, shape, "kg_live_abc", "GET", "/x")})
	}
	// A WebSocket $connect is a REST REQUEST event to the decoder (handle
	// tells it by its methodArn): AWS's sample, with a query token.
	raw, err := os.ReadFile("testdata/websocket-connect-query.json")
	if err != nil {
		tb.Fatal(err)
	}
	return append(evs, shapeEvent{"websocket", bytes.ReplaceAll(raw, []byte("kg_live_REPLACE_WITH_A_REAL_TOKEN"), []byte("kg_live_abc"))})
}
