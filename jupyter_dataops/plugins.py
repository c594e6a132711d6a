"""One shape for every plug-in point, as papermill's engines: ``registry.register(name, cls)``
at the bottom of the module that defines the built-ins, plus an entry-point group another
package fills (``[project.entry-points."jupyter_dataops.executor"] spark = "pkg.mod:Cls"``).

Registries: check types (``jupyter_dataops.check``), check engines (``jupyter_dataops.engine``),
executors (``jupyter_dataops.executor``), alert channels (``jupyter_dataops.alert_channel``)
and lineage emitters (``jupyter_dataops.lineage_emitter``). Entry points are read on the first
lookup; a built-in may be registered as ``"module:attr"`` and is imported only when used (an
engine whose library is heavy). An unknown name is always ``UnknownPluginError``, listing the
known names.

This module imports only ``errors``: every room may use it.
"""

from __future__ import annotations

import importlib
import os
import sys
import warnings
from collections.abc import Iterator
from typing import Any, Literal

from jupyter_dataops.errors import DataOpsError

_MISSING: Any = object()


class UnknownPluginError(DataOpsError, KeyError):
    """A name no registry entry answers to: ``kind`` (``"executor"``...), ``name`` and the
    ``known`` names. A ``KeyError`` too, so dict-style callers keep working."""

    def __init__(self, kind: str, name: str, known: list[str]) -> None:
        self.kind, self.name, self.known = kind, name, known
        super().__init__(self.message)

    @property
    def message(self) -> str:
        available = ", ".join(self.known) or "none"
        return f"unknown {self.kind} {self.name!r}. Available: {available}."

    def __str__(self) -> str:  # KeyError would quote the message
        return self.message


class PluginLoadError(DataOpsError):
    """An entry point that could not be loaded (missing module, wrong class): names it, its
    package and what to do."""


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return text[0] if text else type(exc).__name__


def _import(path: str) -> Any:
    module, _, attr = path.partition(":")
    obj = importlib.import_module(module)
    for part in attr.split("."):
        obj = getattr(obj, part)
    return obj


# sys.path entry -> (its mtime, [(distribution name, its entry points)]): the installed
# packages' metadata is read once per folder and process, not once per registry (a fresh
# kernel's first check paid ~35 ms a registry for it; the warm-kernel template reads it before
# forking); a folder that changed since (a package installed) is read again.
_SCANNED: dict[str, tuple[float, list[tuple[str, Any]]]] = {}


def installed_entry_points(group: str) -> list[Any]:
    """The entry points of ``group``, as ``importlib.metadata.entry_points(group=...)`` answers
    them (the first distribution of a name on ``sys.path`` wins), from the per-folder cache."""
    from importlib.metadata import distributions

    seen: set[str] = set()
    found = []
    for entry in list(sys.path):
        try:
            mtime = os.stat(entry or ".").st_mtime
        except (OSError, TypeError, ValueError):
            continue
        cached = _SCANNED.get(entry)
        if cached is None or cached[0] != mtime:
            dists = [
                (getattr(d, "_normalized_name", None) or d.metadata["Name"], d.entry_points)
                for d in distributions(path=[entry])
            ]
            cached = _SCANNED[entry] = (mtime, dists)
        for name, eps in cached[1]:
            if name not in seen:
                seen.add(name)
                found.extend(ep for ep in eps if ep.group == group)
    return found


