"""Guards the names users import, so a refactor cannot silently remove one."""

import jupyter_dataops


def test_public_names_are_importable():
    for name in jupyter_dataops.__all__:
        assert getattr(jupyter_dataops, name) is not None, name


def test_load_ext_entry_points_exist():
    assert callable(jupyter_dataops.load_ipython_extension)
    assert callable(jupyter_dataops.unload_ipython_extension)


def _public_names(module) -> set[str]:
    """What a module offers: its non-underscore attributes that are not submodules or typing
    helpers, plus the names it loads lazily (``_LAZY`` / ``_PICTURE_NAMES``)."""
    import types

    helpers = {"annotations", "TYPE_CHECKING", "Any"}
    names = {
        n
        for n, v in vars(module).items()
        if not n.startswith("_") and not isinstance(v, types.ModuleType) and n not in helpers
    }
    names |= set(getattr(module, "_LAZY", ())) | set(getattr(module, "_PICTURE_NAMES", ()))
    return names


def test_all_lists_exactly_the_public_names():
    """As httpx does: a name added without ``__all__``, or removed from the package while still
    in ``__all__``, fails here (submodules listed in ``__all__`` must exist)."""
    import importlib

    import jupyter_dataops.checks
    import jupyter_dataops.spc

    for module in (jupyter_dataops, jupyter_dataops.spc, jupyter_dataops.checks):
        exported = set(module.__all__)
        submodules = {n for n in exported if isinstance(getattr(module, n, None), type(module))}
        for name in submodules:
            importlib.import_module(f"{module.__name__}.{name}")
        public = _public_names(module) | {"__version__"} & exported
        assert exported - submodules == public - submodules, module.__name__
