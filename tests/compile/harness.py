"""Run point-in-time training sets on a real engine and compare them with the oracle, row by row.

A case is feature tables (Arrow, loaded into the engine), requests against them and an entity
set. `check_case` plans the training set through `featsql.training.plan_training_set` (the code
`FeatureStore.get_historical_features` calls) twice: with the entity set as a pandas DataFrame
(uploaded) and as SQL over the same rows loaded as a table (run in place). Every entity row must
come back exactly once, its own columns unchanged and first, then the features in request order,
each equal to the oracle's.

Engines plug in by name (`ENGINES`), opened through tests/engines.py (the warehouse tests'
engines); servers that do not answer skip, or fail with FEATSQL_REQUIRE_SERVICES=1:

    duckdb          DuckDB's native ASOF plan
    duckdb-window   the sort-based window plan (PostgreSQL's capabilities) run on DuckDB
    postgres        the window plan on the PostgreSQL server
    snowflake       Snowflake's SQL in the window plan, on fakesnow
    snowflake-asof  Snowflake's native ASOF plan on fakesnow, its join spelled as DuckDB's

Run one: `pytest tests/compile -k "duckdb-window"`.
"""
from __future__ import annotations

import itertools
import math
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any, Callable, Iterator, Mapping, Sequence

import pyarrow as pa
import pytest
from sqlglot import exp

from featsql.definitions import (
    Definitions,
    Entity,
    Feature,
    FeatureService,
    FeatureView,
    Relation,
    ViewProjection,
)
from featsql.offline.base import Warehouse
from featsql.offline.duckdb import DuckDBWarehouse
from featsql.offline.snowflake import SnowflakeWarehouse
from featsql.refs import resolve
from featsql.sql import table as sql_table
from featsql.types import arrow_kind, logical_type
from featsql.training import plan_date_range, plan_training_set
from tests import engines
from tests.compile import oracle

TAG = "row_tag"  # unique per entity row: SQL entity sets come back in any order
TS = "event_timestamp"


# -- what a case is made of -----------------------------------------------------------------------

@dataclass
class ViewData:
    """A feature table and the view over it."""

    name: str
    data: pa.Table
    join_keys: tuple[str, ...]
    features: tuple[str, ...]
    timestamp_field: str = "ts"
    created_field: str | None = None
    ttl: timedelta | None = None
    offset: timedelta | None = None  # featsql.timestamp_offset


@dataclass
class Request:
    """Features wanted from a view, maybe under an alias with mapped join keys."""

    view: str
    features: tuple[str, ...]
    alias: str | None = None
    join_key_map: dict[str, str] = field(default_factory=dict)


@dataclass
class Case:
    views: list[ViewData]
    requests: list[Request]
    entities: pa.Table  # must hold TAG, unique
    full_feature_names: bool = False
    filter_by_created_timestamp: bool = False
    timestamp_column: str = TS


# -- engines --------------------------------------------------------------------------------------

@dataclass
class Engine:
    """A warehouse (opened by tests/engines.py) and the warehouse class whose plan runs on it.

    `compiler` replaces the warehouse's own class while planning: `duckdb-window` is DuckDB
    without its native ASOF join (the sort-based plan, no server needed); fakesnow cannot run
    Snowflake's ASOF JOIN ... MATCH_CONDITION, so Snowflake runs its window plan there (the
    native form is checked as text by tests/compile/test_golden.py).
    """

    name: str
    warehouse: str  # a tests.engines.engine name
    compiler: type[Warehouse] | None = None
    # Applied to the planned query before it runs (see `asof_as_duckdb`).
    rewrite: Callable[[exp.Query], exp.Query] | None = None
    # fakesnow stores write_pandas columns upper case and matches quoted names case-insensitively
    # (tests/offline/test_snowflake.py): result names are compared lower-cased there, and the
    # DataFrame's time column type is not checked (RetrievalJob cannot find it to restore).
    fold_case: bool = False
    wh: Any = None
    _stack: ExitStack = field(default_factory=ExitStack)
    _counter: Iterator[int] = field(default_factory=itertools.count)

    @property
    def dialect(self) -> str:
        return self.wh.dialect

    def plan_warehouse(self) -> Warehouse:
        return self.compiler() if self.compiler is not None else type(self.wh)()

    def open(self) -> Engine:
        self.wh = self._stack.enter_context(engines.engine(self.warehouse))
        return self

    def close(self) -> None:
        self._stack.close()
        self.wh = None

    def fresh(self, stem: str) -> str:
        return f"pit_{next(self._counter)}_{stem}"

    def write_table(self, name: str, data: pa.Table) -> Relation:
        relation = engines.relation_in(self.wh, name)
        self.wh.write_table(relation, data)
        return relation

    def open_warehouse(self) -> Any:
        """What a RetrievalJob opens: the session's warehouse, left open afterwards."""
        return engines.borrowed(self.wh)

    def columns_of_table(self, t: exp.Table) -> dict[str, str] | None:
        rel = Relation(database=t.catalog or None, schema_name=t.db or None, identifier=t.name)
        return self.wh.columns(rel)


