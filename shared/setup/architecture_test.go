package setup_test

import (
	"encoding/json"
	"os"
	"os/exec"
	"regexp"
	"slices"
	"strings"
	"testing"
)

const module = "github.com/keygate/keygate/"

// TestPackageMap keeps docs/architecture.md's package map true: every
// project package is in it, and imports only the project packages its row
// allows, so dependencies keep pointing inward; and, by the same
// document's "Third-party imports", only the outside modules its layer
// may use.
func TestPackageMap(t *testing.T) {
	raw, err := os.ReadFile("../../docs/architecture.md")
	if err != nil {
		t.Fatal(err)
	}
	row := regexp.MustCompile("(?m)^\\| (`[^|]+) \\| [^|]+ \\| ([^|]+) \\|$")
	type rule struct {
		patterns []string // package paths, or paths ending in /*
		allowed  []string
		any      bool
	}
	var rules []rule
	for _, m := range row.FindAllStringSubmatch(string(raw), -1) {
		r := rule{}
		for _, p := range strings.Split(m[1], ",") {
			r.patterns = append(r.patterns, strings.Trim(strings.TrimSpace(p), "`"))
		}
		cell := strings.TrimSpace(m[2])
		switch {
		case cell == "any of the above":
			r.any = true
		case cell != "—":
			for _, a := range strings.Split(cell, ",") {
				r.allowed = append(r.allowed, strings.Trim(strings.TrimSpace(a), "`"))
			}
		}
		rules = append(rules, r)
	}
	if len(rules) < 15 {
		t.Fatalf("found %d rows in the package map: the table's format changed", len(rules))
	}
	find := func(pkg string) *rule {
		for i := range rules {
			for _, p := range rules[i].patterns {
				if p == pkg || (strings.HasSuffix(p, "/*") && strings.HasPrefix(pkg, strings.TrimSuffix(p, "*"))) {
					return &rules[i]
				}
			}
		}
		return nil
	}
	thirdParty := thirdPartyRules(t, string(raw))
	cmd := exec.Command("go", "list", "-json=ImportPath,Imports", "./...")
	cmd.Dir = "../.."
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("go list: %v", err)
	}
	dec := json.NewDecoder(strings.NewReader(string(out)))
	checked := 0
	for dec.More() {
		var p struct {
			ImportPath string
			Imports    []string
		}
		if err := dec.Decode(&p); err != nil {
			t.Fatal(err)
		}
		pkg := strings.TrimPrefix(p.ImportPath, module)
		if strings.Contains(pkg, "/testdata/") || strings.HasPrefix(pkg, "infra/bench/minimal") {
			continue
		}
		r := find(pkg)
		if r == nil {
			t.Errorf("%s is not in docs/architecture.md's package map", pkg)
			continue
		}
		checked++
		checkThirdParty(t, thirdParty, pkg, p.Imports)
		for _, imp := range p.Imports {
			if !strings.HasPrefix(imp, module) || r.any {
				continue
			}
			dep := strings.TrimPrefix(imp, module)
			ok := false
			for _, a := range r.allowed {
				ok = ok || dep == a || dep == "shared/"+a || dep == "infra/"+a
			}
			if !ok {
				t.Errorf("%s imports %s, which its row in the package map does not allow", pkg, dep)
			}
		}
	}
	if checked < 15 {
		t.Fatalf("checked %d packages", checked)
	}
}

// links are the project packages each function may link (its main's
// transitive imports), besides itself: a function links only the code it
// runs. The authorizer links no management, lifecycle, notification or
// console code, nor the strict decoder (its size budget, BENCHMARKS.md); the management functions no lifecycle events or e-mail
// (they serve /v1/settings through shared/settings alone); the settings
// function neither publishes nor mails; the secret-scanning function links
// no console, authorizer, lifecycle or notification code; the verify
// function no console, management, lifecycle or notification code.
var links = func() map[string][]string {
	base := []string{"shared/apikey", "shared/config", "shared/keygate", "shared/setup", "shared/store"}
	with := func(pkgs ...string) []string { return append(append([]string{}, base...), pkgs...) }
	manage := with("shared/apierror", "shared/console", "shared/httpapi", "shared/manage", "shared/proxyevent", "shared/scope", "shared/settings", "shared/setup/keysetup", "shared/setup/managesetup", "shared/strictjson")
	events := with("shared/lifecycle", "shared/notify", "shared/setup/eventsetup")
	return map[string][]string{
		"functions/authorizer": with("shared/authorizer", "shared/scope", "shared/setup/authsetup", "shared/usage"),
		"functions/create":     manage,
		"functions/list":       manage,
		"functions/revoke":     manage,
		"functions/stream":     events,
		"functions/reminders":  events,
		"functions/settings":   with("shared/settings", "shared/strictjson"),
		// The secret-scanning function acts through the key management
		// service, and links neither the console nor the authorizer nor
		// the lifecycle events.
		"functions/secretscan": with("shared/apierror", "shared/manage", "shared/proxyevent", "shared/scope", "shared/secretscan", "shared/setup/keysetup", "shared/setup/scansetup"),
		// The verify function decides with the authorizer's code and
		// meter; it links no console, management, lifecycle or
		// notification code.
		"functions/verify": with("shared/apierror", "shared/authorizer", "shared/proxyevent", "shared/scope", "shared/setup/authsetup", "shared/setup/verifysetup", "shared/strictjson", "shared/usage", "shared/verify"),
	}
}()

