"""What every engine shares: the facts asked for, the walk through its dispatch table, the one-row
pass with its fall-back, and how a failure becomes ``Unavailable``.

An engine subclasses ``Engine``, sets ``name``, ``TABLE`` (fact type -> builder) and, where the
defaults do not say it, ``who`` (how its errors name it) and ``elsewhere`` (what the user can do
about a fact type it has no builder for).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any, ClassVar

from jupyter_dataops.checks.facts import Fact, Unavailable
from jupyter_dataops.errors import DataOpsError

if TYPE_CHECKING:  # pragma: no cover
    from jupyter_dataops.checks.inputs import CheckInputs

#: one fact -> (the parts of the one-row pass, how their values make the fact's value)
Compiled = tuple[Sequence[Any], Callable[[list], Any]]


def first_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return text[0] if text else type(exc).__name__


def message_of(exc: BaseException) -> str:
    return str(exc) if isinstance(exc, DataOpsError) else first_line(exc)


class Engine:
    """Facts to compute over one source; ``execute()`` returns fact -> value (or Unavailable)."""

    name: ClassVar[str]
    TABLE: ClassVar[Mapping[type, Callable[[Any, Any], Any]]]
    #: what the user can do when ``TABLE`` has no builder for a fact's type
    elsewhere: ClassVar[str] = "run this check on a polars frame"
    #: engines that accept an input are asked highest first (``engines.choose``)
    priority: ClassVar[int] = 0

    @classmethod
    def accepts(cls, data: Any, table: str | None) -> bool:
        """Whether this engine runs checks on ``data`` (``table``: a database table name).
        Engines chosen another way (e.g. by size, after the planner saw the facts) say no."""
        return False

    @classmethod
    def for_input(cls, data: Any, table: str | None, ctx: CheckInputs) -> Engine:
        """The engine over an input it ``accepts`` (a clear ``DataOpsError`` when the input is
        close but wrong, e.g. a database without its table)."""
        raise DataOpsError(f"{cls.who_class()} is not chosen by input; it has no for_input")

    @classmethod
    def who_class(cls) -> str:
        return f"the {getattr(cls, 'name', cls.__name__)} engine"

    def __init__(self, ctx: CheckInputs) -> None:
        self.ctx = ctx
        self.facts: list[Fact] = []
        self.values: dict[Fact, Any] = {}
        self.steps: list[str] = []  # what was chosen, for explain()

    @property
    def who(self) -> str:
        """The engine as its error messages name it."""
        return f"the {self.name} engine"

    def add(self, facts: Sequence[Fact]) -> None:
        for f in facts:
            if f not in self.facts:
                self.facts.append(f)

    def explain(self) -> str:
        """How the engine computed its facts (for tests and curious users)."""
        return "\n".join(self.steps)

    def build(self, fact: Fact) -> Any:
        """What the dispatch table's builder for ``fact`` returns."""
        builder = self.TABLE.get(type(fact))
        if builder is None:
            raise DataOpsError(f"{self.who} cannot compute {type(fact).__name__}: {self.elsewhere}")
        return builder(self, fact)

    def unavailable(self, exc: BaseException) -> Unavailable:
        """The value of a fact whose builder failed."""
        return Unavailable(message_of(exc))

    def build_each(self, skip: Callable[[Fact], bool] | None = None) -> dict[Fact, Any]:
        """fact -> what its builder returned, for each fact without a value yet (and not
        ``skip``-ped); a builder returning None stored the value itself. A failing builder makes
        its fact ``Unavailable``; the others go on."""
        built: dict[Fact, Any] = {}
        for fact in self.facts:  # a builder may append facts: they are built too
            if fact in self.values or (skip is not None and skip(fact)):
                continue
            try:
                made = self.build(fact)
            except Exception as exc:
                self.values[fact] = self.unavailable(exc)
                continue
            if made is not None:
                built[fact] = made
        return built

    def one_row(
        self,
        compiled: Mapping[Fact, Compiled],
        *,
        label: Callable[[Any, str], Any],
        row_of: Callable[[list], Sequence[Any]],
        failed: Callable[[BaseException], Unavailable],
        step: Callable[[int, int], str],
        retry_step: str | None = None,
    ) -> None:
        """Every compiled fact's parts computed as one row (one query, one select).

        ``label(part, name)`` names a part, ``row_of(parts)`` computes the row; ``step(parts, facts)``
        (how many of each) goes to ``explain()``. If the row fails, each fact is
        computed alone (``retry_step`` says so) so that only the culprit is ``failed(exc)``.
        """
        if not compiled:
            return
        named, owners = [], []
        for fact, (parts, _) in compiled.items():
            for p in parts:
                named.append(label(p, f"_{len(named)}"))
                owners.append(fact)
        self.steps.append(step(len(named), len(compiled)))
        try:
            row = list(row_of(named))
        except Exception:
            row = None
        if row is not None:
            acc: dict[Fact, list] = {}
            for fact, v in zip(owners, row, strict=True):
                acc.setdefault(fact, []).append(v)
            for fact, vs in acc.items():
                self.values[fact] = _finish(compiled[fact][1], vs)
            return
        if retry_step:
            self.steps.append(retry_step)
        for fact, (parts, finish) in compiled.items():  # slow path, only when something is wrong
            try:
                vs = list(row_of([label(p, f"_{i}") for i, p in enumerate(parts)]))
                self.values[fact] = _finish(finish, vs)
            except Exception as exc:
                self.values[fact] = failed(exc)


def _finish(finish: Callable[[list], Any], vs: list) -> Any:
    try:
        return finish(vs)
    except Exception as exc:
        return Unavailable(first_line(exc))
