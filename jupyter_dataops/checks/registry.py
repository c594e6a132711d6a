"""The registry of check types: a dict of name -> metric class that also takes plug-ins.

Other packages add check types through the entry-point group ``jupyter_dataops.check``
(``max_length = "my_package.checks:MaxLength"``), as executors do through
``jupyter_dataops.executor``. Entry points are loaded on the first lookup; one that fails to load
is skipped with a warning naming it and its package, so a broken plug-in cannot break every
check.
"""

from __future__ import annotations

import warnings

ENTRY_POINT_GROUP = "jupyter_dataops.check"


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return text[0] if text else type(exc).__name__


class Catalogue(dict):
    """Metric name -> class (subclasses of ``base``), with the entry-point plug-ins."""

    def __init__(self, base: type) -> None:
        super().__init__()
        self.base = base
        self._loaded = False

    def load_entry_points(self) -> None:
        if self._loaded:
            return
        self._loaded = True  # first: a plug-in module may look things up while it loads
        from importlib.metadata import entry_points

        for ep in entry_points(group=ENTRY_POINT_GROUP):
            if dict.__contains__(self, ep.name):
                continue  # built-ins and register() calls win over a plug-in of the same name
            dist = getattr(ep.dist, "name", None) or "an unknown package"
            try:
                cls = ep.load()
                if not (isinstance(cls, type) and issubclass(cls, self.base)):
                    raise TypeError(f"{ep.value} is not a {self.base.__name__} subclass")
                if getattr(cls, "name", None) != ep.name:
                    raise TypeError(
                        f"its class says name = {getattr(cls, 'name', None)!r}, "
                        f"the entry point says {ep.name!r}"
                    )
            except Exception as exc:
                warnings.warn(
                    f"check type {ep.name!r} from {dist} ({ep.value}) could not be loaded and "
                    f"is skipped: {_first_line(exc)}. Fix or uninstall that package.",
                    RuntimeWarning,
                    stacklevel=3,
                )
                continue
            dict.__setitem__(self, ep.name, cls)

    def __getitem__(self, name: str) -> type:
        self.load_entry_points()
        return dict.__getitem__(self, name)

    def __contains__(self, name: object) -> bool:
        self.load_entry_points()
        return dict.__contains__(self, name)

    def __iter__(self):
        self.load_entry_points()
        return dict.__iter__(self)

    def __len__(self) -> int:
        self.load_entry_points()
        return dict.__len__(self)

    def get(self, name, default=None):  # noqa: ANN001, ANN201
        self.load_entry_points()
        return dict.get(self, name, default)

    def keys(self):  # noqa: ANN201
        self.load_entry_points()
        return dict.keys(self)

    def values(self):  # noqa: ANN201
        self.load_entry_points()
        return dict.values(self)

    def items(self):  # noqa: ANN201
        self.load_entry_points()
        return dict.items(self)
