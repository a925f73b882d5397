"""Latest values per entity (featsql.compile.latest): the SQL each dialect gets, and its result
on real engines equals an independent pandas computation, in every form (QUALIFY, DISTINCT ON,
ROW_NUMBER subquery)."""
from __future__ import annotations

from datetime import datetime

import pytest

from featsql.compile.latest import CREATED_TS, EVENT_TS, materialization_query, output_columns
from featsql.definitions import Relation
from featsql.offline.base import Warehouse, for_dialect
from tests.engines import engine, example_definitions, example_tables, example_types, load_example
from tests.online.data import latest

START, END = datetime(2025, 1, 3), datetime(2025, 1, 6, 12)


def _defs(dialect: str):
    types = example_types(dialect)
    from sqlglot import exp

    return example_definitions(lambda rel: types.get(rel.identifier),
                               lambda t: exp.DataType.build(t, dialect=dialect),
                               lambda name: Relation(schema_name="main", identifier=name))


EXPECTED = {
    "duckdb": """SELECT
  "driver_id",
  STRUCT_EXTRACT("_featsql_row", '_featsql_event_ts') AS "_featsql_event_ts",
  STRUCT_EXTRACT("_featsql_row", '_featsql_created_ts') AS "_featsql_created_ts",
  STRUCT_EXTRACT("_featsql_row", 'conv_rate') AS "conv_rate",
  STRUCT_EXTRACT("_featsql_row", 'acc_rate') AS "acc_rate",
  STRUCT_EXTRACT("_featsql_row", 'avg_daily_trips') AS "avg_daily_trips"
FROM (
  SELECT
    "driver_id",
    ARG_MAX(
      {'_featsql_event_ts': "event_timestamp", '_featsql_created_ts': "created", 'conv_rate': "conv_rate", 'acc_rate': "acc_rate", 'avg_daily_trips': "avg_daily_trips"},
      ("event_timestamp", COALESCE("created", CAST('0001-01-01 00:00:00' AS TIMESTAMP)))
    ) AS "_featsql_row"
  FROM "main"."driver_hourly_stats"
  WHERE
    NOT "driver_id" IS NULL
    AND "event_timestamp" >= CAST('2025-01-03 00:00:00' AS TIMESTAMP)
    AND "event_timestamp" <= CAST('2025-01-06 12:00:00' AS TIMESTAMP)
  GROUP BY
    "driver_id"
) AS "_featsql_latest\"""",
    "duckdb-qualify": """SELECT
  "driver_id",
  "event_timestamp" AS "_featsql_event_ts",
  "created" AS "_featsql_created_ts",
  "conv_rate",
  "acc_rate",
  "avg_daily_trips"
FROM "main"."driver_hourly_stats"
WHERE
  NOT "driver_id" IS NULL
  AND "event_timestamp" >= CAST('2025-01-03 00:00:00' AS TIMESTAMP)
  AND "event_timestamp" <= CAST('2025-01-06 12:00:00' AS TIMESTAMP)
QUALIFY
  ROW_NUMBER() OVER (PARTITION BY "driver_id" ORDER BY "event_timestamp" DESC, "created" DESC) = 1""",
    "postgres": """SELECT DISTINCT ON ("driver_id")
  "driver_id",
  "event_timestamp" AS "_featsql_event_ts",
  "created" AS "_featsql_created_ts",
  "conv_rate",
  "acc_rate",
  "avg_daily_trips"
FROM "main"."driver_hourly_stats"
WHERE
  NOT "driver_id" IS NULL
  AND "event_timestamp" >= CAST('2025-01-03 00:00:00' AS TIMESTAMP)
  AND "event_timestamp" <= CAST('2025-01-06 12:00:00' AS TIMESTAMP)
ORDER BY
  "driver_id",
  "event_timestamp" DESC NULLS LAST,
  "created" DESC NULLS LAST""",
}


@pytest.mark.parametrize("case", sorted(EXPECTED))
def test_sql_per_dialect(case: str) -> None:
    dialect, _, form = case.partition("-")
    wh = _without(dialect, latest_arg_max=False) if form else for_dialect(dialect)
    view = _defs(dialect).feature_views["driver_hourly_stats"]
    assert materialization_query(view, START, END, wh).sql(dialect, pretty=True) == EXPECTED[case]


def _without(dialect: str, **flags: bool) -> Warehouse:
    """`dialect`'s warehouse without some capabilities (unconnected: it only compiles)."""
    cls = type(for_dialect(dialect))
    return type(f"Plain{cls.__name__}", (cls,), flags)()


