"""Materialize -> get_online_features against SQLite, a real Redis and moto's DynamoDB server."""
from __future__ import annotations

from datetime import date, datetime, timedelta, timezone
from decimal import Decimal

import pyarrow as pa
import pytest

from featsql.errors import FeatsqlError
from featsql.serving import NOT_FOUND, OUTSIDE_MAX_AGE, PRESENT
from tests.online.data import BASE, driver_stats, latest
from tests.online.stores import ViewSpec, load_table, register

FEATURES = ["stats:conv_rate", "stats:trips", "stats:active", "stats:note"]
END = BASE + timedelta(days=10)
MID = BASE + timedelta(days=5)


def _setup(make_store, data=None, ttl=None):
    store = make_store()
    data = data if data is not None else driver_stats()
    load_table(store, "driver_stats", data)
    register(store, [ViewSpec("stats", "driver_stats", ["driver_id"], ttl_seconds=ttl)])
    return store, data


def _online(store, ids, features=FEATURES):
    return store.get_online_features(features, [{"driver_id": i} for i in ids])


def _check(resp, ids, expected):
    d = resp.to_dict()
    assert d["driver_id"] == ids
    for j, i in enumerate(ids):
        row = expected.get((i,))
        for f in ("conv_rate", "trips", "active", "note"):
            if row is None:
                assert d[f][j] is None and resp.statuses[f][j] == NOT_FOUND, (i, f)
            else:
                assert d[f][j] == row[f], (i, f, d[f][j], row[f])
                assert resp.statuses[f][j] == PRESENT
                assert resp.event_timestamps[f][j] == row["event_timestamp"].replace(tzinfo=timezone.utc)


def _snapshot(store, ids):
    r = _online(store, ids)
    return r.to_dict(), r.statuses, r.event_timestamps


IDS = list(range(1001, 1041)) + [99]


def test_materialize_equals_latest_rows(make_store):
    store, data = _setup(make_store)
    runs = store.materialize(BASE + timedelta(days=2), MID)
    expected = latest(data, ["driver_id"], BASE + timedelta(days=2), MID)
    assert runs[0].rows == len(expected)
    _check(_online(store, IDS), IDS, expected)
    assert store.watermark("stats") == MID.replace(tzinfo=timezone.utc)


def test_incremental_after_window_covers_whole_range(make_store):
    store, data = _setup(make_store)
    store.materialize(BASE, MID)
    runs = store.materialize_incremental(END)
    assert runs[0].start == MID.replace(tzinfo=timezone.utc)
    _check(_online(store, IDS), IDS, latest(data, ["driver_id"], None, END))
    assert store.watermark("stats") == END.replace(tzinfo=timezone.utc)


def test_first_incremental_starts_at_oldest_row_and_rerun_is_idempotent(make_store):
    store, data = _setup(make_store)
    store.materialize_incremental(END)
    before = _snapshot(store, IDS)
    store.materialize(BASE, END)
    store.materialize_incremental(END)
    assert _snapshot(store, IDS) == before
    _check(_online(store, IDS), IDS, latest(data, ["driver_id"], None, END))


def test_older_window_after_newer_changes_nothing(make_store):
    store, data = _setup(make_store)
    store.materialize(MID, END)
    before = _snapshot(store, IDS)
    store.materialize(BASE, MID - timedelta(hours=1))
    after = _snapshot(store, IDS)
    # Entities with no row in the newer window get the older window's value; others don't move.
    newer = latest(data, ["driver_id"], MID, END)
    for j, i in enumerate(IDS):
        if (i,) in newer:
            assert {k: v[j] for k, v in after[0].items()} == {k: v[j] for k, v in before[0].items()}
    # The watermark never moves back.
    assert store.watermark("stats") == END.replace(tzinfo=timezone.utc)


