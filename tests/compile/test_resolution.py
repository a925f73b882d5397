"""Static resolution: every statement featsql emits names only tables and columns that exist,
spelled the way each warehouse stores what dbt created. No warehouse is connected.

Emulators are not proof (fakesnow matches quoted names case-insensitively, so a query naming
"driver_id" passes there and fails on Snowflake, where dbt's unquoted driver_id is stored
DRIVER_ID). So each statement is qualified with sqlglot's optimizer against a schema written
here, independently of featsql's own spelling code: Snowflake stores dbt's unquoted names upper
case, the others lower case; tables featsql creates itself (uploads) keep the exact names of the
DDL featsql sends. An unresolved table or column fails the test with the statement.
"""
from __future__ import annotations

from datetime import datetime
from typing import Any

import pytest
import sqlglot
from sqlglot import exp
from sqlglot.optimizer.qualify import qualify
from sqlglot.schema import MappingSchema

from featsql.compile.latest import materialization_query
from featsql.definitions import Definitions, Relation
from featsql.offline.base import Warehouse, for_dialect
from featsql.sql import parse_table_name
from tests.engines import example_types, label_entities, manifest_for, offline_definitions, plan

DIALECTS = ["snowflake", "bigquery", "redshift", "postgres", "duckdb"]
# Where dbt built the example's models, as a profile would name them.
LOCATION = {"snowflake": ("analytics", "features"), "bigquery": ("my-project", "features"),
            "redshift": ("analytics", "features"), "postgres": ("analytics", "features"),
            "duckdb": ("warehouse", "main")}
# Where a bare table name (an upload, a temporary table) resolves.
SESSION = ("session_db", "session_schema")
LATEST = "driver_hourly_stats_latest"
LABELS_SQL = "select * from {{ ref('driver_labels') }}"
END = datetime(2025, 1, 8)


def stored(dialect: str, name: str) -> str:
    """How the warehouse stores a name dbt wrote unquoted (written out here, not featsql's)."""
    return name.upper() if dialect == "snowflake" else name.lower()


def warehouse_schema(dialect: str) -> dict[str, Any]:
    """catalog -> schema -> table -> column -> type, as the warehouse's catalog holds them."""
    database, schema = LOCATION[dialect]
    tables = {m: cols for m, cols in example_types(dialect).items()}
    tables[LATEST] = tables["driver_hourly_stats"]
    spelled = {stored(dialect, t): {stored(dialect, c): ty for c, ty in cols.items()}
               for t, cols in tables.items()}
    db = database if dialect == "bigquery" else stored(dialect, database)
    sch = schema if dialect == "bigquery" else stored(dialect, schema)
    return {db: {sch: spelled}, SESSION[0]: {SESSION[1]: {}}}


def definitions(dialect: str) -> Definitions:
    database, schema = LOCATION[dialect]
    defs = offline_definitions(dialect, database=database, schema=schema)
    view = defs.feature_views["driver_hourly_stats"]
    with_latest = view.model_copy(update={
        "name": "driver_stats_latest",
        "latest_table": Relation(database=database, schema_name=schema, identifier=LATEST)})
    return defs.model_copy(update={"feature_views": {**defs.feature_views,
                                                     with_latest.name: with_latest}})


def resolve(dialect: str, statement: exp.Expression, schema: dict[str, Any],
            what: str) -> exp.Expression:
    """Qualify `statement` (printed and re-parsed, as the warehouse receives it) against
    `schema`; fail naming the unresolved table or column."""
    sql = statement.sql(dialect=dialect)
    parsed = sqlglot.parse_one(sql, read=dialect)
    ctes = {c.alias_or_name for c in parsed.find_all(exp.CTE)}
    mapping = MappingSchema(schema, dialect=dialect, normalize=False)
    for t in parsed.find_all(exp.Table):
        if not t.db and t.name in ctes:
            continue
        catalog, db = t.catalog or SESSION[0], t.db or SESSION[1]
        if t.name not in schema.get(catalog, {}).get(db, {}):
            pytest.fail(f"{dialect}: {what}: table {t.sql(dialect=dialect)} does not resolve:\n{sql}")
    try:
        return qualify(parsed, schema=mapping, dialect=dialect, catalog=SESSION[0],
                       db=SESSION[1], validate_qualify_columns=True)
    except sqlglot.errors.OptimizeError as e:
        pytest.fail(f"{dialect}: {what}: {e}\n{sql}")


def with_upload(dialect: str, compiler: Warehouse, job: Any, schema: dict[str, Any]) -> dict:
    """The schema plus the table the upload DDL creates, columns exactly as that DDL names them
    (the DDL itself must parse in the dialect)."""
    ddl = compiler.create_table(exp.to_table(exp.to_identifier(job.upload_name, quoted=True)),
                                job.upload.schema, temporary=True)
    parsed = sqlglot.parse_one(ddl.sql(dialect=dialect), read=dialect)
    target = parsed.this
    columns = {c.name: c.args["kind"].sql(dialect=dialect) for c in target.expressions}
    out = {k: {kk: dict(vv) for kk, vv in v.items()} for k, v in schema.items()}
    out[SESSION[0]][SESSION[1]][target.this.name] = columns
    return out


