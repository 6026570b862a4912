#!/usr/bin/env python3
"""Check that template.yaml declares the table store.TableDefinition defines.

    go run ./infra/cmd/ddb table -print | .venv/bin/python infra/sam/check_table.py template.yaml

Reads the Go definition (JSON with CloudFormation property names, from
`infra/cmd/ddb table -print`) on stdin, or from a file given with --go, and the
`Table` resource of the template (parsed with cfn-lint's loader, so !Ref and
friends are fine). Compares key schema, attribute definitions, global and
local secondary indexes (names, key schema, projection type, non-key
attributes as sets), billing mode and the TTL attribute. Also requires the
template-only settings a production table needs: an AWS::DynamoDB::GlobalTable
(docs/regions.md), TTL, the stream (NEW_AND_OLD_IMAGES) the lifecycle events
read, encryption, the stack's own region as the first replica, and on every
replica (each Fn::If branch of a replica slot, or the replicas of a variant
infra/sam/replicas.py wrote) point-in-time recovery and deletion protection
enabled; DeletionPolicy and UpdateReplacePolicy Retain. Exits 1 with every
difference listed, 2 on bad input.
"""
import argparse
import json
import sys

from cfnlint.decode import cfn_yaml


def lit(v):
    """A literal as is; anything else (an intrinsic function) as its JSON,
    so it compares unequal to every literal and can be shown."""
    return v if isinstance(v, (str, bool, int, float)) or v is None else json.dumps(v, default=str)


def key_schema(ks):
    """Key schema as {attribute: HASH|RANGE}, in a comparable form."""
    return {lit(k.get("AttributeName")): lit(k.get("KeyType")) for k in ks or []}


def attributes(defs):
    return {lit(d.get("AttributeName")): lit(d.get("AttributeType")) for d in defs or []}


def indexes(idx):
    out = {}
    for i in idx or []:
        p = i.get("Projection") or {}
        out[lit(i.get("IndexName"))] = {
            "KeySchema": key_schema(i.get("KeySchema")),
            "ProjectionType": lit(p.get("ProjectionType", "KEYS_ONLY")),
            "NonKeyAttributes": sorted({str(lit(a)) for a in p.get("NonKeyAttributes") or []}),
        }
    return out


def normalize(props):
    ttl = props.get("TimeToLiveSpecification") or {}
    return {
        "KeySchema": key_schema(props.get("KeySchema")),
        "AttributeDefinitions": attributes(props.get("AttributeDefinitions")),
        "GlobalSecondaryIndexes": indexes(props.get("GlobalSecondaryIndexes")),
        "LocalSecondaryIndexes": indexes(props.get("LocalSecondaryIndexes")),
        # CloudFormation's default billing mode is PROVISIONED.
        "BillingMode": lit(props.get("BillingMode", "PROVISIONED")),
        "TimeToLiveSpecification.AttributeName": lit(ttl.get("AttributeName")),
    }


def replicas(props):
    """(label, replica) for every replica the template may declare: a
    literal entry, or each non-NoValue branch of a slot's Fn::If."""
    for i, r in enumerate(props.get("Replicas") or []):
        if isinstance(r, dict) and list(r) == ["Fn::If"]:
            cond, *branches = r["Fn::If"]
            for b in branches:
                if isinstance(b, dict) and b != {"Ref": "AWS::NoValue"}:
                    yield f"Replicas[{i}] ({cond})", b
        else:
            yield f"Replicas[{i}]", r