class SnowflakeWithoutAsof(SnowflakeWarehouse):
    """Snowflake's SQL (CONVERT_TIMEZONE, TIMESTAMP_NTZ, QUALIFY) in the plan fakesnow can run."""

    asof = False


class DuckDBWindow(DuckDBWarehouse):
    """DuckDB with the sort-based window plan the warehouses without ASOF get."""

    asof = False
    asof_struct = False
    qualify = False


def asof_as_duckdb(query: exp.Query) -> exp.Query:
    """Snowflake's `ASOF JOIN r MATCH_CONDITION (m) ON k` spelled `ASOF LEFT JOIN r ON k AND m`.

    The same join (Snowflake null-pads unmatched left rows), in the form fakesnow passes to
    DuckDB: so Snowflake's native plan (dedup by QUALIFY, ttl as a CASE after the join, bounds)
    runs on fakesnow, with only the join's spelling changed.
    """
    query = query.copy()
    for join in query.find_all(exp.Join):
        match = join.args.get("match_condition")
        if match is not None:
            join.set("match_condition", None)
            join.set("side", "LEFT")
            join.set("on", exp.and_(join.args.get("on"), match.copy()))
    return query


# Engine name -> how to make it; servers skip unless FEATSQL_REQUIRE_SERVICES=1.
ENGINES: dict[str, Callable[[], Engine]] = {
    "duckdb": lambda: Engine("duckdb", "duckdb"),
    "duckdb-window": lambda: Engine("duckdb-window", "duckdb", compiler=DuckDBWindow),
    "postgres": lambda: Engine("postgres", "postgres"),
    "snowflake": lambda: Engine("snowflake", "snowflake", compiler=SnowflakeWithoutAsof,
                                fold_case=True),
    "snowflake-asof": lambda: Engine("snowflake-asof", "snowflake", rewrite=asof_as_duckdb,
                                     fold_case=True),
}


def engine_names() -> list[str]:
    return list(ENGINES)


def open_engine(name: str) -> Engine:
    """A connected engine, or a skip (a failure with FEATSQL_REQUIRE_SERVICES=1)."""
    return ENGINES[name]().open()


# -- running a case -------------------------------------------------------------------------------

def load(engine: Engine, case: Case) -> Definitions:
    """Load the case's feature tables; the views over them, typed from the engine's catalog."""
    views: dict[str, FeatureView] = {}
    for v in case.views:
        relation = engine.write_table(engine.fresh(v.name), v.data)
        types = {name: logical_type(engine.wh.parse_type(t))
                 for name, t in (engine.wh.columns(relation) or {}).items()}
        views[v.name] = FeatureView(
            name=v.name,
            entities=tuple(Entity(name=k, join_key=k) for k in v.join_keys),
            timestamp_field=v.timestamp_field,
            created_timestamp_field=v.created_field,
            # From the data, not the catalog: fakesnow's write_pandas stores a date as text.
            timestamp_dtype=arrow_kind(v.data.schema.field(v.timestamp_field).type),
            created_timestamp_dtype=(arrow_kind(v.data.schema.field(v.created_field).type)
                                     if v.created_field else None),
            ttl_seconds=int(v.ttl.total_seconds()) if v.ttl is not None else None,
            timestamp_offset_seconds=int(v.offset.total_seconds()) if v.offset else None,
            features=tuple(Feature(name=f, dtype=types[f][0], precision=types[f][1],
                                   scale=types[f][2]) for f in v.features),
            relation=relation,
        )
    return Definitions(feature_views=views)


