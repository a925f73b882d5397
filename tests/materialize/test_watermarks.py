"""Watermarks describe what they claim: they belong to one online store, a store that lost its
data is refilled, an END in the future is refused, and an apply during a run keeps the run's
watermark from moving. Through the SDK on dbt-free repos (tests/online/stores.py)."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest
import yaml

from featsql.errors import FeatsqlError
from featsql.store import FeatureStore
from tests.online.data import BASE, driver_stats, latest
from tests.online.stores import REDIS_URL, ViewSpec, load_table, make_repo, register, store_section

END = BASE + timedelta(days=10)
IDS = list(range(1001, 1041))


def _repo(tmp_path: Path, kind: str = "sqlite", project: str | None = None) -> FeatureStore:
    project = project or f"wm_{abs(hash(str(tmp_path))) % 10**8}"
    repo = make_repo(tmp_path / "repo", store_section(kind, tmp_path / "repo"), project=project)
    store = FeatureStore(repo_path=repo)
    load_table(store, "driver_stats", driver_stats())
    register(store, [ViewSpec("stats", "driver_stats", ["driver_id"])])
    return store


def _values(store: FeatureStore) -> list:
    return store.get_online_features(["stats:conv_rate"], [{"driver_id": i} for i in IDS]).to_dict()["conv_rate"]


def _switch(store: FeatureStore, section: dict) -> FeatureStore:
    path = store.config.config_file
    doc = yaml.safe_load(path.read_text())
    doc["online_store"] = section
    path.write_text(yaml.safe_dump(doc))
    store.close()
    switched = FeatureStore(repo_path=path.parent)
    switched.online_store.create(switched.list_feature_views())  # what apply does for a store
    return switched


@pytest.mark.redis
def test_a_store_switch_starts_the_new_store_from_the_oldest_row(tmp_path: Path, redis_db) -> None:
    store = _repo(tmp_path)
    (run,) = store.materialize_incremental(END)
    expected = [latest(driver_stats(), ["driver_id"], None, END)[(i,)]["conv_rate"] for i in IDS]
    assert run.start is None and _values(store) == expected
    redis = _switch(store, {"type": "redis", "connection_string": REDIS_URL})
    try:
        assert redis.watermark("stats") is None  # the sqlite watermark is not redis's
        (run,) = redis.materialize_incremental(END)
        assert run.start is None and run.rows > 0
        assert _values(redis) == expected
        assert redis.watermark("stats") == END.replace(tzinfo=timezone.utc)
        # and back: sqlite still has its own watermark and its data
        back = _switch(redis, store_section("sqlite", tmp_path / "repo"))
        (run,) = back.materialize_incremental(END)
        assert run.start == END.replace(tzinfo=timezone.utc) and _values(back) == expected
        back.close()
    finally:
        redis.online_store.drop(redis.list_feature_views())


def test_a_wiped_sqlite_store_is_refilled(tmp_path: Path) -> None:
    store = _repo(tmp_path)
    store.materialize_incremental(END)
    full = _values(store)
    (run,) = store.materialize_incremental(END)
    assert run.start == END.replace(tzinfo=timezone.utc) and run.rows == 0  # from the watermark
    store.close()
    (tmp_path / "repo" / "online.db").unlink()  # the data is gone; the watermark is not
    store = FeatureStore(repo_path=tmp_path / "repo")
    store.online_store.create(store.list_feature_views())  # what the next apply does
    (run,) = store.materialize_incremental(END)
    assert run.start is None and not run.skipped
    assert _values(store) == full


@pytest.mark.redis
def test_a_flushed_redis_is_refilled(tmp_path: Path, redis_db) -> None:
    store = _repo(tmp_path, "redis")
    try:
        store.materialize_incremental(END)
        full = _values(store)
        for key in redis_db.scan_iter(match=f"{store.config.project}:*"):  # this project's keys only
            redis_db.delete(key)
        assert _values(store) == [None] * len(IDS)
        (run,) = store.materialize_incremental(END)
        assert run.start is None and _values(store) == full
    finally:
        store.online_store.drop(store.list_feature_views())


def test_a_future_end_is_refused_and_now_is_accepted(tmp_path: Path) -> None:
    store = _repo(tmp_path)
    future = datetime.now(timezone.utc) + timedelta(days=365)
    with pytest.raises(FeatsqlError, match="is in the future .* give a time up to now, or `now`"):
        store.materialize(BASE, future)
    with pytest.raises(FeatsqlError, match="is in the future"):
        store.materialize_incremental(future)
    assert store.watermark("stats") is None
    (run,) = store.materialize_incremental("now")
    assert abs((run.end - datetime.now(timezone.utc)).total_seconds()) < 60
    later = END + timedelta(days=1)  # an older END after `now`: nothing to do, nothing moves back
    (run,) = store.materialize_incremental(later)
    assert run.skipped and store.watermark("stats") > later.replace(tzinfo=timezone.utc)


def test_an_apply_during_a_run_keeps_its_watermark(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import featsql.materialize as m

    store = _repo(tmp_path)
    real = m._write_view

    def write_then_apply(wh, online, view, run, progress, shard=None):
        real(wh, online, view, run, progress, shard)
        # meanwhile someone applies a new feature list for the view
        register(store, [ViewSpec("stats", "driver_stats", ["driver_id"], meta={"features": ["conv_rate"]})])

    monkeypatch.setattr(m, "_write_view", write_then_apply)
    (run,) = store.materialize_incremental(END)
    assert run.view_changed and "watermark not moved" in run.line()
    assert store.watermark("stats") is None
