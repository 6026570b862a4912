#!/usr/bin/env python3
"""Check that every ```yaml block of a doc is a verbatim excerpt of one of
the given templates, so docs/attach.md cannot drift from the snippets that
cfn-lint checks; and that every Lambda authorizer in those templates keeps
the caching guarantee of docs/attach.md ("Caching guarantee"): with result
caching possibly on, its cache key holds the method and the concrete path,
since the authorizer's answer depends on them.

    python3 infra/sam/check_docs.py docs/attach.md docs/snippets/*.yaml template.yaml

An HTTP API authorizer without them fails the check: a cached simple
response would authorize every path its identity source values cover. A
REST authorizer without them (a TOKEN one cannot have them) is a warning:
its cached policy never allows beyond the key's scopes, but can refuse the
key's other requests for the TTL.

A WebSocket API's authorizer (an AWS::ApiGatewayV2::Authorizer whose ApiId
is a !Ref to an AWS::ApiGatewayV2::Api with ProtocolType WEBSOCKET) runs on
$connect only and API Gateway never caches its answer
(AuthorizerResultTtlInSeconds is for HTTP APIs alone), so it needs no method
and path in its identity sources; it fails the check if it sets a TTL.

A template marked metered (top-level Metadata: {Keygate: {Metered: true}},
docs/attach.md "Usage limits") must turn every Lambda authorizer's result
cache off with a literal 0: the authorizer counts a call only when the
gateway calls it, so a cached answer would let calls through uncounted
(and a cached refusal would outlive the limit). Anything else fails the
check, a TTL from a parameter or left to its default included, as does a
metered template without a Lambda authorizer.

    python3 infra/sam/test_check_docs.py     # this check's own tests
"""
import re
import sys

import yaml


class _Tagged:
    """An intrinsic function (!Ref, !Sub, ...): a value known only at deploy
    time. A !Ref keeps the name it refers to, in ref."""

    def __init__(self, ref=None):
        self.ref = ref


class _Loader(yaml.SafeLoader):
    pass


_Loader.add_multi_constructor(
    "!", lambda loader, suffix, node: _Tagged(node.value if suffix == "Ref" and isinstance(node, yaml.ScalarNode) else None))


def _websocket_api(resources, api_id):
    """Whether api_id (an authorizer's ApiId) refers to a WebSocket API of
    the same template."""
    ref = api_id.ref if isinstance(api_id, _Tagged) else None
    api = resources.get(ref) if ref else None
    return isinstance(api, dict) and api.get("Type") == "AWS::ApiGatewayV2::Api" and \
        (api.get("Properties") or {}).get("ProtocolType") == "WEBSOCKET"


def _caching_off(ttl):
    # Only a literal 0 is known to turn caching off; a parameter may be > 0.
    return ttl is not None and not isinstance(ttl, _Tagged) and int(ttl) == 0


def _authorizers(template):
    """Yield (name, kind, identity sources, ttl) for each Lambda authorizer;
    kind is "http", "websocket", "rest-request" or "rest-token"."""
    resources = template.get("Resources") or {}
    for name, res in resources.items():
        if not isinstance(res, dict):
            continue
        typ, props = res.get("Type"), res.get("Properties") or {}
        if typ == "AWS::ApiGatewayV2::Authorizer" and props.get("AuthorizerType") == "REQUEST" and \
                _websocket_api(resources, props.get("ApiId")):
            # The identity sources may be an !If (per client kind): they
            # are not a cache key here, so they are not read.
            yield name, "websocket", [], props.get("AuthorizerResultTtlInSeconds")
        elif typ == "AWS::ApiGatewayV2::Authorizer" and props.get("AuthorizerType") == "REQUEST":
            yield name, "http", list(props.get("IdentitySource") or []), props.get("AuthorizerResultTtlInSeconds")
        elif typ == "AWS::ApiGateway::Authorizer" and props.get("Type") in ("REQUEST", "TOKEN"):
            sources = [x.strip() for x in str(props.get("IdentitySource") or "").split(",") if x.strip()]
            yield name, "rest-" + props["Type"].lower(), sources, props.get("AuthorizerResultTtlInSeconds")
        elif typ in ("AWS::Serverless::Api", "AWS::Serverless::HttpApi"):
            http = typ == "AWS::Serverless::HttpApi"
            auth = (props.get("Auth") or {}).get("Authorizers") or {}
            for aname, a in auth.items():
                if not isinstance(a, dict) or "FunctionArn" not in a:
                    continue  # JWT or Cognito: no Lambda answer to cache
                ident = a.get("Identity") or {}
                pre = ("$request.header.", "$request.querystring.", "$stageVariables.", "$context.") if http \
                    else ("method.request.header.", "method.request.querystring.", "stageVariables.", "context.")
                sources = []
                for field, prefix in zip(("Headers", "QueryStrings", "StageVariables", "Context"), pre):
                    sources += [prefix + str(v) for v in ident.get(field) or []]
                kind = "http" if http else ("rest-request" if a.get("FunctionPayloadType") == "REQUEST" else "rest-token")
                yield f"{name}.{aname}", kind, sources, ident.get("ReauthorizeEvery")