def feature_refs(case: Case) -> list[str] | FeatureService:
    """Plain "view:feature" references, or a feature service when a request is aliased."""
    if any(r.alias or r.join_key_map for r in case.requests):
        return FeatureService(name="svc", projections=tuple(
            ViewProjection(view=r.view, alias=r.alias, features=r.features,
                           join_key_map=r.join_key_map) for r in case.requests))
    return [f"{r.view}:{f}" for r in case.requests for f in r.features]


def oracle_requests(case: Case) -> list[oracle.OracleRequest]:
    by_name = {}
    for v in case.views:
        by_name[v.name] = oracle.OracleView(
            name=v.name, join_keys=v.join_keys, features=v.features, rows=v.data.to_pylist(),
            timestamp_field=v.timestamp_field, created_field=v.created_field, ttl=v.ttl,
            offset=v.offset)
    return [oracle.OracleRequest(by_name[r.view], r.features, r.alias, r.join_key_map)
            for r in case.requests]


def plan(engine: Engine, case: Case, defs: Definitions, entity_df: Any,
         open_warehouse: Callable[[], Any] | None = None):
    requests = resolve(feature_refs(case), defs, case.full_feature_names)
    job = plan_training_set(
        warehouse=engine.plan_warehouse(), requests=requests, entity_df=entity_df,
        open_warehouse=open_warehouse or engine.open_warehouse, render_sql=lambda s: s,
        columns_of_table=engine.columns_of_table, full_feature_names=case.full_feature_names,
        filter_by_created_timestamp=case.filter_by_created_timestamp,
        timestamp_column=case.timestamp_column)
    if engine.rewrite is not None:
        job.query = engine.rewrite(job.query)
    return job


def entity_frame(entities: pa.Table) -> Any:
    """The entity rows as a plain pandas DataFrame (nullable ints stay ints)."""
    import pandas as pd

    return entities.to_pandas(types_mapper={pa.int64(): pd.Int64Dtype()}.get)


def entity_sql(engine: Engine, entities: pa.Table) -> str:
    relation = engine.write_table(engine.fresh("entities"), entities)
    return exp.select("*").from_(sql_table(relation)).sql(dialect=engine.dialect)


def render_macro(body: str, entity: str, ref: Callable[..., str], **params: Any) -> str:
    """A compiled dbt macro body (featsql.compile.macros) rendered as dbt renders it: `entity`
    and each `ref()` replaced by relation SQL, latest-values bounds by `params`."""
    import jinja2

    return jinja2.Environment(undefined=jinja2.StrictUndefined).from_string(body).render(
        entity=entity, ref=ref, **params)


def macro_job(engine: Engine, case: Case, defs: Definitions, entities: pa.Table):
    """The case through the dbt macro's SQL: the compiled featsql.training_set body for this
    engine, rendered with the entity table and each view's relation, run as a RetrievalJob."""
    import sqlglot

    from featsql.compile.macros import TrainingCall, training_set_body
    from featsql.training import RetrievalJob

    wh = engine.plan_warehouse()
    requests = resolve(feature_refs(case), defs, case.full_feature_names)
    call = TrainingCall("case", "case.sql", None, case.full_feature_names, case.timestamp_column,
                        case.filter_by_created_timestamp)
    body = training_set_body(wh, requests, call, root_project="cases")
    relation = engine.write_table(engine.fresh("entities"), entities)
    by_name = {v.name: v for v in defs.feature_views.values()}
    sql = "SELECT * FROM " + render_macro(
        body, sql_table(relation).sql(dialect=engine.dialect),
        lambda name: sql_table(by_name[name].relation).sql(dialect=engine.dialect))
    query = sqlglot.parse_one(sql, read=engine.dialect)
    kinds = {r.output_name(f, case.full_feature_names): r.view.feature(f).kind
             for r in requests for f in r.features}
    return RetrievalJob(wh, query, engine.open_warehouse, kinds=kinds)


