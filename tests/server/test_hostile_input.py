"""Hostile input through the REST doors on a real jupyter_server (issue 22): every answer is a
clear 4xx with a JSON message, at once; no 500, no file bytes, no file outside ``.dataops/runs``.

No kernel runs here: every request is refused (or answered) before a step would start.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import builders
import pytest
import tornado.httpclient
import yaml

from jupyter_dataops.pipeline.definition.secret_params import MAX_VALUE_CHARS
from jupyter_dataops.server.handlers import MAX_BODY_BYTES
from jupyter_dataops.store import open_store

pytest_plugins = ["pytest_jupyter.jupyter_server"]


@pytest.fixture
def jp_server_config():
    return {"ServerApp": {"jpserver_extensions": {"jupyter_dataops.server": True}}}


def write_project(root: Path) -> Path:
    builders.write_notebook(root / "orders.ipynb", 'run_date = "2024-01-01"\n', "print(run_date)")
    (root / "dataops.yaml").write_text(
        yaml.safe_dump({"pipeline": "shop", "steps": {"orders": {"notebook": "orders.ipynb"}}}),
        encoding="utf-8",
    )
    return root


def seed_run(root: Path, notebook_path: str | None) -> int:
    """One recorded step run whose executed notebook is ``notebook_path`` (as the store holds it)."""
    with open_store(root) as store:
        store.upsert_pipeline("shop", project_dir=str(root))
        store.upsert_step("shop", "orders", notebook="orders.ipynb")
        prid = store.create_pipeline_run("shop")
        srid = store.create_step_run(prid, "orders")
        store.start_step_run(srid, notebook_path=notebook_path)
        store.finish_step_run(srid, "success")
        store.finish_pipeline_run(prid)
    return srid


async def refused(jp_fetch, *parts: str, **kwargs) -> tuple[int, str]:
    """The status and JSON message of a request that must be refused."""
    with pytest.raises(tornado.httpclient.HTTPClientError) as info:
        await jp_fetch(*parts, request_timeout=60, **kwargs)
    body = info.value.response.body.decode()
    return info.value.code, json.loads(body)["message"]


async def test_a_body_over_the_limit_is_refused_with_413_at_once(jp_fetch, jp_root_dir):
    write_project(Path(jp_root_dir))
    body = json.dumps({"parameters": {"run_date": "x" * (MAX_BODY_BYTES + 10)}})
    code, message = await refused(
        jp_fetch, "dataops", "api", "steps", "orders", "run", method="POST", body=body
    )
    assert code == 413 and f"{MAX_BODY_BYTES:,}" in message
    assert "xxxxxxxx" not in message


async def test_a_parameter_over_the_limit_is_refused_before_any_run(jp_fetch, jp_root_dir):
    root = write_project(Path(jp_root_dir))
    long_value = "2024-" + "9" * (MAX_VALUE_CHARS + 1)
    for parts in (("steps", "orders", "run"), ("promote",)):
        body = {"parameters": {"run_date": long_value}, "notebook": "orders.ipynb", "step": "s"}
        code, message = await refused(
            jp_fetch, "dataops", "api", *parts, method="POST", body=json.dumps(body)
        )
        assert code == 400, message
        assert f"limit of {MAX_VALUE_CHARS:,}" in message and "99999999" not in message
    assert not (root / ".dataops").exists()  # nothing ran, no store was made


@pytest.mark.parametrize(
    "body",
    [
        "[" * 100_000 + "]" * 100_000,
        '{"parameters": ' * 50_000 + "1" + "}" * 50_000,
        '{"parameters": {"n": ' + "9" * 5_000 + "}}",
    ],
    ids=["deep-list", "deep-object", "long-number"],
)
async def test_deeply_nested_or_unreadable_json_is_a_400(jp_fetch, jp_root_dir, body):
    write_project(Path(jp_root_dir))
    code, message = await refused(
        jp_fetch, "dataops", "api", "steps", "orders", "run", method="POST", body=body
    )
    assert code == 400 and "JSON" in message


@pytest.mark.parametrize("run_id", ["99999999999999999999999", "9223372036854775808", "9" * 5000])
async def test_a_run_id_larger_than_any_stored_id_is_404(jp_fetch, jp_root_dir, run_id):
    write_project(Path(jp_root_dir))
    for tail in ((), ("notebook",)):
        code, _ = await refused(jp_fetch, "dataops", "api", "runs", run_id, *tail)
        assert code == 404


@pytest.mark.parametrize(
    "query", [{"offset": "99999999999999999999999"}, {"limit": "9" * 5000}, {"offset": "-1"}]
)
async def test_huge_or_negative_paging_is_a_400(jp_fetch, jp_root_dir, query):
    write_project(Path(jp_root_dir))
    code, message = await refused(jp_fetch, "dataops", "api", "runs", params=query)
    assert code == 400 and "9" * 50 not in message


async def test_a_non_utf8_pipeline_file_is_reported_not_a_500(jp_fetch, jp_root_dir):
    root = write_project(Path(jp_root_dir))
    (root / "dataops.yaml").write_bytes(b"pipeline: shop\nsteps:\n  or\xffders: {}\n")
    answer = json.loads((await jp_fetch("dataops", "api", "pipelines")).body)
    assert answer["pipelines"] == []
    assert "line 3" in answer["hint"] and "0xff" in answer["hint"] and "UTF-8" in answer["hint"]
    for parts in (("status",), ("runs",), ("grid",)):
        response = await jp_fetch("dataops", "api", *parts, raise_error=False)
        assert response.code < 500, (parts, response.body)
    code, _ = await refused(jp_fetch, "dataops", "api", "runs", "1")
    assert code == 404


async def test_a_symlink_out_of_the_runs_folder_is_not_served(jp_fetch, jp_root_dir, tmp_path):
    root = write_project(Path(jp_root_dir))
    outside = builders.write_notebook(tmp_path / "elsewhere" / "private.ipynb", "token = 'x1'\n")
    link = root / ".dataops" / "runs" / "1" / "orders.ipynb"
    link.parent.mkdir(parents=True)
    link.symlink_to(outside)
    srid = seed_run(root, str(link))
    code, message = await refused(jp_fetch, "dataops", "api", "runs", str(srid), "notebook")
    assert code == 404 and "x1" not in message and "only notebooks kept in" in message

    # a regular notebook in the runs folder is served (the route still works)
    link.unlink()
    builders.write_notebook(link, "token = 'in-runs'\n")
    model = json.loads((await jp_fetch("dataops", "api", "runs", str(srid), "notebook")).body)
    assert model["content"]["cells"][0]["source"] == "token = 'in-runs'\n"


@pytest.mark.parametrize(
    "stored", ["/etc/passwd", "../../outside.ipynb", "orders.ipynb", ".dataops/runs/../../x.ipynb"]
)
async def test_a_stored_path_outside_the_runs_folder_is_404_without_its_bytes(
    jp_fetch, jp_root_dir, stored
):
    root = write_project(Path(jp_root_dir))
    srid = seed_run(root, stored)
    code, message = await refused(jp_fetch, "dataops", "api", "runs", str(srid), "notebook")
    assert code == 404
    if os.path.exists("/etc/passwd"):
        first = Path("/etc/passwd").read_text()[:8]
        assert first not in message


async def test_a_damaged_kept_notebook_is_a_400_that_quotes_none_of_it(jp_fetch, jp_root_dir):
    root = write_project(Path(jp_root_dir))
    kept = root / ".dataops" / "runs" / "1" / "orders.ipynb"
    kept.parent.mkdir(parents=True)
    kept.write_text("root:x:0:0:secret-line-of-a-file\n")
    srid = seed_run(root, str(kept))
    code, message = await refused(jp_fetch, "dataops", "api", "runs", str(srid), "notebook")
    assert code == 400 and "secret-line" not in message and "not a readable notebook" in message


@pytest.mark.parametrize("text", ["", "pipeline: shop\n", "pipeline: shop\nsteps: {}\n"])
async def test_a_pipeline_file_without_steps_is_explained_and_creates_no_store(
    jp_fetch, jp_root_dir, text
):
    root = write_project(Path(jp_root_dir))
    (root / "dataops.yaml").write_text(text, encoding="utf-8")
    answer = json.loads((await jp_fetch("dataops", "api", "pipelines")).body)
    assert answer["pipelines"] == [] and "dataops promote NOTEBOOK --step NAME" in answer["hint"]
    code, message = await refused(
        jp_fetch, "dataops", "api", "steps", "orders", "run", method="POST", body="{}"
    )
    assert code == 404 and "steps:" in message and "dataops.yaml" in message
    assert not (root / ".dataops").exists()


async def test_a_path_no_route_takes_is_a_json_404_and_a_wrong_method_a_405_saying_allow(
    jp_fetch, jp_root_dir
):
    """Found by tests/server/test_api_fuzz.py: these were the server's HTML 404 page, a 405
    without ``Allow`` and (run 0) a 400 from the store."""
    write_project(Path(jp_root_dir))
    for parts in (("steps", "0bad", "metrics"), ("runs", "-1"), ("nope",), ("runs", "0")):
        code, message = await refused(jp_fetch, "dataops", "api", *parts)
        assert code == 404 and message, parts
    with pytest.raises(tornado.httpclient.HTTPClientError) as info:
        await jp_fetch("dataops", "api", "runs", method="DELETE")
    assert info.value.code == 405 and info.value.response.headers["Allow"] == "GET"
    assert "message" in json.loads(info.value.response.body)


@pytest.mark.parametrize("notebook", ["orders\x00.ipynb", "\udbc6\udf28.ipynb", "a\udc80.ipynb"])
async def test_a_notebook_path_no_file_can_have_is_a_400(jp_fetch, jp_root_dir, notebook):
    """Found by the API fuzz: a NUL byte or a lone surrogate in the path was a 500."""
    write_project(Path(jp_root_dir))
    body = json.dumps({"notebook": notebook, "step": "orders"})
    code, message = await refused(jp_fetch, "dataops", "api", "promote", method="POST", body=body)
    assert code in (400, 404) and "notebook" in message
