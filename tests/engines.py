"""Warehouse engines for tests: the example repo's data and definitions in any warehouse.

Shared by tests/offline (warehouse tests), tests/compile (golden SQL, the PIT oracle harness):

    example_tables()                    the example seeds as typed Arrow tables, shaped like
                                        the models dbt builds from them (driver_hourly_stats,
                                        location_stats, driver_labels)
    example_definitions(types, rel)     Definitions built by featsql's own declaration code
                                        from models_example/models/schema.yml, no dbt run
    load_example(wh)                    write the tables into wh.test_schema, return Definitions
    training_set(wh, defs, features, entity_df_or_sql, ...)
                                        plan + run a training set on an open warehouse

Fixtures (import them into a conftest.py to use them; tests/offline/conftest.py does):
`duckdb_warehouse`, `postgres_warehouse` (a fresh schema on the PostgreSQL server, dropped after),
`snowflake_warehouse` (fakesnow, in memory), and `warehouse`, parametrized indirectly by name:

    @pytest.mark.parametrize("warehouse", ENGINES, indirect=True)
    def test_x(warehouse): ...

Outside pytest fixtures, `engine(name)` is the same thing as a context manager (names: duckdb,
postgres, redshift-on-postgres, snowflake). A warehouse's `.test_schema` (and `.test_database`)
is where tests should write; `relation_in(wh, name)` builds a Relation there. PostgreSQL comes from
FEATSQL_TEST_POSTGRES ("host:port", default 127.0.0.1:5432; user postgres, trust auth,
database test); missing servers skip unless FEATSQL_REQUIRE_SERVICES=1.
"""
from __future__ import annotations

import os
import uuid
from contextlib import contextmanager, nullcontext
from pathlib import Path
from types import SimpleNamespace
from typing import Any, Callable, Iterator

import pyarrow as pa
import pyarrow.csv as pacsv
import pytest
import yaml
from sqlglot import exp

from featsql.definitions import Definitions, Relation
from featsql.offline.base import Warehouse, arrow_sql_type
from featsql.sql import ident, table
from tests.support import EXAMPLE, port_open, require_service

ENGINES = ["duckdb", "postgres", "snowflake"]
SERVICE = "driver_ranking_v1"
LABELS = "driver_labels"

# Seed -> (model name, {column: (Arrow type, source column)}), like models_example/models/*.sql.
_MODELS: dict[str, tuple[str, dict[str, tuple[pa.DataType, str]]]] = {
    "driver_stats_raw": ("driver_hourly_stats", {
        "driver_id": (pa.int64(), "driver_id"),
        "event_timestamp": (pa.timestamp("us"), "event_timestamp"),
        "created": (pa.timestamp("us"), "created"),
        "conv_rate": (pa.float64(), "conv_rate"),
        "acc_rate": (pa.float64(), "acc_rate"),
        "avg_daily_trips": (pa.int32(), "avg_daily_trips"),
    }),
    "location_stats_raw": ("location_stats", {
        "location_id": (pa.int64(), "location_id"),
        "event_timestamp": (pa.timestamp("us"), "event_timestamp"),
        "avg_wait": (pa.float64(), "avg_wait_minutes"),
    }),
    "driver_labels": ("driver_labels", {
        "trip_id": (pa.int64(), "trip_id"),
        "driver_id": (pa.int64(), "driver_id"),
        "origin_id": (pa.int64(), "origin_id"),
        "destination_id": (pa.int64(), "destination_id"),
        "event_timestamp": (pa.timestamp("us"), "event_timestamp"),
        "trip_completed": (pa.int64(), "trip_completed"),
    }),
}


def example_tables() -> dict[str, pa.Table]:
    """Model name -> its rows, typed as the example's dbt models build them."""
    out = {}
    for seed, (model, columns) in _MODELS.items():
        types = {src: t for t, src in columns.values()}
        raw = pacsv.read_csv(EXAMPLE / "seeds" / f"{seed}.csv",
                             convert_options=pacsv.ConvertOptions(column_types=types))
        out[model] = pa.table({name: raw.column(src).cast(t) for name, (t, src) in columns.items()})
    return out


