package store

import (
	"slices"
	"testing"
	"time"

	"github.com/keygate/keygate/shared/keygate"
)

// TestGSI1ProjectsEveryKeyAttribute: listings read keys from GSI1, so every
// attribute a key item can hold must be projected there, except the
// verifier (which the list path must never read) and the TTL. A field added
// to the item but not to the index would read back empty in every listing
// and every cascade.
func TestGSI1ProjectsEveryKeyAttribute(t *testing.T) {
	at := time.Date(2026, 11, 24, 0, 0, 0, 0, time.UTC)
	r := &keygate.Record{
		Key: keygate.Key{
			ID: "0wjfyYDZHtumHlgsO", Hint: "kg_live_0wjfyYDZ", Name: "n", Tenant: "acme", Owner: "alice",
			Type: keygate.User, Role: keygate.Viewer, Scopes: []string{"GET /x"}, APIs: []string{"*"},
			CreatedAt: at, CreatedBy: "operator", ExpiresAt: &at, LastUsedAt: &at, RevokedAt: &at,
			Enabled: false, RotatedFrom: "1wjfyYDZHtumHlgsO", RotatedTo: "2wjfyYDZHtumHlgsO", Rev: 3,
			Lineage: "3wjfyYDZHtumHlgsO", ParentLineage: "4wjfyYDZHtumHlgsO",
		},
		Verifier: "hmac-sha256$x",
		TTL:      1,
	}
	item := marshalRecord(r)
	for name := range item {
		switch name {
		case AttrPK, AttrSK, AttrGSI1PK, AttrGSI1SK, AttrGSI2PK, AttrGSI2SK, "verifier", AttrTTL:
			continue
		}
		if !slices.Contains(projected, name) {
			t.Errorf("key attribute %q is not projected into %s", name, GSI1)
		}
	}
	if slices.Contains(projected, "verifier") {
		t.Error("the verifier is projected into GSI1")
	}
	back, err := unmarshalRecord(item)
	if err != nil {
		t.Fatal(err)
	}
	if back.Enabled || back.RotatedFrom != r.RotatedFrom || back.RotatedTo != r.RotatedTo || back.Rev != 3 || back.Lineage != r.Lineage || back.ParentLineage != r.ParentLineage || !slices.Equal(back.APIs, r.APIs) {
		t.Fatalf("round trip lost fields: %+v", back.Key)
	}
}