def _window_only(dialect: str) -> Warehouse:
    """Neither ARG_MAX, QUALIFY nor DISTINCT ON: the ROW_NUMBER subquery."""
    return _without(dialect, latest_arg_max=False, qualify=False, distinct_on=False)


def test_window_form_sql() -> None:
    view = _defs("duckdb").feature_views["driver_hourly_stats"]
    sql = materialization_query(view, None, END, _window_only("duckdb")).sql("duckdb")
    assert sql.startswith('SELECT "driver_id", "_featsql_event_ts", "_featsql_created_ts", "conv_rate"')
    assert 'ROW_NUMBER() OVER (PARTITION BY "driver_id"' in sql and '"_featsql_rn" = 1' in sql
    assert "QUALIFY" not in sql and "DISTINCT" not in sql


@pytest.mark.parametrize("form", ["native", "no-arg-max", "window"])
@pytest.mark.parametrize("name", ["duckdb", pytest.param("postgres", marks=pytest.mark.postgres),
                                  "snowflake"])
def test_result_equals_independent_latest(name: str, form: str) -> None:
    with engine(name) as warehouse:
        if form == "window":
            compiler = _window_only(warehouse.dialect)
        elif form == "no-arg-max":
            compiler = _without(warehouse.dialect, latest_arg_max=False)
        else:
            compiler = type(warehouse)()
        _check_engine(warehouse, compiler)


def _check_engine(warehouse, compiler: Warehouse) -> None:
    defs = load_example(warehouse)
    for name, keys in (("driver_hourly_stats", ["driver_id"]), ("location_stats", ["location_id"])):
        view = defs.feature_views[name]
        created = view.created_timestamp_field
        got = warehouse.query_arrow(warehouse.sql(materialization_query(view, START, END, compiler)))
        # by position, under the names the YAML spells (Snowflake's are stored upper case)
        got = got.rename_columns([*view.join_keys, EVENT_TS, CREATED_TS, *(f.name for f in view.features)])
        assert got.num_columns == len(output_columns(view, compiler))
        got_rows = {tuple(r[k] for k in keys): r for r in got.to_pylist()}
        want = latest(example_tables()[name], keys, START, END, created=created)
        assert set(got_rows) == set(want), name
        for key, row in want.items():
            g = got_rows[key]
            assert g[EVENT_TS].replace(tzinfo=None) == row["event_timestamp"], (name, key)
            if created:
                assert g[CREATED_TS].replace(tzinfo=None) == row["created"], (name, key)
            for f in view.features:
                assert g[f.name] == pytest.approx(row[f.name]), (name, key, f.name)


def test_timestamp_offset_moves_event_times_and_windows() -> None:
    """A daily row (DATE + timestamp_offset 1d) is materialized as known at day + 1d: its online
    event time, and the window it falls in, are that instant's."""
    import pyarrow as pa
    from datetime import date

    from featsql.declarations import build_definitions
    from featsql.manifest import Declared

    with engine("duckdb") as wh:
        wh.write_table(Relation(schema_name="main", identifier="daily"), pa.table({
            "driver_id": [1, 1, 2], "day": pa.array([date(2025, 1, 5), date(2025, 1, 6),
                                                     date(2025, 1, 6)], pa.date32()),
            "trips": [5, 6, 7]}))
        meta = {"entities": ["driver_id"], "timestamp_field": "day", "timestamp_offset": "1d"}
        view = build_definitions([Declared(name="daily", unique_id="model.p.daily",
                                           yaml_file="m.yml", meta=meta,
                                           relation=(None, "main", "daily"))], [],
                                 wh.columns, wh.parse_type).feature_views["daily"]
        # END 2025-01-06 12:00: the rows of the 6th are not known yet (known from the 7th).
        got = wh.query_arrow(wh.sql(materialization_query(view, None, END, wh))).to_pylist()
        assert got == [{"driver_id": 1, EVENT_TS: datetime(2025, 1, 6), CREATED_TS: None, "trips": 5}]
        later = wh.query_arrow(wh.sql(materialization_query(view, datetime(2025, 1, 7), datetime(2025, 1, 7), wh)))
        assert sorted((r["driver_id"], r[EVENT_TS], r["trips"]) for r in later.to_pylist()) == [
            (1, datetime(2025, 1, 7), 6), (2, datetime(2025, 1, 7), 7)]
