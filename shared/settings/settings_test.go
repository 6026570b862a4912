package settings_test

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
	"github.com/keygate/keygate/infra/dynamotest"
	"github.com/keygate/keygate/infra/testkit"
	"github.com/keygate/keygate/shared/keygate"
	"github.com/keygate/keygate/shared/manage"
	"github.com/keygate/keygate/shared/settings"
	"github.com/keygate/keygate/shared/store"
)

var operator = keygate.Caller{Operator: true}

// fixture is one DynamoDB Local table, the key management service on it
// (to make the callers' keys) and the settings store.
type fixture struct {
	svc   *manage.Service
	store *store.Lifecycle
	clock *testkit.Clock
	logs  *testkit.Buffer
}

func newFixture(t *testing.T) *fixture {
	t.Helper()
	db, table := dynamotest.NewTable(t)
	format, hasher := testkit.Tokens(t)
	f := &fixture{logs: &testkit.Buffer{}, store: store.NewLifecycle(db, table),
		clock: testkit.NewClock(time.Date(2026, 11, 23, 12, 0, 0, 0, time.UTC))}
	f.svc = manage.New(store.New(db, table), manage.Config{
		Format: format, Hasher: hasher, DefaultTTL: 90 * 24 * time.Hour, Retention: 30 * 24 * time.Hour,
		MaxUserKeys: 10, MaxServiceKeys: 5, Now: f.clock.Now,
	})
	return f
}

// TestSettingsService: operators manage any tenant's settings, admin keys
// their own tenant's, nobody else; invalid settings are refused and
// nothing is written. Against DynamoDB Local.
func TestSettingsService(t *testing.T) {
	f := newFixture(t)
	svc := settings.NewService(f.store)
	svc.Now = f.clock.Now
	ctx := context.Background()
	admin := f.key(t, manage.CreateRequest{Owner: "root", Role: keygate.Admin})
	viewer := f.key(t, manage.CreateRequest{Owner: "root", APIs: []string{"*"}, Scopes: []string{"* /v1/settings"}})
	str := func(s string) *string { return &s }
	days := func(d ...int) *[]int { return &d }
	yes, no := new(true), new(false)
	tests := []struct {
		name   string
		caller keygate.Caller
		tenant string
		change settings.Change
		code   keygate.Code // "" for success
		want   keygate.Settings
	}{
		{"operator sets both", operator, "acme", settings.Change{OwnerEmail: str("ops@acme.example"), ReminderDays: days(3, 14)}, "",
			keygate.Settings{OwnerEmail: "ops@acme.example", ReminderDays: []int{14, 3}, LeakAction: keygate.LeakRevoke}},
		{"admin changes the windows only", admin, "acme", settings.Change{ReminderDays: days(30, 7, 1)}, "",
			keygate.Settings{OwnerEmail: "ops@acme.example", ReminderDays: []int{30, 7, 1}, LeakAction: keygate.LeakRevoke}},
		{"admin clears the address", admin, "acme", settings.Change{OwnerEmail: str("")}, "",
			keygate.Settings{ReminderDays: []int{30, 7, 1}, LeakAction: keygate.LeakRevoke}},
		{"admin chooses notify", admin, "acme", settings.Change{LeakAction: str(keygate.LeakNotify)}, "",
			keygate.Settings{ReminderDays: []int{30, 7, 1}, LeakAction: keygate.LeakNotify}},
		{"operator turns the cascade on", operator, "acme", settings.Change{LeakCascade: yes}, "",
			keygate.Settings{ReminderDays: []int{30, 7, 1}, LeakAction: keygate.LeakNotify, LeakCascade: true}},
		{"empty leak action is revoke", admin, "acme", settings.Change{LeakAction: str("")}, "",
			keygate.Settings{ReminderDays: []int{30, 7, 1}, LeakAction: keygate.LeakRevoke, LeakCascade: true}},
		{"cascade off", admin, "acme", settings.Change{LeakCascade: no}, "",
			keygate.Settings{ReminderDays: []int{30, 7, 1}, LeakAction: keygate.LeakRevoke}},
		{"unknown leak action", operator, "acme", settings.Change{LeakAction: str("ignore")}, keygate.Invalid, keygate.Settings{}},
		{"leak action in capitals", admin, "acme", settings.Change{LeakAction: str("NOTIFY")}, keygate.Invalid, keygate.Settings{}},
		{"viewer changes the leak action", viewer, "acme", settings.Change{LeakAction: str(keygate.LeakNotify)}, keygate.Forbidden, keygate.Settings{}},
		{"admin of another tenant", admin, "globex", settings.Change{OwnerEmail: str("x@globex.example")}, keygate.Forbidden, keygate.Settings{}},
		{"viewer", viewer, "acme", settings.Change{OwnerEmail: str("x@acme.example")}, keygate.Forbidden, keygate.Settings{}},
		{"not an address", operator, "acme", settings.Change{OwnerEmail: str("ops@acme.example, x@evil.example")}, keygate.Invalid, keygate.Settings{}},
		{"window too long", operator, "acme", settings.Change{ReminderDays: days(31)}, keygate.Invalid, keygate.Settings{}},
		{"window twice", operator, "acme", settings.Change{ReminderDays: days(3, 3)}, keygate.Invalid, keygate.Settings{}},
		{"too many windows", operator, "acme", settings.Change{ReminderDays: days(1, 2, 3, 4, 5, 6)}, keygate.Invalid, keygate.Settings{}},
		{"bad tenant", operator, "a#b", settings.Change{}, keygate.Invalid, keygate.Settings{}},
	}
	last := keygate.Settings{LeakAction: keygate.LeakRevoke}
	same := func(a, b keygate.Settings) bool {
		return a.OwnerEmail == b.OwnerEmail && slices.Equal(a.ReminderDays, b.ReminderDays) && a.LeakAction == b.LeakAction && a.LeakCascade == b.LeakCascade
	}
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
				if !same(got, tt.want) {
					t.Fatalf("settings %+v, want %+v", got, tt.want)
				}
				last = got
			}
			stored, err := svc.Get(ctx, operator, "acme")
			if err != nil {
				t.Fatal(err)
			}
			if !same(stored, last) {
				t.Fatalf("stored %+v, want %+v", stored, last)
			}
		})
	}
	if _, err := svc.Get(ctx, viewer, "acme"); keygate.ErrorCode(err) != keygate.Forbidden {
		t.Fatalf("a viewer read the settings: %v", err)
	}
}

