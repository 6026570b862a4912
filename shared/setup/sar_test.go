package setup_test

import (
	"maps"
	"os"
	"regexp"
	"slices"
	"strings"
	"testing"

	"go.yaml.in/yaml/v3"
)

// sarSupported holds the resource types the AWS Serverless Application
// Repository's "List of Supported AWS Resources" names, as far as this
// template could use them: the types it declares, the types the SAM
// transform generates from them, and their near relatives (so that a
// change such as an HTTP API or an event rule needs no new look-up).
// Confirmed in the list's last full text published by AWS
// (awsdocs/aws-serverlessrepo-developer-guide, list-supported-resources.md)
// and, for AWS::ApiGateway::Account, the current page's opening. A type
// is added here only when that list names it.
var sarSupported = []string{
	"AWS::ApiGateway::Account",
	"AWS::ApiGateway::ApiKey",
	"AWS::ApiGateway::Authorizer",
	"AWS::ApiGateway::BasePathMapping",
	"AWS::ApiGateway::Deployment",
	"AWS::ApiGateway::DomainName",
	"AWS::ApiGateway::GatewayResponse",
	"AWS::ApiGateway::Method",
	"AWS::ApiGateway::Resource",
	"AWS::ApiGateway::RestApi",
	"AWS::ApiGateway::Stage",
	"AWS::ApiGateway::UsagePlan",
	"AWS::ApiGateway::UsagePlanKey",
	"AWS::ApiGatewayV2::Api",
	"AWS::ApiGatewayV2::Authorizer",
	"AWS::ApiGatewayV2::Deployment",
	"AWS::ApiGatewayV2::Integration",
	"AWS::ApiGatewayV2::IntegrationResponse",
	"AWS::ApiGatewayV2::Route",
	"AWS::ApiGatewayV2::RouteResponse",
	"AWS::ApiGatewayV2::Stage",
	"AWS::CloudFormation::WaitConditionHandle",
	"AWS::CloudWatch::Alarm",
	"AWS::DynamoDB::Table",
	"AWS::EventSchemas::Registry",
	"AWS::EventSchemas::Schema",
	"AWS::Events::EventBusPolicy",
	"AWS::Events::Rule",
	"AWS::IAM::ManagedPolicy",
	"AWS::IAM::Policy",
	"AWS::IAM::Role",
	"AWS::KMS::Alias",
	"AWS::KMS::Key",
	"AWS::Lambda::Alias",
	"AWS::Lambda::EventInvokeConfig",
	"AWS::Lambda::EventSourceMapping",
	"AWS::Lambda::Function",
	"AWS::Lambda::Permission",
	"AWS::Lambda::Version",
	"AWS::Logs::LogGroup",
	"AWS::Logs::MetricFilter",
	"AWS::Logs::SubscriptionFilter",
	"AWS::SNS::Subscription",
	"AWS::SNS::Topic",
	"AWS::SNS::TopicPolicy",
	"AWS::SQS::Queue",
	"AWS::SQS::QueuePolicy",
	"AWS::SSM::Parameter",
	"AWS::Serverless::Api",
	"AWS::Serverless::Application",
	"AWS::Serverless::Function",
	"AWS::Serverless::HttpApi",
	"AWS::Serverless::LayerVersion",
	"AWS::Serverless::SimpleTable",
	"AWS::Serverless::StateMachine",
}

// sarUnlisted holds the types Keygate uses that the list does not name
// (the list's current page could not be read in full, so some may have
// been added since). docs/deploy.md names every one it uses and what to
// do about it: publishing may be refused until AWS lists it.
var sarUnlisted = []string{
	"AWS::DynamoDB::GlobalTable",
	"AWS::Events::EventBus",
	"AWS::Scheduler::Schedule",
	"AWS::SecretsManager::Secret",
}

