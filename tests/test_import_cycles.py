"""No import cycles inside ``jupyter_dataops``: its modules' imports form a one-way graph.

Every import counts, wherever it is written (module level, inside a function, under
``TYPE_CHECKING``): a lazy import still ties two modules together. ``from package import name``
depends on the submodule ``package.name`` when there is one, else on ``package`` itself.
Run ``python tests/test_import_cycles.py`` to print the cycles.
"""

from __future__ import annotations

import ast
import graphlib
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1] / "jupyter_dataops"
PACKAGE = ROOT.name


def _module_name(path: Path, root: Path) -> str:
    parts = path.relative_to(root.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def import_graph(root: Path = ROOT) -> dict[str, set[str]]:
    """module -> modules of the package it imports."""
    files = {_module_name(p, root): p for p in root.rglob("*.py") if "migrations" not in p.parts}
    graph: dict[str, set[str]] = {name: set() for name in files}
    for name, path in files.items():
        is_package = path.name == "__init__.py"
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), str(path))):
            targets: list[str] = []
            if isinstance(node, ast.Import):
                targets = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom):
                if node.level:
                    base = name.split(".")
                    base = base[: len(base) - node.level + (1 if is_package else 0)]
                    module = ".".join(base + ([node.module] if node.module else []))
                else:
                    module = node.module or ""
                targets = [
                    f"{module}.{a.name}" if f"{module}.{a.name}" in files else module
                    for a in node.names
                ]
            for target in targets:
                while target and target not in files:  # import a.b.c of a module a.b
                    target = target.rpartition(".")[0]
                if target and target != name and target.split(".")[0] == PACKAGE:
                    graph[name].add(target)
    return graph


def import_cycles(root: Path = ROOT) -> list[list[str]]:
    """The import cycles, each as ``[a, b, ..., a]`` (a imports b ...): graphlib reports one, we
    note it, cut its first import and ask again until the graph sorts."""
    graph = import_graph(root)
    out = []
    while True:
        try:
            graphlib.TopologicalSorter(graph).prepare()
        except graphlib.CycleError as exc:
            cycle = list(reversed(exc.args[1]))  # graphlib lists each import before its importer
            start = cycle.index(min(cycle[:-1]))  # one spelling per cycle: from its least name
            cycle = cycle[start:-1] + cycle[:start] + [cycle[start]]
            out.append(cycle)
            graph[cycle[0]].discard(cycle[1])
        else:
            return sorted(out)


def test_the_package_has_no_import_cycle():
    cycles = import_cycles()
    assert not cycles, "import cycles (each line: a imports b imports ... a):\n" + "\n".join(
        " -> ".join(c) for c in cycles
    )


def test_the_checker_finds_a_cycle(tmp_path):
    pkg = tmp_path / PACKAGE
    (pkg / "sub").mkdir(parents=True)
    (pkg / "__init__.py").write_text("")
    (pkg / "sub" / "__init__.py").write_text("")
    (pkg / "a.py").write_text("def f():\n    from .sub import b\n")
    (pkg / "sub" / "b.py").write_text(
        "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from .. import a\n"
    )
    (pkg / "c.py").write_text(f"import {PACKAGE}.a\n")
    assert import_cycles(pkg) == [[f"{PACKAGE}.a", f"{PACKAGE}.sub.b", f"{PACKAGE}.a"]]


if __name__ == "__main__":
    found = import_cycles()
    for c in found:
        print(" -> ".join(c))
    print(f"{len(found)} import cycle(s) in {PACKAGE}")
    sys.exit(1 if found else 0)