def test_failed_batch_leaves_watermark_and_rerun_completes(make_store, monkeypatch):
    store, data = _setup(make_store)
    online = store.online_store
    monkeypatch.setattr(online, "batch_rows", 7)
    real_write, calls = online.write, []

    def flaky(view, rows):
        calls.append(len(rows))
        if len(calls) == 3:
            raise ConnectionError("injected: store went away")
        return real_write(view, rows)

    monkeypatch.setattr(online, "write", flaky)
    with pytest.raises(ConnectionError):
        store.materialize_incremental(END)
    assert store.watermark("stats") is None
    monkeypatch.setattr(online, "write", real_write)
    runs = store.materialize_incremental(END)
    assert runs[0].start is None  # still from the oldest row: the failed run recorded nothing
    _check(_online(store, IDS), IDS, latest(data, ["driver_id"], None, END))
    assert store.watermark("stats") == END.replace(tzinfo=timezone.utc)


def test_statuses_outside_max_age_and_not_found(make_store):
    now = datetime.now(timezone.utc).replace(tzinfo=None, microsecond=0)
    rows = [{"driver_id": 1, "event_timestamp": now - timedelta(minutes=10), "created": now, "v": 1.5},
            {"driver_id": 2, "event_timestamp": now - timedelta(hours=2), "created": now, "v": 2.5}]
    data = pa.Table.from_pylist(rows, schema=pa.schema([
        ("driver_id", pa.int64()), ("event_timestamp", pa.timestamp("us")),
        ("created", pa.timestamp("us")), ("v", pa.float64())]))
    store = make_store()
    load_table(store, "recent", data)
    register(store, [ViewSpec("recent", "recent", ["driver_id"], ttl_seconds=3600)])
    store.materialize_incremental(now + timedelta(minutes=1))
    resp = store.get_online_features(["recent:v"], [{"driver_id": 1}, {"driver_id": 2}, {"driver_id": 3}])
    assert resp.to_dict() == {"driver_id": [1, 2, 3], "v": [1.5, None, None]}
    assert resp.statuses["v"] == [PRESENT, OUTSIDE_MAX_AGE, NOT_FOUND]
    stamps = resp.event_timestamps["v"]
    assert stamps[1] == (now - timedelta(hours=2)).replace(tzinfo=timezone.utc) and stamps[2] is None
    df = resp.to_df()
    assert list(df.columns) == ["driver_id", "v"] and len(df) == 3


def test_composite_keys_do_not_collide(make_store):
    # ("a_1", 2) and ("a", 12) would collide if keys were concatenated; so would "x,zone=1".
    keys = [("a_1", 2), ("a", 12), ("a_", 12), ("x,zone=1", 5), ("x", 15)]
    rows = [{"city": c, "zone": z, "event_timestamp": BASE + timedelta(hours=i), "v": float(i)}
            for i, (c, z) in enumerate(keys)]
    data = pa.Table.from_pylist(rows, schema=pa.schema([
        ("city", pa.string()), ("zone", pa.int64()), ("event_timestamp", pa.timestamp("us")),
        ("v", pa.float64())]))
    store = make_store()
    load_table(store, "zones", data)
    register(store, [ViewSpec("zones", "zones", ["city", "zone"], created=None)])
    store.materialize(BASE, END)
    entity_rows = [{"city": c, "zone": str(z)} for c, z in keys] + [{"city": "a", "zone": 1}]
    resp = store.get_online_features(["zones:v"], entity_rows)
    assert resp.to_dict()["v"] == [0.0, 1.0, 2.0, 3.0, 4.0, None]


def test_entity_less_view_serves_every_entity(make_store):
    """A view with no join key (global stats): its single latest row is written once and read
    for every entity row, beside a keyed view; a second window replaces it only when newer."""
    store, data = _setup(make_store)
    rows = [{"event_timestamp": BASE + timedelta(hours=h), "created": BASE + timedelta(hours=h),
             "avg_rate": h / 100, "n": h} for h in (5, 30, 200)]
    glob = pa.Table.from_pylist(rows, schema=pa.schema([
        ("event_timestamp", pa.timestamp("us")), ("created", pa.timestamp("us")),
        ("avg_rate", pa.float64()), ("n", pa.int64())]))
    load_table(store, "global_stats", glob)
    register(store, [ViewSpec("stats", "driver_stats", ["driver_id"]),
                     ViewSpec("glob", "global_stats", [])])
    runs = store.materialize(BASE, MID)
    assert {r.view: r.rows for r in runs}["glob"] == 1
    ids = [1001, 1002, 99]
    resp = store.get_online_features([*FEATURES, "glob:avg_rate", "glob:n"],
                                     [{"driver_id": i} for i in ids])
    d = resp.to_dict()
    assert d["avg_rate"] == [0.3] * 3 and d["n"] == [30] * 3
    assert resp.statuses["n"] == [PRESENT] * 3
    _check(resp, ids, latest(data, ["driver_id"], BASE, MID))
    # Only the global view: entity rows carry no key at all (list or columnar form).
    assert store.get_online_features(["glob:n"], [{}, {}]).to_dict() == {"n": [30, 30]}
    assert store.get_online_features(["glob:n"], {}).to_dict() == {"n": [30]}
    store.materialize(BASE, BASE + timedelta(hours=6))  # older: the stored row stays
    assert store.get_online_features(["glob:n"], [{}]).to_dict() == {"n": [30]}
    store.materialize(MID, END)
    assert store.get_online_features(["glob:n"], [{}]).to_dict() == {"n": [200]}


