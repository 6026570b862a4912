package lifecycle_test

import (
	"bytes"
	"context"
	"encoding/json"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/keygate/keygate/infra/motolocal"
	"github.com/keygate/keygate/shared/keygate"
	"github.com/keygate/keygate/shared/lifecycle"
	"github.com/keygate/keygate/shared/manage"
)

func ptr[T any](v T) *T { return &v }

// summary is "<detail-type> <key id>" per event, sorted.
func summary(evs []published) []string {
	var out []string
	for _, e := range evs {
		out = append(out, e.DetailType+" "+e.D.KeyID)
	}
	sort.Strings(out)
	return out
}

func sorted(s ...string) []string { sort.Strings(s); return s }

// TestStreamPublishes runs the stream function's handler on DynamoDB
// Local's real stream after every kind of change and reads what moto's
// EventBridge delivered: exactly one event per audit record, with its
// key's metadata and no secret, and a service key's e-mail to the tenant's
// owner address. Handling the same records again publishes the same event
// ids (consumers de-duplicate on them) and sends no second e-mail.
func TestStreamPublishes(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	owner := "owner-" + strings.ToLower(t.Name()) + "@acme.example"
	if err := f.store.PutSettings(ctx, "acme", keygate.Settings{OwnerEmail: owner}, f.clock.Now(), nil); err != nil {
		t.Fatal(err)
	}
	svcKey := f.create(t, manage.CreateRequest{Name: "billing sync", Type: keygate.Service, Role: keygate.Viewer, Scopes: []string{"GET /x"}})
	bob := f.create(t, manage.CreateRequest{Owner: "bob", Name: "laptop", Scopes: []string{"GET /x", "GET /y"}, Meta: json.RawMessage(`{"plan":"pro"}`), ExternalID: ptr("c_123")})
	if _, err := f.svc.Update(ctx, operator, manage.UpdateRequest{Tenant: "acme", ID: bob.ID, Name: ptr("old laptop"), Meta: json.RawMessage(`{"plan":"team","seats":[1,2]}`)}); err != nil {
		t.Fatal(err)
	}
	next, err := f.svc.Rotate(ctx, operator, manage.RotateRequest{Tenant: "acme", ID: bob.ID, GraceSeconds: ptr(int64(60))})
	if err != nil {
		t.Fatal(err)
	}
	f.tokens = append(f.tokens, next.Token.Reveal())
	if _, err := f.svc.Revoke(ctx, operator, manage.RevokeRequest{Tenant: "acme", ID: next.ID}); err != nil {
		t.Fatal(err)
	}

	records := f.stream.Read(t)
	if len(records) < 10 {
		t.Fatalf("read %d stream records, want the keys', slots' and audit records' changes", len(records))
	}
	if failed := f.handle(t, f.handler, records); len(failed) > 0 {
		t.Fatalf("failed records %v; logs:\n%s", failed, f.logs)
	}
	got := f.drain(t)
	want := sorted(
		"key.created "+svcKey.ID, "key.created "+bob.ID, "key.updated "+bob.ID,
		"key.rotated "+bob.ID, "key.created "+next.ID, "key.revoked "+next.ID)
	if s := summary(got); !slices.Equal(s, want) {
		t.Fatalf("published\n%v\nwant\n%v", s, want)
	}
	ids := map[string]bool{}
	for _, e := range got {
		ids[e.D.EventID] = true
		if e.D.Actor != "operator" || e.D.Tenant != "acme" || e.D.Action != strings.TrimPrefix(e.DetailType, "key.") {
			t.Errorf("%s: actor %q tenant %q action %q", e.DetailType, e.D.Actor, e.D.Tenant, e.D.Action)
		}
		if e.D.Key == nil || e.D.Key.ID != e.D.KeyID || !strings.HasPrefix(e.D.Key.Hint, "kg_live_") {
			t.Errorf("%s: key metadata %+v", e.DetailType, e.D.Key)
		}
		// Bob's keys carry their meta and external_id (as they are when
		// published), the service key none.
		// (moto's bus re-formats the JSON it delivers.)
		var meta bytes.Buffer
		if e.D.Key != nil && len(e.D.Key.Meta) > 0 {
			_ = json.Compact(&meta, e.D.Key.Meta)
		}
		if bobs := e.D.KeyID != svcKey.ID; e.D.Key != nil && (bobs != (e.D.Key.ExternalID == "c_123") || bobs != (meta.String() == `{"plan":"team","seats":[1,2]}`)) {
			t.Errorf("%s %s: meta %s, external_id %q", e.DetailType, e.D.KeyID, e.D.Key.Meta, e.D.Key.ExternalID)
		}
		switch {
		case e.DetailType == lifecycle.KeyUpdated && e.D.Changes["meta"] != `{"plan":"team","seats":[1,2]}`:
			t.Errorf("key.updated detail %v", e.D.Changes)
		case e.DetailType == lifecycle.KeyRotated && (e.D.Changes["rotated_to"] != next.ID || e.D.Changes["grace_seconds"] != "60"):
			t.Errorf("key.rotated detail %v", e.D.Changes)
		case e.DetailType == lifecycle.KeyUpdated && e.D.Changes["name"] == "":
			t.Errorf("key.updated detail %v", e.D.Changes)
		case e.DetailType == lifecycle.KeyRevoked && e.D.Key.Status != keygate.Revoked:
			t.Errorf("key.revoked key status %s", e.D.Key.Status)
		}
	}
	if len(ids) != len(got) {
		t.Fatalf("event ids are not unique: %v", ids)
	}
	mails := f.mailTo(t, owner)
	if len(mails) != 1 || !strings.Contains(mails[0].Subject, svcKey.ID) || strings.Contains(mails[0].Subject, "billing sync") || mails[0].Source != sender ||
		!strings.Contains(mails[0].Body, svcKey.Hint) || !strings.Contains(mails[0].Body, "https://keys.example.com/console") ||
		strings.Contains(mails[0].Body, strings.TrimPrefix(svcKey.Token.Reveal(), svcKey.Hint)) {
		t.Fatalf("service key e-mails to %s: %+v", owner, mails)
	}

	// At least once: the same records again (a retried batch) publish the
	// same event ids, and the e-mail is not sent twice.
	if failed := f.handle(t, f.handler, records); len(failed) > 0 {
		t.Fatalf("failed records on retry %v", failed)
	}
	again := f.drain(t)
	if s := summary(again); !slices.Equal(s, want) {
		t.Fatalf("republished %v", s)
	}
	for _, e := range again {
		if !ids[e.D.EventID] {
			t.Errorf("retry published %s %s with a new event id %s", e.DetailType, e.D.KeyID, e.D.EventID)
		}
	}
	if n := len(f.mailTo(t, owner)); n != 1 {
		t.Fatalf("%d e-mails after the retry, want 1", n)
	}
	// Records that are no lifecycle change publish nothing.
	if got := f.drain(t); len(got) != 0 {
		t.Fatalf("unexpected events %v", summary(got))
	}
}

