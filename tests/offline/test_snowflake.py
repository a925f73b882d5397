"""Snowflake through fakesnow: what is verified here, and what is not.

fakesnow 0.12 rewrites Snowflake SQL to DuckDB and runs it in process. It cannot run Snowflake's
`ASOF JOIN ... MATCH_CONDITION`, and DuckDB-style `ASOF LEFT JOIN ... ON` passes there although
real Snowflake rejects it. So:

* the native plan Snowflake really gets (ASOF JOIN ... MATCH_CONDITION, ttl as a CASE after the
  join) is checked as text: golden files plus form assertions in tests/compile/test_golden.py;
* here, training sets are compiled for Snowflake with one capability changed, no native ASOF
  (so the sort-based window plan, the same one Redshift and BigQuery get, in Snowflake's
  dialect: CONVERT_TIMEZONE, TIMESTAMP_NTZ, QUALIFY where used), run through SnowflakeWarehouse's
  real code (snowflake.connector.connect, ALTER SESSION, write_pandas uploads, Arrow fetches) on
  fakesnow, and must equal DuckDB's results on the example data for every golden case.

Not verified: real Snowflake's name resolution. fakesnow (DuckDB) matches quoted names case-
insensitively, while on Snowflake "driver_id" (quoted, as featsql prints it) does not find the
DRIVER_ID column a dbt model gets from unquoted SQL: the Snowflake capabilities spell dbt's
names upper case (stored_name), which the test below checks in the SQL text. fakesnow's cursors
also lack fetch_arrow_all / fetch_arrow_batches, which tests/engines.py supplies from the Arrow
result fakesnow holds.
"""
from __future__ import annotations

from dataclasses import dataclass
from types import SimpleNamespace

import pandas as pd
import pyarrow as pa
import pytest
from sqlglot import exp

from featsql.offline.snowflake import SnowflakeWarehouse
from tests.compile.regen_golden import CASES
from tests.engines import case_entity, comparable, load_example, relation_in, training_set

pytestmark = pytest.mark.filterwarnings("ignore:Arrow output on a DB-API result")


class SnowflakeWithoutAsof(SnowflakeWarehouse):
    """Snowflake's dialect and functions with the sort-based plan fakesnow can execute."""

    asof = False


@pytest.fixture
def window_plan() -> SnowflakeWarehouse:
    return SnowflakeWithoutAsof()


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_window_plan_on_fakesnow_equals_duckdb(snowflake_warehouse, duckdb_results, window_plan,
                                               case) -> None:
    wh = snowflake_warehouse
    defs = load_example(wh)
    got = training_set(wh, defs, case.features, case_entity(case), compiler=window_plan,
                       **case.options)
    pd.testing.assert_frame_equal(comparable(got), duckdb_results[case.name], check_dtype=False)


def test_snowflake_sql_in_the_window_plan_is_snowflake_sql(window_plan) -> None:
    from tests.compile.regen_golden import compile_case

    sql = compile_case("snowflake", CASES[0], compiler=window_plan)
    assert "ASOF" not in sql and "CONVERT_TIMEZONE('UTC'" in sql and "TIMESTAMPNTZ" in sql


def test_upload_and_columns(snowflake_warehouse) -> None:
    wh = snowflake_warehouse
    data = pa.table({"driver_id": [1, 2], "event_timestamp": pa.array([0, 1], pa.timestamp("us")),
                     "label": ["a", None]})
    uploaded = wh.upload("featsql_entity_test", data)
    got = wh.query_arrow(wh.sql(exp.select("*").from_(uploaded)))
    assert got.num_rows == 2
    assert [c.lower() for c in got.column_names] == ["driver_id", "event_timestamp", "label"]
    wh.drop_upload(uploaded)
    load_example(wh)
    columns = wh.columns(relation_in(wh, "location_stats"))
    # stored upper case (unquoted), reported as the dbt YAML spells them
    assert list(columns) == ["location_id", "event_timestamp", "avg_wait"]
    assert columns["event_timestamp"] == "TIMESTAMP_NTZ"
    assert wh.columns(relation_in(wh, "no_such_table")) is None


def test_stream_is_bounded(snowflake_warehouse) -> None:
    batches = list(snowflake_warehouse.stream("select seq4() as n from table(generator(rowcount => 25))",
                                              batch_rows=10))
    assert max(b.num_rows for b in batches) <= 10 and sum(b.num_rows for b in batches) == 25


def test_every_session_is_set_to_utc_first(monkeypatch) -> None:
    """The real connector gets ALTER SESSION SET TIMEZONE = 'UTC' before any query."""
    import snowflake.connector

    executed: list[str] = []
    seen: dict = {}

    class Cursor:
        def __enter__(self):
            return self

        def __exit__(self, *exc):
            return None

        def execute(self, sql):
            executed.append(sql)
            return self

    def connect(**kwargs):
        seen.update(kwargs)
        return SimpleNamespace(cursor=Cursor, close=lambda: None)

    monkeypatch.setattr(snowflake.connector, "connect", connect)
    creds = SimpleNamespace(type="snowflake", account="acme-eu", user="u", password="p",
                            database="ANALYTICS", schema="FEATURES", warehouse="WH", role="R",
                            private_key_path=None)
    wh = SnowflakeWarehouse(creds)
    wh.execute("select 1")
    assert executed == ["ALTER SESSION SET TIMEZONE = 'UTC'", "select 1"]
    assert seen == {"application": "featsql", "account": "acme-eu", "user": "u", "password": "p",
                    "database": "ANALYTICS", "schema": "FEATURES", "warehouse": "WH", "role": "R"}


def test_snowflake_sql_names_the_columns_snowflake_stores() -> None:
    from tests.compile.regen_golden import compile_case

    sql = compile_case("snowflake", CASES[0])
    assert '"f"."DRIVER_ID"' in sql and '"ANALYTICS"."DRIVER_HOURLY_STATS"' in sql
