package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"

	awsconfig "github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/cloudformation"
	"github.com/aws/aws-sdk-go-v2/service/lambda"
)

func newBackend(ctx context.Context, g global) (backend, error) {
	if g.endpoint != "" {
		return &httpBackend{base: strings.TrimRight(g.endpoint, "/"), key: g.key, client: &http.Client{Timeout: 30 * time.Second}}, nil
	}
	var opts []func(*awsconfig.LoadOptions) error
	if g.region != "" {
		opts = append(opts, awsconfig.WithRegion(g.region))
	}
	cfg, err := awsconfig.LoadDefaultConfig(ctx, opts...)
	if err != nil {
		return nil, fmt.Errorf("AWS configuration: %w", err)
	}
	names, err := stackFunctions(ctx, cloudformation.NewFromConfig(cfg), g.stack)
	if err != nil {
		return nil, err
	}
	return &directBackend{tenant: g.tenant, actor: g.actor, functions: names, invoker: &lambdaInvoker{client: lambda.NewFromConfig(cfg)}}, nil
}

// stackFunctions reads the management functions' names from the stack's
// outputs (CreateFunctionName, ListFunctionName, RevokeFunctionName).
func stackFunctions(ctx context.Context, cf *cloudformation.Client, stack string) (map[string]string, error) {
	out, err := cf.DescribeStacks(ctx, &cloudformation.DescribeStacksInput{StackName: &stack})
	if err != nil {
		return nil, fmt.Errorf("read stack %s: %w", stack, err)
	}
	if len(out.Stacks) != 1 {
		return nil, fmt.Errorf("stack %s not found", stack)
	}
	names := map[string]string{}
	for _, o := range out.Stacks[0].Outputs {
		if o.OutputKey == nil || o.OutputValue == nil {
			continue
		}
		switch *o.OutputKey {
		case "CreateFunctionName":
			names["create"] = *o.OutputValue
		case "ListFunctionName":
			names["list"] = *o.OutputValue
		case "RevokeFunctionName":
			names["revoke"] = *o.OutputValue
		}
	}
	if len(names) != 3 {
		return nil, fmt.Errorf("stack %s lacks the Create/List/RevokeFunctionName outputs: is it a Keygate stack?", stack)
	}
	return names, nil
}

// directBackend sends operations as the functions' direct events.
type directBackend struct {
	tenant, actor string
	functions     map[string]string // create, list, revoke -> function name
	invoker       invoker
}

// invoker invokes one function with a payload; a function error comes
// back as its errorType and errorMessage.
type invoker interface {
	invoke(ctx context.Context, function string, payload []byte) (out []byte, errType, errMessage string, err error)
}

// directEvents maps an operation to its function and "op".
var directEvents = map[string]struct{ fn, op string }{
	"create": {"create", ""}, "rotate": {"create", "rotate"},
	"list": {"list", ""}, "get": {"list", ""}, "audit": {"list", "audit"},
	"revoke": {"revoke", ""}, "update": {"revoke", "update"},
}

func (b *directBackend) do(ctx context.Context, o op) (json.RawMessage, error) {
	d := directEvents[o.Name]
	event := map[string]any{"tenant": b.tenant}
	for k, v := range o.Body {
		event[k] = v
	}
	if d.op != "" {
		event["op"] = d.op
	}
	if o.ID != "" {
		event["id"] = o.ID
	}
	if b.actor != "" {
		event["actor"] = b.actor
	}
	payload, err := json.Marshal(event)
	if err != nil {
		return nil, err
	}
	out, errType, errMessage, err := b.invoker.invoke(ctx, b.functions[d.fn], payload)
	switch {
	case err != nil:
		return nil, err
	case errType != "":
		return nil, &apiError{Code: errType, Message: errMessage}
	}
	return out, nil
}

type lambdaInvoker struct{ client *lambda.Client }

func (l *lambdaInvoker) invoke(ctx context.Context, function string, payload []byte) ([]byte, string, string, error) {
	out, err := l.client.Invoke(ctx, &lambda.InvokeInput{FunctionName: &function, Payload: payload})
	if err != nil {
		return nil, "", "", fmt.Errorf("invoke %s: %w", function, err)
	}
	if out.FunctionError != nil {
		var fe struct {
			Type    string `json:"errorType"`
			Message string `json:"errorMessage"`
		}
		_ = json.Unmarshal(out.Payload, &fe)
		if fe.Type == "" {
			fe.Type = "internal"
		}
		return nil, fe.Type, fe.Message, nil
	}
	return out.Payload, "", "", nil
}

// httpBackend sends operations to the management API with a key.
type httpBackend struct {
	base, key string
	client    *http.Client
}

func (b *httpBackend) do(ctx context.Context, o op) (json.RawMessage, error) {
	var method, path string
	query := url.Values{}
	var body any
	id := url.PathEscape(o.ID)
	switch o.Name {
	case "create":
		method, path, body = http.MethodPost, "/v1/keys", o.Body
	case "list", "audit":
		method, path = http.MethodGet, "/v1/keys"
		if o.Name == "audit" {
			path = "/v1/audit"
		}
		for k, v := range o.Body {
			query.Set(k, fmt.Sprint(v))
		}
	case "get":
		method, path = http.MethodGet, "/v1/keys/"+id
	case "revoke":
		method, path = http.MethodDelete, "/v1/keys/"+id
		if o.Body["cascade"] == true {
			query.Set("cascade", "true")
		}
	case "rotate":
		method, path, body = http.MethodPost, "/v1/keys/"+id+"/rotate", o.Body
	case "update":
		method, path, body = http.MethodPatch, "/v1/keys/"+id, o.Body
	}
	var reader io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return nil, err
		}
		reader = bytes.NewReader(b)
	}
	u := b.base + path
	if len(query) > 0 {
		u += "?" + query.Encode()
	}
	req, err := http.NewRequestWithContext(ctx, method, u, reader)
	if err != nil {
		return nil, err
	}
	req.Header.Set("Authorization", "Bearer "+b.key)
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := b.client.Do(req)
	if err != nil {
		return nil, fmt.Errorf("%s %s: %w", method, path, err)
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		return nil, err
	}
	if resp.StatusCode >= 400 {
		var env struct {
			Error struct{ Code, Message string }
		}
		if json.Unmarshal(raw, &env) != nil || env.Error.Code == "" {
			return nil, &apiError{Code: "internal", Message: fmt.Sprintf("HTTP %d", resp.StatusCode), Status: resp.StatusCode}
		}
		return nil, &apiError{Code: env.Error.Code, Message: env.Error.Message, Status: resp.StatusCode}
	}
	return raw, nil
}
