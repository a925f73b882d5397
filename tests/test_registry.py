"""The file registry: round trips, one watermark row per view, atomic writes, clear errors."""
from __future__ import annotations

import json
import os
from datetime import datetime, timezone
from pathlib import Path

import pytest

from featsql.config import RepoConfig
from featsql.definitions import Definitions, Entity, Feature, FeatureView, Relation
from featsql.errors import FeatsqlError
from featsql.plan import make_plan
from featsql.registry import FileRegistry, open_registry


def view(name: str = "driver_hourly_stats", ttl: int | None = 86400, **kw) -> FeatureView:
    return FeatureView(
        name=name, entities=(Entity(name="driver", join_key="driver_id"),),
        timestamp_field="event_timestamp", ttl_seconds=ttl,
        features=kw.pop("features", (Feature(name="conv_rate", dtype="float", warehouse_type="DOUBLE"),)),
        relation=Relation(database="warehouse", schema_name="main", identifier=name), **kw)


def defs(*views: FeatureView) -> Definitions:
    return Definitions(entities={"driver": views[0].entities[0]} if views else {},
                       feature_views={v.name: v for v in views})


@pytest.fixture
def registry(tmp_path: Path) -> FileRegistry:
    return FileRegistry(tmp_path / "data" / "registry.json", project="driver_ranking")


def apply(registry: FileRegistry, wanted: Definitions):
    plan = make_plan(registry.load(), wanted)
    registry.commit(plan.new_state)
    return plan


def test_empty_until_committed(registry: FileRegistry) -> None:
    state = registry.load()
    assert state.is_empty() and state.watermarks == {} and not registry.path.exists()
    assert registry.delete() is False


def test_round_trip_with_versions(registry: FileRegistry) -> None:
    apply(registry, defs(view()))
    state = registry.load()
    assert state.definitions() == defs(view())
    assert state.objects["feature_views"]["driver_hourly_stats"].version == 1
    assert state.updated_at is not None and state.updated_at.tzinfo is not None
    doc = json.loads(registry.path.read_text())
    assert doc["format"] == 2 and doc["project"] == "driver_ranking"

    plan = apply(registry, defs(view(ttl=3600)))
    assert [(c.name, c.action, c.fields) for c in plan.effective] == [
        ("driver_hourly_stats", "changed", ["ttl_seconds"])]
    assert registry.load().objects["feature_views"]["driver_hourly_stats"].version == 2
    assert apply(registry, defs(view(ttl=3600))).effective == []
    assert registry.load().objects["feature_views"]["driver_hourly_stats"].version == 2


def test_one_watermark_row_per_view(registry: FileRegistry) -> None:
    apply(registry, defs(view(), view("location_stats")))
    for day in range(1, 6):
        registry.set_watermark("driver_hourly_stats", datetime(2025, 1, day, tzinfo=timezone.utc))
    registry.set_watermark("location_stats", datetime(2025, 1, 2, tzinfo=timezone.utc))
    doc = json.loads(registry.path.read_text())
    assert doc["watermarks"] == {"driver_hourly_stats": "2025-01-05T00:00:00+00:00",
                                 "location_stats": "2025-01-02T00:00:00+00:00"}
    assert registry.load().watermarks["driver_hourly_stats"] == datetime(2025, 1, 5, tzinfo=timezone.utc)
    # a re-apply keeps watermarks; removing a view drops its row
    apply(registry, defs(view()))
    assert set(registry.load().watermarks) == {"driver_hourly_stats"}


