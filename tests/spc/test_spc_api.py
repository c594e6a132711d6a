"""Guards the public SPC names so a refactor cannot silently remove one users import."""

from __future__ import annotations

import jupyter_dataops.spc as spc

PUBLIC = {
    "CHARTS",
    "CHART_TYPES",
    "DEFAULT_RULES",
    "RULE_CHARTS",
    "RULE_SETS",
    "SIZED_CHARTS",
    "VEGALITE_V5_MIMETYPE",
    "Capability",
    "ControlChart",
    "CusumResult",
    "EwmaResult",
    "OfflineChart",
    "capability",
    "chart_mimebundle",
    "control_chart",
    "cusum",
    "display_chart",
    "ewma",
    "rules",
}


def test_public_names_are_exported():
    assert set(spc.__all__) == PUBLIC
    for name in PUBLIC:
        assert getattr(spc, name) is not None


def test_chart_and_rule_names_live_in_one_place():
    assert spc.CHART_TYPES == ("i", "mr", "c", "p", "np", "u", "ewma", "cusum")
    assert set(spc.RULE_CHARTS) | {"ewma", "cusum"} == set(spc.CHART_TYPES)
    assert set(spc.SIZED_CHARTS) <= set(spc.RULE_CHARTS) <= set(spc.CHARTS)
    assert spc.RULE_SETS is spc.rules.RULE_SETS and spc.DEFAULT_RULES in spc.RULE_SETS


def test_rules_module_exports_evaluate_describe_and_sets():
    assert {"evaluate", "describe", "RULES", "RULE_SETS", "expand"} <= set(spc.rules.__all__)
    assert set(spc.rules.RULE_SETS) == {"western_electric", "nelson", "qcc", "nhs"}


def test_spc_imports_nothing_from_store_pipeline_or_front_doors():
    import pathlib
    import re

    root = pathlib.Path(spc.__file__).parent
    pattern = re.compile(
        r"^\s*(from|import)\s+(\.\.|jupyter_dataops\.)(store|pipeline|magics|cli|widgets|server|checks)\b",
        re.M,
    )
    offenders = [p.name for p in root.glob("*.py") if pattern.search(p.read_text())]
    assert offenders == []
