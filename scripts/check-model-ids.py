#!/usr/bin/env python3
"""Check the catalog's model ids against the pinned OpenClaw's own model registry.

    scripts/check-model-ids.py [OPENCLAW_PACKAGE_DIR]

The registry is what the installed package ships: every plugin manifest's
`modelCatalog.providers.<id>.models[].id` (dist/extensions/*/openclaw.plugin.json)
and the ids OpenClaw rewrites on load (dist/provider-model-id-normalize-*.mjs:
a rewritten id is retired). A catalog id the registry of its provider does not
hold fails, named with its provider; a provider whose models OpenClaw only
discovers at run time (or whose plugin is not in the package) is listed as
unchecked. Exit 0 when every checkable id is known, 1 otherwise.
Default package dir: the one scripts/install-openclaw.sh installs.
"""

import glob
import json
import os
import re
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def package_dir():
    if len(sys.argv) > 1:
        return sys.argv[1]
    wrapper = subprocess.run([os.path.join(ROOT, "scripts/install-openclaw.sh")], check=True,
                             capture_output=True, text=True).stdout.strip().splitlines()[-1]
    return os.path.join(os.path.dirname(wrapper), "node_modules", "openclaw")


def catalog():
    """(provider, [model ids]) from src/config/catalog.rs, in catalog order."""
    text = open(os.path.join(ROOT, "src/config/catalog.rs")).read()
    rows = re.findall(r'^\s*(?:builtin|block)\("([a-z0-9-]+)",.*&\[([^\]]*)\]\),\s*$', text, re.M)
    return [(p, re.findall(r'"([^"]+)"', models)) for p, models in rows]


def registry(pkg):
    known = {}
    for manifest in glob.glob(os.path.join(pkg, "dist/extensions/*/openclaw.plugin.json")):
        with open(manifest) as f:
            providers = (json.load(f).get("modelCatalog") or {}).get("providers") or {}
        for provider, entry in providers.items():
            known.setdefault(provider, set()).update(m["id"] for m in entry.get("models", []) if "id" in m)
    retired = {}
    for module in glob.glob(os.path.join(pkg, "dist/provider-model-id-normalize-*.mjs")):
        for old, new in re.findall(r'if \(id === "([^"]+)"\) return "([^"]+)";', open(module).read()):
            retired[old] = new
    return known, retired


def main():
    pkg = package_dir()
    known, retired = registry(pkg)
    rows = catalog()
    if len(rows) < 20:
        sys.exit(f"check-model-ids: read only {len(rows)} providers from src/config/catalog.rs")
    stale, unchecked = [], []
    for provider, models in rows:
        for model in models:
            if model in retired:
                stale.append(f"{provider}/{model} (OpenClaw rewrites it to {retired[model]})")
            elif provider not in known:
                unchecked.append(provider)
            elif model not in known[provider]:
                stale.append(f"{provider}/{model} (not in {provider}'s catalog: {', '.join(sorted(known[provider]))})")
            else:
                print(f"ok {provider}/{model}")
    for provider in dict.fromkeys(unchecked):
        print(f"unchecked {provider}: no static model catalog in {os.path.basename(pkg)} (runtime discovery or external plugin)")
    for line in stale:
        print(f"STALE {line}", file=sys.stderr)
    sys.exit(1 if stale else 0)


if __name__ == "__main__":
    main()
