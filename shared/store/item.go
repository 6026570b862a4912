package store

import (
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/keygate/keygate/shared/apikey"
	"github.com/keygate/keygate/shared/keygate"
)

// timeFormat is fixed-width UTC with milliseconds, so stored timestamps sort
// and compare correctly as strings (conditions on last_used_at rely on it).
const timeFormat = "2006-01-02T15:04:05.000Z"

func formatTime(t time.Time) string { return t.UTC().Format(timeFormat) }

func keyPK(id string) string { return "KEY#" + id }

const keySK = "KEY"

// primaryKey is the primary key of the item at pk, sk.
func primaryKey(pk, sk string) map[string]types.AttributeValue {
	return map[string]types.AttributeValue{AttrPK: attrS(pk), AttrSK: attrS(sk)}
}

// keyItemKey is the primary key of key id's item.
func keyItemKey(id string) map[string]types.AttributeValue { return primaryKey(keyPK(id), keySK) }

func tenantPK(tenant string) string { return "TENANT#" + tenant }

func gsi1SK(k *keygate.Key) string {
	return k.Owner + "#" + formatTime(k.CreatedAt) + "#" + k.ID
}

// expiryDay is GSI2's partition of keys expiring on t's UTC day.
func expiryDay(t time.Time) string { return "EXP#" + t.UTC().Format("2006-01-02") }

// expiryIndex is the GSI2 key of key id expiring at t.
func expiryIndex(id string, t time.Time) (pk, sk types.AttributeValue) {
	return attrS(expiryDay(t)), attrS(formatTime(t) + "#" + id)
}

func slotsPK(k *keygate.Key) string {
	if k.Type == keygate.Service {
		return "SLOTS#" + k.Tenant + "#service"
	}
	return "SLOTS#" + k.Tenant + "#user#" + k.Owner
}

const slotsSK = "SLOTS"

func attrS(v string) types.AttributeValue { return &types.AttributeValueMemberS{Value: v} }

func attrN(v int64) types.AttributeValue {
	return &types.AttributeValueMemberN{Value: strconv.FormatInt(v, 10)}
}

func attrList(ss []string) types.AttributeValue {
	l := make([]types.AttributeValue, len(ss))
	for i, s := range ss {
		l[i] = attrS(s)
	}
	return &types.AttributeValueMemberL{Value: l}
}

func optTime(item map[string]types.AttributeValue, name string, t *time.Time) {
	if t != nil {
		item[name] = attrS(formatTime(*t))
	}
}

func marshalRecord(r *keygate.Record) map[string]types.AttributeValue {
	item := map[string]types.AttributeValue{
		AttrPK:       attrS(keyPK(r.ID)),
		AttrSK:       attrS(keySK),
		AttrGSI1PK:   attrS(tenantPK(r.Tenant)),
		AttrGSI1SK:   attrS(gsi1SK(&r.Key)),
		"id":         attrS(r.ID),
		"hint":       attrS(r.Hint),
		"tenant":     attrS(r.Tenant),
		"owner":      attrS(r.Owner),
		"type":       attrS(string(r.Type)),
		"role":       attrS(string(r.Role)),
		"scopes":     attrList(r.Scopes),
		"apis":       attrList(r.APIs),
		"created_at": attrS(formatTime(r.CreatedAt)),
		"created_by": attrS(r.CreatedBy),
		"verifier":   attrS(r.Verifier),
	}
	if r.Name != "" {
		item["name"] = attrS(r.Name)
	}
	optTime(item, "expires_at", r.ExpiresAt)
	if r.ExpiresAt != nil {
		item[AttrGSI2PK], item[AttrGSI2SK] = expiryIndex(r.ID, *r.ExpiresAt)
	}
	optTime(item, "last_used_at", r.LastUsedAt)
	optTime(item, "revoked_at", r.RevokedAt)
	if !r.Enabled {
		item["disabled"] = &types.AttributeValueMemberBOOL{Value: true}
	}
	if r.RotatedFrom != "" {
		item["rotated_from"] = attrS(r.RotatedFrom)
	}
	if r.Imported {
		item["imported"] = &types.AttributeValueMemberBOOL{Value: true}
	}
	if r.RotatedTo != "" {
		item["rotated_to"] = attrS(r.RotatedTo)
	}
	if r.Lineage != "" {
		item["lineage"] = attrS(r.Lineage)
	}
	if r.ParentLineage != "" {
		item["parent_lineage"] = attrS(r.ParentLineage)
	}
	for name, v := range metaItem(&r.Key) {
		item[name] = v
	}
	if r.Leaked != nil {
		for name, v := range leakItem(*r.Leaked) {
			item[name] = v
		}
	}
	for name, v := range limitItem(&r.Key) {
		item[name] = v
	}
	if r.Rev > 0 {
		item["rev"] = attrN(r.Rev)
	}
	if r.TTL > 0 {
		item[AttrTTL] = attrN(r.TTL)
	}
	return item
}

