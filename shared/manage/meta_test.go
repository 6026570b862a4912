package manage_test

import (
	"context"
	"encoding/json"
	"slices"
	"strings"
	"testing"

	"github.com/keygate/keygate/shared/keygate"
	"github.com/keygate/keygate/shared/manage"
)

// TestMeta: a key's meta (compacted) and external_id are set on create,
// shown by get and list, carried by rotate, replaced or removed (null) by
// update, with the change audited; they are the holder's own and decide
// nothing.
func TestMeta(t *testing.T) {
	f := newFixture(t, nil)
	ctx := context.Background()
	admin := f.adminOf(t, "acme")
	k := f.mint(t, admin, manage.CreateRequest{Owner: "alice", APIs: []string{"*"}, Scopes: []string{"GET /x"},
		Meta: json.RawMessage(" {\"plan\" : \"pro\",\n \"seats\": [1, 2]} "), ExternalID: ptr("c_123")})
	if string(k.Meta) != `{"plan":"pro","seats":[1,2]}` || k.ExternalID != "c_123" {
		t.Fatalf("created meta %s, external_id %q", k.Meta, k.ExternalID)
	}
	if got := f.get(t, k.ID); string(got.Meta) != string(k.Meta) || got.ExternalID != "c_123" {
		t.Fatalf("get: meta %s, external_id %q", got.Meta, got.ExternalID)
	}
	list, err := f.svc.List(ctx, admin, manage.ListRequest{Owner: "alice"})
	if err != nil || len(list.Keys) != 1 || string(list.Keys[0].Meta) != string(k.Meta) || list.Keys[0].ExternalID != "c_123" {
		t.Fatalf("list = %+v, %v", list, err)
	}

	rotated, err := f.svc.Rotate(ctx, admin, manage.RotateRequest{ID: k.ID})
	if err != nil || string(rotated.Meta) != string(k.Meta) || rotated.ExternalID != "c_123" {
		t.Fatalf("rotate = %+v, %v", rotated, err)
	}
	if got := f.get(t, rotated.ID); string(got.Meta) != string(k.Meta) || got.ExternalID != "c_123" {
		t.Fatalf("successor: meta %s, external_id %q", got.Meta, got.ExternalID)
	}

	up, err := f.svc.Update(ctx, admin, manage.UpdateRequest{ID: rotated.ID, Meta: json.RawMessage(`{ "plan": "team" }`), ExternalID: ptr("c_456")})
	if err != nil || string(up.Meta) != `{"plan":"team"}` || up.ExternalID != "c_456" {
		t.Fatalf("update = %+v, %v", up, err)
	}
	last := func() map[string]string { trail := f.trail(t, rotated.ID); return trail[len(trail)-1].Detail }
	if d := last(); d["meta"] != `{"plan":"team"}` || d["external_id"] != "c_456" {
		t.Fatalf("audit detail %v", d)
	}
	// Only meta: the external_id stays.
	if up, err = f.svc.Update(ctx, admin, manage.UpdateRequest{ID: rotated.ID, RemoveMeta: true}); err != nil || up.Meta != nil || up.ExternalID != "c_456" {
		t.Fatalf("remove meta = %+v, %v", up, err)
	}
	if up, err = f.svc.Update(ctx, admin, manage.UpdateRequest{ID: rotated.ID, RemoveExternalID: true}); err != nil || up.Meta != nil || up.ExternalID != "" {
		t.Fatalf("remove external_id = %+v, %v", up, err)
	}
	if got := f.get(t, rotated.ID); got.Meta != nil || got.ExternalID != "" {
		t.Fatalf("after removal: meta %s, external_id %q", got.Meta, got.ExternalID)
	}
	if d := last(); d["external_id"] != "none" {
		t.Fatalf("audit detail %v", d)
	}

	// A viewer may set its own keys' meta: it decides nothing.
	alice := f.viewer(t, "acme", "alice", "GET /x", "PATCH /v1/keys/*")
	child := f.mint(t, alice, manage.CreateRequest{Scopes: []string{"GET /x"}, Meta: json.RawMessage(`{"a":1}`)})
	if _, err := f.svc.Update(ctx, alice, manage.UpdateRequest{ID: child.ID, Meta: json.RawMessage(`{"a":2}`)}); err != nil {
		t.Fatal(err)
	}
}

