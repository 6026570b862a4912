package httpapi_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/keygate/keygate/infra/testkit"
	"github.com/keygate/keygate/shared/httpapi"
	"github.com/keygate/keygate/shared/secretscan"
	"github.com/keygate/keygate/shared/verify"
	"go.yaml.in/yaml/v3"
)

// The route table is the code's; the template, the OpenAPI document and
// the README must say the same, so none can drift from what is served.

func codeRoutes(public bool) []string {
	var out []string
	for _, r := range httpapi.Routes {
		if r.Access == httpapi.Public && !public {
			continue
		}
		out = append(out, fmt.Sprintf("%s %s %s", r.Function, r.Method, r.Resource))
	}
	slices.Sort(out)
	return out
}

// withoutFunction keeps "METHOD path" of "fn METHOD path" routes.
func withoutFunction(routes []string) []string {
	out := make([]string, len(routes))
	for i, r := range routes {
		_, out[i], _ = strings.Cut(r, " ")
	}
	slices.Sort(out)
	return out
}

func parseYAML(t *testing.T, src string) *yaml.Node {
	t.Helper()
	var doc yaml.Node
	if err := yaml.Unmarshal([]byte(src), &doc); err != nil || len(doc.Content) == 0 {
		t.Fatalf("parse YAML: %v", err)
	}
	return doc.Content[0]
}

// templateRoutes are "fn METHOD path" of every Api event of every function
// in a SAM template; fn is the resource name without "Function", lower-case.
func templateRoutes(t *testing.T, src string) []string {
	var out []string
	resources := testkit.YAMLChild(parseYAML(t, src), "Resources")
	for i := 0; resources != nil && i+1 < len(resources.Content); i += 2 {
		name, res := resources.Content[i].Value, resources.Content[i+1]
		if testkit.YAMLChild(res, "Type").Value != "AWS::Serverless::Function" {
			continue
		}
		events := testkit.YAMLChild(testkit.YAMLChild(res, "Properties"), "Events")
		for j := 0; events != nil && j+1 < len(events.Content); j += 2 {
			ev := events.Content[j+1]
			if testkit.YAMLChild(ev, "Type").Value != "Api" {
				continue
			}
			props := testkit.YAMLChild(ev, "Properties")
			fn := strings.ToLower(strings.TrimSuffix(name, "Function"))
			out = append(out, fmt.Sprintf("%s %s %s", fn, strings.ToUpper(testkit.YAMLChild(props, "Method").Value), testkit.YAMLChild(props, "Path").Value))
		}
	}
	slices.Sort(out)
	return out
}

// openAPIRoutes are "METHOD path" of every operation of an OpenAPI document.
func openAPIRoutes(t *testing.T, src string) []string {
	return openAPIOperations(t, src, func(*yaml.Node) bool { return true })
}

// openAPIPublicRoutes are "METHOD path" of the operations that override
// the document's security with none (security: []).
func openAPIPublicRoutes(t *testing.T, src string) []string {
	return openAPIOperations(t, src, func(op *yaml.Node) bool {
		sec := testkit.YAMLChild(op, "security")
		return sec != nil && sec.Kind == yaml.SequenceNode && len(sec.Content) == 0
	})
}

func openAPIOperations(t *testing.T, src string, keep func(op *yaml.Node) bool) []string {
	var out []string
	paths := testkit.YAMLChild(parseYAML(t, src), "paths")
	for i := 0; paths != nil && i+1 < len(paths.Content); i += 2 {
		path, item := paths.Content[i].Value, paths.Content[i+1]
		for j := 0; j+1 < len(item.Content); j += 2 {
			switch m := item.Content[j].Value; m {
			case "get", "put", "post", "delete", "patch", "head", "options":
				if keep(item.Content[j+1]) {
					out = append(out, strings.ToUpper(m)+" "+path)
				}
			}
		}
	}
	slices.Sort(out)
	return out
}