def check_case(engine: Engine, case: Case, modes: Sequence[str] = ("df", "sql", "macro")) -> None:
    """Run `case` on `engine` for each entity-set mode (a DataFrame, SQL, and the SQL entity
    set through the dbt macro's compiled SQL) and compare with the oracle."""
    defs = load(engine, case)
    want = oracle.expected(oracle_requests(case), case.entities.to_pylist(), case.timestamp_column,
                           case.full_feature_names, case.filter_by_created_timestamp)
    picks: dict[str, dict[Any, tuple]] = {}
    for mode in modes:
        if mode == "macro":
            job = macro_job(engine, case, defs, case.entities)
        else:
            entity_df = (entity_frame(case.entities) if mode == "df"
                         else entity_sql(engine, case.entities))
            job = plan(engine, case, defs, entity_df)
        if mode == "macro" and engine.rewrite is not None:
            job.query = engine.rewrite(job.query)
        got = job.to_arrow()
        if engine.fold_case:
            got = got.rename_columns([c.lower() for c in got.column_names])
        where = f"{engine.name}/{mode}"
        compare(case, want, got, ordered=mode == "df", where=where, sql=job.to_sql,
                check_time_type=not engine.fold_case)
        picks[where] = deterministic(case, got, where)
    first, *others = picks.items()
    for where, chosen in others:
        diff = [t for t in chosen if chosen[t] != first[1].get(t)]
        assert not diff, (f"{where} and {first[0]} chose different tied rows for the same entity"
                          f" rows {diff[:5]}: {[chosen[t] for t in diff[:5]]} vs"
                          f" {[first[1].get(t) for t in diff[:5]]}")


def check_date_range(engine: Engine, case: Case, start: Any, end: Any) -> pa.Table:
    """`entity_df=None` with a window: the rows (keys, end, features) equal the oracle's, one
    per entity key with rows in the window; the case's entity set is not used."""
    defs = load(engine, case)
    requests = oracle_requests(case)
    job = plan_date_range(
        warehouse=engine.plan_warehouse(), requests=resolve(feature_refs(case), defs, case.full_feature_names),
        start=start, end=end, open_warehouse=engine.open_warehouse,
        full_feature_names=case.full_feature_names,
        filter_by_created_timestamp=case.filter_by_created_timestamp)
    if engine.rewrite is not None:
        job.query = engine.rewrite(job.query)
    got = job.to_arrow()
    if engine.fold_case:
        got = got.rename_columns([c.lower() for c in got.column_names])
    naive_end = oracle.utc(end).replace(tzinfo=None)
    rows = oracle.date_range_entities(requests, start, naive_end)
    keyed = [r for r in requests if r.view.join_keys]
    key_cols = [r.entity_column(k) for r in keyed[:1] for k in r.view.join_keys]
    features = oracle.output_columns(requests, case.full_feature_names)
    assert got.column_names == [*key_cols, TS, *features], (got.column_names, key_cols)
    want = oracle.expected(requests, rows, TS, case.full_feature_names, case.filter_by_created_timestamp)
    by_key = {tuple(r[c] for c in key_cols): w for r, w in zip(rows, want)}
    problems = []
    out = got.to_pylist()
    if sorted(map(repr, by_key)) != sorted(repr(tuple(r[c] for c in key_cols)) for r in out):
        problems.append(f"keys {[tuple(r[c] for c in key_cols) for r in out]}, expected {list(by_key)}")
    for row in out:
        key = tuple(row[c] for c in key_cols)
        if not _same(row[TS], naive_end):
            problems.append(f"{key}: {TS} = {row[TS]!r}, expected {naive_end}")
        expect = by_key.get(key)
        if expect is None:
            continue
        for r in requests:
            values = tuple(row[r.output_name(f, case.full_feature_names)] for f in r.features)
            if not any(all(_same(a, b) for a, b in zip(values, c)) for c in expect[r.name].candidates):
                problems.append(f"{key}: {r.name} -> {values}, expected {expect[r.name].pick}")
    assert not problems, f"{engine.name}: " + "\n  ".join(problems[:12]) + f"\n-- SQL:\n{job.to_sql()}"
    return got


def deterministic(case: Case, got: pa.Table, where: str) -> dict[Any, tuple]:
    """Features per row tag; copies of one entity row must have come back with equal values."""
    inputs = {r[TAG]: r for r in case.entities.to_pylist()}
    entity_cols = [c for c in case.entities.column_names if c != TAG]
    features = got.column_names[len(case.entities.column_names):]
    by_entity: dict[tuple, tuple] = {}
    out = {}
    for row in got.to_pylist():
        values = tuple(row[f] for f in features)
        out[row[TAG]] = values
        source = inputs.get(row[TAG])
        if source is None:
            continue
        same = tuple((c, _hashable(source[c])) for c in entity_cols)
        seen = by_entity.setdefault(same, values)
        assert seen == values, f"{where}: copies of entity row {dict(same)} got {seen} and {values}"
    return out