// importedFlag reads a key item's imported flag: absent is false.
func importedFlag(item map[string]types.AttributeValue) bool {
	v, _ := item["imported"].(*types.AttributeValueMemberBOOL)
	return v != nil && v.Value
}

// extIndexPK is GSI3's partition of tenant's keys with external_id.
func extIndexPK(tenant, externalID string) string { return "EXT#" + tenant + "#" + externalID }

// metaItem is k's meta and external_id as the key item's attributes
// (metaAttrs), with its GSI3 keys: none of them when k has neither.
func metaItem(k *keygate.Key) map[string]types.AttributeValue {
	item := map[string]types.AttributeValue{}
	if len(k.Meta) > 0 {
		item["meta"] = attrS(string(k.Meta))
	}
	if k.ExternalID != "" {
		item["external_id"] = attrS(k.ExternalID)
		item[AttrGSI3PK], item[AttrGSI3SK] = attrS(extIndexPK(k.Tenant, k.ExternalID)), attrS(gsi1SK(k))
	}
	return item
}

// leakItem is l as the key item's attributes (leakAttrs). The URL may be
// empty: DynamoDB keeps empty strings outside keys.
func leakItem(l keygate.Leak) map[string]types.AttributeValue {
	return map[string]types.AttributeValue{
		"leaked_at": attrS(formatTime(l.At)), "leak_url": attrS(l.URL), "leak_source": attrS(l.Source), "leak_type": attrS(l.Type),
	}
}

// limitItem is k's usage limits as the key item's attributes (limitAttrs):
// none for an unmetered key. The window is whole seconds.
func limitItem(k *keygate.Key) map[string]types.AttributeValue {
	item := map[string]types.AttributeValue{}
	if rl := k.RateLimit; rl != nil {
		item["rl_limit"], item["rl_window"] = attrN(rl.Limit), attrN(int64(rl.Window/time.Second))
	}
	if cr := k.Credits; cr != nil {
		item["cr_remaining"] = attrN(cr.Remaining)
		if cr.Refill != nil {
			item["cr_refill_amount"], item["cr_refill_interval"] = attrN(cr.Refill.Amount), attrS(cr.Refill.Interval)
		}
	}
	return item
}

// limits reads the usage limits of a key item (limitItem's attributes).
func (d *decoder) limits() (*keygate.RateLimit, *keygate.Credits) {
	var rl *keygate.RateLimit
	var cr *keygate.Credits
	if _, ok := d.item["rl_limit"]; ok {
		rl = &keygate.RateLimit{Limit: d.num("rl_limit"), Window: time.Duration(d.num("rl_window")) * time.Second}
	}
	if _, ok := d.item["cr_remaining"]; ok {
		cr = &keygate.Credits{Remaining: d.num("cr_remaining")}
		if interval := d.str("cr_refill_interval", false); interval != "" {
			cr.Refill = &keygate.Refill{Amount: d.num("cr_refill_amount"), Interval: interval}
		}
	}
	return rl, cr
}