// publicJSONRoutes are the JSON API's routes without an authorizer: GitHub's
// secret-scanning alerts, whose signature is the credential, served by the
// secretscan function (shared/secretscan) rather than httpapi's table.
var publicJSONRoutes = []string{"POST " + secretscan.Path}

// authorizedJSONRoutes are "fn METHOD path" of the JSON API's routes
// behind the authorizer that their own function serves rather than
// httpapi's table: POST /v1/verify (shared/verify), open to any key whose
// scopes cover it.
var authorizedJSONRoutes = []string{"verify POST " + verify.Path}

// TestPublicOperations: openapi.yaml declares no security on exactly the
// public JSON routes, so no client sends them a key and none is expected.
func TestPublicOperations(t *testing.T) {
	src := read(t, "../../openapi.yaml")
	if got := openAPIPublicRoutes(t, src); !slices.Equal(got, publicJSONRoutes) {
		t.Fatalf("openapi.yaml operations with security: []:\n  %s\nwant:\n  %s", strings.Join(got, "\n  "), strings.Join(publicJSONRoutes, "\n  "))
	}
	if spoiled := strings.Replace(src, "      security: []\n", "", 1); len(openAPIPublicRoutes(t, spoiled)) != 0 {
		t.Fatal("a document without security: [] still has public operations: the check cannot fail")
	}
}

var readmeRoute = regexp.MustCompile("(?m)^\\| `([A-Z]+) (/[^`]*)` \\| ([a-z]+) \\|")

// readmeRoutes are "fn METHOD path" of the README's route table.
func readmeRoutes(src string) []string {
	var out []string
	for _, m := range readmeRoute.FindAllStringSubmatch(src, -1) {
		out = append(out, fmt.Sprintf("%s %s %s", m[3], m[1], m[2]))
	}
	slices.Sort(out)
	return out
}

func read(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func TestRoutesAgree(t *testing.T) {
	if v := testkit.YAMLChild(parseYAML(t, read(t, "../../openapi.yaml")), "openapi"); v == nil || !strings.HasPrefix(v.Value, "3.1") {
		t.Fatal("openapi.yaml is not OpenAPI 3.1")
	}
	want := codeRoutes(true)
	// openapi.yaml is the JSON API's contract; the console's public routes
	// serve a page and its assets, and README and the template list them.
	// It also holds the public JSON routes, and the template routes those
	// to their own function (shared/secretscan).
	// The same goes for the authorized routes of their own functions.
	wantJSON := append(withoutFunction(codeRoutes(false)), publicJSONRoutes...)
	wantJSON = append(wantJSON, withoutFunction(authorizedJSONRoutes)...)
	slices.Sort(wantJSON)
	wantTemplate := slices.Sorted(slices.Values(append(append(slices.Clone(want), "secretscanning POST "+secretscan.Path), authorizedJSONRoutes...)))
	template, openAPI, readme := read(t, "../../template.yaml"), read(t, "../../openapi.yaml"), read(t, "../../README.md")
	tests := []struct {
		name string
		got  func(src string) []string
		src  string
		want []string
	}{
		{"template.yaml", func(s string) []string { return templateRoutes(t, s) }, template, wantTemplate},
		{"openapi.yaml", func(s string) []string { return openAPIRoutes(t, s) }, openAPI, wantJSON},
		{"README.md", readmeRoutes, readme, wantTemplate},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := tt.got(tt.src); !slices.Equal(got, tt.want) {
				t.Fatalf("%s routes:\n  %s\nthe code's (httpapi.Routes):\n  %s", tt.name, strings.Join(got, "\n  "), strings.Join(tt.want, "\n  "))
			}
			// The check can fail: a document whose route differs from the
			// code's disagrees.
			spoiled := strings.ReplaceAll(tt.src, "/v1/whoami", "/v1/me")
			if spoiled == tt.src || slices.Equal(tt.got(spoiled), tt.want) {
				t.Fatalf("%s: a changed document still agrees: the check cannot fail", tt.name)
			}
		})
	}
}

