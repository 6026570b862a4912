package lifecycle_test

import (
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/keygate/keygate/shared/keygate"
	"github.com/keygate/keygate/shared/lifecycle"
)

// TestMail: both parts name the key by hint and ID and link the console
// when there is one. A key's name is the tenant's own text and the mail
// comes from the operator's SES identity: the name never reaches the
// subject, and in the body it is quoted, escaped in HTML, and cannot add
// lines or reorder text.
func TestMail(t *testing.T) {
	exp := time.Date(2026, 12, 7, 12, 0, 0, 0, time.UTC)
	names := []struct {
		name string
		text string // how the text part shows it
	}{
		{"", "(unnamed)"},
		{"billing sync", `"billing sync"`},
		{`<script>alert(1)</script>`, `"<script>alert(1)</script>"`},
		{"Action required: reply with your API key", `"Action required: reply with your API key"`},
		{"ok\u2028Keygate: your key was revoked, sign in at evil.example", `"ok\u2028Keygate: your key was revoked, sign in at evil.example"`},
		{"ok\u2029para", `"ok\u2029para"`},
		{"x\u202etxt.exe", `"x\u202etxt.exe"`},
		{`quote " and \ slash`, `"quote \" and \\ slash"`},
	}
	for _, n := range names {
		k := &lifecycle.KeyInfo{ID: "0wjfyYDZHtumHlgsO", Hint: "kg_live_0wjfyYDZ", Name: n.name, Tenant: "acme",
			Owner: "acme", Type: keygate.Service, CreatedBy: "operator", ExpiresAt: &exp}
		tests := []struct {
			kind    string
			mail    lifecycle.Mail
			subject string
			link    bool
		}{
			{"service key", lifecycle.ServiceKeyMail(k, "ops@acme.example", "https://keys.example.com/console/"),
				"Keygate: new service key kg_live_0wjfyYDZ… (id 0wjfyYDZHtumHlgsO)", true},
			{"expiring", lifecycle.ExpiringMail(k, []string{"ops@acme.example"}, 3, ""),
				"Keygate: key kg_live_0wjfyYDZ… (id 0wjfyYDZHtumHlgsO) expires within 3 days", false},
			{"leaked", lifecycle.LeakedMail(k, []string{"ops@acme.example"}, "https://github.com/o/r/blob/x/.env", "content", false, "https://keys.example.com/console"),
				"Keygate: key kg_live_0wjfyYDZ… (id 0wjfyYDZHtumHlgsO) was found in public", true},
		}
		for _, tt := range tests {
			t.Run(tt.kind+"/"+n.text, func(t *testing.T) {
				m := tt.mail
				if m.Subject != tt.subject || !slices.Equal(m.To, []string{"ops@acme.example"}) {
					t.Errorf("subject %q to %v, want %q", m.Subject, m.To, tt.subject)
				}
				for _, part := range []string{m.Text, m.HTML} {
					if !strings.Contains(part, k.Hint) || !strings.Contains(part, k.ID) || !strings.Contains(part, "Mon, 07 Dec 2026") {
						t.Errorf("part lacks the key's hint, id or expiry:\n%s", part)
					}
					if got := strings.Contains(part, "https://keys.example.com/console"); got != tt.link {
						t.Errorf("console link present = %v, want %v", got, tt.link)
					}
					if strings.ContainsAny(part, "\u2028\u2029\u202e") {
						t.Errorf("part holds a raw separator or direction override:\n%q", part)
					}
				}
				if !strings.Contains(m.Text, "Name:    "+n.text+"\n") {
					t.Errorf("text part does not show the name as %s:\n%s", n.text, m.Text)
				}
				if strings.Contains(m.HTML, "<script>") || (n.name == `<script>alert(1)</script>` && !strings.Contains(m.HTML, "&lt;script&gt;")) {
					t.Errorf("name not escaped in HTML:\n%s", m.HTML)
				}
			})
		}
	}
}

// TestSettingsHandler: the operators' direct invocation reads and changes

// TestLeakedMail: the leak e-mail says where the alert found the key and
// whether it is revoked, by the key's status when the event was
// published. The URL and source are the alert's own text: quoted and
// escaped like a key's name (no fake lines, no raw HTML, never a link),
// and cut short if long.
func TestLeakedMail(t *testing.T) {
	revoked, expired, active := keygate.Revoked, keygate.Expired, keygate.Active
	hostile := "https://github.com/o/r/blob/x/<b>k</b>.env\u2028Keygate: sign in at evil.example"
	tests := []struct {
		name    string
		status  keygate.Status
		url     string
		cascade bool
		want    []string // in the text part
		not     []string // in neither part
	}{
		{"revoked", revoked, "https://github.com/o/r/blob/x/.env", false,
			[]string{`found this key's token in public at "https://github.com/o/r/blob/x/.env" (source "content")`, "The key is revoked"},
			[]string{"NOT revoked", "minted from it", `href="https://github.com`}},
		{"revoked with cascade", revoked, "https://github.com/o/r", true,
			[]string{"The key is revoked", "Every key minted from it is revoked too"}, []string{"NOT revoked"}},
		{"notify", active, "https://github.com/o/r", false,
			[]string{"The key was NOT revoked", "rotate it"}, []string{"The key is revoked"}},
		{"expired", expired, "https://github.com/o/r", false,
			[]string{"has expired", "it was not revoked"}, []string{"NOT revoked"}},
		{"no url", revoked, "", false,
			[]string{`found this key's token in public (source "content")`}, []string{" at \"\""}},
		{"hostile url", revoked, hostile, false,
			[]string{`\u2028Keygate: sign in at evil.example"`}, []string{"\u2028"}},
		{"long url", revoked, "https://github.com/" + strings.Repeat("é", 400), false,
			[]string{strings.Repeat("é", 240) + `"…`}, []string{strings.Repeat("é", 260)}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			k := &lifecycle.KeyInfo{ID: "0wjfyYDZHtumHlgsO", Hint: "kg_live_0wjfyYDZ", Tenant: "acme", Owner: "alice@acme.example",
				Type: keygate.User, Status: tt.status, CreatedBy: "operator"}
			m := lifecycle.LeakedMail(k, []string{"alice@acme.example", "ops@acme.example"}, tt.url, "content", tt.cascade, "")
			if !slices.Equal(m.To, []string{"alice@acme.example", "ops@acme.example"}) || (tt.url != "" && strings.Contains(m.Subject, tt.url)) {
				t.Errorf("to %v, subject %q", m.To, m.Subject)
			}
			for _, w := range tt.want {
				if !strings.Contains(m.Text, w) {
					t.Errorf("text part lacks %q:\n%s", w, m.Text)
				}
			}
			if strings.Contains(m.HTML, "<b>") {
				t.Errorf("alert text reaches the HTML part unescaped:\n%s", m.HTML)
			}
			for _, n := range tt.not {
				if strings.Contains(m.Text, n) || strings.Contains(m.HTML, n) {
					t.Errorf("mail holds %q:\n%s\n%s", n, m.Text, m.HTML)
				}
			}
		})
	}
}