// key creates a key of acme and returns the caller the authorizer would
// make of it.
func (f *fixture) key(t *testing.T, req manage.CreateRequest) keygate.Caller {
	t.Helper()
	req.Tenant = "acme"
	c, err := f.svc.Create(context.Background(), operator, req)
	if err != nil {
		t.Fatal(err)
	}
	return keygate.Caller{KeyID: c.ID, Tenant: c.Tenant, Owner: c.Owner, Type: c.Type, Role: c.Role, Scopes: c.Scopes, APIs: c.APIs, ExpiresAt: c.ExpiresAt}
}

// TestSettingsAuthorityIsCurrent: an admin key changes settings with what
// it holds now, not with the authorizer's cached context: disabled,
// rotated or revoked, it changes nothing. Fails on a service that trusts
// the context.
func TestSettingsAuthorityIsCurrent(t *testing.T) {
	f := newFixture(t)
	svc := settings.NewService(f.store)
	svc.Now = f.clock.Now
	ctx := context.Background()
	mail := func(s string) settings.Change { return settings.Change{OwnerEmail: &s} }
	if _, err := svc.Update(ctx, operator, "acme", mail("ops@acme.example")); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name   string
		change func(t *testing.T, id string)
		code   keygate.Code
	}{
		{"disabled", func(t *testing.T, id string) {
			if _, err := f.svc.Update(ctx, operator, manage.UpdateRequest{Tenant: "acme", ID: id, Enabled: new(false)}); err != nil {
				t.Fatal(err)
			}
		}, keygate.Unauthorized},
		{"revoked", func(t *testing.T, id string) {
			if _, err := f.svc.Revoke(ctx, operator, manage.RevokeRequest{Tenant: "acme", ID: id}); err != nil {
				t.Fatal(err)
			}
		}, keygate.Unauthorized},
		{"in a rotation's grace", func(t *testing.T, id string) {
			if _, err := f.svc.Rotate(ctx, operator, manage.RotateRequest{Tenant: "acme", ID: id, GraceSeconds: new(int64(3600))}); err != nil {
				t.Fatal(err)
			}
		}, keygate.Forbidden},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			admin := f.key(t, manage.CreateRequest{Owner: "root", Role: keygate.Admin})
			tt.change(t, admin.KeyID)
			_, err := svc.Update(ctx, admin, "acme", mail("x@evil.example"))
			if keygate.ErrorCode(err) != tt.code {
				t.Fatalf("err = %v, want %s", err, tt.code)
			}
			if got, _ := svc.Get(ctx, operator, "acme"); got.OwnerEmail != "ops@acme.example" {
				t.Fatalf("owner_email = %q: an inactive key changed the settings", got.OwnerEmail)
			}
		})
	}
}

