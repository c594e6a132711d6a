"""Check types from other packages: the entry-point group ``jupyter_dataops.check``, read from a
real installed distribution's metadata (a dist-info folder on the path), loaded on the first
catalogue lookup; a broken plug-in is a warning naming it, never a crash."""

from __future__ import annotations

import importlib
import os
import subprocess
import sys
import textwrap
import warnings

import polars as pl
import pytest

from jupyter_dataops.checks import CATALOGUE, parse_spec, run_checks
from jupyter_dataops.checks.registry import ENTRY_POINT_GROUP

PLUGIN = """
from jupyter_dataops.checks import Metric, facts


class MaxLength(Metric):
    name = "max_length"
    example = "max_length(code) <= 8"
    summary = "longest text value"

    def dtype_problem(self, schema):
        return None if str(schema[self.args[0]]) == "String" else "max_length needs text"

    def facts(self, schema):
        return [facts.Aggregate("max", self.args[0])]

    def observe(self, values, ctx):
        return len(values[facts.Aggregate("max", self.args[0])])


class NotAMetric:
    name = "not_a_metric"
"""


@pytest.fixture
def plugin_dist(tmp_path, monkeypatch):
    """An installed distribution ``dataops-plugin`` with one good and two broken check types."""
    (tmp_path / "dataops_plugin_mod.py").write_text(PLUGIN)
    info = tmp_path / "dataops_plugin-0.1.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: dataops-plugin\nVersion: 0.1\n")
    (info / "entry_points.txt").write_text(
        textwrap.dedent(
            f"""\
            [{ENTRY_POINT_GROUP}]
            max_length = dataops_plugin_mod:MaxLength
            not_a_metric = dataops_plugin_mod:NotAMetric
            gone = dataops_plugin_missing_mod:Gone
            """
        )
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    importlib.invalidate_caches()
    monkeypatch.setattr(CATALOGUE, "_loaded", False)  # as in a fresh process
    yield tmp_path
    for name in ("max_length", "not_a_metric", "gone"):
        dict.pop(CATALOGUE, name, None)
    sys.modules.pop("dataops_plugin_mod", None)


def test_an_installed_check_type_is_found_on_first_lookup(plugin_dist):
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        res = run_checks(pl.DataFrame({"code": ["a", "zzz"]}), "max_length(code) <= 2")
    r = res.results[0]
    assert r.status == "fail" and r.observed == 3, r.message
    assert "max_length" in CATALOGUE
    messages = [str(w.message) for w in caught if issubclass(w.category, RuntimeWarning)]
    assert len(messages) == 2, messages
    broken = " ".join(messages)
    assert "'not_a_metric' from dataops-plugin" in broken and "not a Metric subclass" in broken
    assert "'gone' from dataops-plugin" in broken and "dataops_plugin_missing_mod" in broken
    assert "not_a_metric" not in CATALOGUE and "gone" not in CATALOGUE


def test_a_broken_plug_in_leaves_the_built_in_checks_working(plugin_dist):
    with pytest.warns(RuntimeWarning, match="could not be loaded"):
        suite = parse_spec("row_count > 0\nmissing_count(code) = 0")
    res = run_checks(pl.DataFrame({"code": ["a", None]}), suite)
    assert [r.status for r in res.results] == ["pass", "fail"]


def test_register_wins_over_a_plug_in_of_the_same_name(plugin_dist):
    from jupyter_dataops.checks import Metric, facts, register

    class Mine(Metric):
        name = "max_length"

        def facts(self, schema):
            return [facts.RowCount()]

        def observe(self, values, ctx):
            return -1

    register(Mine)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        r = run_checks(pl.DataFrame({"code": ["abc"]}), "max_length(code) < 0").results[0]
    assert r.status == "pass" and r.observed == -1


def test_dataops_check_uses_an_installed_check_type(plugin_dist):
    data = plugin_dist / "codes.csv"
    data.write_text("code\nab\nabcdef\n")
    spec = plugin_dist / "codes.checks"
    spec.write_text("max_length(code) <= 4\n")
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(plugin_dist), *sys.path])}
    proc = subprocess.run(
        [sys.executable, "-m", "jupyter_dataops.cli", "check", str(data), str(spec), "--json"],
        capture_output=True,
        text=True,
        timeout=120,
        env=env,
    )
    assert proc.returncode == 1, proc.stderr
    assert '"observed": 6' in proc.stdout
    assert "could not be loaded" in proc.stderr and "not_a_metric" in proc.stderr
