"""The package's import graph: no cycles, no function-level imports of hpcorb modules.

Walks every module's AST: module-level ``import``/``from`` statements that
name hpcorb modules are the edges of the graph (a cycle fails the test);
an ``import`` of an hpcorb module inside a function or class body (the way
cycles get hidden) fails it too.  Third-party imports inside functions are
allowed (mpi4py, petsc4py, slepc4py, h5py are imported only where used).
"""
from __future__ import annotations

import ast
import os

import pytest

ROOT = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "hpcorb")


def modules():
    out = {}
    for dirpath, _, files in os.walk(ROOT):
        for f in files:
            if f.endswith(".py"):
                path = os.path.join(dirpath, f)
                rel = os.path.relpath(path, os.path.dirname(ROOT))[:-3].replace(os.sep, ".")
                if rel.endswith(".__init__"):
                    rel = rel[: -len(".__init__")]
                out[rel] = path
    return out


MODULES = modules()


def _resolve(mod, node):
    """hpcorb module names an import statement in module ``mod`` refers to."""
    is_pkg = MODULES[mod].endswith("__init__.py")
    names = []
    if isinstance(node, ast.Import):
        names = [a.name for a in node.names]
    else:
        if node.level:
            parts = mod.split(".")
            base = parts if is_pkg else parts[:-1]
            base = base[: len(base) - (node.level - 1)]
            prefix = ".".join(base + ([node.module] if node.module else []))
        else:
            prefix = node.module or ""
        names = [prefix]
        # "from .pkg import sub" imports the submodule sub
        names += [f"{prefix}.{a.name}" for a in node.names if f"{prefix}.{a.name}" in MODULES]
    return [n for n in names if n == "hpcorb" or n.startswith("hpcorb.")]


def graph():
    edges, nested = {}, []
    for mod, path in MODULES.items():
        tree = ast.parse(open(path, encoding="utf-8").read(), path)
        deps = set()
        for node in tree.body:
            if isinstance(node, (ast.Import, ast.ImportFrom)):
                deps.update(d for d in _resolve(mod, node) if d in MODULES and d != mod)
        edges[mod] = deps
        top = set(map(id, tree.body))
        for node in ast.walk(tree):
            if isinstance(node, (ast.Import, ast.ImportFrom)) and id(node) not in top:
                if _resolve(mod, node):
                    nested.append(f"{os.path.relpath(path, ROOT)}:{node.lineno}: {ast.unparse(node)}")
    return edges, nested


def find_cycle(edges):
    """A cycle as a list of modules, or None (iterative DFS with colours)."""
    WHITE, GREY, BLACK = 0, 1, 2
    colour = {m: WHITE for m in edges}
    for start in sorted(edges):
        if colour[start] != WHITE:
            continue
        stack = [(start, iter(sorted(edges[start])))]
        path = [start]
        colour[start] = GREY
        while stack:
            node, it = stack[-1]
            nxt = next(it, None)
            if nxt is None:
                colour[node] = BLACK
                stack.pop()
                path.pop()
                continue
            # a package's __init__ importing its own submodules is not a cycle
            # through the package (Python loads the package first)
            if colour[nxt] == GREY:
                return path[path.index(nxt):] + [nxt]
            if colour[nxt] == WHITE:
                colour[nxt] = GREY
                stack.append((nxt, iter(sorted(edges[nxt]))))
                path.append(nxt)
    return None


def test_no_function_level_imports_of_hpcorb_modules():
    _, nested = graph()
    assert not nested, "function-level imports of hpcorb modules:\n" + "\n".join(nested)


def test_no_import_cycles():
    edges, _ = graph()
    cycle = find_cycle(edges)
    assert cycle is None, "import cycle: " + " -> ".join(cycle)


def test_detector_finds_a_cycle_and_a_nested_import():
    """The walker itself: a planted cycle and a planted nested import are found."""
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert find_cycle({"a": {"b"}, "b": set()}) is None
    tree = ast.parse("def f():\n    from .config import load_deck\n")
    node = tree.body[0].body[0]
    assert _resolve("hpcorb.launch", node) == ["hpcorb.config"]


def test_kernels_import_no_mpi_or_io():
    """Physics kernels are pure numpy: no hpcorb.parallel, hpcorb.io, mpi4py or h5py."""
    for mod, path in MODULES.items():
        if not mod.startswith("hpcorb.kernels"):
            continue
        tree = ast.parse(open(path, encoding="utf-8").read())
        for node in ast.walk(tree):
            if isinstance(node, (ast.Import, ast.ImportFrom)):
                names = _resolve(mod, node) + [a.name for a in node.names] + [getattr(node, "module", "") or ""]
                bad = [n for n in names if n.split(".")[0] in ("mpi4py", "h5py")
                       or n.startswith(("hpcorb.parallel", "hpcorb.io"))]
                assert not bad, f"{mod}: {ast.unparse(node)}"


if __name__ == "__main__":   # print the graph (docs/developing.md)
    e, _ = graph()
    for m in sorted(e):
        print(m, "->", ", ".join(sorted(x.replace("hpcorb.", "") for x in e[m])))
    pytest.main([__file__])