// decoder collects the first problem while reading an item, so a corrupt
// item is one clear error instead of a panic or a half-filled key.
type decoder struct {
	item map[string]types.AttributeValue
	err  error
}

func (d *decoder) str(name string, required bool) string {
	switch v := d.item[name].(type) {
	case *types.AttributeValueMemberS:
		return v.Value
	case nil:
		if required && d.err == nil {
			d.err = fmt.Errorf("attribute %s missing", name)
		}
	default:
		if d.err == nil {
			d.err = fmt.Errorf("attribute %s is not a string", name)
		}
	}
	return ""
}

func (d *decoder) time(name string) *time.Time {
	v := d.str(name, false)
	if v == "" {
		return nil
	}
	t, err := time.Parse(timeFormat, v)
	if err != nil && d.err == nil {
		d.err = fmt.Errorf("attribute %s: %w", name, err)
	}
	return &t
}

// num reads a whole number; a missing one is 0.
func (d *decoder) num(name string) int64 {
	switch v := d.item[name].(type) {
	case nil:
	case *types.AttributeValueMemberN:
		n, err := strconv.ParseInt(v.Value, 10, 64)
		if err != nil && d.err == nil {
			d.err = fmt.Errorf("attribute %s: %w", name, err)
		}
		return n
	default:
		if d.err == nil {
			d.err = fmt.Errorf("attribute %s is not a number", name)
		}
	}
	return 0
}

// list reads a list of strings; a missing one is empty.
func (d *decoder) list(name string) []string {
	out := []string{}
	switch v := d.item[name].(type) {
	case nil:
	case *types.AttributeValueMemberL:
		for _, e := range v.Value {
			s, ok := e.(*types.AttributeValueMemberS)
			if !ok {
				if d.err == nil {
					d.err = fmt.Errorf("attribute %s holds a non-string", name)
				}
				return []string{}
			}
			out = append(out, s.Value)
		}
	default:
		if d.err == nil {
			d.err = fmt.Errorf("attribute %s is not a list", name)
		}
	}
	return out
}

func unmarshalRecord(item map[string]types.AttributeValue) (*keygate.Record, error) {
	d := decoder{item: item}
	r := &keygate.Record{}
	r.ID = d.str("id", true)
	r.Hint = d.str("hint", true)
	r.Name = d.str("name", false)
	r.Tenant = d.str("tenant", true)
	r.Owner = d.str("owner", true)
	r.Type = keygate.Type(d.str("type", true))
	r.Role = keygate.Role(d.str("role", true))
	r.CreatedBy = d.str("created_by", true)
	r.Verifier = d.str("verifier", false) // not projected into GSI1
	if t := d.time("created_at"); t != nil {
		r.CreatedAt = *t
	} else if d.err == nil {
		d.err = fmt.Errorf("attribute created_at missing")
	}
	r.ExpiresAt = d.time("expires_at")
	r.LastUsedAt = d.time("last_used_at")
	r.RevokedAt = d.time("revoked_at")
	// Keys written before keys could be disabled carry no flag: enabled.
	disabled, _ := item["disabled"].(*types.AttributeValueMemberBOOL)
	r.Enabled = disabled == nil || !disabled.Value
	r.RotatedFrom = d.str("rotated_from", false)
	r.Imported = importedFlag(item)
	r.RotatedTo = d.str("rotated_to", false)
	r.Lineage = d.str("lineage", false)
	r.ParentLineage = d.str("parent_lineage", false)
	if at := d.time("leaked_at"); at != nil {
		r.Leaked = &keygate.Leak{At: *at, URL: d.str("leak_url", false), Source: d.str("leak_source", false), Type: d.str("leak_type", false)}
	}
	r.RateLimit, r.Credits = d.limits()
	if meta := d.str("meta", false); meta != "" {
		r.Meta = json.RawMessage(meta)
	}
	r.ExternalID = d.str("external_id", false)
	r.Rev = d.num("rev")
	r.Scopes = d.list("scopes")
	// A key without apis (written before keys were bound to APIs) may call
	// none: fail closed.
	r.APIs = d.list("apis")
	if v, ok := item[AttrTTL].(*types.AttributeValueMemberN); ok {
		r.TTL, _ = strconv.ParseInt(v.Value, 10, 64)
	}
	if d.err != nil {
		return nil, fmt.Errorf("decode key %s: %w", r.ID, d.err)
	}
	return r, nil
}

