"""FeatureStore.apply / plan / teardown / list_* on the built example (in-process, DuckDB)."""
from __future__ import annotations

import sqlite3
from contextlib import closing
from datetime import datetime, timezone
from pathlib import Path

import pytest

from featsql.errors import FeatsqlError
from featsql.store import FeatureStore
from tests.support import edit_schema, invoke, model, service_meta, view_meta
from tests.support import online_tables as sqlite_tables


def online_tables(repo: Path) -> set[str]:
    return sqlite_tables(repo / "data" / "online.db")


def test_plan_writes_nothing(repo: Path) -> None:
    store = FeatureStore(repo_path=repo)
    plan = store.plan(parse=False)
    assert plan.summary() == "5 added, 0 changed, 0 removed"
    assert sorted(c.name for c in plan.effective) == [
        "driver", "driver_hourly_stats", "driver_ranking_v1", "location", "location_stats"]
    assert not (repo / "data" / "registry.json").exists()
    assert not (repo / "data" / "online.db").exists()
    assert store.list_feature_views() == []


def test_apply_then_lists_and_lookups(repo: Path) -> None:
    store = FeatureStore(config_path=repo / "featsql.yml")
    store.apply(parse=False)
    assert [v.name for v in store.list_feature_views()] == ["driver_hourly_stats", "location_stats"]
    assert [e.name for e in store.list_entities()] == ["driver", "location"]
    assert [s.name for s in store.list_feature_services()] == ["driver_ranking_v1"]
    assert store.get_feature_service("driver_ranking_v1").feature_refs == [
        "driver_hourly_stats:conv_rate", "driver_hourly_stats:acc_rate", "origin:avg_wait",
        "destination:avg_wait"]
    view = store.get_feature_view("driver_hourly_stats")
    assert view.join_keys == ["driver_id"] and view.ttl.total_seconds() == 86400
    assert view.relation.parts() == ["warehouse", "main", "driver_hourly_stats"]
    with pytest.raises(FeatsqlError, match=r"unknown feature view 'driver_stats' \(did you mean "
                                           r"'driver_hourly_stats'\?\)"):
        store.get_feature_view("driver_stats")
    # a second store reads the same registry
    again = FeatureStore(repo_path=repo)
    assert again.list_feature_views() == store.list_feature_views()
    assert again.plan(parse=False).effective == []
    store.close()


def test_lookups_before_apply_say_what_to_do(repo: Path) -> None:
    with pytest.raises(FeatsqlError, match=r"unknown feature service 'svc'; run `featsql apply` first"):
        FeatureStore(repo_path=repo).get_feature_service("svc")


def test_online_false_drops_the_online_table(applied_repo: Path) -> None:
    assert online_tables(applied_repo) == {"driver_ranking__driver_hourly_stats",
                                           "driver_ranking__location_stats"}
    edit_schema(applied_repo, lambda doc: view_meta(doc, "location_stats").update(online=False))
    result = invoke("apply", cwd=applied_repo)
    assert result.exit_code == 0, result.output
    assert "~ feature view location_stats: changed (online)" in result.stdout
    assert online_tables(applied_repo) == {"driver_ranking__driver_hourly_stats"}
    listed = invoke("list", "feature-views", cwd=applied_repo).stdout.splitlines()
    assert listed[2].split()[:5] == ["location_stats", "location_id", "avg_wait", "12h", "no"]
    teardown = invoke("teardown", cwd=applied_repo)
    assert teardown.stdout.splitlines()[0] == "removed online table driver_ranking__driver_hourly_stats"


def test_removing_a_declaration_removes_the_view_its_table_and_watermark(applied_repo: Path) -> None:
    store = FeatureStore(repo_path=applied_repo)
    from featsql.materialize import watermark_key

    for name, day in (("location_stats", 2), ("driver_hourly_stats", 3)):
        store.registry.set_watermark(watermark_key(name, store.online_store),
                                     datetime(2025, 1, day, tzinfo=timezone.utc))

    def drop_location_stats(doc: dict) -> None:
        model(doc, "location_stats")["config"].pop("meta")
        service_meta(doc)["features"] = ["driver_hourly_stats:*"]

    edit_schema(applied_repo, drop_location_stats)
    result = invoke("apply", cwd=applied_repo)
    assert result.exit_code == 0, result.output
    assert result.stdout.splitlines() == [
        "- entity location: removed",
        "- feature view location_stats: removed",
        "~ feature service driver_ranking_v1: changed (projections)",
        f"Applied: 0 added, 1 changed, 2 removed (registry {applied_repo / 'data' / 'registry.json'}).",
    ]
    assert online_tables(applied_repo) == {"driver_ranking__driver_hourly_stats"}
    state = store.registry.load()
    assert list(store.watermarks(state.watermarks)) == ["driver_hourly_stats"]
    assert store.get_feature_service("driver_ranking_v1").feature_refs == [
        "driver_hourly_stats:conv_rate", "driver_hourly_stats:acc_rate",
        "driver_hourly_stats:avg_daily_trips"]


def test_a_new_feature_column_reaches_the_online_table(applied_repo: Path) -> None:
    edit_schema(applied_repo, lambda doc: view_meta(doc, "driver_hourly_stats").update(
        features=["conv_rate", "acc_rate", "avg_daily_trips", "created"],
        created_timestamp_field=None))
    result = invoke("plan", cwd=applied_repo)
    [line, _] = result.stdout.splitlines()
    assert line.startswith("~ feature view driver_hourly_stats: changed (created_timestamp_dtype,"
                           " created_timestamp_field, ")
    assert line.endswith(", features +created); online table rebuilt, incremental restarts from the oldest row")
    assert invoke("apply", cwd=applied_repo).exit_code == 0
    with closing(sqlite3.connect(applied_repo / "data" / "online.db")) as con:
        columns = [r[1] for r in con.execute("PRAGMA table_info(driver_ranking__driver_hourly_stats)")]
    assert "created" in columns


def test_teardown_is_idempotent(applied_repo: Path) -> None:
    store = FeatureStore(repo_path=applied_repo)
    report = store.teardown()
    assert report.online_tables == ["driver_ranking__driver_hourly_stats",
                                    "driver_ranking__location_stats"]
    assert report.registry == str(applied_repo / "data" / "registry.json")
    assert store.list_feature_views() == []
    assert store.teardown().lines() == ["no registry to remove"]
