#!/usr/bin/env python3
"""The import graph of src/: files as nodes, `use crate::…`, `super::…`,
`self::…` and inline `crate::…` paths (tests included) as edges. Prints the
circles and, with --layers, the imports that run from a lower layer up to a
higher one. Exits 1 when it finds either, so CI keeps the graph one-way.

An imported item is followed to the file that defines it: a `pub use`
re-export is transparent (a folder's mod.rs that only re-exports a child's
item is not an edge), so the graph shows who really depends on whom.

Two conventions (the measurement of issue 19 used them too):
- a file's use of its own folder's mod.rs (`super::Supervisor` in
  supervise/reload.rs) is not an edge: Rust lets a child module see its
  parent's items, and the parent is the folder's shared definitions;
- `#[cfg(test)]` modules are left out (a unit test may build its fixture
  with a higher layer); `--tests` puts them in.

usage: scripts/import-graph.py [--edges] [--tests] [--layers FILE]
(default layers: scripts/layers.txt)"""
import os
import re
import sys
from collections import defaultdict

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..")
SRC = os.path.join(ROOT, "src")


def strip(text):
    """Source without comments, string and char literals (paths in docs or
    messages are not imports)."""
    out, i, n = [], 0, len(text)
    while i < n:
        c = text[i]
        if text.startswith("//", i):
            j = text.find("\n", i)
            i = n if j < 0 else j
        elif text.startswith("/*", i):
            j = text.find("*/", i + 2)
            i = n if j < 0 else j + 2
        elif c == "r" and re.match(r'r#*"', text[i:i + 10]) and (i == 0 or not (text[i - 1].isalnum() or text[i - 1] == "_")):
            m = re.match(r'r(#*)"', text[i:])
            end = '"' + m.group(1)
            j = text.find(end, i + len(m.group(0)))
            out.append('""')
            i = n if j < 0 else j + len(end)
        elif c == '"':
            j = i + 1
            while j < n and text[j] != '"':
                j += 2 if text[j] == "\\" else 1
            out.append('""')
            i = j + 1
        elif c == "'" and re.match(r"'(\\.|[^\\'])'", text[i:i + 4]) or c == "'" and re.match(r"'\\(x..|u\{[0-9a-fA-F]+\})'", text[i:i + 12]):
            m = re.match(r"'(\\.|[^\\'])'|'\\(x..|u\{[0-9a-fA-F]+\})'", text[i:])
            out.append("' '")
            i += len(m.group(0))
        else:
            out.append(c)
            i += 1
    return "".join(out)


def expand(tree):
    """`a::{b, c::{d, self}}` -> ['a::b', 'a::c::d', 'a::c'] (aliases dropped)."""
    tree = re.sub(r"\s+", "", tree)
    depth, prefix_end = 0, None
    for k, ch in enumerate(tree):
        if ch == "{":
            prefix_end = k
            break
    if prefix_end is None:
        return [re.sub(r"as\w+$", "", tree) if "as" in tree.split("::")[-1][:0] else tree.split("as")[0] if False else _alias(tree)]
    prefix = tree[:prefix_end]
    inner = tree[prefix_end + 1:-1]
    parts, depth, cur = [], 0, ""
    for ch in inner:
        if ch == "," and depth == 0:
            parts.append(cur)
            cur = ""
            continue
        depth += ch == "{"
        depth -= ch == "}"
        cur += ch
    parts.append(cur)
    result = []
    for p in filter(None, parts):
        for e in expand(p):
            result.append(prefix[:-2] if e == "self" else prefix + e)
    return result


def _alias(path):
    segs = path.split("::")
    last = re.sub(r"as[A-Za-z_]\w*$", "", segs[-1]) if re.search(r"\w+as[A-Za-z_]\w*$", segs[-1]) else segs[-1]
    return "::".join(segs[:-1] + [last])


