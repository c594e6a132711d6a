"""Store.rename_pipeline: a pipeline's history moves to a new name whole (issue 25, item 1)."""

from __future__ import annotations

import pytest

from jupyter_dataops.errors import StoreError


def test_a_rename_moves_runs_alerts_and_the_folder_name(store, tmp_path):
    store.upsert_pipeline("shop", project_dir=str(tmp_path))
    prid = store.create_pipeline_run("shop", parameters={"day": "2026-09-01"})
    store.create_step_run(prid, "orders", parameters={"day": "2026-09-01"})
    store.record_alert(
        pipeline="shop", event="failure", channel="webhook", target="x", status="sent"
    )
    assert store.pipeline_names_in(tmp_path) == ["shop"]

    store.rename_pipeline("shop", "orders")

    assert store.pipeline_names_in(tmp_path) == ["orders"]
    [run] = store.list_runs(pipeline="orders")
    assert run["step"] == "orders" and run["parameters"] == {"day": "2026-09-01"}
    assert store.list_runs(pipeline="shop") == []
    assert [a["event"] for a in store.list_alerts(pipeline="orders")] == ["failure"]


def test_a_rename_never_merges_two_histories_nor_invents_one(store):
    store.upsert_pipeline("shop")
    store.upsert_pipeline("orders")
    with pytest.raises(StoreError, match="already has history"):
        store.rename_pipeline("shop", "orders")
    with pytest.raises(StoreError, match="no pipeline 'nosuch'"):
        store.rename_pipeline("nosuch", "other")
    assert sorted(p["name"] for p in store.list_pipelines()) == ["orders", "shop"]
