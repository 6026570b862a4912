package lifecycle_test

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/lambda/messages"
	"github.com/keygate/keygate/shared/keygate"
	"github.com/keygate/keygate/shared/lifecycle"
)

func TestValidEmail(t *testing.T) {
	for addr, want := range map[string]bool{
		"ops@acme.example": true, "a.b+keys@sub.acme.example": true,
		"": false, "ops": false, "ops@acme": false, "@acme.example": false, "a@b@acme.example": false,
		"ops@acme.example, evil@x.example": false, "Ops <ops@acme.example>": false, "ops@acme.example\r\nBcc: x@y.z": false,
		"ops@.example": false, "ops@acme.example.": false, strings.Repeat("a", 250) + "@b.cd": false,
	} {
		if got := lifecycle.ValidEmail(addr); got != want {
			t.Errorf("ValidEmail(%q) = %v, want %v", addr, got, want)
		}
	}
}

// TestSettingsService: operators manage any tenant's settings, admin keys
// their own tenant's, nobody else; invalid settings are refused and
// nothing is written. Against DynamoDB Local.
func TestSettingsService(t *testing.T) {
	f := newFixture(t)
	svc := lifecycle.NewSettingsService(f.store)
	ctx := context.Background()
	admin := keygate.Caller{KeyID: "k1", Tenant: "acme", Owner: "root", Type: keygate.User, Role: keygate.Admin}
	viewer := admin
	viewer.Role = keygate.Viewer
	str := func(s string) *string { return &s }
	days := func(d ...int) *[]int { return &d }
	tests := []struct {
		name   string
		caller keygate.Caller
		tenant string
		change lifecycle.SettingsChange
		code   keygate.Code // "" for success
		want   lifecycle.Settings
	}{
		{"operator sets both", operator, "acme", lifecycle.SettingsChange{OwnerEmail: str("ops@acme.example"), ReminderDays: days(3, 14)}, "",
			lifecycle.Settings{OwnerEmail: "ops@acme.example", ReminderDays: []int{14, 3}}},
		{"admin changes the windows only", admin, "acme", lifecycle.SettingsChange{ReminderDays: days(30, 7, 1)}, "",
			lifecycle.Settings{OwnerEmail: "ops@acme.example", ReminderDays: []int{30, 7, 1}}},
		{"admin clears the address", admin, "acme", lifecycle.SettingsChange{OwnerEmail: str("")}, "",
			lifecycle.Settings{ReminderDays: []int{30, 7, 1}}},
		{"admin of another tenant", admin, "globex", lifecycle.SettingsChange{OwnerEmail: str("x@globex.example")}, keygate.Forbidden, lifecycle.Settings{}},
		{"viewer", viewer, "acme", lifecycle.SettingsChange{OwnerEmail: str("x@acme.example")}, keygate.Forbidden, lifecycle.Settings{}},
		{"not an address", operator, "acme", lifecycle.SettingsChange{OwnerEmail: str("ops@acme.example, x@evil.example")}, keygate.Invalid, lifecycle.Settings{}},
		{"window too long", operator, "acme", lifecycle.SettingsChange{ReminderDays: days(31)}, keygate.Invalid, lifecycle.Settings{}},
		{"window twice", operator, "acme", lifecycle.SettingsChange{ReminderDays: days(3, 3)}, keygate.Invalid, lifecycle.Settings{}},
		{"too many windows", operator, "acme", lifecycle.SettingsChange{ReminderDays: days(1, 2, 3, 4, 5, 6)}, keygate.Invalid, lifecycle.Settings{}},
		{"bad tenant", operator, "a#b", lifecycle.SettingsChange{}, keygate.Invalid, lifecycle.Settings{}},
	}
	last := lifecycle.Settings{}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := svc.Update(ctx, tt.caller, tt.tenant, tt.change)
			if tt.code != "" {
				if keygate.ErrorCode(err) != tt.code {
					t.Fatalf("err = %v, want %s", err, tt.code)
				}
			} else if err != nil {
				t.Fatal(err)
			} else {
				if got.OwnerEmail != tt.want.OwnerEmail || !slices.Equal(got.ReminderDays, tt.want.ReminderDays) {
					t.Fatalf("settings %+v, want %+v", got, tt.want)
				}
				last = got
			}
			stored, err := svc.Get(ctx, operator, "acme")
			if err != nil {
				t.Fatal(err)
			}
			if stored.OwnerEmail != last.OwnerEmail || !slices.Equal(stored.ReminderDays, last.ReminderDays) {
				t.Fatalf("stored %+v, want %+v", stored, last)
			}
		})
	}
	if _, err := svc.Get(ctx, viewer, "acme"); keygate.ErrorCode(err) != keygate.Forbidden {
		t.Fatalf("a viewer read the settings: %v", err)
	}
}

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
// a tenant's settings; a bad event is a function error typed with its code.
func TestSettingsHandler(t *testing.T) {
	f := newFixture(t)
	h := lifecycle.NewSettingsHandler(lifecycle.NewSettingsService(f.store), slog.New(slog.NewJSONHandler(f.logs, nil)))
	tests := []struct {
		event, want, errType string
	}{
		{`{"tenant":"acme"}`, `{"owner_email":"","reminder_days":null}`, ""},
		{`{"tenant":"acme","owner_email":"ops@acme.example","reminder_days":[3,14]}`, `{"owner_email":"ops@acme.example","reminder_days":[14,3]}`, ""},
		{`{"tenant":"acme"}`, `{"owner_email":"ops@acme.example","reminder_days":[14,3]}`, ""},
		{`{"tenant":"acme","owner_email":"nope"}`, "", "invalid_request"},
		{`{"tenant":"acme","ownerEmail":"ops@acme.example"}`, "", "invalid_request"},
		{`{"tenant":"acme"} {}`, "", "invalid_request"},
	}
	for _, tt := range tests {
		s, err := h.Handle(context.Background(), json.RawMessage(tt.event))
		if tt.errType != "" {
			var ie messages.InvokeResponse_Error
			if !errors.As(err, &ie) || ie.Type != tt.errType {
				t.Errorf("%s: err %v, want type %s", tt.event, err, tt.errType)
			}
			continue
		}
		if err != nil {
			t.Fatalf("%s: %v", tt.event, err)
		}
		if got, _ := json.Marshal(s); string(got) != tt.want {
			t.Errorf("%s: %s, want %s", tt.event, got, tt.want)
		}
	}
}
