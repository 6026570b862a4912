package store_test

import (
	"context"
	"encoding/json"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/keygate/keygate/infra/dynamotest"
	"github.com/keygate/keygate/shared/keygate"
	"github.com/keygate/keygate/shared/store"
)

// eventually retries list until it returns want keys (GSIs are eventually
// consistent, in DynamoDB Local under load too).
func eventually(t *testing.T, want int, list func() ([]*keygate.Record, string, error)) ([]*keygate.Record, string) {
	t.Helper()
	var keys []*keygate.Record
	var next string
	var err error
	for try := 0; try < 250; try++ {
		if keys, next, err = list(); err != nil {
			t.Fatal(err)
		}
		if len(keys) == want {
			return keys, next
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Fatalf("listed %d keys, want %d", len(keys), want)
	return nil, ""
}

func ids(keys []*keygate.Record) []string {
	var out []string
	for _, k := range keys {
		out = append(out, k.ID)
	}
	return out
}

// TestMetaAndExternalID: meta and external_id are item attributes that
// GetKey reads, that listings (from GSI1, which does not carry them) fill
// from the items, and that the external_id filter finds through GSI3,
// page by page with cursors of their own form; an update moves a key in
// GSI3 or takes it out.
func TestMetaAndExternalID(t *testing.T) {
	db, table := dynamotest.NewTable(t)
	st := store.New(db, table)
	ctx := context.Background()
	now := time.Date(2026, 11, 23, 12, 0, 0, 0, time.UTC)
	past := now.Add(-time.Hour)
	mk := func(id, owner, ext, meta string, at time.Time, expires *time.Time) *keygate.Record {
		r := record(id, owner, at)
		r.ExternalID, r.ExpiresAt, r.Enabled = ext, expires, true
		if meta != "" {
			r.Meta = json.RawMessage(meta)
		}
		if _, err := st.CreateKey(ctx, r, 10, past.Add(-time.Hour), keygate.Audit{Action: "created", KeyID: id, Tenant: "acme", At: at}, nil, nil); err != nil {
			t.Fatal(err)
		}
		return r
	}
	a := mk("AAAAAAAAAAAAAAAAA", "alice", "c_1", `{"plan":"pro"}`, now, nil)
	b := mk("BBBBBBBBBBBBBBBBB", "bob", "c_1", "", now.Add(time.Second), nil)
	c := mk("CCCCCCCCCCCCCCCCC", "alice", "c_1", `{"n":[1,{"x":null}]}`, now.Add(2*time.Second), &past) // expired
	d := mk("DDDDDDDDDDDDDDDDD", "alice", "c_2", "", now.Add(3*time.Second), nil)
	e := mk("EEEEEEEEEEEEEEEEE", "alice", "", `{}`, now.Add(4*time.Second), nil)

	got, err := st.GetKey(ctx, a.ID)
	if err != nil || string(got.Meta) != `{"plan":"pro"}` || got.ExternalID != "c_1" {
		t.Fatalf("GetKey = %+v, %v", got, err)
	}
	all, _ := eventually(t, 5, func() ([]*keygate.Record, string, error) {
		return st.ListKeys(ctx, keygate.KeyQuery{Tenant: "acme", Limit: 10, At: now})
	})
	for _, r := range all {
		want := map[string]*keygate.Record{a.ID: a, b.ID: b, c.ID: c, d.ID: d, e.ID: e}[r.ID]
		if string(r.Meta) != string(want.Meta) || r.ExternalID != want.ExternalID {
			t.Errorf("listed %s with meta %s, external_id %q; want %s, %q", r.ID, r.Meta, r.ExternalID, want.Meta, want.ExternalID)
		}
	}
	if plain, _, err := st.ListKeys(ctx, keygate.KeyQuery{Tenant: "acme", Limit: 10, At: now, SkipMeta: true}); err != nil || len(plain) != 5 || plain[0].Meta != nil {
		t.Fatalf("SkipMeta listing = %+v, %v", plain, err)
	}

	byExt := func(q keygate.KeyQuery) func() ([]*keygate.Record, string, error) {
		q.Tenant, q.At = "acme", now
		return func() ([]*keygate.Record, string, error) { return st.ListKeys(ctx, q) }
	}
	keys, _ := eventually(t, 3, byExt(keygate.KeyQuery{ExternalID: "c_1", Limit: 10}))
	// In GSI3's order (owner, created_at), with the items' full metadata.
	if got := ids(keys); !slices.Equal(got, []string{a.ID, c.ID, b.ID}) || string(keys[1].Meta) != string(c.Meta) || keys[0].Scopes[0] != "GET /x" {
		t.Fatalf("external_id c_1: %v", got)
	}
	for _, tc := range []struct {
		name string
		q    keygate.KeyQuery
		want []string
	}{
		{"owner", keygate.KeyQuery{ExternalID: "c_1", Owner: "alice"}, []string{a.ID, c.ID}},
		{"status", keygate.KeyQuery{ExternalID: "c_1", Status: keygate.Active}, []string{a.ID, b.ID}},
		{"expired", keygate.KeyQuery{ExternalID: "c_1", Status: keygate.Expired}, []string{c.ID}},
		{"another", keygate.KeyQuery{ExternalID: "c_2"}, []string{d.ID}},
		{"none", keygate.KeyQuery{ExternalID: "c_9"}, nil},
		{"another tenant's", keygate.KeyQuery{ExternalID: "c_1", Tenant: "other"}, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tc.q.Limit = 10
			tenant := tc.q.Tenant
			q := byExt(tc.q)
			if tenant != "" {
				q = func() ([]*keygate.Record, string, error) { tc.q.At = now; return st.ListKeys(ctx, tc.q) }
			}
			keys, next, err := q()
			if err != nil || !slices.Equal(ids(keys), tc.want) || next != "" {
				t.Fatalf("= %v, %q, %v; want %v", ids(keys), next, err, tc.want)
			}
		})
	}

	// One key a page: GSI3's own cursors, which a GSI1 listing refuses
	// (and the other way round).
	var paged []string
	cursor := ""
	for page := 0; page < 5; page++ {
		keys, next, err := st.ListKeys(ctx, keygate.KeyQuery{Tenant: "acme", ExternalID: "c_1", Limit: 1, At: now, Cursor: cursor})
		if err != nil {
			t.Fatal(err)
		}
		paged = append(paged, ids(keys)...)
		if next == "" {
			break
		}
		if !strings.HasPrefix(next, "ext.") {
			t.Fatalf("external_id cursor %q", next)
		}
		if _, _, err := st.ListKeys(ctx, keygate.KeyQuery{Tenant: "acme", Limit: 1, Cursor: next}); keygate.ErrorCode(err) != keygate.Invalid {
			t.Fatalf("GSI1 listing with a GSI3 cursor: %v", err)
		}
		cursor = next
	}
	if !slices.Equal(paged, []string{a.ID, c.ID, b.ID}) {
		t.Fatalf("paged %v", paged)
	}
	_, gsi1Next, err := st.ListKeys(ctx, keygate.KeyQuery{Tenant: "acme", Limit: 1})
	if err != nil || gsi1Next == "" {
		t.Fatalf("GSI1 page: %q, %v", gsi1Next, err)
	}
	if _, _, err := st.ListKeys(ctx, keygate.KeyQuery{Tenant: "acme", ExternalID: "c_1", Limit: 1, Cursor: gsi1Next}); keygate.ErrorCode(err) != keygate.Invalid {
		t.Fatalf("GSI3 listing with a GSI1 cursor: %v", err)
	}

	// An update moves d from c_2 to c_3 and sets its meta; another takes
	// a's external_id and meta away.
	next := *d
	next.ExternalID, next.Meta, next.Rev = "c_3", json.RawMessage(`{"moved":true}`), 1
	if err := st.UpdateKey(ctx, d, &next, keygate.Audit{Action: "updated", KeyID: d.ID, Tenant: "acme", At: now, Rev: 1}, now, nil); err != nil {
		t.Fatal(err)
	}
	moved, _ := eventually(t, 1, byExt(keygate.KeyQuery{ExternalID: "c_3", Limit: 10}))
	if moved[0].ID != d.ID || string(moved[0].Meta) != `{"moved":true}` {
		t.Fatalf("c_3: %+v", moved[0])
	}
	eventually(t, 0, byExt(keygate.KeyQuery{ExternalID: "c_2", Limit: 10}))
	cleared := *a
	cleared.ExternalID, cleared.Meta, cleared.Rev = "", nil, 1
	if err := st.UpdateKey(ctx, a, &cleared, keygate.Audit{Action: "updated", KeyID: a.ID, Tenant: "acme", At: now, Rev: 1}, now, nil); err != nil {
		t.Fatal(err)
	}
	item := getItem(t, db, table, "KEY#"+a.ID, "KEY")
	for _, attr := range []string{"meta", "external_id", store.AttrGSI3PK, store.AttrGSI3SK} {
		if _, ok := item[attr]; ok {
			t.Errorf("cleared key still has %s", attr)
		}
	}
	eventually(t, 2, byExt(keygate.KeyQuery{ExternalID: "c_1", Limit: 10}))
}

// TestExpiringOnFillsMeta: GSI2 does not carry meta and external_id, so
// the reminder run's keys get them from the items (key.expiring events
// carry them).
func TestExpiringOnFillsMeta(t *testing.T) {
	db, table := dynamotest.NewTable(t)
	l := store.NewLifecycle(db, table)
	ctx := context.Background()
	now := time.Date(2026, 11, 23, 12, 0, 0, 0, time.UTC)
	exp := now.Add(48 * time.Hour)
	r := record("AAAAAAAAAAAAAAAAA", "alice", now)
	r.ExpiresAt, r.Meta, r.ExternalID = &exp, json.RawMessage(`{"plan":"pro"}`), "c_1"
	if _, err := l.CreateKey(ctx, r, 10, now, keygate.Audit{Action: "created", KeyID: r.ID, Tenant: "acme", At: now}, nil, nil); err != nil {
		t.Fatal(err)
	}
	var keys []*keygate.Record
	for try := 0; try < 250 && len(keys) == 0; try++ {
		var err error
		if keys, err = l.ExpiringOn(ctx, exp); err != nil {
			t.Fatal(err)
		}
		time.Sleep(20 * time.Millisecond)
	}
	if len(keys) != 1 || string(keys[0].Meta) != `{"plan":"pro"}` || keys[0].ExternalID != "c_1" {
		t.Fatalf("ExpiringOn = %+v", keys)
	}
}