class Crate:
    def __init__(self):
        self.files = {}  # module path tuple -> file
        for dirpath, _, names in os.walk(SRC):
            for name in names:
                if not name.endswith(".rs"):
                    continue
                rel = os.path.relpath(os.path.join(dirpath, name), SRC)
                parts = rel[:-3].split(os.sep)
                if parts in (["lib"], ["main"]):
                    mod = ()
                elif parts[-1] == "mod":
                    mod = tuple(parts[:-1])
                else:
                    mod = tuple(parts)
                if rel == "main.rs":
                    continue
                self.files[mod] = rel
        self.text = {f: strip(open(os.path.join(SRC, f)).read()) for f in list(self.files.values()) + ["main.rs"]}

    def module_of(self, file):
        for mod, f in self.files.items():
            if f == file:
                return mod
        return ()

    def is_parent(self, target, file):
        """`target` is the mod.rs of the folder `file` is in."""
        return target.endswith("mod.rs") and os.path.dirname(file) == os.path.dirname(target) and file != target

    def defines(self, file, item):
        return re.search(r"\b(fn|struct|enum|const|static|trait|type|union|mod)\s+" + re.escape(item) + r"\b|macro_rules!\s*" + re.escape(item) + r"\b", self.text[file])

    def reexport(self, file, item):
        """The full path `item` is re-exported from, if `file` has a `pub use` of it."""
        for m in re.finditer(r"\bpub(\([^)]*\))?\s+use\s+([^;]+);", self.text[file]):
            for path in expand(m.group(2)):
                if path.split("::")[-1] == item:
                    return path
        return None

    def absolute(self, file, segs, inline=0):
        """A path as written in `file` (`inline` modules deep, e.g. 1 in its
        `mod tests { … }`) -> module path segments from the crate root."""
        here = self.module_of(file)
        while inline and segs and segs[0] == "super":
            segs, inline = segs[1:], inline - 1
        if not segs:
            return list(here)
        if segs[0] in ("crate", "clawinit"):
            return list(segs[1:])
        if inline or segs[0] == "self":
            if segs[0] != "self":
                return None

            return list(here) + list(segs[1:])
        if segs[0] == "super":
            base = list(here)
            while segs and segs[0] == "super":
                base = base[:-1]
                segs = segs[1:]
            return base + list(segs)
        if tuple(list(here) + [segs[0]]) in self.files:  # a child module
            return list(here) + list(segs)
        return None

    def resolve(self, file, segs, seen=0):
        """The file that defines what `segs` (absolute) names."""
        if seen > 8:
            return None
        k = len(segs)
        while k > 0 and tuple(segs[:k]) not in self.files:
            k -= 1
        target = self.files[tuple(segs[:k])]
        if k == len(segs) or k + 1 < len(segs):
            return target
        item = segs[k]
        if self.defines(target, item):
            return target
        path = self.reexport(target, item)
        if path is None:
            # `#[macro_export]` puts a macro at the crate root, wherever it is written.
            exported = [f for f, t in self.text.items() if re.search(r"macro_rules!\s*" + re.escape(item) + r"\b", t)]
            return exported[0] if k == 0 and exported else target
        absolute = self.absolute(target, path.split("::"))
        return self.resolve(target, absolute, seen + 1) if absolute else target

    @staticmethod
    def inline_depth(text):
        """pos -> how many inline `mod x { … }` blocks enclose it."""
        spans = []
        for m in re.finditer(r"\bmod\s+\w+\s*\{", text):
            depth, k = 0, m.end() - 1
            while k < len(text):
                depth += text[k] == "{"
                depth -= text[k] == "}"
                if depth == 0:
                    break
                k += 1
            spans.append((m.end(), k))
        return lambda pos: sum(a <= pos < b for a, b in spans)

    def edges(self, tests=False):
        out = defaultdict(set)
        for file, text in self.text.items():
            if not tests:
                text = re.sub(r"#\[cfg\(test\)\]\s*mod\s+\w+\s*\{.*", "", text, flags=re.S)
            depth = self.inline_depth(text)
            paths = []
            aliases = {}
            for m in re.finditer(r"\b(pub(\([^)]*\))?\s+)?use\s+([^;]+);", text):
                for path in expand(m.group(3)):
                    segs = path.split("::")
                    # A re-export is followed by its users; it is an edge
                    # of this file only when this file uses the name too.
                    if m.group(1) and len(re.findall(r"\b" + re.escape(segs[-1]) + r"\b", text)) < 2:
                        continue
                    paths.append((segs, depth(m.start())))
                    aliases[segs[-1]] = segs
                for path in expand(m.group(3)):
                    aliases.setdefault(path.split("::")[-1], path.split("::"))
            body = re.sub(r"\buse\s+[^;]+;", lambda u: " " * len(u.group(0)), text)
            for m in re.finditer(r"\b((?:crate|super|self|[a-z_][a-z0-9_]*)(?:::[A-Za-z_]\w*)+)", body):
                segs = m.group(1).split("::")
                if segs[0] in aliases and segs[0] not in ("crate", "super", "self"):
                    segs = aliases[segs[0]] + segs[1:]
                paths.append((segs, depth(m.start())))
            for segs, inline in paths:
                if segs[-1] == "*":
                    segs = segs[:-1]
                absolute = self.absolute(file, segs, inline)
                if absolute is None:
                    continue
                target = self.resolve(file, absolute)
                if target and target != file and not self.is_parent(target, file):
                    out[file].add(target)
        return out


