#!/usr/bin/env python3
"""check_layers: the include graph of src/ points downward only.

Folders are layers (README "Layout"): a file includes headers of its own
folder and of the folders below it, never above. A module (foo.c with foo.h)
never includes, directly or through others, a module that includes it back.
Known defects are listed in an allow file; a defect not listed fails, and so
does a listed one that no longer exists, so the list can only shrink.

usage: check_layers.py SRC_DIR ALLOW_FILE     (exit 0 clean, 1 defects)
"""
import os
import re
import sys

# Bottom to top; the audit tool is its own stack on top of core.
LAYERS = ["core", "event", "net", "storage", "policy", "protocol", "server"]
MAY_INCLUDE = {layer: set(LAYERS[:i + 1]) for i, layer in enumerate(LAYERS)}
MAY_INCLUDE["audit"] = {"core", "audit"}
# Enumerating every cycle of a dense knot is exponential; past this many the
# knot is reported whole.
CYCLES_MAX = 10000
INCLUDE = re.compile(r'^\s*#\s*include\s+"([^"]+)"')
SOURCE = (".c", ".h")


def read_includes(src):
    """{file: [(line number, included file)]}, paths relative to src."""
    graph = {}
    for top, dirs, files in os.walk(src):
        dirs.sort()
        for name in sorted(files):
            if not name.endswith(SOURCE):
                continue
            path = os.path.join(top, name)
            rel = os.path.relpath(path, src)
            graph[rel] = []
            with open(path, encoding="utf-8", errors="replace") as f:
                for n, line in enumerate(f, 1):
                    m = INCLUDE.match(line)
                    if m:
                        graph[rel].append((n, resolve(src, rel, m.group(1))))
    return graph


def resolve(src, rel, inc):
    """Includes are written from src/ ("core/log.h"); fall back to the
    including file's folder as the preprocessor does."""
    if os.path.exists(os.path.join(src, inc)):
        return os.path.normpath(inc)
    return os.path.normpath(os.path.join(os.path.dirname(rel), inc))


def folder(rel):
    return rel.split(os.sep)[0] if os.sep in rel else ""


def module(rel):
    return os.path.splitext(rel)[0]


def layer_defects(graph):
    """{("upward", file, header): message}"""
    out = {}
    for rel, incs in graph.items():
        mine = folder(rel)
        if mine not in MAY_INCLUDE:
            out[("folder", rel)] = ("%s: folder '%s' has no place in the layer order "
                                    "(scripts/check_layers.py LAYERS)" % (rel, mine))
            continue
        for n, inc in incs:
            if inc not in graph:
                out[("missing", rel, inc)] = "%s:%d: includes %s, not in src/" % (rel, n, inc)
            elif folder(inc) not in MAY_INCLUDE[mine]:
                out[("upward", rel, inc)] = (
                    "%s:%d: includes %s: %s may not include %s (layers, bottom to top: %s)"
                    % (rel, n, inc, mine, folder(inc), " < ".join(LAYERS)))
    return out


def module_graph(graph):
    """{module: {module it includes: "file:line includes header"}}"""
    mods = {}
    for rel, incs in graph.items():
        edges = mods.setdefault(module(rel), {})
        for n, inc in incs:
            if inc in graph and module(inc) != module(rel):
                edges.setdefault(module(inc), "%s:%d includes %s" % (rel, n, inc))
                mods.setdefault(module(inc), {})
    return mods


def components(mods):
    """Strongly connected components with more than one module (Tarjan)."""
    index, low, stack, on, out = {}, {}, [], set(), []

    def visit(v):
        index[v] = low[v] = len(index)
        stack.append(v)
        on.add(v)
        for w in sorted(mods[v]):
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
                out.append(sorted(comp))

    sys.setrecursionlimit(max(1000, 4 * len(mods)))
    for v in sorted(mods):
        if v not in index:
            visit(v)
    return out


def cycles(mods, comp):
    """Every elementary cycle within one component, each starting at its
    smallest module; None if there are more than CYCLES_MAX."""
    found = []
    members = set(comp)
    for start in comp:
        allowed = {m for m in members if m >= start}
        path, seen = [start], {start}

        def walk(v):
            for w in sorted(mods[v]):
                if w == start:
                    found.append(tuple(path))
                    if len(found) > CYCLES_MAX:
                        return False
                elif w in allowed and w not in seen:
                    path.append(w)
                    seen.add(w)
                    ok = walk(w)
                    path.pop()
                    seen.discard(w)
                    if not ok:
                        return False
            return True

        if not walk(start):
            return None
    return found


def cycle_defects(mods):
    """{("cycle", m1, m2, ...): message naming each include of the cycle}"""
    out = {}
    for comp in components(mods):
        found = cycles(mods, comp)
        if found is None:
            out[("knot",) + tuple(comp)] = ("more than %d include cycles among: %s"
                                             % (CYCLES_MAX, " ".join(comp)))
            continue
        for cyc in found:
            hops = list(zip(cyc, cyc[1:] + cyc[:1]))
            out[("cycle",) + cyc] = "cycle: %s -> %s\n%s" % (
                " -> ".join(cyc), cyc[0],
                "\n".join("    %s" % mods[a][b] for a, b in hops))
    return out


def read_allow(path):
    allow = set()
    with open(path, encoding="utf-8") as f:
        for line in f:
            words = line.split("#", 1)[0].split()
            if words:
                allow.add(tuple(words))
    return allow


def main(argv):
    if len(argv) != 3:
        sys.stderr.write(__doc__)
        return 2
    src, allow_path = argv[1], argv[2]
    graph = read_includes(src)
    mods = module_graph(graph)
    defects = layer_defects(graph)
    defects.update(cycle_defects(mods))
    allow = read_allow(allow_path)
    new = sorted(k for k in defects if k not in allow)
    gone = sorted(k for k in allow if k not in defects)
    for k in new:
        print("check_layers: %s" % defects[k])
    for k in gone:
        print("check_layers: %s lists '%s', which no longer exists: remove the line"
              % (allow_path, " ".join(k)))
    if new or gone:
        print("check_layers: FAILED (%d new defects, %d stale allow lines)" % (len(new), len(gone)))
        return 1
    print("check_layers: %d files, %d modules: includes point down; %d known defects left in %s"
          % (len(graph), len(mods), len(allow), allow_path))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