// samResources is what the SAM transform generates for a SAM resource
// type, besides the resource itself (checked against infra/sam/transform.py's
// output for the types Keygate uses).
var samResources = map[string][]string{
	"AWS::Serverless::Function": {"AWS::Lambda::Function", "AWS::IAM::Role"},
	"AWS::Serverless::Api":      {"AWS::ApiGateway::RestApi", "AWS::ApiGateway::Deployment", "AWS::ApiGateway::Stage"},
	"AWS::Serverless::HttpApi":  {"AWS::ApiGatewayV2::Api", "AWS::ApiGatewayV2::Stage"},
}

// samEvents is what a function's event source of each type generates.
// An Api or HttpApi event without its API's id also creates SAM's
// implicit API.
var samEvents = map[string][]string{
	"Api":             {"AWS::Lambda::Permission"},
	"HttpApi":         {"AWS::Lambda::Permission"},
	"DynamoDB":        {"AWS::Lambda::EventSourceMapping"},
	"SQS":             {"AWS::Lambda::EventSourceMapping"},
	"Kinesis":         {"AWS::Lambda::EventSourceMapping"},
	"Schedule":        {"AWS::Events::Rule", "AWS::Lambda::Permission"},
	"EventBridgeRule": {"AWS::Events::Rule", "AWS::Lambda::Permission"},
	"CloudWatchEvent": {"AWS::Events::Rule", "AWS::Lambda::Permission"},
	"ScheduleV2":      {"AWS::Scheduler::Schedule", "AWS::IAM::Role"},
}

// samFunctionProperties is what a function property generates.
var samFunctionProperties = map[string][]string{
	"AutoPublishAlias":     {"AWS::Lambda::Version", "AWS::Lambda::Alias"},
	"EventInvokeConfig":    {"AWS::Lambda::EventInvokeConfig"},
	"FunctionUrlConfig":    {"AWS::Lambda::Url", "AWS::Lambda::Permission"},
	"DeploymentPreference": {"AWS::CodeDeploy::Application", "AWS::CodeDeploy::DeploymentGroup"},
}

// TestServerlessRepoResources keeps template.yaml publishable to the
// Serverless Application Repository: every type it declares, and every
// type `sam deploy` would generate from it, is on SAR's list of supported
// resources, or is one docs/deploy.md names as not on it.
func TestServerlessRepoResources(t *testing.T) {
	if dup := intersect(sarSupported, sarUnlisted); len(dup) > 0 {
		t.Fatalf("both supported and unlisted: %v", dup)
	}
	used := map[string][]string{} // type -> the template resources that make it
	for name, r := range templateResources(t) {
		for _, typ := range generatedTypes(t, name, r) {
			used[typ] = append(used[typ], name)
		}
	}
	deploy, err := os.ReadFile("../../docs/deploy.md")
	if err != nil {
		t.Fatal(err)
	}
	types := slices.Sorted(maps.Keys(used))
	for _, typ := range types {
		by := used[typ]
		switch {
		case slices.Contains(sarSupported, typ):
		case slices.Contains(sarUnlisted, typ):
			if !strings.Contains(string(deploy), "`"+typ+"`") {
				t.Errorf("%s (from %v) is not on SAR's supported list and docs/deploy.md does not say so", typ, by)
			}
		default:
			t.Errorf("%s (from %v) is in neither list: look it up in SAR's list of supported resources", typ, by)
		}
	}
}

// samResource is a template resource as far as the SAM transform's
// output types depend on it.
type samResource struct {
	Type       string               `yaml:"Type"`
	Properties map[string]yaml.Node `yaml:"Properties"`
}

func templateResources(t *testing.T) map[string]samResource {
	t.Helper()
	src, err := os.ReadFile("../../template.yaml")
	if err != nil {
		t.Fatal(err)
	}
	var tpl struct {
		Resources map[string]samResource `yaml:"Resources"`
	}
	if err := yaml.Unmarshal(src, &tpl); err != nil || len(tpl.Resources) == 0 {
		t.Fatalf("template.yaml resources: %v", err)
	}
	return tpl.Resources
}

