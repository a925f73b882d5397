"""The file registry: round trips, one watermark row per view, atomic writes, clear errors."""
from __future__ import annotations

import json
import os
from datetime import datetime, timedelta, timezone
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


def _files(registry: FileRegistry) -> list[str]:
    """The registry's directory, without its lock file (which stays, empty)."""
    return sorted(p.name for p in registry.path.parent.iterdir() if not p.name.endswith(".lock"))


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
    assert _files(registry) == ["registry.json"], "temp file left"


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
    assert _files(registry) == ["registry.json"]


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


def test_open_registry_resolves_paths_and_sql_urls(tmp_path: Path) -> None:
    from featsql.registry.sql import SqlRegistry

    config = RepoConfig(project="p", registry="state/reg.json", repo_path=tmp_path)
    reg = open_registry(config)
    assert isinstance(reg, FileRegistry) and reg.path == tmp_path / "state" / "reg.json"
    sql = open_registry(RepoConfig(project="p", registry="sqlite:///state/reg.db", repo_path=tmp_path))
    assert isinstance(sql, SqlRegistry) and sql.url == f"sqlite:///{tmp_path}/state/reg.db"
    pg = open_registry(RepoConfig(project="p", registry="postgresql://u:secret@h/db", repo_path=tmp_path))
    assert "secret" not in pg.location and str(pg.engine.url).startswith("postgresql+psycopg://")
    with pytest.raises(FeatsqlError, match="mysql\\+pymysql://"):
        open_registry(RepoConfig(project="p", registry="mysql+nodriver://u@h/db", repo_path=tmp_path))


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



# -- every registry: the file and SQL databases (PostgreSQL, MariaDB, SQLite) ----------------------

import multiprocessing  # noqa: E402
import uuid  # noqa: E402

from featsql.registry import RegistryConflict, migrate  # noqa: E402
from tests.support import require_service  # noqa: E402

PG = "postgresql://postgres@127.0.0.1:5432/{db}"
MARIA = "mysql+pymysql://root@127.0.0.1:3306/{db}"


def _server_database(kind: str) -> tuple[str, object]:
    """A fresh database on the server (dropped by the returned callable)."""
    name = f"featsql_reg_{uuid.uuid4().hex[:10]}"
    if kind == "postgresql":
        import psycopg

        def connect():
            return psycopg.connect("host=127.0.0.1 port=5432 user=postgres dbname=postgres",
                                   autocommit=True, connect_timeout=3)
        with require_service("postgres", connect) as con:
            con.execute(f'create database "{name}"')

        def drop() -> None:
            with connect() as con:
                con.execute(f'drop database if exists "{name}" with (force)')
        return PG.format(db=name), drop
    import pymysql

    def connect_maria():
        return pymysql.connect(host="127.0.0.1", port=3306, user="root", password="", connect_timeout=3,
                               autocommit=True)
    con = require_service("mariadb", connect_maria)
    con.cursor().execute(f"create database `{name}`")
    con.close()

    def drop_maria() -> None:
        c = connect_maria()
        c.cursor().execute(f"drop database if exists `{name}`")
        c.close()
    return MARIA.format(db=name), drop_maria


@pytest.fixture(params=["file", "sqlite", pytest.param("postgresql", marks=pytest.mark.postgres),
                        pytest.param("mariadb", marks=pytest.mark.mariadb)])
def any_registry(request: pytest.FixtureRequest, tmp_path: Path):
    from featsql.registry.sql import SqlRegistry

    if request.param == "file":
        yield FileRegistry(tmp_path / "registry.json", project="driver_ranking")
        return
    if request.param == "sqlite":
        yield SqlRegistry(f"sqlite:///{tmp_path}/registry.db", project="driver_ranking")
        return
    url, drop = _server_database(request.param)
    reg = SqlRegistry(url, project="driver_ranking")
    try:
        yield reg
    finally:
        reg.engine.dispose()
        drop()


def _registry_like(reg, project: str = "driver_ranking"):
    from featsql.registry.sql import SqlRegistry

    return (FileRegistry(reg.path, project) if isinstance(reg, FileRegistry)
            else SqlRegistry(reg.url, project))


UTC = timezone.utc


def test_every_registry_round_trips_objects_versions_and_watermarks(any_registry) -> None:
    reg = any_registry
    assert reg.load().is_empty() and reg.load().version == 0
    apply(reg, defs(view(), view("location_stats")))
    state = reg.load()
    assert state.version == 1 and state.objects["feature_views"]["driver_hourly_stats"].version == 1
    assert state.definitions().feature_views["location_stats"] == view("location_stats")
    apply(reg, defs(view(ttl=3600), view("location_stats")))
    assert reg.load().view_version("driver_hourly_stats") == 2
    # watermarks: one per view, forward only
    for day in (3, 5, 4):
        assert reg.set_watermark("driver_hourly_stats", datetime(2025, 1, day, tzinfo=UTC))
    reg.set_watermark("location_stats", datetime(2025, 1, 2, 12, 30, 0, 123456, tzinfo=UTC))
    assert reg.load().watermarks == {"driver_hourly_stats": datetime(2025, 1, 5, tzinfo=UTC),
                                     "location_stats": datetime(2025, 1, 2, 12, 30, 0, 123456, tzinfo=UTC)}
    # an apply keeps them (even ones set after it loaded); a removed or reshaped view drops its own
    stale = reg.load()
    reg.set_watermark("driver_hourly_stats", datetime(2025, 1, 9, tzinfo=UTC))
    plan = make_plan(stale, defs(view(ttl=3600)))
    reg.commit(plan.new_state)
    assert reg.load().watermarks == {"driver_hourly_stats": datetime(2025, 1, 9, tzinfo=UTC)}
    reshaped = make_plan(reg.load(), defs(view(ttl=3600, features=(
        Feature(name="acc_rate", dtype="float", warehouse_type="DOUBLE"),))))
    reg.commit(reshaped.new_state)
    assert reg.load().watermarks == {}
    assert reg.delete() is True and reg.load().is_empty()


