#!/usr/bin/env python3
"""Write template.yaml as CloudFormation would see it for one value of
ReplicaRegions: the replica slots' conditions (HasReplica1..4,
TooManyReplicaRegions) decided, their Fn::If replaced by the branch taken,
the slot's Fn::Select replaced by the region it picks, a slot left
empty (AWS::NoValue) dropped. `make template` lints the result (cfn-lint, sam validate --lint)
and checks its table (check_table.py), so a deployment with replicas is
checked as one, not only the default single-region one.

    .venv/bin/python infra/sam/replicas.py template.yaml eu-west-1,us-west-2 > .build/template-replicas.json

The region list is what `sam deploy --parameter-overrides
ReplicaRegions=...` would pass. Output is JSON (a template CloudFormation,
cfn-lint and SAM all read). Exits 2 on bad input.
"""
import json
import sys

from cfnlint.decode import cfn_yaml

SLOTS = 4
SLOT_CONDITIONS = [f"HasReplica{i}" for i in range(1, SLOTS + 1)] + ["TooManyReplicaRegions"]


def padded(regions):
    """ReplicaRegions as the template's conditions read it: the list joined,
    ",,,," appended, split again (at least five entries, the first empty
    one past the last region)."""
    return (",".join(regions) + "," * SLOTS).split(",")


def decide(regions):
    """The slot conditions' values for a ReplicaRegions value, and
    HasAnyReplica (any of the four slots)."""
    p = padded(regions)
    out = {c: p[i] != "" for i, c in enumerate(SLOT_CONDITIONS)}
    out["HasAnyReplica"] = any(out[f"HasReplica{i}"] for i in range(1, SLOTS + 1))
    return out


def is_slot_select(v):
    """Whether v is the template's !Select [i, !Split [",", !Join [...ReplicaRegions...]]]."""
    if not (isinstance(v, dict) and list(v) == ["Fn::Select"]):
        return False
    args = v["Fn::Select"]
    return isinstance(args, list) and len(args) == 2 and "ReplicaRegions" in json.dumps(args[1])


NO_VALUE = object()


def resolve(v, conditions, regions):
    """v with the slot conditions' Fn::If and Fn::Select evaluated."""
    if isinstance(v, dict):
        if list(v) == ["Fn::If"] and v["Fn::If"][0] in conditions:
            cond, yes, no = v["Fn::If"]
            taken = yes if conditions[cond] else no
            if taken == {"Ref": "AWS::NoValue"}:
                return NO_VALUE  # what CloudFormation leaves out
            return resolve(taken, conditions, regions)
        if is_slot_select(v):
            return padded(regions)[int(v["Fn::Select"][0])]
        out = {}
        for k, x in v.items():
            r = resolve(x, conditions, regions)
            if r is not NO_VALUE:
                out[str(k)] = r
        return out
    if isinstance(v, list):
        return [r for r in (resolve(x, conditions, regions) for x in v) if r is not NO_VALUE]
    return v


def variant(template, regions):
    """The template for ReplicaRegions = regions, slot conditions resolved
    and removed (nothing refers to them once their Fn::If are gone)."""
    conditions = decide(regions)
    out = resolve(template, conditions, regions)
    for c in SLOT_CONDITIONS + ["HasAnyReplica"]:
        (out.get("Conditions") or {}).pop(c, None)
    out["Parameters"]["ReplicaRegions"]["Default"] = ",".join(regions)
    return out


def main():
    if len(sys.argv) != 3:
        print(__doc__.strip(), file=sys.stderr)
        return 2
    try:
        template = cfn_yaml.load(sys.argv[1])
    except Exception as e:  # noqa: BLE001 - any input problem is a usage error
        print(f"replicas: {e}", file=sys.stderr)
        return 2
    regions = [r for r in sys.argv[2].split(",") if r]
    json.dump(variant(template, regions), sys.stdout, indent=1)
    print()
    return 0


if __name__ == "__main__":
    sys.exit(main())
