package manage_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/keygate/keygate/infra/testkit"
	"github.com/keygate/keygate/shared/apikey"
	"github.com/keygate/keygate/shared/keygate"
	"github.com/keygate/keygate/shared/manage"
	"github.com/keygate/keygate/shared/store"
)

// TestPepperRotationReKeysSealing runs docs/pepper-rotation.md against the
// sealed values of the management API: an idempotent create made before
// the rotation replays while its version is listed and answers a Conflict
// naming the key (not a 500) once it is retired; cursors follow the same
// rule (a retired one is an invalid cursor); and what is sealed after the
// rotation is out of reach of the old pepper, even with the table in hand.
func TestPepperRotationReKeysSealing(t *testing.T) {
	f := newFixture(t, func(c *manage.Config) { c.MaxUserKeys = 50 })
	ctx := context.Background()
	seed, p2 := bytes.Repeat([]byte("k"), 32), bytes.Repeat([]byte("2"), 32) // the fixture's pepper is the seed and version 1
	format, oldOnly := testkit.Tokens(t)
	step := func(p apikey.Peppers) *manage.Service {
		t.Helper()
		h, err := apikey.NewVersionedHasher(p, apikey.HMACSHA256, rand.Reader)
		if err != nil {
			t.Fatal(err)
		}
		return manage.New(store.New(f.db, f.table), manage.Config{Format: format, Hasher: h, DefaultTTL: 90 * 24 * time.Hour, Retention: 30 * 24 * time.Hour,
			MaxUserKeys: 50, MaxServiceKeys: 5, Now: f.clock.Now})
	}
	req := manage.CreateRequest{APIs: []string{"*"}, Owner: "alice", Scopes: []string{"GET /x"}}
	list := func(svc *manage.Service, cursor string) (*manage.List, error) {
		return svc.List(ctx, operator, manage.ListRequest{Tenant: "acme", Limit: 1, Cursor: cursor})
	}

	// Before the rotation: version 1.
	before, err := f.svc.Create(ctx, operator, withTenant(req, "acme", "before"))
	if err != nil {
		t.Fatal(err)
	}
	page, err := list(f.svc, "")
	if err != nil || page.NextCursor == nil {
		t.Fatalf("list = %+v, %v", page, err)
	}
	cursor1 := *page.NextCursor

	// Step 2: version 2 current, 1 still listed.
	during := step(apikey.Peppers{TagSeed: seed, Current: 2, Versions: map[int]apikey.Secret{1: seed, 2: p2}})
	if again, err := during.Create(ctx, operator, withTenant(req, "acme", "before")); err != nil || again.ID != before.ID || again.Token.Reveal() != before.Token.Reveal() {
		t.Fatalf("replay while version 1 is listed = %v, %v; want key %s and its token", again, err, before.ID)
	}
	if _, err := list(during, cursor1); err != nil {
		t.Fatalf("a version 1 cursor while version 1 is listed: %v", err)
	}
	after, err := during.Create(ctx, operator, withTenant(req, "acme", "after"))
	if err != nil {
		t.Fatal(err)
	}
	page, err = list(during, "")
	if err != nil || page.NextCursor == nil {
		t.Fatalf("list = %+v, %v", page, err)
	}
	cursor2 := *page.NextCursor

	// Someone holding the old pepper (the tag seed, version 1) and a copy
	// of the table opens the record sealed before the rotation, which is
	// why a retired version's records must have expired (the documented
	// wait), and not the one sealed after.
	opened := map[string]bool{}
	for _, item := range f.scan(t) {
		sealed, ok := item["sealed"].(*types.AttributeValueMemberS)
		if !ok {
			continue
		}
		pk := item["pk"].(*types.AttributeValueMemberS).Value
		keyID := item["key_id"].(*types.AttributeValueMemberS).Value
		plain, err := oldOnly.Open(sealed.Value, pk)
		opened[keyID] = err == nil && string(plain) != ""
	}
	if want := map[string]bool{before.ID: true, after.ID: false}; len(opened) != 2 || opened[before.ID] != want[before.ID] || opened[after.ID] != want[after.ID] {
		t.Fatalf("the old pepper opens the idempotency records of %v; want those of %v", opened, want)
	}

	// Step 4: version 1 retired.
	retired := step(apikey.Peppers{TagSeed: seed, Current: 2, Versions: map[int]apikey.Secret{2: p2}})
	_, err = retired.Create(ctx, operator, withTenant(req, "acme", "before"))
	wantCode(t, err, keygate.Conflict)
	if !errors.Is(err, apikey.ErrRetiredSeal) || !strings.Contains(keygate.ErrorMessage(err), before.ID) {
		t.Fatalf("replay under a retired version = %v; want ErrRetiredSeal and a message naming key %s", err, before.ID)
	}
	if again, err := retired.Create(ctx, operator, withTenant(req, "acme", "after")); err != nil || again.ID != after.ID || again.Token.Reveal() != after.Token.Reveal() {
		t.Fatalf("replay of a version 2 record = %v, %v; want key %s and its token", again, err, after.ID)
	}
	_, err = list(retired, cursor1)
	wantCode(t, err, keygate.Invalid)
	if _, err := list(retired, cursor2); err != nil {
		t.Fatalf("a version 2 cursor after version 1 is retired: %v", err)
	}
	// Nothing was written by the refused replay: still two keys.
	if all, err := retired.List(ctx, operator, manage.ListRequest{Tenant: "acme"}); err != nil || len(all.Keys) != 2 {
		t.Fatalf("list after the replays = %+v, %v; want 2 keys", all, err)
	}
}