class Registry(dict):
    """Plug-in classes by name. A ``dict`` of the loaded ones; ``registry[name]`` and
    ``registry.get(name)`` raise ``UnknownPluginError`` for an unknown name (``get(name, None)``
    answers None instead, for callers that ask "is it one?").

    ``base``: entries must subclass it. ``on_broken``: what a broken entry point does —
    ``"raise"`` (looking its name up raises ``PluginLoadError``; other names still work) or
    ``"warn"`` (a ``RuntimeWarning`` at loading, and the name is skipped). ``named``: the class's
    ``name`` attribute must equal the entry point's name.
    """

    def __init__(
        self,
        kind: str,
        group: str,
        *,
        base: type | None = None,
        on_broken: Literal["raise", "warn"] = "raise",
        named: bool = False,
    ) -> None:
        super().__init__()
        self.kind = kind
        self.group = group
        self.base = base
        self.on_broken = on_broken
        self.named = named
        self._lazy: dict[str, str] = {}  # name -> "module:attr", imported on first use
        self._broken: dict[str, str] = {}  # name -> why its entry point did not load
        self._loaded = False

    # -- filling ------------------------------------------------------------------------------
    def register(self, name: str, cls: type | str) -> None:
        """Add (or replace) ``name``; ``cls`` is the class or its ``"module:attr"`` path."""
        self._broken.pop(name, None)
        if isinstance(cls, str):
            dict.pop(self, name, None)
            self._lazy[name] = cls
        else:
            self._lazy.pop(name, None)
            dict.__setitem__(self, name, cls)

    def unregister(self, name: str) -> None:
        dict.pop(self, name, None)
        self._lazy.pop(name, None)

    def load_entry_points(self) -> None:
        if self._loaded:
            return
        self._loaded = True  # first: a plug-in module may look things up while it loads
        for ep in installed_entry_points(self.group):
            if dict.__contains__(self, ep.name) or ep.name in self._lazy:
                continue  # built-ins and register() calls win over a plug-in of the same name
            dist = getattr(ep.dist, "name", None) or "an unknown package"
            try:
                cls = self._checked(ep.load(), ep.name, ep.value)
            except Exception as exc:
                why = (
                    f"{self.kind} {ep.name!r} from {dist} ({ep.value}) could not be loaded"
                    f"{' and is skipped' if self.on_broken == 'warn' else ''}: "
                    f"{_first_line(exc)}. Fix or uninstall that package."
                )
                if self.on_broken == "warn":
                    warnings.warn(why, RuntimeWarning, stacklevel=3)
                else:
                    self._broken[ep.name] = why
                continue
            dict.__setitem__(self, ep.name, cls)

    def _checked(self, cls: Any, name: str, where: str) -> Any:
        if self.base is not None and not (isinstance(cls, type) and issubclass(cls, self.base)):
            raise TypeError(f"{where} is not a {self.base.__name__} subclass")
        if self.named and getattr(cls, "name", None) != name:
            raise TypeError(
                f"its class says name = {getattr(cls, 'name', None)!r}, "
                f"the entry point says {name!r}"
            )
        return cls

    def _resolve(self, name: str) -> Any:
        path = self._lazy.pop(name)
        try:
            cls = self._checked(_import(path), name, path)
        except Exception as exc:
            self._lazy[name] = path
            raise PluginLoadError(
                f"{self.kind} {name!r} ({path}) could not be loaded: {_first_line(exc)}"
            ) from exc
        dict.__setitem__(self, name, cls)
        return cls

    # -- looking up ---------------------------------------------------------------------------
    def names(self) -> list[str]:
        """Every known name (loaded or not yet imported), sorted."""
        return sorted(self._order())

    def __getitem__(self, name: str) -> Any:
        self.load_entry_points()
        if dict.__contains__(self, name):
            return dict.__getitem__(self, name)
        if name in self._lazy:
            return self._resolve(name)
        if name in self._broken:
            raise PluginLoadError(self._broken[name])
        raise UnknownPluginError(self.kind, str(name), self.names())

    def get(self, name: str, default: Any = _MISSING) -> Any:  # type: ignore[override]
        try:
            return self[name]
        except UnknownPluginError:
            if default is _MISSING:
                raise
            return default

    def __contains__(self, name: object) -> bool:
        self.load_entry_points()
        return dict.__contains__(self, name) or name in self._lazy

    def _order(self) -> list[str]:
        """Every name in registration order (``names()`` sorts them)."""
        self.load_entry_points()
        return [*dict.keys(self), *(n for n in self._lazy if not dict.__contains__(self, n))]

    def __iter__(self) -> Iterator[str]:
        return iter(self._order())

    def __len__(self) -> int:
        return len(self._order())

    def keys(self):  # noqa: ANN201
        return self._order()

    def values(self):  # noqa: ANN201
        return [self[n] for n in self._order()]

    def items(self):  # noqa: ANN201
        return [(n, self[n]) for n in self._order()]

    def loaded(self) -> dict[str, Any]:
        """The entries imported so far (entry points included), without importing the lazy
        ones: what a chooser may ask before paying for a heavy import."""
        self.load_entry_points()
        return dict(dict.items(self))

    def __repr__(self) -> str:
        return f"<{self.kind} registry ({self.group}): {', '.join(self.names())}>"


__all__ = ["PluginLoadError", "Registry", "UnknownPluginError", "installed_entry_points"]