// generatedTypes is the resource's own type, or for a SAM resource the
// types the transform makes of it; it fails the test on a SAM type, event
// or property whose output this file does not know.
func generatedTypes(t *testing.T, name string, r samResource) []string {
	t.Helper()
	if !strings.HasPrefix(r.Type, "AWS::Serverless::") {
		return []string{r.Type}
	}
	out, ok := samResources[r.Type]
	if !ok {
		t.Errorf("%s: what SAM makes of %s is not in samResources", name, r.Type)
		return nil
	}
	out = append([]string{r.Type}, out...)
	if auth, ok := r.Properties["Auth"]; ok && strings.Contains(nodeText(&auth), "FunctionArn") {
		out = append(out, "AWS::Lambda::Permission") // the API may invoke its Lambda authorizer
	}
	for prop, types := range samFunctionProperties {
		if _, ok := r.Properties[prop]; ok {
			out = append(out, types...)
		}
	}
	events := r.Properties["Events"]
	for i := 1; i < len(events.Content); i += 2 {
		var ev samResource
		if err := events.Content[i].Decode(&ev); err != nil {
			t.Fatalf("%s event %s: %v", name, events.Content[i-1].Value, err)
		}
		types, ok := samEvents[ev.Type]
		if !ok {
			t.Errorf("%s: what SAM makes of a %s event is not in samEvents", name, ev.Type)
			continue
		}
		out = append(out, types...)
		_, rest := ev.Properties["RestApiId"]
		_, http := ev.Properties["ApiId"]
		switch {
		case ev.Type == "Api" && !rest:
			out = append(out, samResources["AWS::Serverless::Api"]...)
		case ev.Type == "HttpApi" && !http:
			out = append(out, samResources["AWS::Serverless::HttpApi"]...)
		}
	}
	return out
}

// TestServerlessRepoMetadata checks the metadata `sam publish` reads
// against the constraints of the SAM documentation's "Metadata section
// properties": the required keys, literal values only (SAR resolves no
// intrinsic functions), the name and author patterns, the description's
// length, and local license and readme files that exist, the license
// being the one SpdxLicenseId names.
func TestServerlessRepoMetadata(t *testing.T) {
	src, err := os.ReadFile("../../template.yaml")
	if err != nil {
		t.Fatal(err)
	}
	var tpl struct {
		Metadata map[string]yaml.Node `yaml:"Metadata"`
	}
	if err := yaml.Unmarshal(src, &tpl); err != nil {
		t.Fatal(err)
	}
	app, ok := tpl.Metadata["AWS::ServerlessRepo::Application"]
	if !ok {
		t.Fatal("template.yaml has no Metadata AWS::ServerlessRepo::Application")
	}
	if tag := firstTag(&app); tag != "" {
		t.Errorf("SAR metadata uses %s: intrinsic functions are not resolved there", tag)
	}
	var m struct {
		Name            string   `yaml:"Name"`
		Description     string   `yaml:"Description"`
		Author          string   `yaml:"Author"`
		SpdxLicenseID   string   `yaml:"SpdxLicenseId"`
		LicenseURL      string   `yaml:"LicenseUrl"`
		ReadmeURL       string   `yaml:"ReadmeUrl"`
		Labels          []string `yaml:"Labels"`
		HomePageURL     string   `yaml:"HomePageUrl"`
		SemanticVersion string   `yaml:"SemanticVersion"`
		SourceCodeURL   string   `yaml:"SourceCodeUrl"`
	}
	if err := app.Decode(&m); err != nil {
		t.Fatal(err)
	}
	checks := []struct {
		field, value string
		pattern      string
	}{
		{"Name", m.Name, `^[a-zA-Z0-9-]{1,140}$`},
		{"Author", m.Author, `^[a-z0-9]+(-[a-z0-9]+)*$`},
		{"Description", m.Description, `^(?s).{1,256}$`},
		{"SemanticVersion", m.SemanticVersion, `^[0-9]+\.[0-9]+\.[0-9]+$`},
		{"HomePageUrl", m.HomePageURL, `^https://`},
		{"SourceCodeUrl", m.SourceCodeURL, `^https://`},
		{"SpdxLicenseId", m.SpdxLicenseID, `^Apache-2\.0$`},
	}
	for _, c := range checks {
		if !regexp.MustCompile(c.pattern).MatchString(c.value) {
			t.Errorf("%s = %q, want %s", c.field, c.value, c.pattern)
		}
	}
	if len(m.Author) > 127 {
		t.Errorf("Author is %d characters, at most 127", len(m.Author))
	}
	if len(m.Labels) == 0 || len(m.Labels) > 10 {
		t.Errorf("%d labels, want 1 to 10", len(m.Labels))
	}
	for _, l := range m.Labels {
		if !regexp.MustCompile(`^[a-zA-Z0-9+\-_:/@]{1,127}$`).MatchString(l) {
			t.Errorf("label %q", l)
		}
	}
	for _, f := range []string{m.LicenseURL, m.ReadmeURL} {
		if _, err := os.Stat("../../" + f); err != nil || f == "" {
			t.Errorf("sam package uploads %q: %v", f, err)
		}
	}
	license, err := os.ReadFile("../../" + m.LicenseURL)
	if err != nil || !strings.Contains(string(license), "Apache License\n                           Version 2.0, January 2004") {
		t.Errorf("%s is not the Apache License 2.0 that SpdxLicenseId names (%v)", m.LicenseURL, err)
	}
}

