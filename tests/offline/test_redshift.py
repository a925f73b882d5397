"""Redshift: what is verified here, and what is not.

Verified:
* The compiled Redshift SQL of every golden case parses with sqlglot's redshift reader
  (tests/compile/test_golden.py) and uses the sort-based window plan (no ASOF, no QUALIFY in it).
* That same Redshift-dialect SQL, run by RedshiftWarehouse (the real class: psycopg, text
  results, multi-row INSERT uploads) against PostgreSQL, gives DuckDB's results on the example
  data for every golden case, DataFrame and SQL entity sets alike. PostgreSQL runs with
  standard_conforming_strings off so string literals escape as on Redshift.
* The S3 upload path builds the expected COPY statement and cleans up its file (S3 and the
  cluster replaced by recorders).

Not verified (no Redshift cluster here): Redshift's planner, its type coercions (VARCHAR(MAX),
TIMESTAMPTZ casts) and functions as Redshift implements them, COPY from S3 against real S3
and IAM, and whether Redshift evaluates a CTE referenced several times once.
"""
from __future__ import annotations

import sys
from types import SimpleNamespace

import pandas as pd
import pyarrow as pa
import pytest
from sqlglot import exp

from featsql.errors import FeatsqlError
from featsql.offline.redshift import (
    IAM_ROLE_ENV,
    S3_STAGING_ENV,
    RedshiftWarehouse,
    insert_statements,
)
from featsql.sql import table
from tests.compile.regen_golden import CASES
from tests.engines import case_entity, comparable, engine, load_example, training_set


@pytest.fixture
def redshift_on_postgres():
    with engine("redshift-on-postgres") as wh:
        yield wh


@pytest.mark.postgres
@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_redshift_sql_on_postgres_equals_duckdb(redshift_on_postgres, duckdb_results, case) -> None:
    wh = redshift_on_postgres
    assert wh.dialect == "redshift"
    defs = load_example(wh)  # through the INSERT fallback: no S3 configured
    got = training_set(wh, defs, case.features, case_entity(case), **case.options)
    pd.testing.assert_frame_equal(comparable(got), duckdb_results[case.name], check_dtype=False)


@pytest.mark.postgres
def test_insert_upload_round_trip(redshift_on_postgres) -> None:
    data = pa.table({"id": [1, 2, None], "name": ["it's", "back\\slash", None],
                     "score": [0.5, float("nan"), None], "ok": [True, None, False]})
    wh = redshift_on_postgres
    uploaded = table("featsql_rs_upload")
    # Created with PostgreSQL's types (Redshift's VARCHAR(MAX) does not exist there), then
    # filled by the Redshift class's own INSERT fallback with Redshift-escaped literals.
    wh.execute(wh.create_table(uploaded, data.schema, temporary=True).sql(dialect="postgres"))
    wh._load(uploaded, data)
    got = wh.query_arrow(wh.sql(exp.select("*").from_(uploaded)))
    assert got.column("name").to_pylist() == ["it's", "back\\slash", None]
    assert got.column("id").to_pylist() == [1, 2, None]
    assert str(got.column("score").to_pylist()) == str([0.5, float("nan"), None])
    assert got.column("ok").to_pylist() == [True, None, False]


def test_insert_statements_are_batched() -> None:
    data = pa.table({"k": list(range(2_500))})
    statements = list(insert_statements(table("t"), data, batch_rows=1_000))
    assert [len(s.expression.expressions) for s in statements] == [1_000, 1_000, 500]
    assert statements[0].sql(dialect="redshift").startswith('INSERT INTO "t" ("k") VALUES (0), (1)')


def test_copy_from_s3_when_configured(monkeypatch) -> None:
    calls: list[tuple] = []

    class FakeS3:
        def put_object(self, **kw):
            calls.append(("put", kw["Bucket"], kw["Key"]))

        def delete_object(self, **kw):
            calls.append(("delete", kw["Bucket"], kw["Key"]))

    monkeypatch.setitem(sys.modules, "boto3", SimpleNamespace(client=lambda *a, **k: FakeS3()))
    monkeypatch.setenv(S3_STAGING_ENV, "s3://my-bucket/featsql/staging/")
    monkeypatch.setenv(IAM_ROLE_ENV, "arn:aws:iam::123456789012:role/featsql")
    wh = RedshiftWarehouse(SimpleNamespace(type="redshift"))
    executed: list[str] = []
    monkeypatch.setattr(wh, "execute", executed.append)
    uploaded = wh.upload("featsql_entity_x", pa.table({"driver_id": [1], "event_timestamp": [1]}))
    assert uploaded.sql(dialect="redshift") == '"featsql_entity_x"'
    assert executed[0].startswith('CREATE TEMPORARY TABLE "featsql_entity_x"')
    key = calls[0][2]
    assert key.startswith("featsql/staging/featsql-") and key.endswith(".parquet")
    assert executed[1] == (f'COPY "featsql_entity_x" ("driver_id", "event_timestamp") FROM '
                           f"'s3://my-bucket/{key}' IAM_ROLE 'arn:aws:iam::123456789012:role/featsql'"
                           " FORMAT PARQUET")
    assert calls == [("put", "my-bucket", key), ("delete", "my-bucket", key)]


def test_iam_method_is_refused_clearly() -> None:
    wh = RedshiftWarehouse(SimpleNamespace(type="redshift", method="iam", host="h"))
    with pytest.raises(FeatsqlError, match="method 'iam' is not supported"):
        wh.connect_kwargs()