// TestFunctionLinks fails when a function links a project package that is
// not on its list in links, or when a function has no list: a new import
// that drags another function's wiring into a binary is caught here
// rather than in a cold start (BENCHMARKS.md).
func TestFunctionLinks(t *testing.T) {
	cmd := exec.Command("go", "list", "-json=ImportPath,Deps", "./functions/...")
	cmd.Dir = "../.."
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("go list: %v", err)
	}
	dec := json.NewDecoder(strings.NewReader(string(out)))
	seen := 0
	for dec.More() {
		var p struct {
			ImportPath string
			Deps       []string
		}
		if err := dec.Decode(&p); err != nil {
			t.Fatal(err)
		}
		fn := strings.TrimPrefix(p.ImportPath, module)
		allowed, ok := links[fn]
		if !ok {
			t.Errorf("%s has no list of the packages it may link", fn)
			continue
		}
		seen++
		for _, dep := range p.Deps {
			if pkg, ok := strings.CutPrefix(dep, module); ok && !slices.Contains(allowed, pkg) {
				t.Errorf("%s links %s, which is not on its list", fn, pkg)
			}
		}
	}
	if seen != len(links) {
		t.Errorf("go list found %d of the %d functions listed", seen, len(links))
	}
}

// A thirdPartyRule is a row of docs/architecture.md's "Third-party
// imports": the packages it covers and the import paths they may use
// from outside the standard library and this module.
type thirdPartyRule struct {
	patterns []string // package paths, or paths ending in /*
	allowed  []string // import paths, each allowing the paths below it
	any      bool
}

func thirdPartyRules(t *testing.T, doc string) []thirdPartyRule {
	t.Helper()
	_, section, ok := strings.Cut(doc, "\n## Third-party imports\n")
	if !ok {
		t.Fatal("docs/architecture.md has no \"Third-party imports\" section")
	}
	section, _, _ = strings.Cut(section, "\n## ")
	row := regexp.MustCompile("(?m)^\\| (`[^|]+) \\| ([^|]+) \\|$")
	var rules []thirdPartyRule
	for _, m := range row.FindAllStringSubmatch(section, -1) {
		var r thirdPartyRule
		for _, p := range strings.Split(m[1], ",") {
			r.patterns = append(r.patterns, strings.Trim(strings.TrimSpace(p), "`"))
		}
		switch cell := strings.TrimSpace(m[2]); cell {
		case "any":
			r.any = true
		case "standard library only":
		default:
			for _, a := range strings.Split(cell, ",") {
				r.allowed = append(r.allowed, strings.Trim(strings.TrimSpace(a), "`"))
			}
		}
		rules = append(rules, r)
	}
	if len(rules) < 5 {
		t.Fatalf("found %d rows in the third-party imports table: its format changed", len(rules))
	}
	return rules
}

// checkThirdParty reports pkg's imports from outside the standard library
// and this module that its row does not allow, and a package no row
// covers.
func checkThirdParty(t *testing.T, rules []thirdPartyRule, pkg string, imports []string) {
	t.Helper()
	var r *thirdPartyRule
	for i := range rules {
		for _, p := range rules[i].patterns {
			if p == pkg || (strings.HasSuffix(p, "/*") && strings.HasPrefix(pkg, strings.TrimSuffix(p, "*"))) {
				r = &rules[i]
			}
		}
	}
	if r == nil {
		t.Errorf("%s is not in docs/architecture.md's third-party imports table", pkg)
		return
	}
	for _, imp := range imports {
		first, _, _ := strings.Cut(imp, "/")
		if r.any || strings.HasPrefix(imp, module) || !strings.Contains(first, ".") {
			continue // allowed, this module's, or the standard library
		}
		ok := false
		for _, a := range r.allowed {
			ok = ok || imp == a || strings.HasPrefix(imp, a+"/")
		}
		if !ok {
			t.Errorf("%s imports %s, which its row in the third-party imports table does not allow", pkg, imp)
		}
	}
}

// TestArchitectureFiles: every Go file docs/architecture.md names exists,
// so "Requests, file by file" follows the code when files move.
func TestArchitectureFiles(t *testing.T) {
	raw, err := os.ReadFile("../../docs/architecture.md")
	if err != nil {
		t.Fatal(err)
	}
	named := regexp.MustCompile("`((?:shared|functions|infra)/[^`*]+\\.go)`").FindAllStringSubmatch(string(raw), -1)
	if len(named) < 20 {
		t.Fatalf("docs/architecture.md names %d Go files: the format changed", len(named))
	}
	for _, m := range named {
		if _, err := os.Stat("../../" + m[1]); err != nil {
			t.Errorf("docs/architecture.md names %s: %v", m[1], err)
		}
	}
}