ALL_TYPES_DDL = """CREATE TABLE "typed" (
    id BIGINT, event_timestamp TIMESTAMP, f_int INTEGER, f_big BIGINT, f_float DOUBLE,
    f_bool BOOLEAN, f_str VARCHAR, f_ts TIMESTAMP, f_tstz TIMESTAMPTZ, f_date DATE,
    f_dec DECIMAL(12, 3), f_dec0 DECIMAL(12, 0), f_bytes BLOB)"""
# What each type reads back as, in Python and in the server's JSON (numbers stay numbers; the
# decimal policy: decimal(p, 0) -> int, decimal(p, s > 0) -> float).
ALL_TYPES_OUT = {
    "f_int": (-7, -7), "f_big": (2**53 + 1, 2**53 + 1), "f_float": (0.1, 0.1),
    "f_bool": (False, False), "f_str": ("héllo, \"world\"", "héllo, \"world\""),
    "f_ts": (datetime(2024, 2, 29, 12, 30, 0, 123456), "2024-02-29T12:30:00.123456"),
    "f_tstz": (datetime(2024, 2, 29, 23, 59, 59, 5, tzinfo=timezone.utc),
               "2024-02-29T23:59:59.000005Z"),
    "f_date": (date(1999, 12, 31), "1999-12-31"), "f_dec": (-12345.678, -12345.678),
    "f_dec0": (42, 42), "f_bytes": (b"\x00\xffab", "AP9hYg=="),
}


def test_all_types_and_nulls_round_trip(make_store):
    """Every type through the store, get_online_features and the server's JSON, as registered
    at apply (featsql.types), NULLs beside them."""
    import json

    from featsql.serving import server_json

    full = {"id": 1, "event_timestamp": BASE, "f_int": -7, "f_big": 2**53 + 1, "f_float": 0.1,
            "f_bool": False, "f_str": "héllo, \"world\"", "f_ts": datetime(2024, 2, 29, 12, 30, 0, 123456),
            "f_tstz": datetime(2024, 2, 29, 23, 59, 59, 5, tzinfo=timezone.utc),
            "f_date": date(1999, 12, 31), "f_dec": Decimal("-12345.678"), "f_dec0": Decimal("42"),
            "f_bytes": b"\x00\xffab"}
    nulls = {k: (v if k in ("id", "event_timestamp") else None) for k, v in full.items()} | {"id": 2}
    data = pa.Table.from_pylist([full, nulls], schema=pa.schema([
        ("id", pa.int64()), ("event_timestamp", pa.timestamp("us")), ("f_int", pa.int32()),
        ("f_big", pa.int64()), ("f_float", pa.float64()), ("f_bool", pa.bool_()),
        ("f_str", pa.string()), ("f_ts", pa.timestamp("us")), ("f_tstz", pa.timestamp("us", tz="UTC")),
        ("f_date", pa.date32()), ("f_dec", pa.decimal128(12, 3)), ("f_dec0", pa.decimal128(12, 0)),
        ("f_bytes", pa.binary())]))
    store = make_store()
    load_table(store, "typed", data, ddl=ALL_TYPES_DDL)
    views = register(store, [ViewSpec("typed", "typed", ["id"], created=None)])
    kinds = {f.name: f.kind for f in views["typed"].features}
    assert kinds == {"f_int": "int", "f_big": "int", "f_float": "float", "f_bool": "bool",
                     "f_str": "string", "f_ts": "timestamp", "f_tstz": "timestamp_tz",
                     "f_date": "date", "f_dec": "float", "f_dec0": "int", "f_bytes": "bytes"}
    store.materialize(BASE, END)
    resp = store.get_online_features(["typed:*"], [{"id": 1}, {"id": 2}])
    got = resp.to_dict()
    served = json.loads(json.dumps(server_json(resp)))
    columns = dict(zip(served["metadata"]["feature_names"], served["results"]))
    for name, (want, want_json) in ALL_TYPES_OUT.items():
        assert got[name][0] == want and type(got[name][0]) is type(want), (name, got[name][0])
        assert got[name][1] is None and resp.statuses[name][1] == PRESENT, name
        value = columns[name]["values"][0]
        assert value == want_json and type(value) is type(want_json), (name, value)
        assert columns[name]["values"][1] is None, name
    assert got["f_tstz"][0].tzinfo is not None and got["f_ts"][0].tzinfo is None
    # to_arrow: each column in its kind's one Arrow type
    arrow = resp.to_arrow(include_event_timestamps=True)
    assert arrow.schema.field("f_dec").type == pa.float64()
    assert arrow.schema.field("f_dec0").type == pa.int64()
    assert arrow.schema.field("f_tstz").type == pa.timestamp("us", tz="UTC")
    assert arrow.schema.field("f_date").type == pa.date32()
    assert arrow.schema.field("f_int__ts").type == pa.timestamp("us", tz="UTC")
    assert arrow.column("id").to_pylist() == [1, 2]


