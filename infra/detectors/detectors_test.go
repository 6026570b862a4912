package detectors_test

import (
	"bytes"
	"crypto/rand"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/keygate/keygate/infra/testkit"
	"github.com/keygate/keygate/shared/apikey"
	"go.yaml.in/yaml/v3"
)

const root = "../.."

// published is what docs/secret-scanning.md tells people to use.
type published struct {
	pattern string // the bare token pattern, default prefix
	// The gitleaks rule: the whole TOML, and what its rule says.
	gitleaksTOML, gitleaksID, gitleaksRegex string
	gitleaksKeywords                        []string
	// The TruffleHog custom detector.
	truffleHog detector
}

type detector struct {
	Name     string            `yaml:"name"`
	Keywords []string          `yaml:"keywords"`
	Regex    map[string]string `yaml:"regex"`
}

// fenced returns the bodies of src's fenced code blocks tagged lang.
func fenced(src, lang string) []string {
	re := regexp.MustCompile("(?ms)^```" + regexp.QuoteMeta(lang) + "\n(.*?)^```$")
	var out []string
	for _, m := range re.FindAllStringSubmatch(src, -1) {
		out = append(out, m[1])
	}
	return out
}

// one returns the single submatch of re in src.
func one(t *testing.T, src, what string, re *regexp.Regexp) string {
	t.Helper()
	m := re.FindAllStringSubmatch(src, -1)
	if len(m) != 1 {
		t.Fatalf("the gitleaks rule has %d %s lines, want 1:\n%s", len(m), what, src)
	}
	return m[0][1]
}

func readDoc(t *testing.T) published {
	t.Helper()
	raw, err := os.ReadFile(filepath.Join(root, "docs", "secret-scanning.md"))
	if err != nil {
		t.Fatal(err)
	}
	src := string(raw)
	var p published

	texts := fenced(src, "text")
	if len(texts) != 1 {
		t.Fatalf("docs/secret-scanning.md has %d text blocks, want the one token pattern", len(texts))
	}
	p.pattern = strings.TrimSpace(texts[0])

	tomls := fenced(src, "toml")
	if len(tomls) != 1 {
		t.Fatalf("docs/secret-scanning.md has %d toml blocks, want the one gitleaks rule", len(tomls))
	}
	p.gitleaksTOML = tomls[0]
	if n := strings.Count(p.gitleaksTOML, "[[rules]]"); n != 1 {
		t.Fatalf("the gitleaks config has %d rules, want 1", n)
	}
	p.gitleaksID = one(t, p.gitleaksTOML, "id", regexp.MustCompile(`(?m)^id = "([^"]+)"$`))
	p.gitleaksRegex = one(t, p.gitleaksTOML, "regex", regexp.MustCompile(`(?m)^regex = '''(.+)'''$`))
	for _, k := range strings.Split(one(t, p.gitleaksTOML, "keywords", regexp.MustCompile(`(?m)^keywords = \[(.+)\]$`)), ",") {
		s, err := strconv.Unquote(strings.TrimSpace(k))
		if err != nil {
			t.Fatalf("gitleaks keyword %s: %v", k, err)
		}
		p.gitleaksKeywords = append(p.gitleaksKeywords, s)
	}

	var configs []string
	for _, y := range fenced(src, "yaml") {
		if strings.HasPrefix(y, "detectors:") {
			configs = append(configs, y)
		}
	}
	if len(configs) != 1 {
		t.Fatalf("docs/secret-scanning.md has %d TruffleHog configs, want 1", len(configs))
	}
	// Strictly: a misspelt field would be ignored by a lax decoder, and
	// TruffleHog would refuse it.
	var cfg struct {
		Detectors []detector `yaml:"detectors"`
	}
	dec := yaml.NewDecoder(strings.NewReader(configs[0]))
	dec.KnownFields(true)
	if err := dec.Decode(&cfg); err != nil {
		t.Fatalf("the TruffleHog config does not parse: %v", err)
	}
	if len(cfg.Detectors) != 1 {
		t.Fatalf("the TruffleHog config has %d detectors, want 1", len(cfg.Detectors))
	}
	p.truffleHog = cfg.Detectors[0]
	if p.truffleHog.Name == "" || len(p.truffleHog.Keywords) == 0 || len(p.truffleHog.Regex) != 1 {
		t.Fatalf("the TruffleHog detector needs a name, keywords and one regex: %+v", p.truffleHog)
	}
	return p
}

// TestPublishedPattern: the pattern the document gives is the format's.
func TestPublishedPattern(t *testing.T) {
	p := readDoc(t)
	format, _ := testkit.Tokens(t)
	if p.pattern != format.Pattern() {
		t.Fatalf("docs/secret-scanning.md gives %q, apikey.Format.Pattern() is %q", p.pattern, format.Pattern())
	}
}

// rule is one published rule, rewritten for a prefix the way the
// document says: replace kg_live_ in the regex and the keywords.
type rule struct {
	name     string
	regex    string
	keywords []string
}