def example_types(dialect: str) -> dict[str, dict[str, str]]:
    """Model -> column -> the type name a `dialect` warehouse reports, without a warehouse."""
    return {model: {name: arrow_sql_type(t).sql(dialect=dialect) for name, (t, _) in cols.items()}
            for model, cols in _MODELS.values()}


def example_definitions(columns_of: Callable[[Relation], dict[str, str] | None],
                        type_of: Callable[[str], Any], relation: Callable[[str], Relation]) -> Definitions:
    """The example's views and service through featsql's declaration code (apply's validation)."""
    from featsql.declarations import build_definitions
    from featsql.manifest import Declared

    doc = yaml.safe_load((EXAMPLE / "models" / "schema.yml").read_text())
    yaml_file = "models/schema.yml"
    views = []
    for m in doc["models"]:
        rel = relation(m["name"])
        views.append(Declared(name=m["name"], unique_id=f"model.driver_ranking.{m['name']}",
                              yaml_file=yaml_file, meta=m["config"]["meta"]["featsql"],
                              relation=(rel.database, rel.schema_name, rel.identifier),
                              description=m.get("description", "")))
    services = [Declared(name=e["name"], unique_id=f"exposure.driver_ranking.{e['name']}",
                         yaml_file=yaml_file, meta=e["config"]["meta"]["featsql"],
                         description=e.get("description", ""), owner=e["owner"]["name"])
                for e in doc["exposures"]]
    return build_definitions(views, services, columns_of, type_of)


def offline_definitions(dialect: str, database: str | None = None,
                        schema: str = "analytics") -> Definitions:
    """Example definitions for `dialect` with no warehouse at all (golden SQL, planner tests)."""
    types = example_types(dialect)

    def type_of(name: str) -> exp.DataType:
        return exp.DataType.build(name, dialect=dialect)

    return example_definitions(lambda rel: types.get(rel.identifier), type_of,
                               lambda name: Relation(database=database, schema_name=schema,
                                                     identifier=name))


def relation_in(wh: Warehouse, name: str) -> Relation:
    return Relation(database=getattr(wh, "test_database", None),
                    schema_name=getattr(wh, "test_schema", None), identifier=name)


def load_example(wh: Warehouse) -> Definitions:
    """Write the example tables into `wh`'s test schema; definitions read back from its catalog."""
    for name, data in example_tables().items():
        wh.write_table(relation_in(wh, name), data)
    return example_definitions(wh.columns, wh.parse_type, lambda name: relation_in(wh, name))


def manifest_for(wh_or_dialect: Warehouse | str, relation: Callable[[str], Relation]) -> dict:
    """A minimal manifest so `{{ ref('driver_labels') }}` renders as in a real project."""
    dialect = wh_or_dialect if isinstance(wh_or_dialect, str) else wh_or_dialect.dialect
    rel = relation(LABELS)
    return {"nodes": {f"seed.driver_ranking.{LABELS}": {
        "name": LABELS, "package_name": "driver_ranking", "database": rel.database,
        "schema": rel.schema_name, "alias": rel.identifier,
        "relation_name": table(rel).sql(dialect=dialect)}}}


@contextmanager
def borrowed(wh: Warehouse) -> Iterator[Warehouse]:
    """Lend an open warehouse to a RetrievalJob without letting it close the connection."""
    yield wh


def plan(dialect: str | Warehouse, defs: Definitions, features: Any, entity: Any, *,
         open_warehouse: Callable[[], Any] | None = None, manifest: dict | None = None,
         columns_of_table: Callable[[Any], dict[str, str] | None] | None = None, **kwargs: Any):
    """plan_training_set as FeatureStore.get_historical_features calls it; `dialect` is a
    dialect name or the (unconnected) warehouse to compile for."""
    from featsql.manifest import render_refs
    from featsql.offline.base import for_dialect
    from featsql.refs import resolve
    from featsql.training import plan_training_set

    if isinstance(features, str) and ":" not in features:
        features = defs.feature_services[features]
    requests = resolve(features, defs, kwargs.get("full_feature_names", False))
    from featsql.compile.request import computed_features

    compiler = for_dialect(dialect) if isinstance(dialect, str) else dialect
    return plan_training_set(
        warehouse=compiler, requests=requests, entity_df=entity,
        computed=computed_features(features, defs.feature_views),
        open_warehouse=open_warehouse or (lambda: pytest.fail("no warehouse here")),
        render_sql=lambda sql: render_refs(sql, manifest or {}, compiler.dialect),
        columns_of_table=columns_of_table or (lambda t: None), **kwargs)


