package reliability_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-lambda-go/lambda/messages"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/keygate/keygate/infra/ddblocal"
	"github.com/keygate/keygate/infra/dynamotest"
	"github.com/keygate/keygate/infra/gateway"
	"github.com/keygate/keygate/infra/testkit"
	"github.com/keygate/keygate/shared/authorizer"
	"github.com/keygate/keygate/shared/httpapi"
	"github.com/keygate/keygate/shared/keygate"
	"github.com/keygate/keygate/shared/manage"
	"github.com/keygate/keygate/shared/setup"
	"github.com/keygate/keygate/shared/setup/authsetup"
	"github.com/keygate/keygate/shared/setup/managesetup"
	"github.com/keygate/keygate/shared/store"
)

// stack is the real functions wired as in production, on an endpoint.
type stack struct {
	env   *setup.Env
	svc   *manage.Service
	auth  *authorizer.Authorizer
	fns   map[httpapi.Function]*httpapi.Handler
	gw    *gateway.Gateway
	url   string
	logs  *testkit.Buffer
	table string
}

func newStack(t *testing.T, endpoint, table string, vars map[string]string) *stack {
	t.Helper()
	all := map[string]string{"TABLE_NAME": table, "DYNAMODB_ENDPOINT": endpoint, "TOKEN_PEPPER": strings.Repeat("r", 32)}
	for k, v := range vars {
		all[k] = v
	}
	logs := &testkit.Buffer{}
	env, err := setup.Load(context.Background(), func(k string) string { return all[k] }, logs)
	if err != nil {
		t.Fatal(err)
	}
	if err := store.EnsureTable(context.Background(), env.DynamoDB, table); err != nil {
		t.Fatal(err)
	}
	s := &stack{env: env, logs: logs, table: table, svc: managesetup.Service(env), auth: authsetup.Authorizer(env), fns: map[httpapi.Function]*httpapi.Handler{}}
	for _, fn := range []httpapi.Function{httpapi.Create, httpapi.List, httpapi.Revoke} {
		s.fns[fn] = managesetup.Handler(env, fn)
	}
	s.gw = gateway.Local(env, 0, nil)
	srv := httptest.NewServer(s.gw)
	t.Cleanup(srv.Close)
	s.url = srv.URL
	return s
}