// TestStreamFailures: records whose event cannot be published, or that
// cannot be read, are reported as batch item failures (by sequence
// number), and every other record of the batch is still published.
func TestStreamFailures(t *testing.T) {
	tests := []struct {
		name string
		// endpoint and bus of the publisher; "" for the fixture's.
		endpoint, bus string
		// poison breaks the audit record of the first key.
		poison bool
		// wantPublished: events of the second key's audit record reach
		// the bus.
		wantPublished bool
	}{
		{name: "unknown bus", bus: "no-such-bus"},
		{name: "eventbridge unreachable", endpoint: motolocal.ClosedEndpoint()},
		{name: "unreadable record", poison: true, wantPublished: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFixture(t)
			a := f.create(t, manage.CreateRequest{Owner: "ann", Scopes: []string{"GET /x"}})
			b := f.create(t, manage.CreateRequest{Owner: "ben", Scopes: []string{"GET /x"}})
			records := f.stream.Read(t)
			var audits []string // sequence numbers of audit records
			for i, r := range records {
				pk := r.Change.Keys["pk"].String()
				if !strings.HasPrefix(pk, "AUDIT#") {
					continue
				}
				audits = append(audits, r.Change.SequenceNumber)
				if tt.poison && r.Change.NewImage["key_id"].String() == a.ID {
					img := map[string]events.DynamoDBAttributeValue{}
					for k, v := range r.Change.NewImage {
						if k != "action" {
							img[k] = v
						}
					}
					records[i].Change.NewImage = img
				}
			}
			if len(audits) != 2 {
				t.Fatalf("%d audit records in the stream, want 2", len(audits))
			}
			endpoint, bus := f.moto, f.bus.Name
			if tt.endpoint != "" {
				endpoint = tt.endpoint
			}
			if tt.bus != "" {
				bus = tt.bus
			}
			failed := f.handle(t, f.handlerOn(endpoint, bus), records)
			want := audits
			if tt.poison {
				want = nil
				for _, r := range records {
					if r.Change.NewImage["key_id"].String() == a.ID && strings.HasPrefix(r.Change.Keys["pk"].String(), "AUDIT#") {
						want = append(want, r.Change.SequenceNumber)
					}
				}
			}
			if !slices.Equal(failed, want) {
				t.Fatalf("failed %v, want %v; logs:\n%s", failed, want, f.logs)
			}
			got := summary(f.drain(t))
			if tt.wantPublished {
				if !slices.Equal(got, []string{"key.created " + b.ID}) {
					t.Fatalf("published %v, want only %s's creation", got, b.ID)
				}
			} else if len(got) != 0 {
				t.Fatalf("published %v", got)
			}
		})
	}
}

