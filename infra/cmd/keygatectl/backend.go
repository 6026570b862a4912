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
	"github.com/keygate/keygate/shared/httpapi"
	"github.com/keygate/keygate/shared/verify"
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
	names, settings, err := stackFunctions(ctx, cloudformation.NewFromConfig(cfg), g.stack)
	if err != nil {
		return nil, err
	}
	return &directBackend{tenant: g.tenant, actor: g.actor, functions: names, settings: settings, invoker: &lambdaInvoker{client: lambda.NewFromConfig(cfg)}}, nil
}

// stackFunctions reads the management functions' names from the stack's
// outputs: CreateFunctionName for httpapi.Create, and so on; and the
// settings function's (SettingsFunctionName), "" if the stack has none.
func stackFunctions(ctx context.Context, cf *cloudformation.Client, stack string) (map[httpapi.Function]string, string, error) {
	out, err := cf.DescribeStacks(ctx, &cloudformation.DescribeStacksInput{StackName: &stack})
	if err != nil {
		return nil, "", fmt.Errorf("read stack %s: %w", stack, err)
	}
	if len(out.Stacks) != 1 {
		return nil, "", fmt.Errorf("stack %s not found", stack)
	}
	outputs := map[string]string{}
	for _, o := range out.Stacks[0].Outputs {
		if o.OutputKey != nil && o.OutputValue != nil {
			outputs[*o.OutputKey] = *o.OutputValue
		}
	}
	names := map[httpapi.Function]string{}
	var keys []string
	for _, fn := range httpapi.Functions() {
		key := strings.ToUpper(string(fn[:1])) + string(fn[1:]) + "FunctionName"
		keys = append(keys, key)
		if v, ok := outputs[key]; ok {
			names[fn] = v
		}
	}
	if len(names) != len(keys) {
		return nil, "", fmt.Errorf("stack %s lacks the %s outputs: is it a Keygate stack?", stack, strings.Join(keys, ", "))
	}
	return names, outputs["SettingsFunctionName"], nil
}

// directBackend sends operations as the functions' direct events.
type directBackend struct {
	tenant, actor string
	functions     map[httpapi.Function]string
	// settings is the settings function, which serves the settings
	// routes' direct events: {"tenant", the changes...}.
	settings string
	invoker  invoker
}

// invoker invokes one function with a payload; a function error comes
// back as its errorType and errorMessage.
type invoker interface {
	invoke(ctx context.Context, function string, payload []byte) (out []byte, errType, errMessage string, err error)
}

// do sends o as the direct event of the function serving its route:
// the function's default operation needs no "op", and a get is a list
// event with an id (httpapi.Route.Direct).
func (b *directBackend) do(ctx context.Context, o op) (json.RawMessage, error) {
	if o.Name == "settings" || o.Name == "save_settings" {
		return b.doSettings(ctx, o)
	}
	event := map[string]any{"tenant": b.tenant}
	if fn, ok := httpapi.DirectOnly(o.Name); ok {
		// An operation without a route: its event always names it.
		for k, v := range o.Body {
			event[k] = v
		}
		event["op"] = o.Name
		if b.actor != "" {
			event["actor"] = b.actor
		}
		return b.invoke(ctx, b.functions[fn], event)
	}
	route, ok := httpapi.Operation(o.Name)
	if !ok || route.Direct == "" {
		return nil, fmt.Errorf("%s has no direct event", o.Name)
	}
	for k, v := range o.Body {
		event[k] = v
	}
	if route.Direct != httpapi.DirectOps(route.Function)[0] {
		event["op"] = route.Direct
	}
	if o.ID != "" {
		event["id"] = o.ID
	}
	if b.actor != "" {
		event["actor"] = b.actor
	}
	return b.invoke(ctx, b.functions[route.Function], event)
}

// invoke sends event to the function fn; a function error is the API's
// error.
func (b *directBackend) invoke(ctx context.Context, fn string, event map[string]any) (json.RawMessage, error) {
	payload, err := json.Marshal(event)
	if err != nil {
		return nil, err
	}
	out, errType, errMessage, err := b.invoker.invoke(ctx, fn, payload)
	switch {
	case err != nil:
		return nil, err
	case errType != "":
		return nil, &apiError{Code: errType, Message: errMessage}
	}
	return out, nil
}

// doSettings sends o as the settings function's event: the tenant and
// the changes (none: a read). The event has no actor: the function logs
// the change as an operator's.
func (b *directBackend) doSettings(ctx context.Context, o op) (json.RawMessage, error) {
	if b.settings == "" {
		return nil, fmt.Errorf("the stack has no SettingsFunctionName output: deploy a Keygate with the settings function")
	}
	event := map[string]any{"tenant": b.tenant}
	for k, v := range o.Body {
		event[k] = v
	}
	return b.invoke(ctx, b.settings, event)
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

// do sends o to its route: the fields as the query of a GET or DELETE,
// else as the JSON body.
func (b *httpBackend) do(ctx context.Context, o op) (json.RawMessage, error) {
	var method, path string
	if o.Name == "verify" {
		// Served by its own function, outside httpapi's route table.
		method, path = http.MethodPost, verify.Path
	} else {
		route, ok := httpapi.Operation(o.Name)
		if !ok {
			return nil, fmt.Errorf("%s has no route", o.Name)
		}
		method, path = route.Method, strings.Replace(route.Resource, "{id}", url.PathEscape(o.ID), 1)
	}
	query := url.Values{}
	var body any
	switch method {
	case http.MethodGet, http.MethodDelete:
		for k, v := range o.Body {
			query.Set(k, fmt.Sprint(v))
		}
	default:
		body = o.Body
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
