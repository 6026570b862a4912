package lifecycle_test

import (
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/keygate/keygate/shared/keygate"
	"github.com/keygate/keygate/shared/lifecycle"
)

// TestMail: both parts name the key by name and hint, link the console
// when there is one, and escape what a key's name could smuggle into HTML.
func TestMail(t *testing.T) {
	exp := time.Date(2026, 12, 7, 12, 0, 0, 0, time.UTC)
	k := &lifecycle.KeyInfo{ID: "0wjfyYDZHtumHlgsO", Hint: "kg_live_0wjfyYDZ", Name: `<script>alert(1)</script>`, Tenant: "acme",
		Owner: "acme", Type: keygate.Service, CreatedBy: "operator", ExpiresAt: &exp}
	tests := []struct {
		name    string
		mail    lifecycle.Mail
		subject string
		link    bool
	}{
		{"service key", lifecycle.ServiceKeyMail(k, "ops@acme.example", "https://keys.example.com/console/"), "new service key", true},
		{"expiring", lifecycle.ExpiringMail(k, []string{"ops@acme.example"}, 3, ""), "expires within 3 days", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m := tt.mail
			if !strings.Contains(m.Subject, tt.subject) || !slices.Equal(m.To, []string{"ops@acme.example"}) {
				t.Fatalf("subject %q to %v", m.Subject, m.To)
			}
			for _, part := range []string{m.Text, m.HTML} {
				if !strings.Contains(part, k.Hint) || !strings.Contains(part, k.ID) || !strings.Contains(part, "Mon, 07 Dec 2026") {
					t.Errorf("part lacks the key's hint, id or expiry:\n%s", part)
				}
				if got := strings.Contains(part, "https://keys.example.com/console"); got != tt.link {
					t.Errorf("console link present = %v, want %v", got, tt.link)
				}
			}
			if !strings.Contains(m.Text, k.Name) || strings.Contains(m.HTML, "<script>") || !strings.Contains(m.HTML, "&lt;script&gt;") {
				t.Errorf("name not as text in the text part, or not escaped in HTML:\n%s", m.HTML)
			}
		})
	}
}
