"""BigQuery: what is verified here, and what is not (no BigQuery project, no google-cloud-bigquery).

Verified:
* The compiled BigQuery SQL of every golden case parses with sqlglot's bigquery reader
  (tests/compile/test_golden.py).
* The same plan, transpiled bigquery -> duckdb by sqlglot, runs on DuckDB over the example data
  and equals DuckDB's own plan, for every golden case (DataFrame entity sets registered under
  the upload's name). This checks the plan's logic in BigQuery's shape (window plan, DATETIME /
  TIMESTAMP conversions, backtick names) as far as sqlglot's translation is faithful.
* BigQueryWarehouse's upload path (table created with an expiry, Parquet load job typed from
  Arrow, default dataset on queries) against a recording stand-in for google.cloud.bigquery.

Not verified: BigQuery itself — its function signatures (sqlglot turns TIMESTAMP(x) into a
CAST on DuckDB, which accepts more argument types than BigQuery's TIMESTAMP() does), load-job
type conversions, and costs.
"""
from __future__ import annotations

import sys
from types import ModuleType, SimpleNamespace

import pandas as pd
import pyarrow as pa
import pytest
import sqlglot

from featsql.errors import FeatsqlError
from featsql.offline.bigquery import BigQueryWarehouse
from tests.compile.regen_golden import CASES
from tests.engines import (
    case_entity,
    comparable,
    example_definitions,
    example_types,
    load_example,
    manifest_for,
    plan,
    relation_in,
)


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_bigquery_plan_transpiled_to_duckdb_equals_duckdb(duckdb_warehouse, duckdb_results,
                                                          case) -> None:
    wh = duckdb_warehouse
    load_example(wh)
    types = example_types("bigquery")

    def relation(name: str):
        return relation_in(wh, name)

    defs = example_definitions(lambda rel: types.get(rel.identifier),
                               lambda t: sqlglot.exp.DataType.build(t, dialect="bigquery"), relation)
    job = plan("bigquery", defs, case.features, case_entity(case),
               manifest=manifest_for("bigquery", relation), **case.options)
    bigquery_sql = job.to_sql()
    duck_sql = sqlglot.transpile(bigquery_sql, read="bigquery", write="duckdb")[0]
    if job.upload is not None:
        wh.upload(job.upload_name, job.upload)
    got = job._restore_ts(wh.query_arrow(duck_sql))
    pd.testing.assert_frame_equal(comparable(got), duckdb_results[case.name], check_dtype=False)


class _Recorder:
    """Just enough of google.cloud.bigquery to record what BigQueryWarehouse asks for."""

    def __init__(self) -> None:
        self.calls: list[tuple] = []
        rec = self

        class Client:
            def __init__(self, **kw):
                rec.calls.append(("client", kw))

            def create_table(self, t):
                rec.calls.append(("create_table", t.ref, [(f.name, f.type) for f in t.schema],
                                  t.expires is not None))

            def load_table_from_file(self, buffer, ref, job_config):
                import pyarrow.parquet as pq

                rec.calls.append(("load", ref, job_config.kw["source_format"],
                                  pq.read_table(buffer).num_rows))
                return SimpleNamespace(result=lambda: None)

            def query(self, sql, job_config, timeout=None):
                rec.calls.append(("query", sql, job_config.kw["default_dataset"]))
                return SimpleNamespace(result=lambda: None)

            def delete_table(self, ref, not_found_ok=False):
                rec.calls.append(("delete_table", ref))

            def close(self):
                pass

        def config(**kw):
            return SimpleNamespace(kw=kw)

        class Table:
            def __init__(self, ref, schema):
                self.ref, self.schema, self.expires = ref, schema, None

        self.module = ModuleType("google.cloud.bigquery")
        self.module.Client = Client
        self.module.Table = Table
        self.module.SchemaField = lambda name, type_: SimpleNamespace(name=name, type=type_)
        self.module.QueryJobConfig = config
        self.module.LoadJobConfig = config
        self.module.SourceFormat = SimpleNamespace(PARQUET="PARQUET")
        self.module.WriteDisposition = SimpleNamespace(WRITE_APPEND="WRITE_APPEND")


def test_upload_is_a_load_job_into_an_expiring_table(monkeypatch) -> None:
    rec = _Recorder()
    google = ModuleType("google")
    cloud = ModuleType("google.cloud")
    cloud.bigquery = rec.module
    google.cloud = cloud
    monkeypatch.setitem(sys.modules, "google", google)
    monkeypatch.setitem(sys.modules, "google.cloud", cloud)
    monkeypatch.setitem(sys.modules, "google.cloud.bigquery", rec.module)
    creds = SimpleNamespace(type="bigquery", database="proj", schema="features", location="EU")
    wh = BigQueryWarehouse(creds)
    monkeypatch.setattr(wh, "_google_credentials", lambda: None)
    data = pa.table({"driver_id": [1, 2], "event_timestamp": pa.array([0, 1], pa.timestamp("us")),
                     "at": pa.array([0, 1], pa.timestamp("us", "UTC")), "label": ["a", "b"]})
    uploaded = wh.upload("featsql_entity_abc", data)
    wh.execute("select 1")
    wh.drop_upload(uploaded)
    assert uploaded.sql(dialect="bigquery") == "`featsql_entity_abc`"
    assert rec.calls == [
        ("client", {"project": "proj", "credentials": None, "location": "EU"}),
        ("create_table", "proj.features.featsql_entity_abc",
         [("driver_id", "INT64"), ("event_timestamp", "DATETIME"), ("at", "TIMESTAMP"),
          ("label", "STRING")], True),
        ("load", "proj.features.featsql_entity_abc", "PARQUET", 2),
        ("query", "select 1", "proj.features"),
        ("delete_table", "proj.features.featsql_entity_abc"),
    ]


def test_missing_library_is_a_clear_error(monkeypatch) -> None:
    monkeypatch.setitem(sys.modules, "google.cloud.bigquery", None)
    wh = BigQueryWarehouse(SimpleNamespace(type="bigquery", database="p", schema="d"))
    with pytest.raises(FeatsqlError, match=r"pip install 'featsql\[bigquery\]'"):
        wh.execute("select 1")