// readmeAccess is "METHOD path access" of the README's route table: a row
// saying "no authorizer" is public, "admin keys only" admin, any other key.
func readmeAccess(src string) []string {
	var out []string
	for _, line := range strings.Split(src, "\n") {
		m := readmeRoute.FindStringSubmatch(line)
		if m == nil {
			continue
		}
		access := httpapi.AnyKey
		switch {
		case strings.Contains(line, "no authorizer"):
			access = httpapi.Public
		case strings.Contains(line, "admin keys only"):
			access = httpapi.AdminKey
		}
		out = append(out, fmt.Sprintf("%s %s %s", m[1], m[2], access))
	}
	slices.Sort(out)
	return out
}

// TestRouteAccessAgrees: the README says who may call each route as the
// table does.
func TestRouteAccessAgrees(t *testing.T) {
	var want []string
	for _, r := range httpapi.Routes {
		want = append(want, fmt.Sprintf("%s %s %s", r.Method, r.Resource, r.Access))
	}
	for _, r := range publicJSONRoutes {
		want = append(want, r+" "+string(httpapi.Public))
	}
	for _, r := range withoutFunction(authorizedJSONRoutes) {
		want = append(want, r+" "+string(httpapi.AnyKey))
	}
	slices.Sort(want)
	readme := read(t, "../../README.md")
	if got := readmeAccess(readme); !slices.Equal(got, want) {
		t.Fatalf("README.md access:\n  %s\nthe code's (httpapi.Routes):\n  %s", strings.Join(got, "\n  "), strings.Join(want, "\n  "))
	}
	if spoiled := strings.Replace(readme, "; admin keys only", "", 1); slices.Equal(readmeAccess(spoiled), want) {
		t.Fatal("README.md without an admin-only note still agrees: the check cannot fail")
	}
}

// TestConsoleTestEvents: the shareable test events the template puts in
// the Lambda console are the shipped direct events of events/, each
// accepted by the function it is filed under.
func TestConsoleTestEvents(t *testing.T) {
	resources := testkit.YAMLChild(parseYAML(t, read(t, "../../template.yaml")), "Resources")
	found := 0
	for i := 0; resources != nil && i+1 < len(resources.Content); i += 2 {
		name, res := resources.Content[i].Value, resources.Content[i+1]
		if testkit.YAMLChild(res, "Type").Value != "AWS::EventSchemas::Schema" {
			continue
		}
		fn := strings.ToLower(strings.TrimSuffix(name, "FunctionTestEvents"))
		var content struct {
			Components struct {
				Examples map[string]struct {
					Value json.RawMessage `json:"value"`
				} `json:"examples"`
			} `json:"components"`
		}
		if err := json.Unmarshal([]byte(testkit.YAMLChild(testkit.YAMLChild(res, "Properties"), "Content").Value), &content); err != nil {
			t.Fatalf("%s: content is not JSON: %v", name, err)
		}
		if len(content.Components.Examples) == 0 {
			t.Fatalf("%s has no examples", name)
		}
		files, _ := filepath.Glob("../../events/" + fn + "/*direct*.json")
		shipped := map[string]bool{}
		for _, f := range files {
			shipped[compact(t, []byte(read(t, f)))] = true
		}
		for ex, v := range content.Components.Examples {
			if !shipped[compact(t, v.Value)] {
				t.Errorf("%s example %s is not one of events/%s/*direct*.json", name, ex, fn)
			}
			found++
		}
	}
	if found < 6 {
		t.Fatalf("found %d console test events, want the direct events of all three management functions", found)
	}
}

func compact(t *testing.T, b []byte) string {
	t.Helper()
	var buf bytes.Buffer
	if err := json.Compact(&buf, b); err != nil {
		t.Fatal(err)
	}
	return buf.String()
}