// TestDeployDocOutputs: the outputs docs/deploy.md's parent stack reads
// from the nested Keygate application exist in template.yaml (cfn-lint
// cannot see into the nested template).
func TestDeployDocOutputs(t *testing.T) {
	doc, err := os.ReadFile("../../docs/deploy.md")
	if err != nil {
		t.Fatal(err)
	}
	src, err := os.ReadFile("../../template.yaml")
	if err != nil {
		t.Fatal(err)
	}
	var tpl struct {
		Outputs map[string]yaml.Node `yaml:"Outputs"`
	}
	if err := yaml.Unmarshal(src, &tpl); err != nil {
		t.Fatal(err)
	}
	refs := regexp.MustCompile(`Keygate\.Outputs\.([A-Za-z0-9]+)`).FindAllStringSubmatch(string(doc), -1)
	if len(refs) == 0 {
		t.Fatal("docs/deploy.md reads no output of the nested application")
	}
	for _, ref := range refs {
		if _, ok := tpl.Outputs[ref[1]]; !ok {
			t.Errorf("docs/deploy.md reads Keygate.Outputs.%s; template.yaml has no such output", ref[1])
		}
	}
}

func intersect(a, b []string) []string {
	var out []string
	for _, s := range a {
		if slices.Contains(b, s) {
			out = append(out, s)
		}
	}
	return out
}

// nodeText is every scalar under n, space-separated.
func nodeText(n *yaml.Node) string {
	var b strings.Builder
	var walk func(*yaml.Node)
	walk = func(n *yaml.Node) {
		if n.Kind == yaml.ScalarNode {
			b.WriteString(n.Value + " ")
		}
		for _, c := range n.Content {
			walk(c)
		}
	}
	walk(n)
	return b.String()
}

// firstTag is the first local tag (!Ref, !Sub, ...) under n, or "".
func firstTag(n *yaml.Node) string {
	if strings.HasPrefix(n.Tag, "!") && !strings.HasPrefix(n.Tag, "!!") {
		return n.Tag
	}
	for _, c := range n.Content {
		if tag := firstTag(c); tag != "" {
			return tag
		}
	}
	return ""
}
