"""The rooms of ``jupyter_dataops`` import one way: each room may import only the rooms ALLOWED
names for it (see docs/ARCHITECTURE.md). Every import counts, as in ``test_import_cycles``
(module level, inside a function, under ``TYPE_CHECKING``). A wrong arrow fails with the
module -> module imports that make it. Run ``python tests/test_layering.py`` to print them.
"""

from __future__ import annotations

import sys
from pathlib import Path

from test_import_cycles import PACKAGE, ROOT, import_graph

_LOW = {"errors", "_version", "plugins"}  # every room may use these
_DOMAIN = {"checks", "spc", "store"}
_PIPELINE = {
    f"pipeline.{s}" for s in ("definition", "execution", "observers", "scheduling", "views")
}

#: room -> the rooms it may import (itself is always allowed). Why each arrow exists:
ALLOWED: dict[str, set[str]] = {
    # the root of everything: the exceptions and the version import nothing of the package
    "errors": set(),
    "_version": set(),
    # the plug-in registry shape (papermill's register + entry points); raises errors only
    "plugins": {"errors"},
    # pure numerics
    "spc": {"errors"},
    # the check language; spc lines judge with spc's charts and rules; engines and check types
    # are plug-in registries
    "checks": {"errors", "plugins", "spc"},
    # the run store: stores plain values; knows nothing of checks, spc or pipelines
    "store": {"errors"},
    # the pipeline file, notebooks and projects: opens the project's store (project.py),
    # redacts secret parameters as the store does (store.redact), checks the rule names of
    # `operations:` against spc's rule sets, and `alerts:` entries with the alert channel
    # registry (plugins; each channel checks its own entry)
    "pipeline.definition": {"errors", "plugins", "store", "spc"},
    # what watches a run (alerts, lineage, operations SPC): reads the pipeline's settings, judges
    # operations metrics with checks/spc, writes/reads the store; channels and emitters are
    # plug-in registries
    "pipeline.observers": _LOW | _DOMAIN | {"pipeline.definition"},
    # the runner: runs definitions, records in the store, attaches the observers to every run;
    # executors are a plug-in registry
    "pipeline.execution": _LOW | _DOMAIN | {"pipeline.definition", "pipeline.observers"},
    # the scheduler starts runs (execution) and alerts on late partitions (observers)
    "pipeline.scheduling": _LOW
    | _DOMAIN
    | {"pipeline.definition", "pipeline.execution", "pipeline.observers"},
    # read-side pictures of what ran: history, status, charts, the CLI's live run table (fed by
    # the runner's outcomes) and operations metrics (named by the observer)
    "pipeline.views": _LOW
    | _DOMAIN
    | {"pipeline.definition", "pipeline.execution", "pipeline.observers"},
    # the pipeline package re-exports its sub-packages' public names
    "pipeline": _PIPELINE,
    # `dataops demo`'s sample factory: builds a project through the pipeline's own functions
    "demo": _LOW | {"store"} | _PIPELINE,
    # the front doors: anything below them, never each other, except that %dataops_history /
    # %dataops_chart show the widgets, and `dataops demo` runs the demo
    "magics": _LOW | _DOMAIN | _PIPELINE | {"widgets"},
    "widgets": _LOW | _DOMAIN | _PIPELINE,
    "server": _LOW | _DOMAIN | _PIPELINE,
    "cli": _LOW | _DOMAIN | _PIPELINE | {"demo"},
    # the package's front: the public names (lazily from checks) and the IPython extension
    PACKAGE: {"errors", "_version", "checks", "magics"},
}

#: single module -> module arrows that cross the table, each with its reason (keep this short)
EXCEPTIONS: dict[tuple[str, str], str] = {}


def room_of(module: str) -> str:
    """``jupyter_dataops.pipeline.views.history`` -> ``pipeline.views``; top-level modules and
    packages are rooms of their own; the package itself is ``jupyter_dataops``."""
    parts = module.split(".")[1:]
    if not parts:
        return PACKAGE
    if parts[0] == "pipeline" and len(parts) > 1:
        return f"pipeline.{parts[1]}"
    return parts[0]


def wrong_arrows(root: Path = ROOT) -> list[str]:
    """Each import that crosses the table, as ``importer -> imported (room -> room)``."""
    out = []
    for module, imported in sorted(import_graph(root).items()):
        here = room_of(module)
        if here not in ALLOWED:
            out.append(f"{module}: room {here!r} is not in the layering table")
            continue
        for target in sorted(imported):
            there = room_of(target)
            if there == here or there in ALLOWED[here] or (module, target) in EXCEPTIONS:
                continue
            out.append(f"{module} -> {target} ({here} -> {there})")
    return out


def test_every_import_follows_the_layering_table():
    wrong = wrong_arrows()
    assert not wrong, "imports against the layering table (tests/test_layering.py):\n" + "\n".join(
        wrong
    )


def test_each_exception_is_still_an_import():
    """An exception that no longer happens is removed, so the table stays the truth."""
    graph = import_graph()
    stale = [f"{a} -> {b}" for a, b in EXCEPTIONS if b not in graph.get(a, set())]
    assert not stale, "exceptions no module makes any more:\n" + "\n".join(stale)


def test_the_checker_finds_a_wrong_arrow(tmp_path):
    pkg = tmp_path / PACKAGE
    for sub in ("spc", "store", "pipeline/views", "widgets", "server"):
        (pkg / sub).mkdir(parents=True)
        (pkg / sub / "__init__.py").write_text("")
    (pkg / "__init__.py").write_text("")
    (pkg / "pipeline" / "__init__.py").write_text("")
    (pkg / "errors.py").write_text("")
    (pkg / "spc" / "charts.py").write_text("from ..errors import *\n")  # allowed
    (pkg / "store" / "api.py").write_text(
        "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from ..spc import charts\n"
    )
    (pkg / "pipeline" / "views" / "history.py").write_text(f"import {PACKAGE}.store.api\n")
    (pkg / "server" / "h.py").write_text("def f():\n    from ..widgets import w\n")
    (pkg / "widgets" / "w.py").write_text("")
    assert wrong_arrows(pkg) == [
        f"{PACKAGE}.server.h -> {PACKAGE}.widgets.w (server -> widgets)",
        f"{PACKAGE}.store.api -> {PACKAGE}.spc.charts (store -> spc)",
    ]


if __name__ == "__main__":
    found = wrong_arrows()
    print("\n".join(found))
    print(f"{len(found)} import(s) against the layering table")
    sys.exit(1 if found else 0)