def test_every_registry_refuses_a_lost_update_and_a_stale_watermark(any_registry) -> None:
    reg = any_registry
    apply(reg, defs(view()))
    first, second = reg.load(), reg.load()
    reg.commit(make_plan(first, defs(view(ttl=60))).new_state)
    with pytest.raises(RegistryConflict, match="another apply committed"):
        reg.commit(make_plan(second, defs(view(ttl=120))).new_state)
    assert reg.load().definitions().feature_views["driver_hourly_stats"].ttl_seconds == 60
    # a materialization that read version 2 of the view, after an apply made it version 3
    read = reg.load().view_version("driver_hourly_stats")
    apply(reg, defs(view(ttl=60, features=(Feature(name="acc_rate", dtype="float", warehouse_type="DOUBLE"),))))
    assert reg.set_watermark("driver_hourly_stats", datetime(2025, 1, 1, tzinfo=UTC), read) is False
    assert reg.load().watermarks == {}
    # projects share a database without seeing each other
    other = _registry_like(reg, "other_project")
    if not isinstance(reg, FileRegistry):
        assert other.load().is_empty()


def _race(url_or_path: str, kind: str, worker: int, rounds: int, queue) -> None:
    """A process applying its own ttl and moving a watermark, many times."""
    from featsql.registry.sql import SqlRegistry

    reg = FileRegistry(Path(url_or_path), "driver_ranking") if kind == "file" else SqlRegistry(url_or_path, "driver_ranking")
    committed = []
    for i in range(rounds):
        ttl = 1000 * worker + i + 1
        while True:
            try:
                state = reg.load()
                reg.commit(make_plan(state, defs(view(ttl=ttl), view("location_stats"))).new_state)
                committed.append(ttl)
                break
            except RegistryConflict:
                continue
        reg.set_watermark("location_stats", datetime(2025, 1, 1, tzinfo=UTC) + timedelta(hours=worker * rounds + i))
    queue.put(committed)


def test_concurrent_applies_and_watermarks_lose_nothing(any_registry) -> None:
    """4 processes x 5 applies + watermark moves: every apply lands exactly once (versions count
    them), the last committed is what is registered, and the watermark is the greatest set."""
    from datetime import timedelta as td

    reg = any_registry
    apply(reg, defs(view(ttl=999_999), view("location_stats")))
    target = str(reg.path) if isinstance(reg, FileRegistry) else reg.url
    kind = "file" if isinstance(reg, FileRegistry) else "sql"
    ctx = multiprocessing.get_context("spawn")
    queue = ctx.Queue()
    procs = [ctx.Process(target=_race, args=(target, kind, w, 5, queue)) for w in range(4)]
    for p in procs:
        p.start()
    results = [queue.get(timeout=120) for _ in procs]
    for p in procs:
        p.join(30)
    assert all(p.exitcode == 0 for p in procs)
    state = reg.load()
    assert sum(len(r) for r in results) == 20
    assert state.version == 21  # the first apply + 20, none lost
    assert state.objects["feature_views"]["driver_hourly_stats"].version == 21
    assert state.definitions().feature_views["driver_hourly_stats"].ttl_seconds in {r[-1] for r in results}
    assert state.watermarks["location_stats"] == datetime(2025, 1, 1, tzinfo=UTC) + td(hours=3 * 5 + 4)


def test_migrate_a_file_registry_into_sql(tmp_path: Path) -> None:
    from featsql.registry.sql import SqlRegistry

    source = FileRegistry(tmp_path / "registry.json", "driver_ranking")
    apply(source, defs(view(), view("location_stats")))
    source.set_watermark("driver_hourly_stats", datetime(2025, 1, 5, tzinfo=UTC))
    target = SqlRegistry(f"sqlite:///{tmp_path}/registry.db", "driver_ranking")
    assert migrate(source, target) == 3
    got, want = target.load(), source.load()
    assert got.objects == want.objects and got.watermarks == want.watermarks
    with pytest.raises(FeatsqlError, match="already holds project 'driver_ranking'"):
        migrate(source, target)


def test_registry_migrate_command_then_every_command_reads_sql(applied_repo: Path) -> None:
    """`featsql registry migrate --to sqlite:///...`, then `registry:` set to that URL."""
    import yaml

    from tests.support import invoke

    url = "sqlite:///data/registry.db"
    result = invoke("registry", "migrate", "--to", url, cwd=applied_repo)
    assert result.exit_code == 0, result.output
    assert "Copied 5 objects" in result.output
    config = applied_repo / "featsql.yml"
    doc = yaml.safe_load(config.read_text())
    doc["registry"] = url
    config.write_text(yaml.safe_dump(doc))
    listed = invoke("list", "feature-views", cwd=applied_repo)
    assert listed.exit_code == 0 and "driver_hourly_stats" in listed.output
    again = invoke("apply", "--no-parse", cwd=applied_repo)
    assert again.exit_code == 0 and "Applied: 0 added, 0 changed, 0 removed" in again.output