TRAINING = [
    ("service, SQL entity set, full names and aliases", "driver_ranking_v1", LABELS_SQL,
     {"full_feature_names": True}),
    ("known-at", "driver_ranking_v1", LABELS_SQL,
     {"full_feature_names": True, "filter_by_created_timestamp": True}),
    ("view:* and renamed entity columns",
     ["driver_hourly_stats:*", "location_stats:avg_wait"],
     "select driver_id, origin_id as location_id, event_timestamp from {{ ref('driver_labels') }}",
     {"full_feature_names": True}),
    ("DataFrame entity set", ["driver_hourly_stats:conv_rate", "driver_hourly_stats:avg_daily_trips"],
     "dataframe", {}),
    ("DataFrame entity set, known-at", "driver_ranking_v1", "dataframe",
     {"full_feature_names": True, "filter_by_created_timestamp": True}),
]


@pytest.mark.parametrize("dialect", DIALECTS)
@pytest.mark.parametrize("what,features,entity,options", TRAINING, ids=[t[0] for t in TRAINING])
def test_training_set_resolves(dialect: str, what: str, features: Any, entity: str,
                               options: dict) -> None:
    compiler = for_dialect(dialect)
    database, schema_name = LOCATION[dialect]
    labels = Relation(database=database, schema_name=schema_name, identifier="driver_labels")
    job = plan(compiler, definitions(dialect), features,
               label_entities() if entity == "dataframe" else entity,
               manifest=manifest_for(dialect, lambda _: labels), **options)
    schema = warehouse_schema(dialect)
    if job.upload is not None:
        schema = with_upload(dialect, compiler, job, schema)
    resolve(dialect, job.query, schema, what)
    # to_table: the training set created under a user-given name, spelled as stored.
    target = parse_table_name("analytics.training_v1", dialect)
    assert (target.db, target.name) == (stored(dialect, "analytics"), stored(dialect, "training_v1"))
    resolve(dialect, exp.Create(this=target, kind="TABLE", expression=job.query.copy()).expression,
            schema, f"{what} (to_table)")


@pytest.mark.parametrize("dialect", DIALECTS)
@pytest.mark.parametrize("view", ["driver_hourly_stats", "location_stats", "driver_stats_latest"])
@pytest.mark.parametrize("start", [None, datetime(2025, 1, 1)], ids=["from-oldest", "window"])
def test_materialization_query_resolves(dialect: str, view: str, start: datetime | None) -> None:
    """Latest values (ARG_MAX / QUALIFY / DISTINCT ON forms) and the latest_table unload."""
    v = definitions(dialect).feature_views[view]
    query = materialization_query(v, start, END, for_dialect(dialect))
    resolve(dialect, query, warehouse_schema(dialect), f"latest values of {view}")


@pytest.mark.parametrize("dialect", DIALECTS)
def test_forms_without_native_capabilities_resolve(dialect: str) -> None:
    """The window plan and the ROW_NUMBER latest-values form, on every dialect's spelling."""
    cls = type(for_dialect(dialect))
    plain = type(f"Plain{cls.__name__}", (cls,), {"asof": False, "asof_struct": False,
                                                  "qualify": False, "distinct_on": False,
                                                  "latest_arg_max": False})()
    defs = definitions(dialect)
    database, schema_name = LOCATION[dialect]
    labels = Relation(database=database, schema_name=schema_name, identifier="driver_labels")
    job = plan(plain, defs, "driver_ranking_v1", LABELS_SQL,
               manifest=manifest_for(dialect, lambda _: labels), full_feature_names=True)
    resolve(dialect, job.query, warehouse_schema(dialect), "window plan")
    query = materialization_query(defs.feature_views["driver_hourly_stats"], None, END, plain)
    resolve(dialect, query, warehouse_schema(dialect), "ROW_NUMBER latest values")


def test_the_check_catches_a_misspelled_name() -> None:
    """The check itself: a quoted lower-case column on Snowflake does not resolve."""
    bad = sqlglot.parse_one('SELECT "driver_id" FROM "ANALYTICS"."FEATURES"."DRIVER_HOURLY_STATS"',
                            read="snowflake")
    with pytest.raises(pytest.fail.Exception, match="could not be resolved"):
        resolve("snowflake", bad, warehouse_schema("snowflake"), "misspelled")
    bad = sqlglot.parse_one('SELECT "DRIVER_ID" FROM "ANALYTICS"."FEATURES"."driver_hourly_stats"',
                            read="snowflake")
    with pytest.raises(pytest.fail.Exception, match="does not resolve"):
        resolve("snowflake", bad, warehouse_schema("snowflake"), "misspelled")