// TestMetaRefused: a meta or external_id that is not valid is Invalid,
// names the field, and writes nothing, on create and on update.
func TestMetaRefused(t *testing.T) {
	f := newFixture(t, nil)
	ctx := context.Background()
	admin := f.adminOf(t, "acme")
	k := f.mint(t, admin, manage.CreateRequest{Owner: "alice", APIs: []string{"*"}, Scopes: []string{"GET /x"}, Meta: json.RawMessage(`{"keep":true}`), ExternalID: ptr("c_1")})
	before := len(f.scan(t))
	metas := map[string]string{
		"not an object":   `"pro"`,
		"array":           `[{"a":1}]`,
		"1 KiB + 1":       `{"k":"` + strings.Repeat("x", keygate.MaxMetaBytes-7) + `"}`,
		"deep":            `{"a":{"b":{"c":{"d":{"e":1}}}}}`,
		"duplicate":       `{"a":1,"b":{"c":1,"c":2}}`,
		"invalid UTF-8":   "{\"a\":\"\xff\"}",
		"lone surrogate":  `{"a":"\udc00"}`,
		"huge number":     `{"a":1e999}`,
		"long name":       `{"` + strings.Repeat("n", 65) + `":1}`,
		"not JSON at all": `{plan: pro}`,
	}
	externalIDs := map[string]string{
		"empty":     "",
		"space":     "c 1",
		"control":   "c\x011",
		"newline":   "c1\n",
		"101 chars": strings.Repeat("c", 101),
	}
	for name, meta := range metas {
		t.Run("meta "+name, func(t *testing.T) {
			_, err := f.svc.Create(ctx, admin, manage.CreateRequest{Owner: "alice", APIs: []string{"*"}, Scopes: []string{"GET /x"}, Meta: json.RawMessage(meta)})
			wantMessage(t, err, keygate.Invalid, "meta")
			_, err = f.svc.Update(ctx, admin, manage.UpdateRequest{ID: k.ID, Meta: json.RawMessage(meta)})
			wantMessage(t, err, keygate.Invalid, "meta")
		})
	}
	for name, ext := range externalIDs {
		t.Run("external_id "+name, func(t *testing.T) {
			_, err := f.svc.Create(ctx, admin, manage.CreateRequest{Owner: "alice", APIs: []string{"*"}, Scopes: []string{"GET /x"}, ExternalID: ptr(ext)})
			wantMessage(t, err, keygate.Invalid, "external_id")
			_, err = f.svc.Update(ctx, admin, manage.UpdateRequest{ID: k.ID, ExternalID: ptr(ext)})
			wantMessage(t, err, keygate.Invalid, "external_id")
			_, err = f.svc.List(ctx, admin, manage.ListRequest{ExternalID: ext})
			if ext != "" { // "" lists every key
				wantMessage(t, err, keygate.Invalid, "external_id")
			}
		})
	}
	_, err := f.svc.Update(ctx, admin, manage.UpdateRequest{ID: k.ID, Meta: json.RawMessage(`{}`), RemoveMeta: true})
	wantCode(t, err, keygate.Invalid)
	if after := len(f.scan(t)); after != before {
		t.Fatalf("refusals wrote %d items", after-before)
	}
	if got := f.get(t, k.ID); string(got.Meta) != `{"keep":true}` || got.ExternalID != "c_1" {
		t.Fatalf("key changed: meta %s, external_id %q", got.Meta, got.ExternalID)
	}
}

// TestListByExternalID: the external_id filter lists the keys holding it
// that the caller may see, in pages whose cursors continue only that
// listing.
func TestListByExternalID(t *testing.T) {
	f := newFixture(t, nil)
	ctx := context.Background()
	admin := f.adminOf(t, "acme")
	var c1 []string
	for _, owner := range []string{"alice", "alice", "bob"} {
		c1 = append(c1, f.mint(t, admin, manage.CreateRequest{Owner: owner, APIs: []string{"*"}, Scopes: []string{"GET /x"}, ExternalID: ptr("c_1")}).ID)
		f.clock.Add(1e9)
	}
	f.mint(t, admin, manage.CreateRequest{Owner: "alice", APIs: []string{"*"}, Scopes: []string{"GET /x"}, ExternalID: ptr("c_2")})
	globex := f.adminOf(t, "globex")
	f.mint(t, globex, manage.CreateRequest{Owner: "alice", APIs: []string{"*"}, Scopes: []string{"GET /x"}, ExternalID: ptr("c_1")})

	var got []string
	req := manage.ListRequest{ExternalID: "c_1", Limit: 2}
	for {
		page, err := f.svc.List(ctx, admin, req)
		if err != nil {
			t.Fatal(err)
		}
		got = append(got, keyIDs(page)...)
		if page.NextCursor == nil {
			break
		}
		// The cursor continues this listing only.
		_, err = f.svc.List(ctx, admin, manage.ListRequest{Limit: 2, Cursor: *page.NextCursor})
		wantCode(t, err, keygate.Invalid)
		_, err = f.svc.List(ctx, admin, manage.ListRequest{ExternalID: "c_2", Limit: 2, Cursor: *page.NextCursor})
		wantCode(t, err, keygate.Invalid)
		req.Cursor = *page.NextCursor
	}
	slices.Sort(got)
	slices.Sort(c1)
	if !slices.Equal(got, c1) {
		t.Fatalf("c_1 lists %v, want %v", got, c1)
	}
	// A viewer sees its owner's keys only.
	bob := f.viewer(t, "acme", "bob", "GET /v1/keys")
	page, err := f.svc.List(ctx, bob, manage.ListRequest{ExternalID: "c_1"})
	if err != nil || len(page.Keys) != 1 || page.Keys[0].Owner != "bob" {
		t.Fatalf("bob's c_1 = %+v, %v", page, err)
	}
	if page, err := f.svc.List(ctx, operator, manage.ListRequest{Tenant: "globex", ExternalID: "c_1"}); err != nil || len(page.Keys) != 1 {
		t.Fatalf("globex c_1 = %+v, %v", page, err)
	}
}
