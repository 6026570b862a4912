package reliability_test

import (
	"context"
	"encoding/json"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/keygate/keygate/infra/dynamotest"
	"github.com/keygate/keygate/shared/apikey"
	"github.com/keygate/keygate/shared/httpapi"
)

// TestNoLeaks drives the whole stack through success, failure and hostile
// paths, then searches every captured log line, every response body except
// the create responses, and a full table scan for any token, secret or
// verifier. Tested, not eyeballed.
func TestNoLeaks(t *testing.T) {
	db, table := dynamotest.NewTable(t)
	s := newStack(t, dynamotest.Endpoint(t), table, map[string]string{"AUTH_CACHE_TTL": "0"})
	admin := s.admin(t, "acme")
	tokens := []string{admin.Token.Reveal()}
	var bodies []string

	call := func(method, path, token, body string) (int, string) {
		status, raw := s.send(t, method, path, token, body)
		return status, string(raw)
	}
	var ids []string
	for _, body := range []string{`{"owner":"bob","apis":["*"],"scopes":["GET /v1/whoami"]}`, `{"type":"service","role":"admin"}`, `{"owner":"carol","apis":["*"],"scopes":["GET /v1/*"],"expires_in_hours":1}`} {
		status, out := call("POST", "/v1/keys", admin.Token.Reveal(), body)
		var c map[string]any
		if err := json.Unmarshal([]byte(out), &c); status != 201 || err != nil {
			t.Fatalf("create = %d %s", status, out)
		}
		tokens = append(tokens, c["token"].(string))
		ids = append(ids, c["id"].(string))
	}
	bob := tokens[1]
	forged := bob[:len(bob)-10] + "AAAAAAAAAA" // right ID, wrong secret and checksum
	record := func(_ int, out string) { bodies = append(bodies, out) }
	record(call("GET", "/v1/whoami", bob, ""))
	record(call("GET", "/v1/keys", admin.Token.Reveal(), ""))
	record(call("GET", "/v1/keys?status=active&limit=1", admin.Token.Reveal(), ""))
	record(call("GET", "/v1/keys/"+ids[0], admin.Token.Reveal(), ""))
	record(call("POST", "/v1/keys", bob, `{"role":"admin"}`))
	record(call("POST", "/v1/keys", admin.Token.Reveal(), `{"owner":"`+bob+`"}`))
	record(call("POST", "/v1/keys", admin.Token.Reveal(), `{"name":"`+bob+`","owner":"x","apis":["*"],"scopes":["GET /x"],"bogus":"`+bob+`"}`))
	record(call("GET", "/v1/whoami", forged, ""))
	record(call("GET", "/v1/whoami", "kg_live_"+strings.Repeat("z", 66), ""))
	record(call("DELETE", "/v1/keys/"+ids[0], admin.Token.Reveal(), ""))
	record(call("GET", "/v1/whoami", bob, ""))
	record(call("GET", "/v1/keys/"+bob, admin.Token.Reveal(), ""))
	record(call("GET", "/v1/keys/"+bob+"/x", admin.Token.Reveal(), ""))
	record(call("POST", "/v1/keys", admin.Token.Reveal(), `{"owner":"x","apis":["*"],"scopes":["`+bob+`","GET `+bob+`"]}`))
	record(call("GET", "/v1/keys?"+bob+"=1", admin.Token.Reveal(), ""))
	record(call("POST", "/v1/keys", admin.Token.Reveal(), `{"`+bob+`":1}`))
	record(call("POST", "/v1/keys", admin.Token.Reveal(), `{"owner":"a","owner":"b","`+bob+`":1,"`+bob+`":2}`))
	for _, ev := range []string{`{"tenant":"acme"}`, `{"tenant":"acme","id":"` + ids[1] + `"}`, `{"tenant":"acme","cursor":"` + bob + `"}`} {
		out, _ := json.Marshal(s.direct(t, httpapi.List, ev))
		bodies = append(bodies, string(out))
	}
	out, _ := json.Marshal(s.direct(t, httpapi.Revoke, `{"tenant":"acme","id":"`+ids[1]+`"}`))
	bodies = append(bodies, string(out))

	// Everything stored, to find verifiers in logs and bodies.
	var stored []string
	scan, err := db.Scan(context.Background(), &dynamodb.ScanInput{TableName: aws.String(table), ConsistentRead: aws.Bool(true)})
	if err != nil {
		t.Fatal(err)
	}
	var verifiers []string
	for _, item := range scan.Items {
		for name, v := range item {
			if sv, ok := v.(*types.AttributeValueMemberS); ok {
				stored = append(stored, sv.Value)
				if name == "verifier" {
					verifiers = append(verifiers, strings.SplitN(sv.Value, "$", 2)[1])
				}
			}
		}
	}
	if len(verifiers) != len(tokens) {
		t.Fatalf("found %d verifiers for %d keys", len(verifiers), len(tokens))
	}
	places := map[string]string{"logs": s.logs.String(), "responses": strings.Join(bodies, "\n"), "table": strings.Join(stored, "\n")}
	var checked int
	for where, text := range places {
		for _, tok := range tokens {
			secret := tok[len(apikey.DefaultPrefix)+apikey.IDLen : len(tok)-apikey.ChecksumLen]
			checked += 2
			if strings.Contains(text, tok) || strings.Contains(text, secret) {
				t.Errorf("a token or its secret is in the %s", where)
				if where == "logs" {
					for _, line := range strings.Split(text, "\n") {
						if strings.Contains(line, secret) {
							t.Logf("leaking line: %.300s", strings.ReplaceAll(line, secret, "<SECRET>"))
						}
					}
				}
			}
		}
		if where == "table" {
			continue
		}
		for _, v := range verifiers {
			checked++
			if strings.Contains(text, v) {
				t.Errorf("a verifier is in the %s", where)
			}
		}
	}
	t.Logf("leaks: %d log bytes, %d response bodies, %d stored strings; %d searches", len(places["logs"]), len(bodies), len(stored), checked)
}
