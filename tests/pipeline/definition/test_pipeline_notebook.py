"""A notebook's parameters cell: inferred types, typed `-p` values, unknown names refused."""

from __future__ import annotations

from pathlib import Path

import nbformat
import pytest

from jupyter_dataops.pipeline.definition.notebook import (
    ParameterError,
    check_value,
    notebook_parameters,
    parse_value,
    split_assignment,
)
from jupyter_dataops.pipeline.definition.secret_params import parse_overrides, values_of

NOTEBOOKS = Path(__file__).parents[2] / "notebooks" / "pipeline"


@pytest.fixture
def params(tmp_path):
    nb = nbformat.v4.new_notebook()
    nb.metadata["kernelspec"] = {"name": "python3", "language": "python", "display_name": "P"}
    cell = nbformat.v4.new_code_cell(
        'rows = 10\nrate = 0.5\nregion = "north"\ndry_run = False\ndays = [1, 2]\n'
        'opts = {"a": 1}\nlimit: int | None = None\nwhen = pd.Timestamp("2024")\n'
    )
    cell.metadata["tags"] = ["parameters"]
    nb.cells.append(cell)
    path = tmp_path / "p.ipynb"
    nbformat.write(nb, path)
    return notebook_parameters(path)


def test_types_come_from_annotations_or_literal_defaults(params):
    assert {n: p.type for n, p in params.items()} == {
        "rows": "int",
        "rate": "float",
        "region": "str",
        "dry_run": "bool",
        "days": "list",
        "opts": "dict",
        "limit": "int",
        "when": "any",
    }
    assert params["limit"].optional and not params["rows"].optional
    assert params["rows"].default == 10 and params["when"].source == 'pd.Timestamp("2024")'


def test_values_parse_to_the_parameter_type(params):
    assert parse_value("42", params["rows"]) == 42
    assert parse_value("3", params["rate"]) == 3.0
    assert parse_value("south", params["region"]) == "south"
    assert parse_value("yes", params["dry_run"]) is True
    assert parse_value("[3, 4]", params["days"]) == [3, 4]
    assert parse_value("{b: 2}", params["opts"]) == {"b": 2}
    assert parse_value("None", params["limit"]) is None
    assert parse_value("7", params["limit"]) == 7
    assert parse_value("2024-05-01", params["when"]) is not None


@pytest.mark.parametrize(
    ("name", "raw", "hint"),
    [
        ("rows", "1.5", "expects int"),
        ("rows", "ten", "expects int"),
        ("rate", "fast", "expects float"),
        ("dry_run", "maybe", "Use true or false"),
        ("days", "{a: 1}", "YAML/JSON"),
        ("rows", "None", "expects int"),
    ],
)
def test_wrong_values_are_refused_with_the_expected_type(params, name, raw, hint):
    with pytest.raises(ParameterError) as info:
        parse_value(raw, params[name])
    assert f"parameter {name!r}" in str(info.value) and hint in str(info.value)


def test_yaml_values_are_checked_and_ints_widen_to_float(params):
    assert check_value(2, params["rate"]) == 2.0
    assert check_value("5", params["rows"]) == 5
    with pytest.raises(ParameterError, match="expects int"):
        check_value(True, params["rows"])
    with pytest.raises(ParameterError, match="expects bool"):
        check_value(1, params["dry_run"])


def test_overrides_refuse_unknown_names_with_a_suggestion(params):
    typed = parse_overrides(["rows=3", "region=east"], params)
    assert values_of(typed) == {"rows": 3, "region": "east"}
    assert typed["rows"].raw == "3" and typed["rows"].step is None and not typed["rows"].secret
    with pytest.raises(ParameterError, match=r"unknown parameter 'row'.*Did you mean 'rows'\?"):
        parse_overrides(["row=3"], params)
    with pytest.raises(ParameterError, match="expected key=value"):
        parse_overrides(["rows"], params)
    with pytest.raises(ParameterError, match="only meaningful for `dataops run`"):
        parse_overrides(["load.rows=3"], params)
    assert split_assignment("load.rows=1=2") == ("load", "rows", "1=2")


def test_a_notebook_without_parameters_cell_is_refused_with_how_to_fix():
    with pytest.raises(ParameterError, match="no parameters cell.*tag 'parameters'"):
        notebook_parameters(NOTEBOOKS / "no_parameters.ipynb")
    assert notebook_parameters(NOTEBOOKS / "no_parameters.ipynb", require=False) == {}
