#!/usr/bin/env python3
"""Check that every ```yaml block of a doc is a verbatim excerpt of one of
the given templates, so docs/attach.md cannot drift from the snippets that
cfn-lint checks.

    python3 infra/sam/check_docs.py docs/attach.md docs/snippets/*.yaml template.yaml
"""
import re
import sys


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
    if bad:
        return 1
    print(f"check_docs: {doc}: {len(blocks)} yaml blocks are excerpts of the checked templates")
    return 0


if __name__ == "__main__":
    sys.exit(main())