def test_sdk_parity_push_get_entity_columnar_rows_and_event_timestamps(make_store):
    """Feast's SDK calls: write_to_online_store / push (newer-than rule), get_entity, columnar
    entity rows, keys echoed with their registered type, `feature__ts` event timestamps."""
    import pandas as pd

    store, _ = _setup(make_store)
    store.materialize(BASE, END)
    now = store.get_online_features(["stats:trips"], {"driver_id": ["1001"]})
    assert now.to_dict()["driver_id"] == [1001]
    stamp = now.event_timestamps["trips"][0]
    later = stamp.replace(tzinfo=None) + timedelta(hours=1)
    rows = pd.DataFrame({"driver_id": [1001], "event_timestamp": [later], "conv_rate": [0.5],
                         "trips": [99], "active": [True], "note": ["p"]})
    assert store.push("stats", rows) == 1
    got = store.get_online_features(["stats:trips"], {"driver_id": [1001]}).to_dict(
        include_event_timestamps=True)
    assert got == {"driver_id": [1001], "trips": [99],
                   "trips__ts": [later.replace(tzinfo=timezone.utc)]}
    older = rows.assign(event_timestamp=[later - timedelta(days=1)], trips=[1])
    store.write_to_online_store("stats", older)
    assert store.get_online_features(["stats:trips"], {"driver_id": [1001]}).to_dict()["trips"] == [99]
    with pytest.raises(FeatsqlError, match="is not supported: the warehouse is the offline store"):
        store.push("stats", rows, to="offline")
    with pytest.raises(FeatsqlError, match="'extra' is not one of its columns"):
        store.push("stats", rows.assign(extra=1))
    with pytest.raises(FeatsqlError, match="join key 'driver_id': 'x' is not an integer"):
        store.push("stats", rows.assign(driver_id=["x"]))
    assert store.get_entity("driver_id").join_key == "driver_id"
    with pytest.raises(FeatsqlError, match="unknown entity 'drivr'"):
        store.get_entity("drivr")


