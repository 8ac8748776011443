#!/usr/bin/env python3
"""Where a Node --cpu-prof profile's time goes (README "Start-up"): self time summed by
V8's own categories ((garbage collector), (program): compiling and the VM, (idle)) and by
file, OpenClaw's dist/ files by name and dependencies by package. Markdown table on stdout.
    bench/cpuprofile-summary.py FILE.cpuprofile [TOP]"""
import json
import re
import sys
from collections import Counter


def owner(url):
    if not url:
        return None
    url = re.sub(r"^file://", "", url)
    m = re.search(r".*/node_modules/((?:@[^/]+/)?[^/]+)/(.*)$", url)
    if m and m.group(1) == "openclaw":
        rest = m.group(2)
        if rest.startswith("dist/extensions/"):
            return "openclaw " + "/".join(rest.split("/")[:3])
        return "openclaw " + rest
    if m:
        return m.group(1)
    if url.startswith("node:"):
        return "node: (built-in modules)"
    return url


def main():
    prof = json.load(open(sys.argv[1]))
    top = int(sys.argv[2]) if len(sys.argv) > 2 else 20
    nodes = {n["id"]: n for n in prof["nodes"]}
    deltas = prof["timeDeltas"]
    self_us = Counter()
    for sample, delta in zip(prof["samples"], deltas):
        self_us[sample] += delta
    total = sum(deltas)
    by = Counter()
    for node_id, us in self_us.items():
        frame = nodes[node_id]["callFrame"]
        name, url = frame["functionName"], frame["url"]
        if name.startswith("(") and not url:
            key = name
        else:
            key = owner(url) or "(native code: " + (name or "anonymous") + ")"
        by[key] += us
    print(f"| self time | ms | % |\n|---|---|---|")
    print(f"| total (profile) | {total / 1000:.0f} | 100 |")
    for key, us in by.most_common(top):
        print(f"| {key} | {us / 1000:.0f} | {100 * us / total:.1f} |")


main()
