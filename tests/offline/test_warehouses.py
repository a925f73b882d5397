"""What every warehouse shares: registry by dbt adapter type, UTC sessions, lazy imports, types."""
from __future__ import annotations

import subprocess
import sys

import pyarrow as pa
import pytest

from featsql.errors import FeatsqlError
from featsql.offline.base import arrow_sql_type, warehouse_class

ADAPTERS = ["duckdb", "postgres", "redshift", "snowflake", "bigquery"]


@pytest.mark.parametrize("adapter", ADAPTERS)
def test_registry_keyed_by_dbt_adapter_type(adapter: str) -> None:
    cls = warehouse_class(adapter)
    assert cls.adapter_type == adapter
    assert cls.dialect == adapter


def test_unknown_adapter_names_the_supported_ones() -> None:
    with pytest.raises(FeatsqlError, match="supported: bigquery, duckdb, postgres, redshift, snowflake"):
        warehouse_class("oracle")


@pytest.mark.parametrize("adapter", ADAPTERS)
def test_every_session_is_utc(adapter: str) -> None:
    """Naive timestamps mean UTC (DESIGN.md 6): each warehouse sets its session zone at connect.
    BigQuery has no session zone: its TIMESTAMP is UTC by definition."""
    statement = warehouse_class(adapter).utc_session
    if adapter == "bigquery":
        assert statement is None
    else:
        assert statement and "'UTC'" in statement


def test_duckdb_session_is_utc(duckdb_warehouse) -> None:
    got = duckdb_warehouse.query_arrow("select current_setting('TimeZone') as tz")
    assert got.column("tz").to_pylist() == ["UTC"]


def test_warehouse_modules_import_their_drivers_lazily() -> None:
    code = ("import sys, featsql.offline.postgres, featsql.offline.redshift, "
            "featsql.offline.snowflake, featsql.offline.bigquery; "
            "heavy = [m for m in ('psycopg', 'snowflake.connector', 'google.cloud.bigquery', 'boto3')"
            " if m in sys.modules]; print(heavy)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


@pytest.mark.parametrize(("arrow", "expected"), [
    (pa.int64(), {"postgres": "BIGINT", "snowflake": "BIGINT", "bigquery": "INT64", "redshift": "BIGINT"}),
    (pa.float64(), {"postgres": "DOUBLE PRECISION", "snowflake": "DOUBLE", "bigquery": "FLOAT64"}),
    (pa.string(), {"postgres": "TEXT", "redshift": "VARCHAR(MAX)", "bigquery": "STRING"}),
    (pa.timestamp("us"), {"postgres": "TIMESTAMP", "snowflake": "TIMESTAMPNTZ", "bigquery": "DATETIME",
                          "duckdb": "TIMESTAMP"}),
    (pa.timestamp("ns", "Europe/Paris"), {"postgres": "TIMESTAMPTZ", "snowflake": "TIMESTAMPTZ",
                                          "bigquery": "TIMESTAMP"}),
    (pa.decimal128(12, 3), {"postgres": "DECIMAL(12, 3)", "bigquery": "NUMERIC(12, 3)"}),
    (pa.dictionary(pa.int8(), pa.string()), {"postgres": "TEXT"}),
    (pa.bool_(), {"postgres": "BOOLEAN", "bigquery": "BOOL"}),
    (pa.date32(), {"postgres": "DATE"}),
])
def test_upload_column_types_per_dialect(arrow: pa.DataType, expected: dict[str, str]) -> None:
    for dialect, sql in expected.items():
        assert arrow_sql_type(arrow).sql(dialect=dialect) == sql, dialect


def test_duckdb_write_table(duckdb_warehouse) -> None:
    from featsql.definitions import Relation

    wh = duckdb_warehouse
    rel = Relation(schema_name="main", identifier="t")
    wh.write_table(rel, pa.table({"a": [1, 2]}))
    wh.write_table(rel, pa.table({"a": [3]}))
    assert wh.query_arrow('select a from "main"."t"').column("a").to_pylist() == [3]
    assert wh.columns(rel) == {"a": "BIGINT"}


# -- types decided once: a training set gives the same types on every warehouse ----------------------
TYPED = pa.table({
    "driver_id": pa.array([1, 2], pa.int64()),
    "event_timestamp": pa.array([0, 0], pa.timestamp("us")),
    "f_int": pa.array([-7, None], pa.int32()),
    "f_float": pa.array([0.25, None], pa.float32()),
    "f_dec": pa.array([__import__("decimal").Decimal("-12345.678"), None], pa.decimal128(12, 3)),
    "f_dec0": pa.array([__import__("decimal").Decimal("42"), None], pa.decimal128(12, 0)),
    "f_bool": pa.array([True, None]),
    "f_str": pa.array(["héllo", None]),
    "f_date": pa.array([__import__("datetime").date(1999, 12, 31), None], pa.date32()),
    "f_ts": pa.array([1_000_000, None], pa.timestamp("us")),
    "f_tstz": pa.array([2_000_000, None], pa.timestamp("us", tz="UTC")),
})
# Each kind's one Arrow type (featsql.types), whatever the warehouse's driver returns.
TYPED_OUT = {"f_int": pa.int64(), "f_float": pa.float64(), "f_dec": pa.float64(),
             "f_dec0": pa.int64(), "f_bool": pa.bool_(), "f_str": pa.string(),
             "f_date": pa.date32(), "f_ts": pa.timestamp("us"),
             "f_tstz": pa.timestamp("us", tz="UTC")}


@pytest.mark.parametrize("warehouse", ["duckdb", pytest.param("postgres", marks=pytest.mark.postgres)],
                         indirect=True)
@pytest.mark.parametrize("entity", ["dataframe", "sql"])
def test_training_set_types_are_the_registered_ones(warehouse, entity: str) -> None:
    """int, float, decimal (both policies), bool, string, date, naive and aware timestamps come
    out of a DuckDB and a PostgreSQL training set as the same Arrow (and Python) types."""
    from featsql.declarations import build_definitions
    from featsql.manifest import Declared
    from tests.engines import relation_in, training_set

    rel = relation_in(warehouse, "typed")
    warehouse.write_table(rel, TYPED)
    meta = {"entities": ["driver_id"], "timestamp_field": "event_timestamp"}
    declared = Declared(name="typed", unique_id="model.p.typed", yaml_file="models/t.yml", meta=meta,
                        relation=(rel.database, rel.schema_name, rel.identifier))
    defs = build_definitions([declared], [], warehouse.columns, warehouse.parse_type)
    entities = pa.table({"driver_id": pa.array([1, 2, 3], pa.int64()),
                         "event_timestamp": pa.array([10**7] * 3, pa.timestamp("us"))})
    if entity == "sql":
        labels = relation_in(warehouse, "typed_labels")
        warehouse.write_table(labels, entities)
        entities = f"select * from {warehouse.table(labels).sql(dialect=warehouse.dialect)}"
    got = training_set(warehouse, defs, ["typed:*"], entities)
    got = got.sort_by("driver_id")
    assert {f.name: f.type for f in got.schema if f.name in TYPED_OUT} == TYPED_OUT
    first = got.slice(0, 1).to_pylist()[0]
    want = TYPED.slice(0, 1).to_pylist()[0]
    for name in TYPED_OUT:
        expected = want[name]
        if name == "f_dec":
            expected = float(expected)
        elif name == "f_dec0":
            expected = int(expected)
        assert first[name] == expected and type(first[name]) is type(expected), name
    assert all(v is None for k, v in got.slice(1, 1).to_pylist()[0].items() if k in TYPED_OUT)
