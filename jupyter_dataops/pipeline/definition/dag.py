"""Step dependencies: missing steps and cycles as clear errors, selection and run order.

The graph work is the standard library's ``graphlib.TopologicalSorter``; this module only turns
its findings into messages that name the steps.
"""

from __future__ import annotations

import graphlib
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Protocol

from jupyter_dataops.errors import PipelineError


class _Step(Protocol):
    depends_on: tuple[str, ...]


class StepGraph(Protocol):
    """What the graph needs of a pipeline (``spec.Pipeline`` is one): this module imports no
    other pipeline module, so ``spec`` can import it and the arrow points one way."""

    @property
    def path(self) -> Path: ...

    @property
    def steps(self) -> Mapping[str, _Step]: ...


class CycleError(PipelineError):
    """Steps that depend on each other in a circle; ``cycle`` lists them, first step repeated."""

    def __init__(self, cycle: list[str], path: str | None = None) -> None:
        self.cycle = cycle
        where = f"{path}: " if path else ""
        super().__init__(
            f"{where}steps depend on each other in a cycle: {' -> '.join(cycle)} (each step "
            "depends on the next). Remove one of these `depends_on` entries."
        )


class MissingDependencyError(PipelineError):
    """A ``depends_on`` entry that names no step of the pipeline."""

    def __init__(self, step: str, missing: str, known: Iterable[str], path: str | None = None):
        import difflib

        self.step = step
        self.missing = missing
        known = sorted(known)
        close = difflib.get_close_matches(missing, known, n=1)
        hint = f" Did you mean {close[0]!r}?" if close else ""
        where = f"{path}, " if path else ""
        super().__init__(
            f"{where}step {step!r}, key 'depends_on': no step named {missing!r}.{hint} "
            f"Steps in this pipeline: {', '.join(known) or '(none)'}."
        )


def graph(pipeline: StepGraph) -> dict[str, tuple[str, ...]]:
    """Each step name mapped to the steps it depends on."""
    return {name: step.depends_on for name, step in pipeline.steps.items()}


def check_graph(pipeline: StepGraph) -> None:
    """Raise if a ``depends_on`` names a missing step or the steps form a cycle."""
    deps = graph(pipeline)
    for name, upstream in deps.items():
        for dep in upstream:
            if dep not in deps:
                raise MissingDependencyError(name, dep, deps, path=str(pipeline.path))
    sorter = graphlib.TopologicalSorter(deps)
    try:
        sorter.prepare()
    except graphlib.CycleError as exc:
        # graphlib lists each dependency before its dependant; show "a depends on b" order.
        cycle = list(reversed(exc.args[1]))
        raise CycleError(cycle, path=str(pipeline.path)) from None


def select(pipeline: StepGraph, names: Iterable[str] | None = None) -> dict[str, tuple[str, ...]]:
    """The sub-graph of the named steps (all steps when ``names`` is empty).

    Dependencies on steps outside the selection are dropped: running ``dataops run report``
    runs ``report`` alone, on whatever its upstream steps produced last.
    """
    deps = graph(pipeline)
    chosen = list(dict.fromkeys(names or deps))
    unknown = [n for n in chosen if n not in deps]
    if unknown:
        import difflib

        hints = []
        for n in unknown:
            close = difflib.get_close_matches(n, list(deps), n=1)
            hints.append(f"{n!r}" + (f" (did you mean {close[0]!r}?)" if close else ""))
        raise PipelineError(
            f"{pipeline.path}: no step named {', '.join(hints)}. "
            f"Steps in this pipeline: {', '.join(sorted(deps)) or '(none)'}."
        )
    keep = set(chosen)
    return {n: tuple(d for d in deps[n] if d in keep) for n in chosen}


def order(deps: dict[str, tuple[str, ...]]) -> list[str]:
    """A run order in which every step comes after the steps it depends on."""
    return list(graphlib.TopologicalSorter(deps).static_order())


def downstream(deps: dict[str, tuple[str, ...]], step: str) -> list[str]:
    """Every step that depends on ``step``, directly or through other steps, in run order."""
    found: set[str] = set()
    frontier = [step]
    while frontier:
        current = frontier.pop()
        for name, upstream in deps.items():
            if current in upstream and name not in found:
                found.add(name)
                frontier.append(name)
    return [n for n in order(deps) if n in found]