func (s *stack) admin(t *testing.T, tenant string) *manage.Created {
	t.Helper()
	c, err := s.svc.Create(context.Background(), keygate.Caller{Operator: true}, manage.CreateRequest{Tenant: tenant, Owner: "root", Role: keygate.Admin})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// send makes one HTTP request to the gateway, with the token as a bearer
// key unless it is empty, and returns the status and raw body.
func (s *stack) send(t *testing.T, method, path, token, body string) (int, []byte) {
	t.Helper()
	status, _, raw := testkit.Send(t, method, s.url+path, testkit.Bearer(token), body)
	return status, raw
}

// http is send for a JSON object answer.
func (s *stack) http(t *testing.T, method, path, token, body string) (int, map[string]any) {
	t.Helper()
	status, raw := s.send(t, method, path, token, body)
	var m map[string]any
	if err := json.Unmarshal(raw, &m); err != nil {
		t.Fatalf("%s %s: not JSON: %q", method, path, raw)
	}
	return status, m
}

// direct invokes a management function as an operator would.
func (s *stack) direct(t *testing.T, fn httpapi.Function, event string) map[string]any {
	t.Helper()
	out, err := s.fns[fn].Handle(context.Background(), json.RawMessage(event))
	var fe messages.InvokeResponse_Error
	if errors.As(err, &fe) {
		// A failed direct invocation is a function error: shown as the
		// envelope it replaces, for the checks.
		return map[string]any{"error": map[string]any{"code": fe.Type, "message": fe.Message}}
	}
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := json.Unmarshal(out, &m); err != nil {
		t.Fatalf("not JSON: %s", out)
	}
	return m
}

// proxy sends a management function a REST proxy event as the admin.
func (s *stack) proxy(t *testing.T, fn httpapi.Function, admin *manage.Created, method, path, body string) (int, map[string]any) {
	t.Helper()
	ev := events.APIGatewayProxyRequest{HTTPMethod: method, Path: path, Body: body, Headers: map[string]string{"Content-Type": "application/json"},
		// As API Gateway sends it: the API and stage it came through.
		RequestContext: events.APIGatewayProxyRequestContext{RequestID: "r-1", APIID: "kglocal001", Stage: "local", Authorizer: map[string]any{
			"key_id": admin.ID, "tenant": admin.Tenant, "owner": admin.Owner, "type": "user", "role": "admin", "scopes": `["* /*"]`, "apis": `["*"]`}}}
	raw, _ := json.Marshal(ev)
	out, err := s.fns[fn].Handle(context.Background(), raw)
	if err != nil {
		t.Fatal(err)
	}
	var resp events.APIGatewayProxyResponse
	_ = json.Unmarshal(out, &resp)
	var m map[string]any
	_ = json.Unmarshal([]byte(resp.Body), &m)
	return resp.StatusCode, m
}

func errorCode(m map[string]any) string {
	e, _ := m["error"].(map[string]any)
	c, _ := e["code"].(string)
	return c
}

func freePort(t *testing.T) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// TestRestartMidRun stops DynamoDB Local under load and starts it again on
// the same port and data: while it is down the authorizer never allows and
// management answers 503 with the envelope; afterwards the same handler
// instances work again and nothing is half-written.
func TestRestartMidRun(t *testing.T) {
	testkit.SkipShort(t, "DynamoDB Local")
	opts := ddblocal.Options{Log: io.Discard, Port: freePort(t), DBPath: t.TempDir()}
	srv, err := ddblocal.StartWith(context.Background(), opts)
	if err != nil {
		t.Fatalf("DynamoDB Local is required: %v", err)
	}
	defer func() { _ = srv.Stop() }()
	s := newStack(t, srv.Endpoint, "keygate", map[string]string{"AUTH_CACHE_TTL": "0", "MAX_USER_KEYS": "1000"})
	admin := s.admin(t, "acme")
	viewer, err := s.svc.Create(context.Background(), keygate.Caller{Operator: true}, manage.CreateRequest{Tenant: "acme", APIs: []string{"*"}, Owner: "v", Scopes: []string{"GET /v1/whoami"}})
	if err != nil {
		t.Fatal(err)
	}

	// Load: creates and revokes through the handlers, and authorizations,
	// while the server goes down and comes back.
	var (
		stop                  atomic.Bool
		allowsWhileDown       atomic.Int32
		down                  atomic.Bool
		created, unavailable  atomic.Int32
		otherStatuses         sync.Map
		wg                    sync.WaitGroup
		authErrors, authCalls atomic.Int32
	)
	for w := 0; w < 4; w++ {
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			for i := 0; !stop.Load(); i++ {
				status, body := s.proxy(t, httpapi.Create, admin, "POST", "/v1/keys", fmt.Sprintf(`{"owner":"o%d","apis":["*"],"scopes":["GET /x"]}`, w))
				switch {
				case status == 201:
					created.Add(1)
					if i%2 == 0 {
						s.proxy(t, httpapi.Revoke, admin, "DELETE", "/v1/keys/"+body["id"].(string), "")
					}
				case status == 503 && errorCode(body) == "unavailable":
					unavailable.Add(1)
				default:
					otherStatuses.Store(fmt.Sprint(status, " ", body), true)
				}
			}
		}(w)
	}
	wg.Add(1)
	go func() {
		defer wg.Done()
		req := authorizer.Request{Token: viewer.Token.Reveal(), Method: "GET", Path: "/v1/whoami"}
		for !stop.Load() {
			wasDown := down.Load()
			d, _, err := s.auth.Authorize(context.Background(), req)
			authCalls.Add(1)
			if err != nil {
				authErrors.Add(1)
			} else if d.Outcome == authorizer.Allow && wasDown && down.Load() {
				allowsWhileDown.Add(1)
			}
		}
	}()

	time.Sleep(time.Second)
	if err := srv.Stop(); err != nil {
		t.Fatal(err)
	}
	down.Store(true)
	// Direct and HTTP answers while down.
	if m := s.direct(t, httpapi.List, `{"tenant":"acme"}`); errorCode(m) != "unavailable" {
		t.Errorf("direct list while down = %v, want 503 unavailable", m)
	}
	if status, m := s.proxy(t, httpapi.List, admin, "GET", "/v1/keys", ""); status != 503 || errorCode(m) != "unavailable" {
		t.Errorf("list while down = %d %v", status, m)
	}
	if status, m := s.http(t, "GET", "/v1/whoami", viewer.Token.Reveal(), ""); status != 500 || errorCode(m) != "internal" {
		t.Errorf("gateway while the authorizer's store is down = %d %v, want 500", status, m)
	}
	time.Sleep(time.Second)
	down.Store(false)
	if srv, err = ddblocal.StartWith(context.Background(), opts); err != nil {
		t.Fatal(err)
	}
	time.Sleep(time.Second)
	stop.Store(true)
	wg.Wait()

	if n := allowsWhileDown.Load(); n != 0 {
		t.Fatalf("the authorizer allowed %d times while storage was down", n)
	}
	otherStatuses.Range(func(k, _ any) bool { t.Errorf("unexpected answer under faults: %v", k); return true })
	if unavailable.Load() == 0 || authErrors.Load() == 0 {
		t.Fatalf("the outage was not observed: %d 503s, %d authorizer errors", unavailable.Load(), authErrors.Load())
	}
	t.Logf("under restart: %d creates, %d answered 503, %d/%d authorizations failed closed",
		created.Load(), unavailable.Load(), authErrors.Load(), authCalls.Load())

	// Recovered, without new handler instances.
	if status, m := s.http(t, "GET", "/v1/whoami", viewer.Token.Reveal(), ""); status != 200 {
		t.Fatalf("after restart whoami = %d %v", status, m)
	}
	if status, m := s.http(t, "POST", "/v1/keys", admin.Token.Reveal(), `{"owner":"after","apis":["*"],"scopes":["GET /x"]}`); status != 201 {
		t.Fatalf("after restart create = %d %v", status, m)
	}
	checkConsistent(t, dynamotest.Client(srv.Endpoint), "keygate")
}