def test_key_types_are_stable_and_bad_requests_are_clear(make_store):
    store, _ = _setup(make_store)
    store.materialize(BASE, END)
    a = store.get_online_features(["stats:trips"], [{"driver_id": 1001}]).to_dict()
    b = store.get_online_features(["stats:trips"], [{"driver_id": "1001"}]).to_dict()
    assert a["trips"] == b["trips"]
    with pytest.raises(FeatsqlError, match="join key 'driver_id': 'abc' is not an integer"):
        store.get_online_features(["stats:trips"], [{"driver_id": "abc"}])
    with pytest.raises(FeatsqlError, match="is not an integer"):
        store.get_online_features(["stats:trips"], [{"driver_id": 1001.5}])
    with pytest.raises(FeatsqlError, match="entity row 1: missing join key 'driver_id'"):
        store.get_online_features(["stats:trips"], [{"driver_id": 1}, {}])
    with pytest.raises(FeatsqlError, match="unknown join key 'drivr_id' \\(did you mean 'driver_id'"):
        store.get_online_features(["stats:trips"], [{"drivr_id": 1}])
    with pytest.raises(FeatsqlError, match="unknown join key 'extra'"):
        store.get_online_features(["stats:trips"], [{"driver_id": 1, "extra": 2}])
    with pytest.raises(FeatsqlError, match="unknown feature 'stats:trip' \\(did you mean 'trips'"):
        store.get_online_features(["stats:trip"], [{"driver_id": 1}])
    with pytest.raises(FeatsqlError, match="unknown feature view 'stat' \\(did you mean 'stats'"):
        store.get_online_features(["stat:trips"], [{"driver_id": 1}])


def test_full_feature_names_and_plan_cache(make_store, monkeypatch):
    store, data = _setup(make_store)
    store.materialize(BASE, END)
    resp = store.get_online_features(["stats:trips"], [{"driver_id": 1001}], full_feature_names=True)
    assert list(resp.to_dict()) == ["driver_id", "stats__trips"]
    import featsql.serving as serving

    def no_resolve(*a, **k):
        raise AssertionError("feature references resolved again")

    monkeypatch.setattr(serving, "resolve", no_resolve)
    again = store.get_online_features(["stats:trips"], [{"driver_id": 1001}], full_feature_names=True)
    assert again.to_dict() == resp.to_dict()


def test_teardown_removes_online_data(make_store):
    store, _ = _setup(make_store)
    store.materialize(BASE, END)
    views = store.list_feature_views()
    assert store.online_store.drop(views)
    store.online_store.create(views)  # recreated empty
    resp = _online(store, [1001])
    assert resp.statuses["trips"] == [NOT_FOUND]


@pytest.mark.redis
@pytest.mark.parametrize("online_kind", ["redis"])
def test_async_reads_equal_sync_reads(make_store):
    """Redis' redis.asyncio path (what the server uses under concurrency) reads what the
    synchronous one reads."""
    import asyncio

    store, _ = _setup(make_store)
    store.materialize(BASE, END)
    rows = {"driver_id": list(range(1001, 1041)) + [99]}
    sync = store.get_online_features(FEATURES, rows)

    async def read():
        try:
            return await store.get_online_features_async(FEATURES, rows)
        finally:
            await store.online_store.aclose_async()

    got = asyncio.run(read())
    assert got.to_dict(include_event_timestamps=True) == sync.to_dict(include_event_timestamps=True)
    assert got.statuses == sync.statuses


@pytest.mark.parametrize("online_kind", [pytest.param("dynamodb", marks=pytest.mark.dynamodb)])
def test_dynamodb_concurrent_overlapping_windows_end_with_the_newest(make_store, monkeypatch):
    """Two materializations of overlapping windows at once, with the pre-read that skips older
    rows switched off, so only the conditional writes decide: every entity ends newest."""
    import threading

    from featsql.online.dynamodb import DynamoOnlineStore
    from featsql.store import FeatureStore

    store, data = _setup(make_store)
    other = FeatureStore(repo_path=store.config.repo_path)  # a second writer, same tables
    monkeypatch.setattr(DynamoOnlineStore, "_versions", lambda self, table, keys: {})
    errors = []

    def run(s, start, end, times):
        try:
            for _ in range(times):
                s.materialize(start, end)
        except Exception as e:  # noqa: BLE001 - reported below
            errors.append(e)

    threads = [threading.Thread(target=run, args=(store, BASE, END, 3)),
               threading.Thread(target=run, args=(other, BASE, MID, 3))]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    assert not errors, errors
    run(other, BASE, MID, 1)  # an older window last: it changes nothing
    assert not errors, errors
    _check(_online(store, IDS), IDS, latest(data, ["driver_id"], BASE, END))
    other.close()
