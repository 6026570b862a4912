package lifecycle_test

import (
	"context"
	"slices"
	"strings"
	"testing"

	"github.com/keygate/keygate/shared/keygate"
	"github.com/keygate/keygate/shared/lifecycle"
	"github.com/keygate/keygate/shared/manage"
	"github.com/keygate/keygate/shared/store"
)

// TestStreamPublishesLeaks: a leak report comes through the stream as
// key.leaked, with the alert's detail and the key's report in its
// metadata, followed (under revoke, with leak_cascade) by the key.revoked
// events of the key and its descendants; the key's owner (an address) and
// the tenant's owner address get one e-mail saying where and what was
// done, however often the records are handled. Under notify the mail says
// the key still works. Every event is checked against docs/events.
func TestStreamPublishesLeaks(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	acmeOwner := "owner-" + strings.ToLower(t.Name()) + "@acme.example"
	globexOwner := "owner-" + strings.ToLower(t.Name()) + "@globex.example"
	for tenant, s := range map[string]keygate.Settings{
		"acme":   {OwnerEmail: acmeOwner, LeakAction: keygate.LeakRevoke, LeakCascade: true},
		"globex": {OwnerEmail: globexOwner, LeakAction: keygate.LeakNotify},
	} {
		if err := f.store.PutSettings(ctx, tenant, s, f.clock.Now(), nil); err != nil {
			t.Fatal(err)
		}
	}
	alice := "alice-" + strings.ToLower(t.Name()) + "@acme.example"
	root := f.create(t, manage.CreateRequest{Owner: alice, Name: "deploy", Role: keygate.Admin})
	child, err := f.svc.Create(ctx, keygate.Caller{KeyID: root.ID, Tenant: "acme", Owner: alice, Type: root.Type, Role: root.Role, Scopes: root.Scopes, APIs: root.APIs},
		manage.CreateRequest{Owner: "bob", APIs: []string{"*"}, Scopes: []string{"GET /x"}})
	if err != nil {
		t.Fatal(err)
	}
	f.tokens = append(f.tokens, child.Token.Reveal())
	other := f.create(t, manage.CreateRequest{Tenant: "globex", Owner: "carol", Scopes: []string{"GET /x"}})
	url := "https://github.com/octo/app/blob/abc/<i>.env</i>"
	keys := store.New(f.db, f.table)
	for _, id := range []string{root.ID, other.ID} {
		r, err := keys.GetKeyWithVerifier(ctx, id)
		if err != nil {
			t.Fatal(err)
		}
		if ok, err := f.svc.ReportLeak(ctx, r, keygate.Leak{URL: url, Source: "commit", Type: "keygate_api_key"}); err != nil || !ok {
			t.Fatalf("ReportLeak(%s) = %v, %v", id, ok, err)
		}
	}

	records := f.stream.Read(t)
	if failed := f.handle(t, f.handler, records); len(failed) > 0 {
		t.Fatalf("failed records %v; logs:\n%s", failed, f.logs)
	}
	got := f.drain(t)
	want := sorted("key.created "+root.ID, "key.created "+child.ID, "key.created "+other.ID,
		"key.leaked "+root.ID, "key.revoked "+root.ID, "key.revoked "+child.ID, "key.leaked "+other.ID)
	if s := summary(got); !slices.Equal(s, want) {
		t.Fatalf("published\n%v\nwant\n%v", s, want)
	}
	for _, e := range got {
		switch {
		case e.DetailType == lifecycle.KeyLeaked:
			action := map[string]string{root.ID: "revoke", other.ID: "notify"}[e.D.KeyID]
			if e.D.Actor != keygate.ActorSecretScanning || e.D.Changes["url"] != url || e.D.Changes["source"] != "commit" ||
				e.D.Changes["leak_action"] != action || e.D.Key == nil || e.D.Key.Leaked == nil || e.D.Key.Leaked.URL != url {
				t.Errorf("key.leaked of %s: actor %s detail %v key %+v", e.D.KeyID, e.D.Actor, e.D.Changes, e.D.Key)
			}
		case e.DetailType == lifecycle.KeyRevoked:
			if e.D.Actor != keygate.ActorSecretScanning || e.D.Changes["reason"] != manage.ReasonLeaked || (e.D.KeyID == child.ID) != (e.D.Changes["cascade_from"] == root.ID) {
				t.Errorf("key.revoked of %s: actor %s detail %v", e.D.KeyID, e.D.Actor, e.D.Changes)
			}
		}
	}

	// Handled again (a retried batch): no second e-mail.
	if failed := f.handle(t, f.handler, records); len(failed) > 0 {
		t.Fatalf("failed records on retry %v", failed)
	}
	f.drain(t)
	for _, tt := range []struct {
		to, id, says string
	}{
		{alice, root.ID, "The key is revoked"},
		{acmeOwner, root.ID, "Every key minted from it is revoked too"},
		{globexOwner, other.ID, "NOT revoked"},
	} {
		mails := f.mailTo(t, tt.to)
		if len(mails) != 1 {
			t.Fatalf("%d e-mails to %s, want 1", len(mails), tt.to)
		}
		m := mails[0]
		if !strings.Contains(m.Subject, tt.id) || !strings.Contains(m.Subject, "found in public") || !strings.Contains(m.Body, tt.says) ||
			strings.Contains(m.Body, "<i>") || !strings.Contains(m.Body, "octo/app") {
			t.Errorf("e-mail to %s: %q\n%s", tt.to, m.Subject, m.Body)
		}
	}
	// alice and acme's owner share the one e-mail of root's report.
	if m := f.mailTo(t, alice)[0]; !slices.Contains(m.Destinations["ToAddresses"], acmeOwner) {
		t.Errorf("root's e-mail went to %v", m.Destinations["ToAddresses"])
	}
}
