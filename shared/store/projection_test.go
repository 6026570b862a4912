package store

import (
	"os"
	"slices"
	"testing"
	"time"

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
			Credits:   &keygate.Credits{Remaining: 5000, Refill: &keygate.Refill{Amount: 5000, Interval: keygate.RefillMonth}},
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
		if slices.Contains(lineageAttrs, name) {
			continue // read from the items by FillLineage
		}
		if slices.Contains(leakAttrs, name) || slices.Contains(limitAttrs, name) {
			continue // read from the key's own item (GetKey), never listed
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
	for fn, read := range map[string][]string{
		"ListFunction":   keyMetadata.attrs,   // Store.GetKey
		"StreamFunction": eventMetadata.attrs, // Lifecycle.GetKey
	} {
		allowed := readKeyMetadataOnly(t, testkit.YAMLChild(resources, fn))
		want := append([]string{AttrPK, AttrSK}, read...)
		slices.Sort(allowed)
		slices.Sort(want)
		if !slices.Equal(allowed, want) {
			t.Errorf("%s ReadKeyMetadataOnly allows %v; its read projects %v", fn, allowed, want)
		}
		if slices.Contains(allowed, "verifier") {
			t.Errorf("%s may read the verifier", fn)
		}
	}
}

// readKeyMetadataOnly returns the dynamodb:Attributes of a function's
// ReadKeyMetadataOnly statement, failing if it has none or if the
// statement does not require SPECIFIC_ATTRIBUTES (without which DynamoDB
// returns the whole item whatever the attributes say).
func readKeyMetadataOnly(t *testing.T, fn *yaml.Node) []string {
	t.Helper()
	for _, policy := range testkit.YAMLChild(testkit.YAMLChild(fn, "Properties"), "Policies").Content {
		for _, st := range testkit.YAMLChild(policy, "Statement").Content {
			if sid := testkit.YAMLChild(st, "Sid"); sid == nil || sid.Value != "ReadKeyMetadataOnly" {
				continue
			}
			cond := testkit.YAMLChild(st, "Condition")
			if sel := testkit.YAMLChild(testkit.YAMLChild(cond, "StringEquals"), "dynamodb:Select"); sel == nil || sel.Value != "SPECIFIC_ATTRIBUTES" {
				t.Fatalf("ReadKeyMetadataOnly does not require dynamodb:Select SPECIFIC_ATTRIBUTES")
			}
			attrs := testkit.YAMLChild(testkit.YAMLChild(cond, "ForAllValues:StringEquals"), "dynamodb:Attributes")
			if attrs == nil {
				t.Fatalf("ReadKeyMetadataOnly has no dynamodb:Attributes")
			}
			var out []string
			for _, a := range attrs.Content {
				out = append(out, a.Value)
			}
			return out
		}
	}
	t.Fatalf("no ReadKeyMetadataOnly statement")
	return nil
}

// TestIndexProjectionsAreFrozen: a deployed index's projection cannot be
// changed (CloudFormation's AWS::DynamoDB::Table Projection: "Updates are
// not supported"; DynamoDB has no UpdateTable for it), so any change to
// the attributes GSI1 and GSI2 carry fails the upgrade of every stack
// deployed before it. A new attribute a listing needs goes through the
// items (as the lineage does) or a new index.
func TestIndexProjectionsAreFrozen(t *testing.T) {
	deployed := []string{"id", "hint", "name", "tenant", "owner", "type", "role", "scopes", "apis",
		"created_at", "created_by", "expires_at", "last_used_at", "revoked_at", "disabled", "rotated_from", "rotated_to", "rev"}
	for _, idx := range TableDefinition("t").GlobalSecondaryIndexes {
		if got := idx.Projection.NonKeyAttributes; !slices.Equal(got, deployed) {
			t.Errorf("%s projects %v; deployed stacks have %v", *idx.IndexName, got, deployed)
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