// checkConsistent scans the table: every key has its create audit record
// (and its revoke record if revoked), and every slots item lists exactly
// the active keys of its owner.
func checkConsistent(t *testing.T, db *dynamodb.Client, table string) {
	t.Helper()
	audits := map[string]bool{}
	keys := map[string]map[string]types.AttributeValue{}
	slots := map[string]map[string]bool{}
	var start map[string]types.AttributeValue
	for {
		out, err := db.Scan(context.Background(), &dynamodb.ScanInput{TableName: aws.String(table), ConsistentRead: aws.Bool(true), ExclusiveStartKey: start})
		if err != nil {
			t.Fatal(err)
		}
		for _, item := range out.Items {
			pk := item["pk"].(*types.AttributeValueMemberS).Value
			switch {
			case strings.HasPrefix(pk, "KEY#"):
				keys[strings.TrimPrefix(pk, "KEY#")] = item
			case strings.HasPrefix(pk, "AUDIT#"):
				audits[str(item, "key_id")+"/"+str(item, "action")] = true
			case strings.HasPrefix(pk, "SLOTS#"):
				ids := map[string]bool{}
				for id := range item["active"].(*types.AttributeValueMemberM).Value {
					ids[id] = true
				}
				slots[pk] = ids
			}
		}
		if start = out.LastEvaluatedKey; start == nil {
			break
		}
	}
	active := map[string]map[string]bool{}
	for id, item := range keys {
		if !audits[id+"/created"] {
			t.Errorf("key %s has no create audit record", id)
		}
		if _, revoked := item["revoked_at"]; revoked {
			if !audits[id+"/revoked"] {
				t.Errorf("revoked key %s has no revoke audit record", id)
			}
			continue
		}
		pk := "SLOTS#" + str(item, "tenant") + "#user#" + str(item, "owner")
		if str(item, "type") == "service" {
			pk = "SLOTS#" + str(item, "tenant") + "#service"
		}
		if active[pk] == nil {
			active[pk] = map[string]bool{}
		}
		active[pk][id] = true
	}
	for pk, ids := range active {
		if fmt.Sprint(ids) != fmt.Sprint(slots[pk]) {
			t.Errorf("%s lists %d slots, %d keys are active: counter drift", pk, len(slots[pk]), len(ids))
		}
	}
	t.Logf("consistent: %d keys, %d audit records, %d slots items", len(keys), len(audits), len(slots))
}

func str(item map[string]types.AttributeValue, name string) string {
	v, _ := item[name].(*types.AttributeValueMemberS)
	if v == nil {
		return ""
	}
	return v.Value
}

// throttler sits between the functions and DynamoDB Local and answers the
// first `throttle` requests of each operation with ThrottlingException, as
// DynamoDB does under pressure.
type throttler struct {
	proxy    *httputil.ReverseProxy
	throttle atomic.Int32
	seen     atomic.Int32
}