def circles(edges):
    """Strongly connected components with more than one file (Tarjan)."""
    index, low, stack, on, result, counter = {}, {}, [], set(), [], [0]
    nodes = set(edges) | {t for ts in edges.values() for t in ts}

    def visit(v):
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on.add(v)
        for w in sorted(edges.get(v, ())):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on.discard(w)
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1:
                result.append(sorted(comp))

    sys.setrecursionlimit(10000)
    for v in sorted(nodes):
        if v not in index:
            visit(v)
    return result


def layers(path):
    """`layers.txt`: one layer a line, lowest first; each a list of files or
    folders (`secrets/` = every file in it). Returns file -> layer number."""
    rules = []
    for n, line in enumerate(l for l in open(path) if l.split("#")[0].strip()):
        for entry in line.split("#")[0].split():
            rules.append((entry, n))
    return rules


def layer_of(rules, file):
    best = None
    for entry, n in rules:
        if file == entry or (entry.endswith("/") and file.startswith(entry)):
            if best is None or len(entry) > len(best[0]):
                best = (entry, n)
    return None if best is None else best[1]


def main():
    args = sys.argv[1:]
    crate = Crate()
    edges = crate.edges(tests="--tests" in args)
    if "--edges" in args:
        for f in sorted(edges):
            print(f"{f} -> {', '.join(sorted(edges[f]))}")
    bad = 0
    for comp in circles(edges):
        bad += 1
        inner = [f"{a} -> {b}" for a in comp for b in sorted(edges.get(a, ())) if b in comp]
        print(f"circle: {' '.join(comp)}\n    " + "\n    ".join(inner))
    layer_file = args[args.index("--layers") + 1] if "--layers" in args else os.path.join(ROOT, "scripts", "layers.txt")
    if os.path.exists(layer_file):
        rules = layers(layer_file)
        for f in sorted(edges):
            lf = layer_of(rules, f)
            if lf is None:
                print(f"no layer: {f}")
                bad += 1
                continue
            for t in sorted(edges[f]):
                lt = layer_of(rules, t)
                if lt is None:
                    continue
                if lt > lf:
                    print(f"upward: {f} (layer {lf}) -> {t} (layer {lt})")
                    bad += 1
    n = sum(len(t) for t in edges.values())
    print(f"{len(crate.text)} files, {n} edges, {bad} problem(s)")
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
