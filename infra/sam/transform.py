#!/usr/bin/env python3
"""Write the CloudFormation template `sam deploy` would create from a SAM
template (the AWS::Serverless-2016-10-31 transform, run locally by the SAM
translator), so checkov also sees the generated resources: the functions'
IAM roles and policies, the Lambda permissions, the API stage.

    .venv/bin/python infra/sam/transform.py template.yaml > .build/template.cfn.json

No AWS credentials or network: the region and account are placeholders, and
CodeUri (a local path before `sam package`) is replaced with a placeholder
S3 location, which the translator requires and checkov does not look at.
"""
import json
import os
import sys

os.environ.setdefault("AWS_DEFAULT_REGION", "us-east-1")

from samtranslator.translator.transform import transform  # noqa: E402
from samtranslator.yaml_helper import yaml_parse  # noqa: E402

PLACEHOLDER_CODE = "s3://placeholder-bucket/placeholder-key"


class NoManagedPolicies:
    """The translator looks AWS managed policies up by name only for
    Policies entries that are names; Keygate's are inline documents."""

    def load(self):
        return {}


def main():
    if len(sys.argv) != 2:
        print(__doc__.strip(), file=sys.stderr)
        return 2
    with open(sys.argv[1], encoding="utf-8") as f:
        template = yaml_parse(f.read())
    fn_globals = (template.get("Globals") or {}).get("Function") or {}
    if "CodeUri" in fn_globals:
        fn_globals["CodeUri"] = PLACEHOLDER_CODE
    for res in (template.get("Resources") or {}).values():
        if res.get("Type") == "AWS::Serverless::Function" and "CodeUri" in (res.get("Properties") or {}):
            res["Properties"]["CodeUri"] = PLACEHOLDER_CODE
    params = {"AWS::Region": os.environ["AWS_DEFAULT_REGION"], "AWS::AccountId": "123456789012",
              "AWS::Partition": "aws"}
    out = transform(template, params, NoManagedPolicies())
    json.dump(out, sys.stdout, indent=1, default=str)
    print()
    return 0


if __name__ == "__main__":
    sys.exit(main())
