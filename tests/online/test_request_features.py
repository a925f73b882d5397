"""Request-time features end to end, on Feast's own example: `conv_rate_plus_100` and
`conv_rate_plus_val_to_add` over data shaped like Feast's driver_hourly_stats, generated here.

The same declared expression gives the training set's column (computed by the warehouse) and
the online value (computed in-process from the stored features and the request's columns), through
the SDK and the server; bad declarations are one line each and nothing is written.
"""
from __future__ import annotations

import random
from datetime import datetime, timedelta
from typing import Any

import pandas as pd
import pyarrow as pa
import pytest

from featsql.errors import FeatsqlError, ValidationError
from featsql.serving import NOT_FOUND, PRESENT
from tests.online.stores import ViewSpec, load_table, register

BASE = datetime(2025, 1, 1)
SERVICE = {
    "request": [{"name": "val_to_add", "type": "int"}, {"name": "val_to_add_2", "type": "int"}],
    "features": [
        "driver_hourly_stats:conv_rate", "driver_hourly_stats:acc_rate",
        {"name": "conv_rate_plus_100", "sql": "conv_rate + 100"},
        {"name": "conv_rate_plus_val_to_add", "sql": "conv_rate + val_to_add", "type": "float"},
        {"name": "conv_rate_plus_val_to_add_2", "sql": "driver_hourly_stats__conv_rate + val_to_add_2"},
        {"name": "fast_and_sure", "sql": "CASE WHEN acc_rate > 0.5 THEN ROUND(conv_rate * val_to_add, 2) END"},
    ],
}


def _driver_hourly_stats(seed: int = 3) -> pa.Table:
    """Feast's driver_hourly_stats shape: driver_id, event_timestamp, created, conv_rate (float),
    acc_rate (float), avg_daily_trips (int); hourly rows over 5 days, some NULL rates."""
    rng = random.Random(seed)
    rows = []
    for driver in range(1001, 1006):
        for hour in range(0, 24 * 5, 7):
            ts = BASE + timedelta(hours=hour)
            rows.append({"driver_id": driver, "event_timestamp": ts, "created": ts + timedelta(minutes=3),
                         "conv_rate": None if rng.random() < 0.1 else round(rng.random(), 4),
                         "acc_rate": round(rng.random(), 4), "avg_daily_trips": rng.randint(0, 900)})
    return pa.Table.from_pylist(rows, schema=pa.schema([
        ("driver_id", pa.int64()), ("event_timestamp", pa.timestamp("us")), ("created", pa.timestamp("us")),
        ("conv_rate", pa.float64()), ("acc_rate", pa.float64()), ("avg_daily_trips", pa.int64())]))


def _expected(conv: float | None, acc: float | None, val: int, val2: int) -> dict[str, Any]:
    fast = None
    if acc is not None and conv is not None and acc > 0.5:
        x = conv * val
        fast = (1 if x > 0 else -1 if x < 0 else 0) * __import__("math").floor(abs(x) * 100 + 0.5) / 100
    return {"conv_rate_plus_100": None if conv is None else conv + 100,
            "conv_rate_plus_val_to_add": None if conv is None else conv + val,
            "conv_rate_plus_val_to_add_2": None if conv is None else conv + val2,
            "fast_and_sure": fast}


def _sorted(df: pd.DataFrame) -> list[tuple]:
    cols = ["driver_id", "event_timestamp", "val_to_add", "conv_rate", "conv_rate_plus_100",
            "conv_rate_plus_val_to_add_2", "fast_and_sure"]
    out = df[cols].astype(object).where(df[cols].notna(), None)
    return sorted(tuple(r) for r in out.itertuples(index=False))


