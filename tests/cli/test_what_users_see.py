"""What a user sees (issue 25): the commands the UI and the CLI's own hints name exist, and the
CLI's tables say each thing once, in its own column."""

from __future__ import annotations

import ast
import json
import re
import shlex
from pathlib import Path

import pytest
from builders import cli_env, invoke, write_notebook

ROOT = Path(__file__).parents[2]
PACKAGE = ROOT / "jupyter_dataops"
LABEXTENSION = ROOT / "labextension" / "src"

#: a command quoted in backticks (``dataops run``, `dataops run`) or in parentheses
#: ("(dataops run --partition KEY)"), up to its closing quote on the same line
QUOTED = re.compile(r"(?:`+|\()dataops ([^`()\n]+)(?:`|\))")
PLACEHOLDER = re.compile(r"\$\{[^}]*\}")  # a TypeScript template's ${...}


def _python_texts() -> list[tuple[str, str]]:
    """Every string literal of the package (f-strings with each {...} as PLACEHOLDER), with
    where it is; implicitly joined literals are one string, as the user sees them."""
    texts = []
    for path in sorted(PACKAGE.rglob("*.py")):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            if isinstance(node, ast.Constant) and isinstance(node.value, str):
                texts.append((f"{path.relative_to(ROOT)}:{node.lineno}", node.value))
            elif isinstance(node, ast.JoinedStr):
                text = "".join(
                    part.value if isinstance(part, ast.Constant) else "{X}" for part in node.values
                )
                texts.append((f"{path.relative_to(ROOT)}:{node.lineno}", text))
    return texts


def _typescript_texts() -> list[tuple[str, str]]:
    texts = []
    for path in sorted(LABEXTENSION.rglob("*.ts")):
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
            texts.append((f"{path.relative_to(ROOT)}:{number}", PLACEHOLDER.sub("{X}", line)))
    return texts


def _arguments(command: str) -> list[str]:
    """The words of a quoted command, each placeholder (STEP, {X}, [--dry-run], a|b) made
    concrete."""
    try:
        words = shlex.split(command)
    except ValueError:
        words = command.split()
    out = []
    for word in words:
        word = word.strip("[]").split("|")[0]  # `incident ack|resolve`: each is a command
        if word in ("...", "…"):  # "and the rest"
            continue
        if "{X}" in word:
            word = word.replace("{X}", "x")
        elif word.isupper():  # DATA SPEC STEP KEY NOTEBOOK
            word = "x"
        out.append(word)
    return out


def shown_commands() -> list[tuple[str, str]]:
    """(where, command) of every ``dataops ...`` command the package and the panel show."""
    found = []
    for where, text in _python_texts() + _typescript_texts():
        for match in QUOTED.finditer(text):
            # "(dataops run, Run now, ...)": the command is the words before a comma
            found.append((where, match.group(1).split(",")[0].strip()))
    return found


def test_the_commands_are_found_in_the_ui_and_the_hints():
    commands = shown_commands()
    wheres = {where.split(":")[0] for where, _ in commands}
    assert any(w.startswith("labextension/src/sections/") for w in wheres)
    assert any(w.startswith("jupyter_dataops/pipeline/") for w in wheres)
    assert any(c.startswith("run --partition") for _, c in commands)


def unknown_words(args: list[str]) -> tuple[list[str], str | None]:
    """The command path of ``args`` (``["export", "airflow"]``) and what in them is not a command
    or option of ``dataops`` (None when everything is)."""
    import typer

    from jupyter_dataops.cli import app

    command = typer.main.get_command(app)
    path: list[str] = []
    rest = list(args)
    while hasattr(command, "commands"):  # a group (typer vendors its own click)
        if path and not rest:  # `dataops incident ...`: the group itself
            break
        if not rest or rest[0] not in command.commands:
            return path, f"no command {' '.join([*path, *rest[:1]])!r}"
        path.append(rest[0])
        command = command.commands[rest.pop(0)]
    options = {o for p in command.params for o in (*p.opts, *p.secondary_opts)}
    for word in rest:
        if word.startswith("-") and word.split("=")[0] not in options:
            return path, f"no option {word.split('=')[0]!r} of `dataops {' '.join(path)}`"
    return path, None