func (r rule) forPrefix(t *testing.T, prefix string) (*regexp.Regexp, []string) {
	t.Helper()
	// Go's RE2 is what both gitleaks and TruffleHog compile with.
	re, err := regexp.Compile(strings.ReplaceAll(r.regex, apikey.DefaultPrefix, regexp.QuoteMeta(prefix)))
	if err != nil {
		t.Fatalf("%s: %v", r.name, err)
	}
	var kws []string
	for _, k := range r.keywords {
		kws = append(kws, strings.ReplaceAll(k, apikey.DefaultPrefix, prefix))
	}
	return re, kws
}

func publishedRules(t *testing.T) []rule {
	p := readDoc(t)
	var th string
	for _, v := range p.truffleHog.Regex {
		th = v
	}
	return []rule{
		{"gitleaks", p.gitleaksRegex, p.gitleaksKeywords},
		{"TruffleHog", th, p.truffleHog.Keywords},
	}
}

// mint returns n fresh tokens of prefix.
func mint(t *testing.T, prefix string, n int) []string {
	t.Helper()
	_, hasher := testkit.Tokens(t)
	format, err := apikey.NewFormat(prefix)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for range n {
		tok, err := format.Generate(rand.Reader, hasher)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, tok.Reveal())
	}
	return out
}

// nearMisses are strings that look like tok but are not a token; each
// must match nothing.
func nearMisses(tok, prefix, otherPrefix string) map[string]string {
	body := tok[len(prefix):]
	return map[string]string{
		"one character short":      prefix + body[:len(body)-1],
		"one character long":       prefix + body + "Q",
		"inside a longer run":      "Zq" + tok + "9",
		"a longer run before it":   "x" + tok,
		"an underscore before it":  "_" + tok,
		"an underscore after it":   tok + "_",
		"another prefix":           otherPrefix + body,
		"the prefix in upper case": strings.ToUpper(prefix) + body,
		"a character not base62":   prefix + body[:40] + "-" + body[41:],
		"a base64 character":       prefix + body[:10] + "+" + body[11:],
		"the prefix without its _": strings.TrimSuffix(prefix, "_") + body,
	}
}

// TestRulesFindTokens: every published rule, with the default prefix and
// with another, finds each minted token wherever it stands (and the
// whole token, which parses), and nothing in the near misses.
func TestRulesFindTokens(t *testing.T) {
	for _, r := range publishedRules(t) {
		for _, pf := range []struct{ prefix, other string }{{apikey.DefaultPrefix, "kg_test_"}, {"acme_live_", "acme_test_"}} {
			t.Run(r.name+"/"+pf.prefix, func(t *testing.T) {
				re, keywords := r.forPrefix(t, pf.prefix)
				format, err := apikey.NewFormat(pf.prefix)
				if err != nil {
					t.Fatal(err)
				}
				tokens := mint(t, pf.prefix, 50)
				for i, tok := range tokens {
					other := tokens[(i+1)%len(tokens)]
					contexts := map[string][]string{
						"%s":                        {tok},
						"KEYGATE_KEY=%s\n":          {tok},
						`{"key":"%s"}`:              {tok},
						"Authorization: Bearer %s":  {tok},
						"https://x.example/?t=%s&a": {tok},
						"%s,OTHER":                  {tok, other},
						"'%s'\t# old":               {tok},
					}
					for ctx, want := range contexts {
						text := strings.Replace(strings.Replace(ctx, "%s", tok, 1), "OTHER", other, 1)
						if got := re.FindAllString(text, -1); !slices.Equal(got, want) {
							t.Fatalf("in %q: found %d matches %q, want the %d token(s)", ctx, len(got), hints(got), len(want))
						}
					}
					if _, err := format.Parse(tok); err != nil {
						t.Fatalf("a match does not validate offline: %v", err)
					}
					for _, k := range keywords {
						// Both tools prefilter on keywords, case-insensitively.
						if !strings.Contains(strings.ToLower(tok), strings.ToLower(k)) {
							t.Fatalf("keyword %q is not in the token: the rule would never run", k)
						}
					}
					if i > 0 {
						continue
					}
					for name, s := range nearMisses(tok, pf.prefix, pf.other) {
						if got := re.FindAllString(s, -1); len(got) != 0 {
							t.Errorf("%s: matched %q", name, hints(got))
						}
					}
				}
			})
		}
		// A bounded rule for a prefix that ends another prefix does not
		// match inside the other's tokens.
		t.Run(r.name+"/suffix prefix", func(t *testing.T) {
			re, _ := r.forPrefix(t, "live_")
			for _, tok := range mint(t, apikey.DefaultPrefix, 20) {
				if got := re.FindAllString("key: "+tok, -1); len(got) != 0 {
					t.Fatalf("the live_ rule matched inside a kg_live_ token: %q", hints(got))
				}
			}
		})
	}
}