def training_set(wh: Warehouse, defs: Definitions, features: Any, entity: Any, *,
                 compiler: Warehouse | None = None, **kwargs: Any) -> pa.Table:
    """Run a training set on an open warehouse (compiled for `compiler`, default its own class)."""
    def columns_of(t: Any) -> dict[str, str] | None:
        return wh.columns(Relation(database=t.catalog or None, schema_name=t.db or None,
                                   identifier=t.name))

    compiler = compiler or type(wh)()
    job = plan(compiler, defs, features, entity,
               open_warehouse=lambda: borrowed(wh),
               manifest=manifest_for(compiler.dialect, lambda n: relation_in(wh, n)),
               columns_of_table=columns_of, **kwargs)
    return job.to_arrow()


def label_entities() -> Any:
    """The example's labels as a pandas DataFrame entity set."""
    return example_tables()["driver_labels"].to_pandas()


def case_entity(case: Any) -> Any:
    """A golden case's entity set (tests/compile/regen_golden.py): the labels DataFrame or SQL."""
    return label_entities() if case.entity == "dataframe" else case.entity


def comparable(data: pa.Table, sort_by: str | list[str] | None = None) -> Any:
    """A result as a pandas frame in a canonical order, naive UTC times, for cross-engine equality.

    Column names are lower-cased: fakesnow's write_pandas creates unquoted (upper-case) columns
    where real Snowflake keeps the quoted lower-case names, so only the case may differ there.
    """
    import pandas as pd

    frame = data.to_pandas()
    frame.columns = [c.lower() for c in frame.columns]
    for name in frame.columns:
        if isinstance(frame[name].dtype, pd.DatetimeTZDtype):
            frame[name] = frame[name].dt.tz_convert("UTC").dt.tz_localize(None)
        if pd.api.types.is_datetime64_any_dtype(frame[name]):
            frame[name] = frame[name].astype("datetime64[us]")
    keys = sort_by or (["trip_id"] if "trip_id" in frame.columns else list(frame.columns))
    return frame.sort_values(keys, kind="stable").reset_index(drop=True)


# -- engines ---------------------------------------------------------------------------------------

def postgres_params() -> dict[str, Any]:
    """Where the test PostgreSQL server is: FEATSQL_TEST_POSTGRES=host:port, default local."""
    spec = os.environ.get("FEATSQL_TEST_POSTGRES", "127.0.0.1:5432")
    host, _, port = spec.partition(":")
    return {"host": host or "127.0.0.1", "port": int(port or 5432), "user": "postgres",
            "password": "", "database": "test"}


def _schema_name() -> str:
    return f"featsql_test_{uuid.uuid4().hex[:10]}"


@contextmanager
def postgres_engine(adapter_type: str = "postgres") -> Iterator[Warehouse]:
    """A PostgreSQL-protocol warehouse (postgres, or redshift's class) in a fresh schema."""
    from featsql.offline.base import warehouse_class

    params = postgres_params()
    require_service("postgres", lambda: port_open(params["host"], params["port"]))
    schema = _schema_name()
    creds = SimpleNamespace(type=adapter_type, schema=schema, **params)
    wh = warehouse_class(adapter_type)(creds, project_dir=Path("."))
    wh.test_schema = schema  # type: ignore[attr-defined]
    wh.test_database = params["database"]  # type: ignore[attr-defined]
    try:
        wh.execute(wh.sql(exp.Create(this=exp.Table(this=ident(schema)), kind="SCHEMA")))
        if adapter_type == "redshift":
            # Redshift reads backslashes in string literals as escapes (sqlglot's redshift
            # printer writes 'it\'s'); PostgreSQL does too with this setting off.
            wh.execute("SET standard_conforming_strings = off")
            wh.execute("SET escape_string_warning = off")
        yield wh
    finally:
        try:
            wh.execute(wh.sql(exp.Drop(tables=[exp.Table(this=ident(schema))], kind="SCHEMA",
                                       exists=True, cascade=True)))
        finally:
            wh.close()