def test_every_command_the_ui_and_the_hints_show_exists(tmp_path, monkeypatch):
    """Each shown command's words are a command and its options, and its --help answers."""
    monkeypatch.chdir(tmp_path)  # no project: nothing is noticed or run
    cli_env(monkeypatch)
    wrong = []
    helped: set[tuple[str, ...]] = set()
    for where, command in shown_commands():
        path, unknown = unknown_words(_arguments(command))
        if unknown:
            wrong.append(f"{where}: `dataops {command}`: {unknown}")
        elif tuple(path) not in helped:
            helped.add(tuple(path))
            out = invoke(*path, "--help")
            if out.exit_code != 0:
                wrong.append(f"{where}: `dataops {' '.join(path)} --help`: exit {out.exit_code}")
    assert not wrong, "\n".join(wrong)
    assert {"run", "runs", "check", "promote", "scheduler"} <= {p[0] for p in helped}


def test_an_unknown_option_or_command_is_caught():
    assert unknown_words(_arguments("run --step {X}"))[1] == "no option '--step' of `dataops run`"
    assert unknown_words(["nosuch"])[1] == "no command 'nosuch'"
    assert unknown_words(["export", "nosuch"])[1] == "no command 'export nosuch'"
    assert unknown_words(_arguments("runs --partition=KEY --json")) == (["runs"], None)


