"""What ``operations:`` on a step of ``dataops.yaml`` says: whether and how its runs' own
measures (duration, queue delay, notebook size, ...) are judged with SPC. Parsed with the rest
of the pipeline file (``spec``); used by the operations observer (``observers.operations``)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

OPTION_KEYS = ("baseline", "rules", "min_change")


@dataclass(frozen=True)
class OperationsOptions:
    """A step's ``operations:`` in ``dataops.yaml``: whether and how its runs are judged."""

    enabled: bool = True
    baseline: int = 20
    rules: str = "qcc"
    min_change: float = 0.2  # a signal must differ from the centre by this share of it

    def to_yaml(self) -> Any:
        if not self.enabled:
            return "off"
        return {
            "baseline": self.baseline,
            "rules": self.rules,
            "min_change": f"{self.min_change * 100:g}%",
        }


def parse_options(value: Any) -> OperationsOptions:
    """``operations:`` as written: ``off`` or ``{baseline: N, rules: R, min_change: P%}``
    (``ValueError`` says what is wrong)."""
    if value is None:
        return OperationsOptions()
    if value is False or (isinstance(value, str) and value.strip().lower() in ("off", "false")):
        return OperationsOptions(enabled=False)
    if not isinstance(value, Mapping):
        raise ValueError(
            "expected `off` or a mapping such as `{baseline: 20, rules: qcc, min_change: 20%}`, "
            f"got {value!r}"
        )
    unknown = [str(k) for k in value if k not in OPTION_KEYS]
    if unknown:
        raise ValueError(
            f"unknown option {unknown[0]!r}; known: {', '.join(OPTION_KEYS)} (or `operations: off`)"
        )
    baseline = value.get("baseline", 20)
    if isinstance(baseline, bool) or not isinstance(baseline, int) or baseline < 2:
        raise ValueError(f"baseline takes a whole number of runs, at least 2; got {baseline!r}")
    rules = value.get("rules", "qcc")
    if not isinstance(rules, str) or not rules.strip():
        raise ValueError(f"rules names a rule or rule set such as qcc or nelson; got {rules!r}")
    from jupyter_dataops.spc.rules import expand

    try:
        expand(rules.strip())
    except Exception as exc:  # SpcError: unknown rule, with the known ones
        raise ValueError(str(exc)) from None
    return OperationsOptions(
        enabled=True,
        baseline=int(baseline),
        rules=rules.strip(),
        min_change=_share(value.get("min_change", "20%")),
    )


def _share(value: Any) -> float:
    """``min_change`` as written (``20%``, ``0.2`` or ``0``) as a share of the centre line."""
    text = str(value).strip()
    try:
        share = float(text[:-1]) / 100 if text.endswith("%") else float(text)
    except ValueError:
        share = -1.0
    if isinstance(value, bool) or not (0 <= share < 10) or share != share:
        raise ValueError(
            f"min_change takes a share of the centre line such as 20% or 0.2 (0: off); got {value!r}"
        )
    return share