// TestUnboundedPatternMisfires shows why the rules carry \b: the bare
// pattern matches the near misses that the bounded rules refuse.
func TestUnboundedPatternMisfires(t *testing.T) {
	format, _ := testkit.Tokens(t)
	bare := regexp.MustCompile(format.Pattern())
	tok := mint(t, apikey.DefaultPrefix, 1)[0]
	misses := nearMisses(tok, apikey.DefaultPrefix, "kg_test_")
	for _, name := range []string{"one character long", "inside a longer run", "a longer run before it"} {
		if !bare.MatchString(misses[name]) {
			t.Errorf("the bare pattern does not match %s: the \\b in the rules would be needless", name)
		}
	}
}

// hints shortens matches for messages: never print a whole token.
func hints(ms []string) []string {
	out := make([]string, len(ms))
	for i, m := range ms {
		if len(m) > 16 {
			m = m[:16] + "…(" + strconv.Itoa(len(m)) + " chars)"
		}
		out[i] = m
	}
	return out
}

// gitleaks returns the gitleaks binary at the version the Makefile pins
// (GITLEAKS_VERSION), in .build/tools as make deps builds it, building it
// there first if it is missing or another version.
func gitleaks(t *testing.T) string {
	t.Helper()
	mk, err := os.ReadFile(filepath.Join(root, "Makefile"))
	if err != nil {
		t.Fatal(err)
	}
	m := regexp.MustCompile(`(?m)^GITLEAKS_VERSION := (v\S+)$`).FindSubmatch(mk)
	if m == nil {
		t.Fatal("the Makefile pins no GITLEAKS_VERSION")
	}
	version := string(m[1])
	const module = "github.com/zricethezav/gitleaks/v8"
	dir, err := filepath.Abs(filepath.Join(root, ".build", "tools"))
	if err != nil {
		t.Fatal(err)
	}
	bin := filepath.Join(dir, "gitleaks")
	if out, err := exec.Command("go", "version", "-m", bin).Output(); err == nil && bytes.Contains(out, []byte("\tmod\t"+module+"\t"+version+"\t")) {
		return bin
	}
	cmd := exec.Command("go", "install", module+"@"+version)
	cmd.Env = append(os.Environ(), "GOBIN="+dir)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("build gitleaks %s from the Go module proxy: %v\n%s", version, err, out)
	}
	return bin
}

// TestGitleaks runs the real gitleaks with the document's config over a
// directory holding a minted token and near misses: it reports exactly
// the token.
func TestGitleaks(t *testing.T) {
	testkit.SkipShort(t, "gitleaks, built from the Go module proxy")
	p := readDoc(t)
	bin := gitleaks(t)
	work := t.TempDir()
	config := filepath.Join(work, "gitleaks.toml")
	if err := os.WriteFile(config, []byte(p.gitleaksTOML), 0o600); err != nil {
		t.Fatal(err)
	}
	tokens := mint(t, apikey.DefaultPrefix, 2)
	tok, spare := tokens[0], tokens[1]
	var near strings.Builder
	for _, s := range nearMisses(spare, apikey.DefaultPrefix, "kg_test_") {
		near.WriteString("KEY=" + s + "\n")
	}
	near.WriteString("KEY=" + mint(t, "acme_live_", 1)[0] + "\n")
	fixture := filepath.Join(work, "repo")
	files := map[string]string{
		"app.env":         "# the deploy key\nKEYGATE_KEY=" + tok + "\n",
		"near-misses.txt": near.String(),
	}
	if err := os.Mkdir(fixture, 0o700); err != nil {
		t.Fatal(err)
	}
	for name, content := range files {
		if err := os.WriteFile(filepath.Join(fixture, name), []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	report := filepath.Join(work, "report.json")
	// --enable-rule keeps gitleaks' default rules (the config extends
	// them) from reporting the near misses as generic secrets.
	cmd := exec.Command(bin, "dir", "--no-banner", "--log-level", "error", "--config", config, "--enable-rule", p.gitleaksID,
		"--report-format", "json", "--report-path", report, "--exit-code", "0", fixture)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("gitleaks: %v\n%s", err, out)
	}
	raw, err := os.ReadFile(report)
	if err != nil {
		t.Fatal(err)
	}
	var findings []struct {
		RuleID, Secret, File string
		StartLine            int
	}
	if err := json.Unmarshal(raw, &findings); err != nil {
		t.Fatalf("gitleaks report: %v", err)
	}
	var got []string
	for _, f := range findings {
		got = append(got, f.RuleID+" "+filepath.Base(f.File)+":"+strconv.Itoa(f.StartLine)+" "+hints([]string{f.Secret})[0])
	}
	if len(findings) != 1 || findings[0].Secret != tok || findings[0].RuleID != p.gitleaksID || filepath.Base(findings[0].File) != "app.env" {
		t.Fatalf("gitleaks found %d: %q; want the one token in app.env", len(findings), got)
	}
}