def _macro_rows(store, service, entity_df: pd.DataFrame) -> list[tuple]:
    """The service's training set through the dbt macro's compiled SQL, rendered and run."""
    from featsql.compile.macros import TrainingCall, training_set_body
    from featsql.compile.request import computed_features
    from featsql.refs import resolve
    from featsql.sql import table
    from tests.compile.harness import render_macro

    defs = store.definitions
    body = training_set_body(store.compiler(), resolve(service, defs), TrainingCall("m", "m.sql", service.name),
                             "online_test", computed_features(service, defs.feature_views))
    with store.warehouse() as wh:
        wh.con.register("labels_df", entity_df)
        wh.con.execute("create or replace table labels as select * from labels_df")
        ref = lambda name: table(defs.feature_views[name].relation, "duckdb").sql("duckdb")  # noqa: E731
        df = wh.con.sql("select * from " + render_macro(body, "labels", ref)).df()
    return _sorted(df)


def _store(make_store):
    store = make_store()
    load_table(store, "driver_hourly_stats", _driver_hourly_stats())
    register(store, [ViewSpec("driver_hourly_stats", "driver_hourly_stats", ["driver_id"])],
             services={"driver_activity": SERVICE})
    return store


@pytest.mark.parametrize("online_kind", ["sqlite"])
def test_feasts_example_offline_and_online(make_store) -> None:
    from starlette.testclient import TestClient

    from featsql.server import make_app

    store = _store(make_store)
    service = store.get_feature_service("driver_activity")
    assert [c.name for c in service.request] == ["val_to_add", "val_to_add_2"]
    assert [(c.name, c.type) for c in service.computed] == [
        ("conv_rate_plus_100", "float"), ("conv_rate_plus_val_to_add", "float"),
        ("conv_rate_plus_val_to_add_2", "float"), ("fast_and_sure", "float")]

    # Offline: the warehouse computes each expression for every entity row.
    rng = random.Random(5)
    entity_df = pd.DataFrame([{"driver_id": rng.randint(1000, 1006),
                               "event_timestamp": BASE + timedelta(hours=rng.randint(0, 130)),
                               "val_to_add": rng.randint(-5, 1000), "val_to_add_2": rng.randint(0, 10)}
                              for _ in range(60)])
    job = store.get_historical_features(entity_df, service)
    assert 'AS "conv_rate_plus_val_to_add"' in job.to_sql()  # `featsql compile` shows it
    train = job.to_df()
    assert list(train.columns) == [*entity_df.columns, "conv_rate", "acc_rate", *(c.name for c in service.computed)]
    for row in train.to_dict("records"):
        conv = None if pd.isna(row["conv_rate"]) else row["conv_rate"]
        acc = None if pd.isna(row["acc_rate"]) else row["acc_rate"]
        for name, want in _expected(conv, acc, row["val_to_add"], row["val_to_add_2"]).items():
            got = None if pd.isna(row[name]) else row[name]
            assert (got is None and want is None) or abs(got - want) < 1e-9, (name, row, want)
    assert train["conv_rate_plus_100"].notna().sum() > 30
    # featsql.training_set (the dbt macro) gets the expressions from the same compiler.
    assert _macro_rows(store, service, entity_df) == _sorted(train)

    # Online: the same expressions, in-process, over the stored latest values.
    store.materialize(BASE, BASE + timedelta(days=10))
    rows = [{"driver_id": 1001, "val_to_add": 1000, "val_to_add_2": 2000},
            {"driver_id": 1003, "val_to_add": "7", "val_to_add_2": 0},
            {"driver_id": 99, "val_to_add": 1, "val_to_add_2": 2}]
    resp = store.get_online_features(service, rows)
    got = resp.to_dict()
    assert list(got) == ["driver_id", "conv_rate", "acc_rate", *(c.name for c in service.computed)]
    for i, r in enumerate(rows):
        want = _expected(got["conv_rate"][i], got["acc_rate"][i], int(r["val_to_add"]), r["val_to_add_2"])
        for name, value in want.items():
            assert got[name][i] == value or abs(got[name][i] - value) < 1e-12, (name, i)
    for i in range(2):  # PRESENT when computed, else the worst status of its inputs
        want = PRESENT if got["conv_rate_plus_100"][i] is not None else resp.statuses["conv_rate"][i]
        assert resp.statuses["conv_rate_plus_100"][i] == want
    assert resp.statuses["conv_rate_plus_100"][2] == NOT_FOUND and got["conv_rate_plus_100"][2] is None
    assert resp.event_timestamps["conv_rate_plus_100"][0] == resp.event_timestamps["conv_rate"][0]
    assert resp.to_arrow().schema.field("conv_rate_plus_100").type == pa.float64()
    # The server: request columns travel with the entities (Feast's request-data form).
    client = TestClient(make_app(store, None), raise_server_exceptions=False)
    body = client.post("/get-online-features", json={
        "feature_service": "driver_activity",
        "entities": {"driver_id": [1001], "val_to_add": [1000], "val_to_add_2": [2000]}}).json()
    names = body["metadata"]["feature_names"]
    values = dict(zip(names, body["results"]))
    assert values["conv_rate_plus_val_to_add"]["values"] == [got["conv_rate_plus_val_to_add"][0]]
    bad = client.post("/get-online-features", json={
        "feature_service": "driver_activity", "entities": {"driver_id": [1001], "val_to_add": [1]}})
    assert bad.status_code == 400 and "missing request column 'val_to_add_2'" in bad.text
    with pytest.raises(FeatsqlError, match="request column 'val_to_add': 'x' is not int"):
        store.get_online_features(service, [{"driver_id": 1001, "val_to_add": "x", "val_to_add_2": 1}])
    with pytest.raises(FeatsqlError, match=r"entity DataFrame is missing column 'val_to_add_2' \(request column\)"):
        store.get_historical_features(entity_df.drop(columns=["val_to_add_2"]), service)
    # `featsql list feature-services --json` shows the request columns and the expressions.
    import json

    from tests.support import invoke

    listed = json.loads(invoke("list", "feature-services", "--json", cwd=store.config.repo_path).output)
    assert listed[0]["request"] == [{"name": "val_to_add", "type": "int"}, {"name": "val_to_add_2", "type": "int"}]
    assert listed[0]["computed"][1] == {"name": "conv_rate_plus_val_to_add", "sql": "conv_rate + val_to_add",
                                        "type": "float", "description": ""}