func marshalAudit(a keygate.Audit) map[string]types.AttributeValue {
	item := map[string]types.AttributeValue{
		AttrPK:   attrS(auditPK(a.Tenant)),
		AttrSK:   attrS(auditSK(a)),
		"action": attrS(a.Action),
		"key_id": attrS(a.KeyID),
		"tenant": attrS(a.Tenant),
		"owner":  attrS(a.Owner),
		"actor":  attrS(a.Actor),
		"at":     attrS(formatTime(a.At)),
	}
	if a.RequestID != "" {
		item["request_id"] = attrS(a.RequestID)
	}
	if len(a.Detail) > 0 {
		detail := make(map[string]types.AttributeValue, len(a.Detail))
		for k, v := range a.Detail {
			detail[k] = attrS(v)
		}
		item["detail"] = &types.AttributeValueMemberM{Value: detail}
	}
	return item
}

// auditSK orders a tenant's records by time; a key has one record per
// action, but for updates, one per revision.
func auditSK(a keygate.Audit) string {
	sk := formatTime(a.At) + "#" + a.KeyID + "#" + a.Action
	if a.Rev > 0 {
		sk += "#" + strconv.FormatInt(a.Rev, 10)
	}
	return sk
}

// legacyActions are the action names of audit records written before the
// past-tense names (keygate.ActionCreated, …). They are renamed here, on
// every read of an audit item (the audit route and the stream alike), so
// nothing above storage knows the old names.
var legacyActions = map[string]string{"create": keygate.ActionCreated, "revoke": keygate.ActionRevoked}

func unmarshalAudit(item map[string]types.AttributeValue) (keygate.Audit, error) {
	d := decoder{item: item}
	a := keygate.Audit{
		Action:    d.str("action", true),
		KeyID:     d.str("key_id", true),
		Tenant:    d.str("tenant", true),
		Owner:     d.str("owner", false),
		Actor:     d.str("actor", true),
		RequestID: d.str("request_id", false),
	}
	if t := d.time("at"); t != nil {
		a.At = *t
	}
	if name, ok := legacyActions[a.Action]; ok {
		a.Action = name
	}
	if m, ok := item["detail"].(*types.AttributeValueMemberM); ok {
		a.Detail = make(map[string]string, len(m.Value))
		for k, v := range m.Value {
			if sv, ok := v.(*types.AttributeValueMemberS); ok {
				a.Detail[k] = sv.Value
			}
		}
	}
	if d.err != nil {
		return a, fmt.Errorf("decode audit record: %w", d.err)
	}
	return a, nil
}

const idemSK = "IDEM"

func marshalIdempotency(i *keygate.Idempotency, keyID string) map[string]types.AttributeValue {
	return map[string]types.AttributeValue{
		AttrPK:         attrS(i.PK),
		AttrSK:         attrS(idemSK),
		"key_id":       attrS(keyID),
		"request_hash": attrS(i.RequestHash),
		"sealed":       attrS(i.Sealed),
		AttrTTL:        attrN(i.Expires.Unix()),
	}
}

// cursor encodes where a listing stopped: the GSI1 sort key of the last key
// returned. It is opaque to clients but checked on the way back in.
func parseCursor(sk string) (owner, id string, ok bool) {
	parts := strings.Split(sk, "#")
	if len(parts) != 3 || !keygate.ValidName(parts[0]) || parts[2] == "" {
		return "", "", false
	}
	if _, err := time.Parse(timeFormat, parts[1]); err != nil {
		return "", "", false
	}
	if !apikey.ValidID(parts[2]) {
		return "", "", false
	}
	return parts[0], parts[2], true
}