def _fakesnow_arrow_fetch() -> None:
    """fakesnow 0.12 cursors lack the real connector's fetch_arrow_all / fetch_arrow_batches
    (its ResultBatch.to_arrow raises NotImplementedError); give them both, reading the Arrow
    result fakesnow already holds, so SnowflakeWarehouse runs its real code path."""
    from fakesnow.cursor import FakeSnowflakeCursor

    if hasattr(FakeSnowflakeCursor, "fetch_arrow_all"):
        return

    def fetch_arrow_all(self: Any, force_return_table: bool = False) -> pa.Table | None:
        result = self._arrow_table
        return result if force_return_table or (result is not None and result.num_rows) else None

    def fetch_arrow_batches(self: Any) -> Iterator[pa.Table]:
        if self._arrow_table is not None:
            for batch in self._arrow_table.to_batches(max_chunksize=10_000):
                yield pa.Table.from_batches([batch])

    FakeSnowflakeCursor.fetch_arrow_all = fetch_arrow_all  # type: ignore[attr-defined]
    FakeSnowflakeCursor.fetch_arrow_batches = fetch_arrow_batches  # type: ignore[attr-defined]


@contextmanager
def snowflake_engine() -> Iterator[Warehouse]:
    """Snowflake through fakesnow (DuckDB underneath: see tests/offline/test_snowflake.py for
    what that does and does not prove)."""
    fakesnow = pytest.importorskip("fakesnow")
    from featsql.offline.snowflake import SnowflakeWarehouse

    _fakesnow_arrow_fetch()
    # fakesnow does not implement ALTER SESSION SET TIMEZONE; its DuckDB session is UTC already.
    # Engines may nest (a session-scoped one open while a test opens another): patch once.
    import snowflake.connector
    from unittest import mock

    patched = isinstance(snowflake.connector.connect, mock.MagicMock)
    with nullcontext() if patched else fakesnow.patch(nop_regexes=[r"^ALTER SESSION SET TIMEZONE"]):
        schema = _schema_name().upper()
        creds = SimpleNamespace(type="snowflake", account="featsql-test", user="featsql",
                                password="featsql", database="FEATSQL", schema=schema)
        wh = SnowflakeWarehouse(creds, project_dir=Path("."))
        wh.test_schema = schema  # type: ignore[attr-defined]
        wh.test_database = "FEATSQL"  # type: ignore[attr-defined]
        try:
            yield wh
        finally:
            wh.close()


@contextmanager
def duckdb_engine() -> Iterator[Warehouse]:
    from featsql.offline.duckdb import DuckDBWarehouse

    wh = DuckDBWarehouse(SimpleNamespace(type="duckdb", path=":memory:"), project_dir=Path("."))
    wh.test_schema = "main"  # type: ignore[attr-defined]
    wh.test_database = None  # type: ignore[attr-defined]
    try:
        yield wh
    finally:
        wh.close()


def engine(name: str):
    """A context manager opening the named engine (duckdb, postgres, redshift-on-postgres,
    snowflake)."""
    if name == "duckdb":
        return duckdb_engine()
    if name == "postgres":
        return postgres_engine()
    if name == "redshift-on-postgres":
        return postgres_engine("redshift")
    if name == "snowflake":
        return snowflake_engine()
    raise ValueError(f"unknown test engine {name!r}")


@pytest.fixture
def duckdb_warehouse() -> Iterator[Warehouse]:
    with duckdb_engine() as wh:
        yield wh


@pytest.fixture
def postgres_warehouse() -> Iterator[Warehouse]:
    with postgres_engine() as wh:
        yield wh


@pytest.fixture
def snowflake_warehouse() -> Iterator[Warehouse]:
    with snowflake_engine() as wh:
        yield wh


@pytest.fixture
def warehouse(request: pytest.FixtureRequest) -> Iterator[Warehouse]:
    """Indirectly parametrized by engine name: duckdb, postgres, redshift-on-postgres, snowflake."""
    with engine(getattr(request, "param", "duckdb")) as wh:
        yield wh