# -- the dbt macros' compiled SQL (featsql.compile.macros), rendered as dbt renders it ------------

def _ref_in(dialect: str):
    database, schema_name = LOCATION[dialect]

    def ref(name: str) -> str:
        from featsql.sql import table

        return table(Relation(database=database, schema_name=schema_name, identifier=name),
                     dialect).sql(dialect=dialect)
    return ref


@pytest.mark.parametrize("dialect", DIALECTS)
@pytest.mark.parametrize("what,features,options", [
    ("service, full names", "driver_ranking_v1", {"full_feature_names": True}),
    ("service, known-at", "driver_ranking_v1", {"full_feature_names": True,
                                                "filter_by_created_timestamp": True}),
    ("view:*", ["driver_hourly_stats:*"], {}),
])
def test_macro_training_set_resolves(dialect: str, what: str, features: Any, options: dict) -> None:
    """featsql.training_set's SQL for this warehouse, its ref()s and entity rendered as dbt
    would, names only what exists (no cloud connection, no get_columns_in_relation)."""
    from featsql.compile.macros import TrainingCall, training_set_body
    from featsql.refs import resolve as resolve_refs
    from tests.compile.harness import render_macro

    defs = definitions(dialect)
    wanted = defs.feature_services[features] if isinstance(features, str) else features
    requests = resolve_refs(wanted, defs, options.get("full_feature_names", False))
    body = training_set_body(for_dialect(dialect), requests, TrainingCall("m", "m.sql", features, **options),
                             root_project="driver_ranking")
    ref = _ref_in(dialect)
    sql = "SELECT * FROM " + render_macro(body, ref("driver_labels"), ref)
    resolve(dialect, sqlglot.parse_one(sql, read=dialect), warehouse_schema(dialect), f"macro: {what}")


@pytest.mark.parametrize("dialect", DIALECTS)
@pytest.mark.parametrize("bounds", [{}, {"start": "'2025-01-01 00:00:00'", "end": "current_timestamp"}],
                         ids=["unbounded", "bounded"])
def test_macro_latest_values_resolves(dialect: str, bounds: dict) -> None:
    from featsql.compile.macros import latest_values_body
    from tests.compile.harness import render_macro

    view = definitions(dialect).feature_views["driver_hourly_stats"]
    body = latest_values_body(for_dialect(dialect), view, root_project="driver_ranking")
    ref = _ref_in(dialect)
    sql = "SELECT * FROM " + render_macro(body, "", ref, start=bounds.get("start"), end=bounds.get("end"))
    resolve(dialect, sqlglot.parse_one(sql, read=dialect), warehouse_schema(dialect), "macro: latest values")


@pytest.mark.parametrize("dialect", DIALECTS)
def test_request_time_features_resolve(dialect: str) -> None:
    """A service's request-time expressions (guards, ROUND, DATE_DIFF, EXTRACT) in the training
    set of each warehouse name only what exists."""
    from featsql.compile.request import result_type, parse, service_inputs
    from featsql.definitions import FeatureService, RequestColumn, RequestFeature, ViewProjection

    defs = definitions(dialect)
    projections = (ViewProjection(view="driver_hourly_stats", features=("conv_rate", "acc_rate")),)
    request = (RequestColumn(name="val_to_add", type="int"), RequestColumn(name="seen_at", type="timestamp"))
    inputs = service_inputs(projections, defs.feature_views, request)
    sqls = {"plus": "conv_rate + val_to_add", "ratio": "ROUND(conv_rate / acc_rate, 2)",
            "safe_ln": "CASE WHEN LN(acc_rate) > -1 THEN GREATEST(conv_rate, 0.5) END",
            "hours": "DATE_DIFF('hour', seen_at, TIMESTAMP '2025-01-08 00:00:00') + EXTRACT(HOUR FROM seen_at)"}
    service = FeatureService(name="svc", projections=projections, request=request, computed=tuple(
        RequestFeature(name=n, sql=q, type=result_type(parse(q), inputs, None)) for n, q in sqls.items()))
    database, schema_name = LOCATION[dialect]
    labels = Relation(database=database, schema_name=schema_name, identifier="driver_labels")
    entity = ("select driver_id, event_timestamp, trip_id as val_to_add, event_timestamp as seen_at"
              " from {{ ref('driver_labels') }}")
    job = plan(for_dialect(dialect), defs.model_copy(update={"feature_services": {"svc": service}}), "svc",
               entity, manifest=manifest_for(dialect, lambda _: labels))
    assert all(f'"{n}"' in job.to_sql() or f"`{n}`" in job.to_sql() for n in sqls)
    resolve(dialect, job.query, warehouse_schema(dialect), "request-time features")