def test_a_crash_during_the_rename_leaves_the_old_file(registry: FileRegistry,
                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    apply(registry, defs(view()))
    before = registry.path.read_bytes()

    def crash(src, dst):
        raise OSError("disk went away")

    monkeypatch.setattr(os, "replace", crash)
    with pytest.raises(OSError, match="disk went away"):
        apply(registry, defs(view(ttl=60)))
    assert registry.path.read_bytes() == before
    assert sorted(p.name for p in registry.path.parent.iterdir()) == ["registry.json"], "temp file left"


def test_a_crash_while_writing_leaves_the_old_file(registry: FileRegistry,
                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    apply(registry, defs(view()))
    before = registry.path.read_bytes()

    def crash(fd):
        raise KeyboardInterrupt  # e.g. Ctrl-C half way through

    monkeypatch.setattr(os, "fsync", crash)
    with pytest.raises(KeyboardInterrupt):
        registry.set_watermark("driver_hourly_stats", datetime(2025, 1, 1, tzinfo=timezone.utc))
    assert registry.path.read_bytes() == before
    assert [p.name for p in registry.path.parent.iterdir()] == ["registry.json"]


def test_the_file_is_replaced_never_rewritten_in_place(registry: FileRegistry) -> None:
    apply(registry, defs(view()))
    inode = registry.path.stat().st_ino
    apply(registry, defs(view(ttl=60)))
    assert registry.path.stat().st_ino != inode


def test_another_projects_registry_is_refused(registry: FileRegistry) -> None:
    apply(registry, defs(view()))
    other = FileRegistry(registry.path, project="staging")
    with pytest.raises(FeatsqlError, match="registry belongs to project 'driver_ranking', "
                                           "featsql.yml says 'staging'"):
        other.load()


def test_a_corrupt_file_is_a_clear_error(registry: FileRegistry) -> None:
    registry.path.parent.mkdir(parents=True)
    registry.path.write_text('{"project": "driver_ranking", ')
    with pytest.raises(FeatsqlError, match=r"registry.json: registry is not valid JSON"):
        registry.load()


def test_a_json_file_that_is_not_a_registry(registry: FileRegistry) -> None:
    registry.path.parent.mkdir(parents=True)
    registry.path.write_text("[1, 2]")
    with pytest.raises(FeatsqlError, match=r"registry.json: not a featsql registry"):
        registry.load()


def test_delete(registry: FileRegistry) -> None:
    apply(registry, defs(view()))
    assert registry.delete() is True
    assert not registry.path.exists()
    assert registry.load().is_empty()


def test_open_registry_resolves_paths_and_refuses_sql_urls(tmp_path: Path) -> None:
    config = RepoConfig(project="p", registry="state/reg.json", repo_path=tmp_path)
    reg = open_registry(config)
    assert isinstance(reg, FileRegistry) and reg.path == tmp_path / "state" / "reg.json"
    sql = RepoConfig(project="p", registry="postgresql://u@h/db", repo_path=tmp_path)
    with pytest.raises(FeatsqlError, match="SQL registries are not available"):
        open_registry(sql)


def test_a_registry_from_the_previous_release_is_upgraded_by_apply(applied_repo) -> None:
    """Format 1 (types as warehouse type names): every command but apply says in one line to run
    `featsql apply`; apply upgrades it in place (types read again from the warehouse)."""
    import json

    from tests.support import invoke

    path = applied_repo / "data" / "registry.json"
    doc = json.loads(path.read_text())
    doc["format"] = 1
    for entry in doc["feature_views"].values():
        spec = entry["spec"]
        for key in ("timestamp_dtype", "created_timestamp_dtype", "timestamp_offset_seconds",
                    "join_key_sql_types"):
            spec.pop(key, None)
        spec["timestamp_type"] = spec["created_timestamp_type"] = "TIMESTAMP"
        for f in spec["features"]:
            f.pop("precision", None), f.pop("scale", None)
    path.write_text(json.dumps(doc))
    result = invoke("list", "feature-views", cwd=applied_repo)
    assert result.exit_code == 1 and result.stderr.strip() == (
        f"error: {path}: written by an older featsql (format 1); run `featsql apply` to upgrade it")
    result = invoke("apply", "--no-parse", cwd=applied_repo)
    assert result.exit_code == 0, result.output
    assert json.loads(path.read_text())["format"] == 2
    assert invoke("list", "feature-views", cwd=applied_repo).exit_code == 0