def check_cache_keys(path, text):
    """Return (errors, warnings) about the authorizers of one template."""
    errors, warnings = [], []
    for name, kind, sources, ttl in _authorizers(yaml.load(text, Loader=_Loader) or {}):
        if kind == "websocket":
            if ttl is not None:
                errors.append(f"{path}: WebSocket authorizer {name} sets AuthorizerResultTtlInSeconds, which API "
                              "Gateway supports for HTTP APIs only: WebSocket authorizers never cache (docs/attach.md, "
                              "WebSocket APIs)")
            continue
        if _caching_off(ttl):
            continue
        want = ("$context.httpMethod", "$context.path") if kind == "http" else ("context.httpMethod", "context.path")
        missing = [w for w in want if w not in sources]
        if not missing:
            continue
        msg = (f"{path}: authorizer {name} caches results (TTL {'from a parameter' if ttl is not None else 'default'}) "
               f"keyed on {sources or 'the token'} without {', '.join(missing)}")
        if kind == "http":
            errors.append(msg + ": a cached yes/no would answer other paths (docs/attach.md, Caching guarantee)")
        else:
            warnings.append(msg + ": a cached Deny can refuse the key's other requests for the TTL")
    return errors, warnings


def is_metered(template):
    meta = template.get("Metadata") or {}
    keygate = meta.get("Keygate") if isinstance(meta, dict) else None
    return isinstance(keygate, dict) and keygate.get("Metered") is True


def check_metered(path, text):
    """Return the errors of a template marked metered whose authorizers
    cache (none for an unmarked template)."""
    template = yaml.load(text, Loader=_Loader) or {}
    if not is_metered(template):
        return []
    errors = []
    authorizers = list(_authorizers(template))
    if not authorizers:
        errors.append(f"{path}: marked Metered but has no Lambda authorizer")
    for name, kind, _, ttl in authorizers:
        if kind == "websocket" or _caching_off(ttl):
            # A WebSocket authorizer never caches (check_cache_keys refuses
            # a TTL on one): each $connect calls it and spends one call.
            continue
        ttl_text = "from a parameter" if isinstance(ttl, _Tagged) else ("default" if ttl is None else ttl)
        errors.append(f"{path}: marked Metered, but authorizer {name} caches results (TTL {ttl_text}): calls "
                      "within the TTL would not be counted; set AuthorizerResultTtlInSeconds (SAM: "
                      "Identity.ReauthorizeEvery) to 0 (docs/attach.md, Usage limits)")
    return errors


def main():
    if len(sys.argv) < 3:
        print(__doc__.strip(), file=sys.stderr)
        return 2
    doc, sources = sys.argv[1], sys.argv[2:]
    with open(doc, encoding="utf-8") as f:
        text = f.read()
    templates = {}
    for path in sources:
        with open(path, encoding="utf-8") as f:
            templates[path] = f.read()
    blocks = re.findall(r"^```yaml\n(.*?)^```$", text, flags=re.S | re.M)
    bad = [b for b in blocks if not any(b in t for t in templates.values())]
    for b in bad:
        first = b.strip().splitlines()[0] if b.strip() else "(empty)"
        print(f"check_docs: {doc}: a yaml block starting {first!r} is not an excerpt of "
              f"{', '.join(sources)}", file=sys.stderr)
    errors = []
    metered = 0
    for path, text in templates.items():
        errs, warns = check_cache_keys(path, text)
        errors += errs
        errors += check_metered(path, text)
        metered += is_metered(yaml.load(text, Loader=_Loader) or {})
        for w in warns:
            print(f"check_docs: warning: {w}", file=sys.stderr)
    for e in errors:
        print(f"check_docs: {e}", file=sys.stderr)
    if bad or errors:
        return 1
    print(f"check_docs: {doc}: {len(blocks)} yaml blocks are excerpts of the checked templates; "
          f"every HTTP API authorizer caches per method and path; {metered} metered templates cache nothing")
    return 0


if __name__ == "__main__":
    sys.exit(main())
