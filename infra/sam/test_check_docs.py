#!/usr/bin/env python3
"""Tests of check_docs.py's metered-template rule: a template marked
Metered fails the check unless every Lambda authorizer's result cache is
off with a literal 0; and of its WebSocket rule: a WebSocket API's
authorizer never caches, so it sets no TTL and needs no method and path.

    python3 infra/sam/test_check_docs.py      (make template runs it)
"""
import os
import subprocess
import sys
import tempfile
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, HERE)

import check_docs  # noqa: E402

METERED = """\
Metadata:
  Keygate:
    Metered: true
"""

REST = """\
Resources:
  KeygateAuthorizer:
    Type: AWS::ApiGateway::Authorizer
    Properties:
      Type: REQUEST
      IdentitySource: method.request.header.Authorization, context.httpMethod, context.path
      AuthorizerResultTtlInSeconds: {ttl}
"""

HTTP = """\
Resources:
  KeygateAuthorizer:
    Type: AWS::ApiGatewayV2::Authorizer
    Properties:
      AuthorizerType: REQUEST
      IdentitySource: ["$request.header.Authorization", "$context.httpMethod", "$context.path"]
      AuthorizerResultTtlInSeconds: {ttl}
"""

WEBSOCKET = """\
Resources:
  WebSocketApi:
    Type: AWS::ApiGatewayV2::Api
    Properties:
      Name: ws
      ProtocolType: {protocol}
      RouteSelectionExpression: $request.body.action
  KeygateAuthorizer:
    Type: AWS::ApiGatewayV2::Authorizer
    Properties:
      ApiId: !Ref WebSocketApi
      AuthorizerType: REQUEST
      IdentitySource: !If [Browsers, ["route.request.querystring.token"], !Ref AWS::NoValue]
{ttl}
"""

SAM_REST = """\
Resources:
  Api:
    Type: AWS::Serverless::Api
    Properties:
      Auth:
        Authorizers:
          Keygate:
            FunctionArn: arn
            FunctionPayloadType: REQUEST
            Identity:
              Headers: [Authorization]
              Context: [httpMethod, path]
{reauthorize}
"""


class MeteredTest(unittest.TestCase):
    def run_check(self, template):
        """Run check_docs.py as make template does on one template and a
        doc without yaml blocks; return (exit status, stderr)."""
        with tempfile.TemporaryDirectory() as d:
            doc, path = os.path.join(d, "doc.md"), os.path.join(d, "t.yaml")
            with open(doc, "w") as f:
                f.write("# no yaml blocks\n")
            with open(path, "w") as f:
                f.write(template)
            p = subprocess.run([sys.executable, os.path.join(HERE, "check_docs.py"), doc, path],
                               capture_output=True, text=True)
            return p.returncode, p.stderr

    def test_caching_on_fails(self):
        cases = {
            "REST, TTL 300": METERED + REST.format(ttl=300),
            "REST, TTL from a parameter": METERED + REST.format(ttl="!Ref AuthorizerResultTtl"),
            "HTTP, TTL 5": METERED + HTTP.format(ttl=5),
            "SAM REST, ReauthorizeEvery left to its default (300)": METERED + SAM_REST.format(reauthorize=""),
            "SAM REST, ReauthorizeEvery 60": METERED + SAM_REST.format(reauthorize="              ReauthorizeEvery: 60"),
        }
        for name, template in cases.items():
            with self.subTest(name):
                status, err = self.run_check(template)
                self.assertEqual(status, 1, err)
                self.assertIn("marked Metered, but authorizer", err)

    def test_no_authorizer_fails(self):
        status, err = self.run_check(METERED + "Resources:\n  Topic:\n    Type: AWS::SNS::Topic\n")
        self.assertEqual(status, 1, err)
        self.assertIn("no Lambda authorizer", err)

    def test_caching_off_passes(self):
        cases = {
            "REST": METERED + REST.format(ttl=0),
            "HTTP": METERED + HTTP.format(ttl=0),
            "SAM REST": METERED + SAM_REST.format(reauthorize="              ReauthorizeEvery: 0"),
        }
        for name, template in cases.items():
            with self.subTest(name):
                status, err = self.run_check(template)
                self.assertEqual(status, 0, err)

    def test_unmarked_template_may_cache(self):
        status, err = self.run_check(REST.format(ttl=300))
        self.assertEqual(status, 0, err)

    def test_shipped_metered_snippets(self):
        for name in ("metered-rest-api.yaml", "metered-http-api.yaml"):
            with self.subTest(name):
                with open(os.path.join(ROOT, "docs", "snippets", name), encoding="utf-8") as f:
                    text = f.read()
                self.assertTrue(check_docs.is_metered(check_docs.yaml.load(text, Loader=check_docs._Loader)))
                self.assertEqual(check_docs.check_metered(name, text), [])


class WebSocketTest(unittest.TestCase):
    run_check = MeteredTest.run_check

    def test_websocket_authorizer(self):
        cases = {
            # Never cached: no method and path needed, metered or not.
            "no TTL": (WEBSOCKET.format(protocol="WEBSOCKET", ttl=""), 0, ""),
            "metered, no TTL": (METERED + WEBSOCKET.format(protocol="WEBSOCKET", ttl=""), 0, ""),
            "a TTL": (WEBSOCKET.format(protocol="WEBSOCKET", ttl="      AuthorizerResultTtlInSeconds: 0"), 1,
                      "WebSocket authorizer KeygateAuthorizer sets AuthorizerResultTtlInSeconds"),
            # The same authorizer on an HTTP API is held to the HTTP rules.
            "HTTP API, TTL 5": (WEBSOCKET.format(protocol="HTTP", ttl="      AuthorizerResultTtlInSeconds: 5")
                                .replace('!If [Browsers, ["route.request.querystring.token"], !Ref AWS::NoValue]',
                                         '["$request.header.Authorization"]'), 1, "without $context.httpMethod"),
        }
        for name, (template, want, msg) in cases.items():
            with self.subTest(name):
                status, err = self.run_check(template)
                self.assertEqual(status, want, err)
                self.assertIn(msg, err)

    def test_shipped_websocket_snippet(self):
        path = os.path.join(ROOT, "docs", "snippets", "websocket-api.yaml")
        with open(path, encoding="utf-8") as f:
            text = f.read()
        kinds = [k for _, k, _, _ in check_docs._authorizers(check_docs.yaml.load(text, Loader=check_docs._Loader))]
        self.assertEqual(kinds, ["websocket"])
        self.assertEqual(check_docs.check_cache_keys(path, text), ([], []))


if __name__ == "__main__":
    unittest.main()