// TestStreamTTLRemoval: a key DynamoDB's TTL removes (a REMOVE record by
// the DynamoDB service) gets an "expired" audit record, published as
// key.expired when that record comes through the stream; once, however
// often the removal is delivered. A key deleted by anyone else, and a
// revoked key that the TTL removes, publish nothing.
func TestStreamTTLRemoval(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	exp := f.clock.Now().Add(time.Hour).Format(time.RFC3339)
	k := f.create(t, manage.CreateRequest{Owner: "eve", Scopes: []string{"GET /x"}, ExpiresAt: &exp})
	gone := f.create(t, manage.CreateRequest{Owner: "eve", Scopes: []string{"GET /x"}})
	if _, err := f.svc.Revoke(ctx, operator, manage.RevokeRequest{Tenant: "acme", ID: gone.ID}); err != nil {
		t.Fatal(err)
	}
	if failed := f.handle(t, f.handler, f.stream.Read(t)); len(failed) > 0 {
		t.Fatal(failed)
	}
	f.drain(t)

	f.deleteKey(t, k.ID)
	f.deleteKey(t, gone.ID)
	removals := f.stream.Read(t)
	if len(removals) != 2 || removals[0].EventName != "REMOVE" {
		t.Fatalf("stream records %+v", removals)
	}
	// Deleted by a person (DeleteItem): not an expiry.
	if failed := f.handle(t, f.handler, removals); len(failed) > 0 {
		t.Fatal(failed)
	}
	if recs := f.stream.Read(t); len(recs) != 0 {
		t.Fatalf("a manual deletion wrote %d items", len(recs))
	}
	// The same removals as DynamoDB's TTL delivers them, twice.
	for i := range removals {
		removals[i].UserIdentity = &events.DynamoDBUserIdentity{Type: "Service", PrincipalID: "dynamodb.amazonaws.com"}
	}
	for range 2 {
		if failed := f.handle(t, f.handler, removals); len(failed) > 0 {
			t.Fatalf("failed %v; logs:\n%s", failed, f.logs)
		}
	}
	inserts := f.stream.Read(t)
	if len(inserts) != 1 || inserts[0].EventName != "INSERT" {
		t.Fatalf("TTL removals wrote %d records, want one expired audit record", len(inserts))
	}
	if failed := f.handle(t, f.handler, inserts); len(failed) > 0 {
		t.Fatal(failed)
	}
	got := f.drain(t)
	if len(got) != 1 || got[0].DetailType != lifecycle.KeyExpired || got[0].D.KeyID != k.ID || got[0].D.Key != nil ||
		got[0].D.Actor != lifecycle.ActorDynamoDB || got[0].D.Changes["cause"] != "ttl" || got[0].D.At.Format(time.RFC3339) != exp {
		t.Fatalf("published %+v", got)
	}
	// The audit read path shows it.
	page, err := f.svc.Audit(ctx, operator, manage.AuditRequest{Tenant: "acme", KeyID: k.ID})
	if err != nil {
		t.Fatal(err)
	}
	if len(page.Events) != 2 || page.Events[0].Action != keygate.ActionExpired {
		t.Fatalf("audit %+v", page.Events)
	}
}
