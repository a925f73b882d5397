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
