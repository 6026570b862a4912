package manage_test

import (
	"bytes"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/keygate/keygate/shared/apikey"
	"github.com/keygate/keygate/shared/keygate"
	"github.com/keygate/keygate/shared/manage"
)

// newCreated returns a Created as Create would, without a table.
func newCreated(t *testing.T, capped bool) *manage.Created {
	t.Helper()
	h, err := apikey.NewHasher(bytes.Repeat([]byte("p"), 32), apikey.HMACSHA256, rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	f, _ := apikey.NewFormat(apikey.DefaultPrefix)
	tok, err := f.Generate(rand.Reader, h)
	if err != nil {
		t.Fatal(err)
	}
	at := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	return &manage.Created{
		Key: keygate.Key{ID: tok.ID(), Hint: f.Hint(tok.ID()), Name: "ci <deploy>", Tenant: "acme", Owner: "alice",
			Type: keygate.User, Role: keygate.Viewer, Scopes: []string{"GET /a/*"}, APIs: []string{"*"},
			Status: keygate.Active, CreatedAt: at, CreatedBy: "operator", ExpiresAt: &at},
		Token: tok, ExpiryCapped: capped,
	}
}

// TestCreatedRedactsItsToken: a Created passed to a log line, an error or
// an encoder by mistake shows no token, however it is nested. slog calls
// LogValue only on an attribute's own value, and fmt calls Format only on
// values it may call methods of (not those in unexported fields), so this
// holds only because the token itself redacts and hides from reflection.
func TestCreatedRedactsItsToken(t *testing.T) {
	c := newCreated(t, true)
	type holder struct{ c *manage.Created }
	type embeds struct {
		manage.Created
		Note string
	}
	type embedsPtr struct{ *manage.Created }
	values := map[string]any{
		"pointer":              c,
		"value":                *c,
		"slice":                []manage.Created{*c},
		"slice of pointers":    []*manage.Created{c},
		"map":                  map[string]*manage.Created{"k": c},
		"exported field":       struct{ C manage.Created }{*c},
		"unexported field":     struct{ c manage.Created }{*c},
		"unexported pointer":   holder{c},
		"embedded":             embeds{Created: *c, Note: "x"},
		"embedded pointer":     embedsPtr{c},
		"deep":                 []map[string][]holder{{"k": {holder{c}}}},
		"slice in struct":      struct{ List []*manage.Created }{[]*manage.Created{c}},
		"unexported interface": struct{ v any }{[]any{c}},
	}
	secret := c.Token.Reveal()[len(apikey.DefaultPrefix)+apikey.IDLen:]
	forms := []string{secret, hex.EncodeToString([]byte(secret)), strings.ToUpper(hex.EncodeToString([]byte(secret)))}
	for name, v := range values {
		t.Run(name, func(t *testing.T) {
			var out []string
			for _, verb := range []string{"%v", "%+v", "%#v", "%s", "%q", "%x", "%X", "%d"} {
				out = append(out, verb+": "+fmt.Sprintf(verb, v))
			}
			out = append(out, "Sprint: "+fmt.Sprint(v))
			b, err := json.Marshal(v)
			if err != nil {
				t.Fatalf("json.Marshal: %v", err)
			}
			out = append(out, "json: "+string(b))
			var buf bytes.Buffer
			for _, h := range []slog.Handler{slog.NewJSONHandler(&buf, nil), slog.NewTextHandler(&buf, nil)} {
				log := slog.New(h)
				log.Info("created", "key", v)
				log.Info("created", slog.Group("g", slog.Any("key", v)))
			}
			out = append(out, "slog: "+buf.String())
			for _, o := range out {
				for _, form := range forms {
					if strings.Contains(o, form) {
						t.Errorf("prints the token under %s", o)
					}
				}
			}
		})
	}
}

// TestCreatedResponse: Response, the create and rotate responses' one way
// to the token, is byte for byte the JSON Created had when its token was a
// string field.
func TestCreatedResponse(t *testing.T) {
	// wire is Created as it was declared before its token redacted itself.
	type wire struct {
		keygate.Key
		Token        string `json:"token"`
		ExpiryCapped bool   `json:"expiry_capped,omitempty"`
	}
	for _, capped := range []bool{true, false} {
		t.Run(fmt.Sprint("capped=", capped), func(t *testing.T) {
			c := newCreated(t, capped)
			got, err := c.Response()
			if err != nil {
				t.Fatal(err)
			}
			want, _ := json.Marshal(wire{Key: c.Key, Token: c.Token.Reveal(), ExpiryCapped: capped})
			if !bytes.Equal(got, want) {
				t.Fatalf("Response =\n%s\nwant\n%s", got, want)
			}
			if !bytes.Contains(got, []byte(`"token":"`+c.Token.Reveal()+`"`)) {
				t.Fatalf("Response lacks the token: %s", got)
			}
		})
	}
}
