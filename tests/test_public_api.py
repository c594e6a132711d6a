"""Guards the names users import, so a refactor cannot silently remove one."""

import jupyter_dataops


def test_public_names_are_importable():
    for name in jupyter_dataops.__all__:
        assert getattr(jupyter_dataops, name) is not None, name


def test_load_ext_entry_points_exist():
    assert callable(jupyter_dataops.load_ipython_extension)
    assert callable(jupyter_dataops.unload_ipython_extension)
