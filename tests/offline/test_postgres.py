"""PostgreSQL warehouse against the real server: types, streaming, COPY uploads, training sets.

Training sets run the example repo's data (models_example seeds, loaded into a fresh schema)
through every golden case (tests/compile/regen_golden.py), with the entity set as an uploaded
DataFrame and as SQL run in place, and must equal DuckDB's result on the same data.
"""
from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pandas as pd
import pyarrow as pa
import pytest
from sqlglot import exp

from featsql.definitions import Relation
from featsql.sql import table
from tests.compile.regen_golden import CASES
from tests.engines import (
    SERVICE,
    borrowed,
    case_entity,
    comparable,
    label_entities,
    load_example,
    manifest_for,
    plan,
    relation_in,
    training_set,
)

pytestmark = pytest.mark.postgres
CASE_IDS = [c.name for c in CASES]


# -- types and transfer --------------------------------------------------------------------------

SAMPLE = pa.table({
    "i16": pa.array([1, None, -3], pa.int16()),
    "i32": pa.array([2**31 - 1, 0, None], pa.int32()),
    "i64": pa.array([2**62, None, -1], pa.int64()),
    "f32": pa.array([1.5, None, -0.25], pa.float32()),
    "f64": pa.array([float("nan"), float("inf"), None], pa.float64()),
    "flag": pa.array([True, False, None]),
    "text": pa.array(["", None, 'a,"b"\nc\\d\'e']),
    "ts": pa.array([dt.datetime(2025, 1, 1, 0, 0, 0, 1), None, dt.datetime(1999, 12, 31, 23, 59)],
                   pa.timestamp("us")),
    "tstz": pa.array([dt.datetime(2025, 1, 1, 12, tzinfo=dt.timezone.utc), None,
                      dt.datetime(2025, 6, 1, tzinfo=dt.timezone.utc)], pa.timestamp("us", "UTC")),
    "day": pa.array([dt.date(2025, 1, 1), None, dt.date(2000, 2, 29)]),
    "amount": pa.array([Decimal("12.34"), None, Decimal("-0.01")], pa.decimal128(10, 2)),
    "raw": pa.array([b"\x00\xff", None, b""]),
})


def test_upload_and_query_arrow_round_trip_types(postgres_warehouse) -> None:
    wh = postgres_warehouse
    uploaded = wh.upload("featsql_types", SAMPLE)
    got = wh.query_arrow(wh.sql(exp.select("*").from_(uploaded)))
    assert got.schema == SAMPLE.schema
    for name in SAMPLE.column_names:
        want, have = SAMPLE.column(name).to_pylist(), got.column(name).to_pylist()
        if name == "f64":
            assert str(have) == str(want)  # nan compares unequal to itself
        else:
            assert have == want, name
    wh.drop_upload(uploaded)
    assert wh.query_arrow("select to_regclass('pg_temp.featsql_types') as t").column(0).to_pylist() == [None]


def test_result_types_from_the_server(postgres_warehouse) -> None:
    got = postgres_warehouse.query_arrow(
        "select 1.50::numeric(6, 2) as fixed, 2.5::numeric as loose, null::int as nothing,"
        " '2025-01-01 10:00+02'::timestamptz as aware, '{\"a\": 1}'::jsonb as doc,"
        " gen_random_uuid() as id, interval '90 seconds' as span")
    assert got.schema.field("fixed").type == pa.decimal128(6, 2)
    assert got.schema.field("loose").type == pa.float64()  # unconstrained numeric, as DuckDB reads it
    assert got.schema.field("nothing").type == pa.int32()
    assert got.column("aware").to_pylist() == [dt.datetime(2025, 1, 1, 8, tzinfo=dt.timezone.utc)]
    assert got.column("doc").to_pylist() == ['{"a": 1}']
    assert got.schema.field("id").type == pa.string()
    assert got.column("span").to_pylist() == [dt.timedelta(seconds=90)]


def test_empty_result_keeps_its_schema(postgres_warehouse) -> None:
    got = postgres_warehouse.query_arrow("select 1::bigint as a, now() as b where false")
    assert got.num_rows == 0
    assert got.schema == pa.schema([("a", pa.int64()), ("b", pa.timestamp("us", "UTC"))])


def test_stream_yields_bounded_batches(postgres_warehouse) -> None:
    sql = "select g as n, g::text as s from generate_series(1, 25) as g"
    batches = list(postgres_warehouse.stream(sql, batch_rows=7))
    assert [b.num_rows for b in batches] == [7, 7, 7, 4]
    assert pa.Table.from_batches(batches).column("n").to_pylist() == list(range(1, 26))
    empty = list(postgres_warehouse.stream("select 1 as n where false", batch_rows=7))
    assert sum(b.num_rows for b in empty) == 0 and empty[0].schema.names == ["n"]


