"""The registry of check types: name -> metric class, with the plug-ins of other packages.

Other packages add check types through the entry-point group ``jupyter_dataops.check``
(``max_length = "my_package.checks:MaxLength"``), as executors do through
``jupyter_dataops.executor``. Entry points are loaded on the first lookup; one that fails to load
is skipped with a warning naming it and its package, so a broken plug-in cannot break every
check. The registry itself is the one shape of every plug-in point (``jupyter_dataops.plugins``).
"""

from __future__ import annotations

from jupyter_dataops.plugins import Registry

ENTRY_POINT_GROUP = "jupyter_dataops.check"


class Catalogue(Registry):
    """Metric name -> class (subclasses of ``base``), with the entry-point plug-ins."""

    def __init__(self, base: type) -> None:
        super().__init__("check type", ENTRY_POINT_GROUP, base=base, on_broken="warn", named=True)