func (th *throttler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if th.seen.Add(1) <= th.throttle.Load() {
		w.Header().Set("Content-Type", "application/x-amz-json-1.0")
		w.Header().Set("X-Amzn-Errortype", "ThrottlingException")
		w.WriteHeader(http.StatusBadRequest)
		_, _ = io.WriteString(w, `{"__type":"com.amazonaws.dynamodb.v20120810#ThrottlingException","message":"Rate of requests exceeds the allowed throughput."}`)
		return
	}
	th.proxy.ServeHTTP(w, r)
}

func TestThrottling(t *testing.T) {
	endpoint := dynamotest.Endpoint(t)
	_, table := dynamotest.NewTable(t)
	target, _ := url.Parse(endpoint)
	th := &throttler{proxy: httputil.NewSingleHostReverseProxy(target)}
	front := httptest.NewServer(th)
	defer front.Close()
	s := newStack(t, front.URL, table, nil)
	admin := s.admin(t, "acme")

	// Two throttled answers, then success: the SDK retries with backoff.
	th.seen.Store(0)
	th.throttle.Store(2)
	if status, m := s.proxy(t, httpapi.List, admin, "GET", "/v1/keys/"+admin.ID, ""); status != 200 {
		t.Fatalf("after 2 throttles = %d %v, want 200", status, m)
	}
	if n := th.seen.Load(); n != 3 {
		t.Fatalf("%d requests reached DynamoDB, want 3 (2 throttled + 1)", n)
	}
	// Throttled every time: retries run out and the caller gets 503.
	// 4 attempts is the SDK's default for DynamoDB since service/dynamodb
	// v1.74.0 (3 before); AWS_MAX_ATTEMPTS changes it.
	const attempts = 4
	th.seen.Store(0)
	th.throttle.Store(1 << 30)
	start := time.Now()
	status, m := s.proxy(t, httpapi.List, admin, "GET", "/v1/keys/"+admin.ID, "")
	elapsed := time.Since(start)
	if status != 503 || errorCode(m) != "unavailable" {
		t.Fatalf("always throttled = %d %v, want 503 unavailable", status, m)
	}
	if n := th.seen.Load(); n != attempts {
		t.Fatalf("%d attempts before giving up, want the SDK's %d", n, attempts)
	}
	if _, _, err := s.auth.Authorize(context.Background(), authorizer.Request{Token: admin.Token.Reveal(), Method: "GET", Path: "/x"}); err == nil {
		t.Fatal("the authorizer decided while its store was throttled")
	}
	t.Logf("throttling: retried with backoff, 503 after %d attempts in %v", attempts, elapsed.Round(time.Millisecond))
}

// TestRevokeUnderLoad revokes a key while 20 goroutines authorize it in a
// loop: no decision that starts after the documented bound may allow.
func TestRevokeUnderLoad(t *testing.T) {
	_, table := dynamotest.NewTable(t)
	const cacheTTL = time.Second
	s := newStack(t, dynamotest.Endpoint(t), table, map[string]string{"AUTH_CACHE_TTL": cacheTTL.String()})
	key, err := s.svc.Create(context.Background(), keygate.Caller{Operator: true}, manage.CreateRequest{Tenant: "acme", APIs: []string{"*"}, Owner: "a", Scopes: []string{"GET /x"}})
	if err != nil {
		t.Fatal(err)
	}
	var (
		revokedAt         atomic.Int64 // unix nanos, 0 until the revoke returns
		late, before, all atomic.Int32
		stop              atomic.Bool
		wg                sync.WaitGroup
	)
	for g := 0; g < 20; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for !stop.Load() {
				started := time.Now()
				d, _, err := s.auth.Authorize(context.Background(), authorizer.Request{Token: key.Token.Reveal(), Method: "GET", Path: "/x"})
				all.Add(1)
				if err != nil || d.Outcome != authorizer.Allow {
					continue
				}
				if r := revokedAt.Load(); r != 0 && started.UnixNano() > r+int64(cacheTTL) {
					late.Add(1)
				} else {
					before.Add(1)
				}
			}
		}()
	}
	time.Sleep(500 * time.Millisecond)
	if _, err := s.svc.Revoke(context.Background(), keygate.Caller{Operator: true}, manage.RevokeRequest{Tenant: "acme", ID: key.ID}); err != nil {
		t.Fatal(err)
	}
	revokedAt.Store(time.Now().UnixNano())
	time.Sleep(cacheTTL + time.Second)
	stop.Store(true)
	wg.Wait()
	if late.Load() != 0 {
		t.Fatalf("%d allows started more than %s after the revoke", late.Load(), cacheTTL)
	}
	t.Logf("revocation under load: %d decisions, %d allows before the bound, 0 after", all.Load(), before.Load())
}