def _hashable(value: Any) -> Any:
    return oracle.utc(value) if hasattr(value, "tzinfo") else value


def _same(got: Any, sent: Any) -> bool:
    """Equal values of the same type (an int is not a float); times as UTC instants."""
    if got is None or sent is None:
        return got is None and sent is None
    if hasattr(got, "tzinfo") and hasattr(sent, "tzinfo"):
        return oracle.utc(got) == oracle.utc(sent)
    if isinstance(got, float) and isinstance(sent, float) and math.isnan(got) and math.isnan(sent):
        return True
    if type(got) is not type(sent):
        return False
    return got == sent


def compare(case: Case, want: list[dict[str, oracle.Match]], got: pa.Table,
            ordered: bool, where: str, sql: Callable[[], str],
            check_time_type: bool = True) -> None:
    """Row-by-row comparison; one AssertionError listing the first differences and the SQL."""
    requests = oracle_requests(case)
    entity_cols = case.entities.column_names
    feature_cols = oracle.output_columns(requests, case.full_feature_names)
    problems: list[str] = []
    if got.column_names != entity_cols + feature_cols:
        problems.append(f"columns {got.column_names}, expected {entity_cols + feature_cols}")
    rows = got.to_pylist()
    inputs = case.entities.to_pylist()
    if ordered:  # a DataFrame: its order, and its time column's own type (zone, unit) back
        pairs = list(zip(inputs, want, rows))
        ts = case.timestamp_column
        sent_type = case.entities.schema.field(ts).type
        back = got.schema.field(ts).type if ts in got.column_names else None
        if check_time_type and back is not None and back != sent_type:
            problems.append(f"time column came back as {back}, sent {sent_type}")
        if len(rows) != len(inputs):
            problems.append(f"{len(rows)} rows for {len(inputs)} entity rows")
    else:
        tags = [r.get(TAG) for r in rows]
        if sorted(tags) != sorted(r[TAG] for r in inputs):
            problems.append(f"row tags {sorted(tags)}, expected each of"
                            f" {sorted(r[TAG] for r in inputs)} exactly once")
        by_tag = {r.get(TAG): r for r in rows}
        pairs = [(i, w, by_tag[i[TAG]]) for i, w in zip(inputs, want) if i[TAG] in by_tag]
    for entity_row, expect, row in pairs:
        if row.get(TAG) != entity_row[TAG]:
            problems.append(f"row {entity_row[TAG]}: came back as row {row.get(TAG)} (order)")
            continue
        for c in entity_cols:
            if not _same(row.get(c), entity_row[c]):
                problems.append(f"row {entity_row[TAG]}: entity column {c} = {row.get(c)!r},"
                                f" sent {entity_row[c]!r}")
        for r in requests:
            m = expect[r.name]
            values = tuple(row.get(r.output_name(f, case.full_feature_names)) for f in r.features)
            if not any(all(_same(a, b) for a, b in zip(values, c)) for c in m.candidates):
                tied = f" (tied: {list(m.candidates)})" if len(m.candidates) > 1 else ""
                problems.append(f"row {entity_row}: {r.name} -> {values}, expected {m.pick}{tied}")
    if problems:
        head = "\n  ".join(problems[:12])
        more = f"\n  ... and {len(problems) - 12} more" if len(problems) > 12 else ""
        raise AssertionError(f"{where}: {len(problems)} difference(s) from the oracle:"
                             f"\n  {head}{more}\n-- SQL:\n{sql()}")


def entities(rows: Sequence[Mapping[str, Any]], schema: pa.Schema | None = None) -> pa.Table:
    """An entity table from dicts, with TAG added (0, 1, ...) when absent."""
    tagged = [{TAG: i, **r} if TAG not in r else dict(r) for i, r in enumerate(rows)]
    if schema is not None and TAG not in schema.names:
        schema = pa.schema([pa.field(TAG, pa.int64()), *schema])
    return pa.Table.from_pylist(tagged, schema=schema)


@pytest.fixture(scope="session", params=engine_names())
def engine(request: pytest.FixtureRequest) -> Iterator[Engine]:
    """Each engine in turn, connected once per session (import this fixture into a test module)."""
    eng = open_engine(request.param)
    yield eng
    eng.close()