@pytest.mark.parametrize("online_kind", ["sqlite"])
@pytest.mark.parametrize("item,problem", [
    ({"name": "f", "sql": "conv_rate + nope"}, "featsql.features[2].sql: feature 'f': unknown column 'nope'"),
    ({"name": "f", "sql": "POWER(conv_rate, 2)"}, "feature 'f': function POWER is not in the portable set"),
    ({"name": "f", "sql": "avg_daily_trips * 2"}, "feature 'f': unknown column 'avg_daily_trips'"),
    ({"name": "f", "sql": "conv_rate || 'x'"}, "feature 'f': type mismatch in 'conv_rate || 'x'':"
                                               " float where string is expected"),
    ({"name": "f", "sql": "conv_rate * 2", "type": "int"}, "type mismatch: declared int, the expression is float"),
    ({"name": "conv_rate", "sql": "1"}, "featsql.features[2].name: 'conv_rate' is already a feature"),
])
def test_bad_declarations_are_one_line_and_write_nothing(make_store, item: dict, problem: str) -> None:
    store = make_store()
    load_table(store, "driver_hourly_stats", _driver_hourly_stats())
    before = store.registry.load()
    meta = {"request": [{"name": "val_to_add", "type": "int"}],
            "features": ["driver_hourly_stats:conv_rate", "driver_hourly_stats:acc_rate", item]}
    with pytest.raises(ValidationError) as err:
        register(store, [ViewSpec("driver_hourly_stats", "driver_hourly_stats", ["driver_id"])],
                 services={"svc": meta})
    assert len(err.value.problems) == 1
    assert err.value.problems[0].startswith("models/schema.yml: exposure 'svc': ")
    assert problem in err.value.problems[0], err.value.problems[0]
    assert store.registry.load().objects == before.objects