def diff(path, go, tpl, out):
    """Appends a line per difference between go and tpl under path."""
    if isinstance(go, dict) and isinstance(tpl, dict):
        for k in sorted(set(go) | set(tpl), key=str):
            p = f"{path}.{k}" if path else str(k)
            if k not in tpl:
                out.append(f"  {p}: in store.TableDefinition ({json.dumps(go[k])}), missing from the template")
            elif k not in go:
                out.append(f"  {p}: in the template ({json.dumps(tpl[k])}), missing from store.TableDefinition")
            else:
                diff(p, go[k], tpl[k], out)
    elif isinstance(go, list) and isinstance(tpl, list):
        only_go, only_tpl = sorted(set(go) - set(tpl)), sorted(set(tpl) - set(go))
        if only_go:
            out.append(f"  {path}: only in store.TableDefinition: {', '.join(only_go)}")
        if only_tpl:
            out.append(f"  {path}: only in the template: {', '.join(only_tpl)}")
    elif go != tpl:
        out.append(f"  {path}: store.TableDefinition has {json.dumps(go)}, the template has {json.dumps(tpl, default=str)}")


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("template", help="the SAM/CloudFormation template, e.g. template.yaml")
    ap.add_argument("--resource", default="Table", help="logical ID of the table (default Table)")
    ap.add_argument("--go", default="-", help="the output of `infra/cmd/ddb table -print` (default stdin)")
    args = ap.parse_args()

    try:
        src = sys.stdin if args.go == "-" else open(args.go, encoding="utf-8")
        with src:
            go_def = json.load(src)
        template = cfn_yaml.load(args.template)
    except Exception as e:  # noqa: BLE001 - any input problem is a usage error
        print(f"check_table: {e}", file=sys.stderr)
        return 2
    resource = (template.get("Resources") or {}).get(args.resource)
    if not resource or resource.get("Type") != "AWS::DynamoDB::GlobalTable":
        print(f"check_table: {args.template} has no AWS::DynamoDB::GlobalTable {args.resource} "
              "(an AWS::DynamoDB::Table cannot become one later: docs/regions.md)", file=sys.stderr)
        return 2
    props = resource.get("Properties") or {}

    problems = []
    diff("", normalize(go_def), normalize(props), problems)

    # What only the template can say, and production needs.
    ttl = props.get("TimeToLiveSpecification") or {}
    if ttl.get("Enabled") is not True:
        problems.append("  TimeToLiveSpecification.Enabled: must be true")
    if (props.get("SSESpecification") or {}).get("SSEEnabled") is not True:
        problems.append("  SSESpecification.SSEEnabled: must be true")
    if (props.get("StreamSpecification") or {}).get("StreamViewType") != "NEW_AND_OLD_IMAGES":
        problems.append("  StreamSpecification.StreamViewType: must be NEW_AND_OLD_IMAGES (the lifecycle events read it)")
    # A global table keeps these per replica; the table-level ones do not exist.
    for name in ("PointInTimeRecoverySpecification", "DeletionProtectionEnabled"):
        if name in props:
            problems.append(f"  {name}: a per-replica setting of a global table (Replicas[].{name})")
    reps = list(replicas(props))
    if not reps or reps[0][1].get("Region") != {"Ref": "AWS::Region"}:
        problems.append("  Replicas[0].Region: must be !Ref AWS::Region (the stack's own region is the home replica)")
    for label, r in reps:
        if ((r.get("PointInTimeRecoverySpecification") or {}).get("PointInTimeRecoveryEnabled") is not True
                and r.get("Region") != "ReplicaRegions-holds-more-than-four-regions"):
            problems.append(f"  {label}.PointInTimeRecoverySpecification.PointInTimeRecoveryEnabled: must be true")
        if r.get("DeletionProtectionEnabled") is not True and r.get("Region") != "ReplicaRegions-holds-more-than-four-regions":
            problems.append(f"  {label}.DeletionProtectionEnabled: must be true (DeleteTable refused outside CloudFormation too)")
    for policy in ("DeletionPolicy", "UpdateReplacePolicy"):
        if resource.get(policy) != "Retain":
            problems.append(f"  {policy}: must be Retain (the table holds every key)")

    if problems:
        print(f"check_table: {args.template} resource {args.resource} does not match store.TableDefinition "
              "(shared/store/table.go):", file=sys.stderr)
        print("\n".join(problems), file=sys.stderr)
        return 1
    print(f"check_table: {args.template} {args.resource} matches store.TableDefinition")
    return 0


if __name__ == "__main__":
    sys.exit(main())