def test_session_is_utc_whatever_the_client_zone(monkeypatch) -> None:
    from tests.engines import postgres_engine

    monkeypatch.setenv("PGTZ", "America/New_York")  # libpq would start the session there
    with postgres_engine() as wh:
        assert wh.query_arrow("show time zone").column(0).to_pylist() == ["UTC"]
        naive = wh.query_arrow("select '2025-01-01 12:00+00'::timestamptz::timestamp as t")
        assert naive.column("t").to_pylist() == [dt.datetime(2025, 1, 1, 12)]


def test_columns_in_order_and_none_when_missing(postgres_warehouse) -> None:
    wh = postgres_warehouse
    rel = relation_in(wh, "driver_hourly_stats")
    assert wh.columns(rel) is None
    load_example(wh)
    assert wh.columns(rel) == {
        "driver_id": "bigint", "event_timestamp": "timestamp without time zone",
        "created": "timestamp without time zone", "conv_rate": "double precision",
        "acc_rate": "double precision", "avg_daily_trips": "integer"}


def test_write_table_replaces(postgres_warehouse) -> None:
    wh = postgres_warehouse
    rel = Relation(schema_name=wh.test_schema, identifier="t")
    wh.write_table(rel, pa.table({"a": [1, 2]}))
    wh.write_table(rel, pa.table({"a": [3]}))
    assert wh.query_arrow(wh.sql(exp.select("a").from_(table(rel)))).column("a").to_pylist() == [3]


# -- training sets -----------------------------------------------------------------------------

@pytest.mark.parametrize("case", CASES, ids=CASE_IDS)
def test_training_set_equals_duckdb(postgres_warehouse, duckdb_results, case) -> None:
    wh = postgres_warehouse
    defs = load_example(wh)
    got = training_set(wh, defs, case.features, case_entity(case), **case.options)
    pd.testing.assert_frame_equal(comparable(got), duckdb_results[case.name], check_dtype=False)


def test_sql_and_dataframe_entity_sets_agree(postgres_warehouse) -> None:
    wh = postgres_warehouse
    defs = load_example(wh)
    from_df = training_set(wh, defs, SERVICE, label_entities(), full_feature_names=True)
    from_sql = training_set(wh, defs, SERVICE, "select * from {{ ref('driver_labels') }}",
                            full_feature_names=True)
    pd.testing.assert_frame_equal(comparable(from_df), comparable(from_sql), check_dtype=False)
    assert from_df.num_rows == 200


def test_aware_entity_times_in_any_zone(postgres_warehouse) -> None:
    """A DataFrame in America/Chicago gets the same features as the same instants in UTC."""
    wh = postgres_warehouse
    defs = load_example(wh)
    naive = label_entities()
    chicago = naive.copy()
    chicago["event_timestamp"] = (chicago["event_timestamp"].dt.tz_localize("UTC")
                                  .dt.tz_convert("America/Chicago"))
    a = training_set(wh, defs, SERVICE, naive, full_feature_names=True)
    b = training_set(wh, defs, SERVICE, chicago, full_feature_names=True)
    assert b.schema.field("event_timestamp").type.tz == "America/Chicago"
    pd.testing.assert_frame_equal(comparable(a), comparable(b), check_dtype=False)


def test_to_table_builds_in_the_warehouse(postgres_warehouse) -> None:
    wh = postgres_warehouse
    defs = load_example(wh)
    job = plan("postgres", defs, SERVICE, label_entities(), full_feature_names=True,
               open_warehouse=lambda: borrowed(wh),
               manifest=manifest_for(wh, lambda n: relation_in(wh, n)))
    name = f"{wh.test_schema}.training_v1"
    job.to_table(name)
    count = wh.query_arrow(wh.sql(exp.select(exp.Count(this=exp.Star())).from_(
        table(Relation(schema_name=wh.test_schema, identifier="training_v1")))))
    assert count.column(0).to_pylist() == [200]
    # the uploaded entity set was dropped after the job (this session's temporary tables only:
    # other sessions on the server may be running training sets of their own)
    left = wh.query_arrow("select count(*) from pg_class where relnamespace = pg_my_temp_schema()"
                          " and relname like 'featsql_entity_%'")
    assert left.column(0).to_pylist() == [0]
