#!/usr/bin/env python3
"""Tests of replicas.py and of template.yaml's replica slots: what
CloudFormation deploys for a ReplicaRegions value.

    .venv/bin/python infra/sam/test_replicas.py
"""
import os
import sys
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from cfnlint.decode import cfn_yaml  # noqa: E402

import replicas  # noqa: E402

TEMPLATE = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "template.yaml")


class Slots(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.template = cfn_yaml.load(TEMPLATE)

    def deployed(self, regions):
        out = replicas.variant(self.template, regions)
        table = [r["Region"] for r in out["Resources"]["Table"]["Properties"]["Replicas"]]
        secret = [r["Region"] for r in out["Resources"]["PepperSecret"]["Properties"].get("ReplicaRegions", [])]
        return table, secret

    def test_regions(self):
        home = {"Ref": "AWS::Region"}
        for name, regions, table, secret in [
            ("none", [], [home], []),
            ("one", ["eu-west-1"], [home, "eu-west-1"], ["eu-west-1"]),
            ("two", ["eu-west-1", "ap-southeast-2"], [home, "eu-west-1", "ap-southeast-2"], ["eu-west-1", "ap-southeast-2"]),
            ("four", ["a-b-1", "c-d-1", "e-f-1", "g-h-1"], [home, "a-b-1", "c-d-1", "e-f-1", "g-h-1"],
             ["a-b-1", "c-d-1", "e-f-1", "g-h-1"]),
            # An empty first entry: the pepper still goes where the table does.
            ("empty first", ["", "eu-west-1"], [home, "eu-west-1"], ["eu-west-1"]),
            # A fifth is not silently left out: the deployment fails on a
            # region that names the mistake.
            ("five", ["a-b-1", "c-d-1", "e-f-1", "g-h-1", "i-j-1"],
             [home, "a-b-1", "c-d-1", "e-f-1", "g-h-1", "ReplicaRegions-holds-more-than-four-regions"],
             ["a-b-1", "c-d-1", "e-f-1", "g-h-1"]),
        ]:
            with self.subTest(name):
                got_table, got_secret = self.deployed(regions)
                self.assertEqual(got_table, table)
                self.assertEqual(got_secret, secret)

    def test_every_replica_is_protected(self):
        out = replicas.variant(self.template, ["eu-west-1", "ap-southeast-2"])
        for r in out["Resources"]["Table"]["Properties"]["Replicas"]:
            self.assertIs(r.get("DeletionProtectionEnabled"), True, r)
            self.assertIs(r["PointInTimeRecoverySpecification"]["PointInTimeRecoveryEnabled"], True, r)

    def test_other_conditions_untouched(self):
        out = replicas.variant(self.template, [])
        fn = out["Resources"]["AuthorizerFunction"]["Properties"]["ReservedConcurrentExecutions"]
        self.assertEqual(fn["Fn::If"][2], {"Ref": "AWS::NoValue"})
        self.assertNotIn("HasReplica1", out["Conditions"])
        self.assertIn("HasEmailSender", out["Conditions"])


if __name__ == "__main__":
    unittest.main()
