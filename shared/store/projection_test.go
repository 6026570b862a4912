package store

import (
	"os"
	"slices"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/keygate/keygate/infra/testkit"
	"github.com/keygate/keygate/shared/keygate"
	"go.yaml.in/yaml/v3"
)

// TestGSI1ProjectsEveryKeyAttribute: listings read keys from GSI1, so every
// attribute a key item can hold must be projected there, except the
// verifier (which the list path must never read), the TTL, and what was
// added after the index was deployed (the lineage, the leak report), which
// is read from the items. A field added to the item but nowhere else would
// read back empty in every listing and every cascade.
func TestGSI1ProjectsEveryKeyAttribute(t *testing.T) {
	at := time.Date(2026, 11, 24, 0, 0, 0, 0, time.UTC)
	r := &keygate.Record{
		Key: keygate.Key{
			ID: "0wjfyYDZHtumHlgsO", Hint: "kg_live_0wjfyYDZ", Name: "n", Tenant: "acme", Owner: "alice",
			Type: keygate.User, Role: keygate.Viewer, Scopes: []string{"GET /x"}, APIs: []string{"*"},
			CreatedAt: at, CreatedBy: "operator", ExpiresAt: &at, LastUsedAt: &at, RevokedAt: &at,
			Enabled: false, RotatedFrom: "1wjfyYDZHtumHlgsO", RotatedTo: "2wjfyYDZHtumHlgsO", Rev: 3,
			Lineage: "3wjfyYDZHtumHlgsO", ParentLineage: "4wjfyYDZHtumHlgsO",
			Leaked:    &keygate.Leak{At: at, URL: "https://github.com/o/r/blob/x/k.env", Source: "content", Type: "keygate_api_key"},
			RateLimit: &keygate.RateLimit{Limit: 100, Window: time.Minute},
			Meta:      []byte(`{"plan":"pro"}`), ExternalID: "c_123",
			Credits: &keygate.Credits{Remaining: 5000, Refill: &keygate.Refill{Amount: 5000, Interval: keygate.RefillMonth}},
		},
		Verifier: "hmac-sha256$x",
		TTL:      1,
	}
	item := marshalRecord(r)
	for name := range item {
		switch name {
		case AttrPK, AttrSK, AttrGSI1PK, AttrGSI1SK, AttrGSI2PK, AttrGSI2SK, AttrGSI3PK, AttrGSI3SK, "verifier", AttrTTL:
			continue
		}
		if slices.Contains(lineageAttrs, name) {
			continue // read from the items by FillLineage
		}
		if slices.Contains(leakAttrs, name) || slices.Contains(limitAttrs, name) {
			continue // read from the key's own item (GetKey), never listed
		}
		if slices.Contains(metaAttrs, name) {
			continue // read from the items by ListKeys (fillMeta)
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
	if back.Enabled || back.RotatedFrom != r.RotatedFrom || back.RotatedTo != r.RotatedTo || back.Rev != 3 || back.Lineage != r.Lineage || back.ParentLineage != r.ParentLineage || !slices.Equal(back.APIs, r.APIs) || back.Leaked == nil || *back.Leaked != *r.Leaked ||
		string(back.Meta) != string(r.Meta) || back.ExternalID != r.ExternalID ||
		back.RateLimit == nil || *back.RateLimit != *r.RateLimit || back.Credits == nil || back.Credits.Remaining != 5000 || back.Credits.Refill == nil || *back.Credits.Refill != *r.Credits.Refill {
		t.Fatalf("round trip lost fields: %+v", back.Key)
	}
}

// TestKeyReadsMatchTheTemplate: the functions whose role may read only a
// key's metadata (template.yaml, statement ReadKeyMetadataOnly) are allowed
// exactly the attributes their store read projects, plus the item's key.
// An attribute added to the projection but not to the policy would be
// refused in AWS only; one added to the policy alone would widen the role.
func TestKeyReadsMatchTheTemplate(t *testing.T) {
	src, err := os.ReadFile("../../template.yaml")
	if err != nil {
		t.Fatal(err)
	}
	var doc yaml.Node
	if err := yaml.Unmarshal(src, &doc); err != nil || len(doc.Content) == 0 {
		t.Fatalf("template.yaml: %v", err)
	}
	resources := testkit.YAMLChild(doc.Content[0], "Resources")
	for _, tc := range []struct {
		fn, sid string
		read    []string
	}{
		{"ListFunction", "ReadKeyMetadataOnly", keyMetadata.attrs},     // Store.GetKey
		{"ListFunction", "ReadKeyMetadataBatch", keyMetadata.attrs},    // ListKeys by external_id (fillMeta reads fewer)
		{"StreamFunction", "ReadKeyMetadataOnly", eventMetadata.attrs}, // Lifecycle.GetKey
		{"ReminderFunction", "ReadKeyMetadataBatch", metaRead.attrs},   // ExpiringOn (fillMeta)
	} {
		fn, read := tc.fn, tc.read
		allowed := readKeyMetadataOnly(t, testkit.YAMLChild(resources, fn), tc.sid)
		want := append([]string{AttrPK, AttrSK}, read...)
		slices.Sort(allowed)
		slices.Sort(want)
		if !slices.Equal(allowed, want) {
			t.Errorf("%s %s allows %v; its read projects %v", fn, tc.sid, allowed, want)
		}
		if slices.Contains(allowed, "verifier") {
			t.Errorf("%s may read the verifier", fn)
		}
	}
}

// readKeyMetadataOnly returns the dynamodb:Attributes of a function's
// statement named sid, failing if it has none, if the statement does not
// require SPECIFIC_ATTRIBUTES (without which DynamoDB returns the whole
// item whatever the attributes say; a BatchGetItem statement requires it
// if present) or if it does not require the attributes to be given.
func readKeyMetadataOnly(t *testing.T, fn *yaml.Node, sid string) []string {
	t.Helper()
	for _, policy := range testkit.YAMLChild(testkit.YAMLChild(fn, "Properties"), "Policies").Content {
		for _, st := range testkit.YAMLChild(policy, "Statement").Content {
			if s := testkit.YAMLChild(st, "Sid"); s == nil || s.Value != sid {
				continue
			}
			cond := testkit.YAMLChild(st, "Condition")
			sel := testkit.YAMLChild(testkit.YAMLChild(cond, "StringEquals"), "dynamodb:Select")
			if action := testkit.YAMLChild(st, "Action"); action != nil && action.Value == "dynamodb:BatchGetItem" {
				sel = testkit.YAMLChild(testkit.YAMLChild(cond, "StringEqualsIfExists"), "dynamodb:Select")
			}
			if sel == nil || sel.Value != "SPECIFIC_ATTRIBUTES" {
				t.Fatalf("%s does not require dynamodb:Select SPECIFIC_ATTRIBUTES", sid)
			}
			if null := testkit.YAMLChild(testkit.YAMLChild(cond, "Null"), "dynamodb:Attributes"); null == nil || null.Value != "false" {
				t.Fatalf("%s does not require dynamodb:Attributes", sid)
			}
			attrs := testkit.YAMLChild(testkit.YAMLChild(cond, "ForAllValues:StringEquals"), "dynamodb:Attributes")
			if attrs == nil {
				t.Fatalf("%s has no dynamodb:Attributes", sid)
			}
			var out []string
			for _, a := range attrs.Content {
				out = append(out, a.Value)
			}
			return out
		}
	}
	t.Fatalf("no %s statement", sid)
	return nil
}

// TestIndexProjectionsAreFrozen: a deployed index's projection cannot be
// changed (CloudFormation's AWS::DynamoDB::Table Projection: "Updates are
// not supported"; DynamoDB has no UpdateTable for it), so any change to
// the attributes GSI1 and GSI2 carry fails the upgrade of every stack
// deployed before it. A new attribute a listing needs goes through the
// items (as the lineage does) or a new index.
func TestIndexProjectionsAreFrozen(t *testing.T) {
	gsi12 := []string{"id", "hint", "name", "tenant", "owner", "type", "role", "scopes", "apis",
		"created_at", "created_by", "expires_at", "last_used_at", "revoked_at", "disabled", "rotated_from", "rotated_to", "rev"}
	deployed := map[string]types.Projection{
		GSI1: {ProjectionType: types.ProjectionTypeInclude, NonKeyAttributes: gsi12},
		GSI2: {ProjectionType: types.ProjectionTypeInclude, NonKeyAttributes: gsi12},
		GSI3: {ProjectionType: types.ProjectionTypeKeysOnly},
	}
	indexes := TableDefinition("t").GlobalSecondaryIndexes
	if len(indexes) != len(deployed) {
		t.Errorf("%d indexes; deployed stacks have %d (add a new one here once it ships)", len(indexes), len(deployed))
	}
	for _, idx := range indexes {
		want, ok := deployed[*idx.IndexName]
		if got := idx.Projection; !ok || got.ProjectionType != want.ProjectionType || !slices.Equal(got.NonKeyAttributes, want.NonKeyAttributes) {
			t.Errorf("%s projects %s %v; deployed stacks have %s %v", *idx.IndexName, got.ProjectionType, got.NonKeyAttributes, want.ProjectionType, want.NonKeyAttributes)
		}
	}
}

// TestMutatingFunctionsMayConditionCheck: every mutation by a key carries a
// condition check on the calling key's item (actorCheck) in its
// transaction, which IAM allows only with dynamodb:ConditionCheckItem.
// DynamoDB Local enforces no IAM, so without this check a role missing it
// would pass every other test and fail every key-made change in AWS.
func TestMutatingFunctionsMayConditionCheck(t *testing.T) {
	src, err := os.ReadFile("../../template.yaml")
	if err != nil {
		t.Fatal(err)
	}
	var doc yaml.Node
	if err := yaml.Unmarshal(src, &doc); err != nil || len(doc.Content) == 0 {
		t.Fatalf("template.yaml: %v", err)
	}
	resources := testkit.YAMLChild(doc.Content[0], "Resources")
	// CreateFunction: create and rotate; RevokeFunction: revoke, update and
	// PUT /v1/settings.
	for _, fn := range []string{"CreateFunction", "RevokeFunction"} {
		allowed := false
		for _, policy := range testkit.YAMLChild(testkit.YAMLChild(testkit.YAMLChild(resources, fn), "Properties"), "Policies").Content {
			for _, st := range testkit.YAMLChild(policy, "Statement").Content {
				action := testkit.YAMLChild(st, "Action")
				if action == nil {
					continue
				}
				for _, a := range append([]*yaml.Node{action}, action.Content...) {
					allowed = allowed || a.Value == "dynamodb:ConditionCheckItem"
				}
			}
		}
		if !allowed {
			t.Errorf("%s may not dynamodb:ConditionCheckItem: its key-made changes would be denied in AWS", fn)
		}
	}
}