def test_check_shows_each_line_without_its_comment(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    cli_env(monkeypatch)
    (tmp_path / "d.csv").write_text("amount,code\n1,a#1\n2,b#2\n")
    (tmp_path / "spec.txt").write_text(
        "row_count > 0  # 2 rows when suggested\n"
        "invalid_count(code) = 0: valid regex ^[ab]#[0-9]$\n"
        "invalid_count(code) = 0: valid values ['a#1', 'b#2']  # both codes\n"
    )
    out = invoke("check", "d.csv", "spec.txt")
    assert out.exit_code == 0, out.output
    assert "row_count > 0" in out.stdout and "suggested" not in out.stdout
    assert "both codes" not in out.stdout
    assert "^[ab]#[0-9]$" in out.stdout  # a # inside a regex is the check's, not a comment
    assert "'a#1', 'b#2']" in out.stdout


AMOUNTS = "[float(i) for i in range(n_rows)]"


def orders_project(root: Path, monkeypatch, parameters: str, amounts: str, check: str) -> None:
    """``root/orders.ipynb``: its ``parameters`` cell, an ``orders`` frame of the ``amounts``
    (Python), one check line; the CLI (``invoke``) then works in ``root``."""
    write_notebook(
        root / "orders.ipynb",
        parameters,
        "%load_ext jupyter_dataops\nimport polars as pl\n"
        f"orders = pl.DataFrame({{'amount': {amounts}}})",
        f"%%dataops_test orders\n{check}",
    )
    monkeypatch.chdir(root)
    cli_env(monkeypatch)


@pytest.mark.slow
def test_runs_shows_parameters_once_and_tells_the_gate_apart(tmp_path, monkeypatch):
    root = tmp_path / "orders"
    orders_project(root, monkeypatch, "day = '2026-09-01'\nn_rows = 5", AMOUNTS, "row_count > 0")
    assert invoke("promote", "orders.ipynb", "--step", "orders").exit_code == 0
    for day in ("2026-09-02", "2026-09-03"):
        out = invoke("run", "-p", f"day={day}")
        assert out.exit_code == 0, out.output

    rows = json.loads(invoke("runs", "--json").stdout)
    # the parameters a run was given (the gate ran the notebook's own defaults)
    assert [r["parameters"] for r in rows] == [{"day": "2026-09-03"}, {"day": "2026-09-02"}, {}]
    assert [r["mode"] for r in rows] == ["production", "production", "test"]

    table = invoke("runs").stdout
    header = next(line for line in table.splitlines() if line.lstrip().startswith("id"))
    assert header.split()[:2] == ["id", "step"]  # one run per pipeline run: no second id
    assert "parameters" in header and "mode" in header
    assert "day=2026-09-03" in table and "day=2026-09-02" in table
    assert table.count("production") == 2 and table.count(" test ") == 1


@pytest.mark.slow
def test_run_prints_a_failure_once_with_the_cell_as_jupyterlab_numbers_it(tmp_path, monkeypatch):
    import nbformat
    from builders import PYTHON3
    from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook

    root = tmp_path / "orders"
    root.mkdir()
    nb = new_notebook(
        cells=[
            new_markdown_cell("# Orders"),
            new_code_cell("bad = 0", metadata={"tags": ["parameters"]}),
            new_code_cell(
                "%load_ext jupyter_dataops\nimport polars as pl\n"
                "orders = pl.DataFrame({'amount': [1.0, None if bad else 2.0]})"
            ),
            new_code_cell("%%dataops_test orders\nmissing_count(amount) = 0  # never a gap"),
        ],
        metadata={"kernelspec": PYTHON3},
    )
    nbformat.write(nb, root / "orders.ipynb")
    monkeypatch.chdir(root)
    cli_env(monkeypatch)
    assert invoke("promote", "orders.ipynb", "--step", "orders").exit_code == 0
    out = invoke("run", "-p", "bad=1")
    assert out.exit_code == 1, out.output
    shown = out.stdout + out.stderr
    assert shown.count("missing_count(amount) is 1") == 1  # the failing line, once
    assert "never a gap" not in shown
    # the markdown cell counts, papermill's injected parameters cell does not
    assert "cell 4 (code cell 3)" in out.stderr
    assert "cell [" not in shown


@pytest.mark.slow
def test_an_alert_names_parameters_host_and_rounds_like_the_cli(tmp_path, monkeypatch):
    import socket

    from builders import Hook

    root = tmp_path / "orders"
    check = "avg(amount) < 2  # an average of 7/3 fails"
    orders_project(root, monkeypatch, "day = '2026-09-01'", "[1.0, 2.0, 4.0]", check)
    hook = Hook()
    try:
        (root / "dataops.yaml").write_text(
            f"pipeline: orders\nalerts:\n  - webhook: {hook.url}\n    format: slack\n"
            "    on: [check_failed]\nsteps:\n  orders: {notebook: orders.ipynb}\n"
        )
        out = invoke("run", "--unpromoted", "-p", "day=2026-09-02")
        assert out.exit_code == 1, out.output
    finally:
        hook.close()
    [body] = hook.bodies
    text = body["text"]
    assert "parameters: day=2026-09-02" in text
    assert f"host: {socket.gethostname()}" in text
    assert "(observed 2.33333)" in text and "2.333333" not in text
    assert "check line 1 fail: avg(amount) < 2 (observed 2.33333)" in text  # no comment


def test_promote_writes_the_pipeline_name_it_keeps_the_history_under(tmp_path):
    from jupyter_dataops.pipeline.definition.model import StepSpec
    from jupyter_dataops.pipeline.definition.spec import load_pipeline
    from jupyter_dataops.pipeline.definition.spec_writer import write_step

    root = tmp_path / "orders_project"
    root.mkdir()
    path = write_step(root, StepSpec(name="orders", notebook="orders.ipynb"))
    assert "pipeline: orders_project\n" in path.read_text()
    assert load_pipeline(path).name == "orders_project"
    # a file a person wrote without the key gets it on the next promotion, comments kept
    path.write_text("# my factory\nsteps:\n  orders: {notebook: orders.ipynb}\n")
    write_step(root, StepSpec(name="report", notebook="report.ipynb"))
    text = path.read_text()
    assert text.startswith("# my factory\npipeline: orders_project\n")
    # a name the user chose is never replaced
    path.write_text("pipeline: shop\nsteps:\n  orders: {notebook: orders.ipynb}\n")
    write_step(root, StepSpec(name="report", notebook="report.ipynb"))
    assert load_pipeline(path).name == "shop"


@pytest.mark.slow
def test_a_renamed_pipeline_is_refused_until_its_history_is_moved(tmp_path, monkeypatch):
    root = tmp_path / "shop"
    orders_project(root, monkeypatch, "n_rows = 5", AMOUNTS, "row_count > 0")
    assert invoke("promote", "orders.ipynb", "--step", "orders").exit_code == 0
    assert invoke("run").exit_code == 0
    path = root / "dataops.yaml"
    assert "pipeline: shop" in path.read_text()

    path.write_text(path.read_text().replace("pipeline: shop", "pipeline: orders"))
    for command in (["status"], ["runs"], ["run"], ["promote", "orders.ipynb", "--step", "orders"]):
        out = invoke(*command)
        assert out.exit_code == 2, (command, out.output)
        assert "dataops rename-pipeline shop orders" in out.stderr
        assert "Traceback" not in out.output

    out = invoke("rename-pipeline", "shop", "orders")
    assert out.exit_code == 0, out.output
    rows = json.loads(invoke("runs", "--json").stdout)
    assert {r["pipeline"] for r in rows} == {"orders"} and len(rows) == 2  # gate and run
    assert "never" not in invoke("status").stdout  # still promoted under the new name
    refused = invoke("rename-pipeline", "nosuch", "other")
    assert refused.exit_code == 2 and "no pipeline 'nosuch'" in refused.stderr