// TestSettingsHandler: the operators' direct invocation reads and changes
// a tenant's settings; a bad event is a function error typed with its code.
func TestSettingsHandler(t *testing.T) {
	f := newFixture(t)
	h := settings.NewHandler(settings.NewService(f.store), slog.New(slog.NewJSONHandler(f.logs, nil)))
	tests := []struct {
		event, want, errType string
	}{
		{`{"tenant":"acme"}`, `{"owner_email":"","reminder_days":null,"leak_action":"revoke","leak_cascade":false}`, ""},
		{`{"tenant":"acme","owner_email":"ops@acme.example","reminder_days":[3,14]}`, `{"owner_email":"ops@acme.example","reminder_days":[14,3],"leak_action":"revoke","leak_cascade":false}`, ""},
		{`{"tenant":"acme"}`, `{"owner_email":"ops@acme.example","reminder_days":[14,3],"leak_action":"revoke","leak_cascade":false}`, ""},
		{`{"tenant":"acme","leak_action":"notify"}`, `{"owner_email":"ops@acme.example","reminder_days":[14,3],"leak_action":"notify","leak_cascade":false}`, ""},
		{`{"tenant":"acme","leak_action":"revoke","leak_cascade":true}`, `{"owner_email":"ops@acme.example","reminder_days":[14,3],"leak_action":"revoke","leak_cascade":true}`, ""},
		{`{"tenant":"acme"}`, `{"owner_email":"ops@acme.example","reminder_days":[14,3],"leak_action":"revoke","leak_cascade":true}`, ""},
		{`{"tenant":"acme","owner_email":"nope"}`, "", "invalid_request"},
		{`{"tenant":"acme","leak_action":"delete"}`, "", "invalid_request"},
		{`{"tenant":"acme","leak_cascade":"yes"}`, "", "invalid_request"},
		{`{"tenant":"acme","leakAction":"notify"}`, "", "invalid_request"},
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

// TestSettingsHandlerExactNames: an event with a member name that only
// folds to a field's, or a name twice, is refused whole, and neither
// tenant's settings change. encoding/json, which decoded the event before,
// read {"tenant":"acme","Tenant":"victim",...} as victim's: it matches
// names case-insensitively and keeps the last duplicate. Against DynamoDB
// Local.
func TestSettingsHandlerExactNames(t *testing.T) {
	db, table := dynamotest.NewTable(t)
	svc := settings.NewService(store.NewLifecycle(db, table))
	h := settings.NewHandler(svc, slog.New(slog.NewJSONHandler(&testkit.Buffer{}, nil)))
	ctx := context.Background()
	tenants := []string{"acme", "victim"}
	before := map[string]keygate.Settings{}
	for _, tenant := range tenants {
		email := "ops@" + tenant + ".example"
		s, err := svc.Update(ctx, operator, tenant, settings.Change{OwnerEmail: &email, ReminderDays: &[]int{7}})
		if err != nil {
			t.Fatal(err)
		}
		before[tenant] = s
	}
	tests := []struct {
		name, event string
		msg         string // in the error's message
	}{
		{"Tenant after tenant", `{"tenant":"acme","Tenant":"victim","owner_email":"x@evil.example"}`,
			`unknown field "Tenant" (field names are case-sensitive: did you mean "tenant"?)`},
		{"tenant twice", `{"tenant":"acme","tenant":"victim","owner_email":"x@evil.example"}`,
			`field "tenant" appears more than once`},
		{"Tenant alone", `{"Tenant":"victim","owner_email":"x@evil.example"}`,
			`unknown field "Tenant" (field names are case-sensitive: did you mean "tenant"?)`},
		{"OWNER_EMAIL", `{"tenant":"victim","OWNER_EMAIL":"x@evil.example"}`,
			`unknown field "OWNER_EMAIL" (field names are case-sensitive: did you mean "owner_email"?)`},
		{"long s folds to s", `{"tenant":"victim","reminder_dayſ":[1]}`,
			`unknown field (not shown) (field names are case-sensitive: did you mean "reminder_days"?)`},
		{"LEAK_ACTION", `{"tenant":"victim","LEAK_ACTION":"notify"}`,
			`unknown field "LEAK_ACTION" (field names are case-sensitive: did you mean "leak_action"?)`},
		{"owner_email twice", `{"tenant":"victim","owner_email":"ops@victim.example","owner_email":"x@evil.example"}`,
			`field "owner_email" appears more than once`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, err := h.Handle(ctx, json.RawMessage(tt.event))
			var fe messages.InvokeResponse_Error
			if !errors.As(err, &fe) || fe.Type != string(keygate.Invalid) || !strings.Contains(fe.Message, tt.msg) {
				t.Errorf("got %+v, %v; want an invalid_request function error saying %s", s, err, tt.msg)
			}
			for _, tenant := range tenants {
				got, err := svc.Get(ctx, operator, tenant)
				if err != nil {
					t.Fatal(err)
				}
				if want := before[tenant]; got.OwnerEmail != want.OwnerEmail || !slices.Equal(got.ReminderDays, want.ReminderDays) {
					t.Errorf("%s's settings changed to %+v from %+v", tenant, got, want)
				}
			}
		})
	}
}
