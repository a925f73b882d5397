"""The dbt macros through real dbt: `featsql apply` compiles their SQL into the project
(featsql.compile.macros) and `dbt run` builds training sets and latest values equal to the SDK's.

A copy of the built example repo installs the featsql repo root as a dbt package
(`packages.yml: - local:`) and gets models that call the macros, with no `-- depends_on` hints:
lineage comes from the compiled SQL's ref()s (`dbt run -s +model` on a fresh PostgreSQL schema
builds the views first), a dbt unit test gives its own rows, a stale compiled file and a
declaration apply rejects fail the macros in one line. The whole point-in-time case table runs
through the same compiled SQL in tests/compile/test_pit_cases.py (harness mode "macro").
"""
from __future__ import annotations

import json
import uuid
from datetime import datetime, timezone
from pathlib import Path

import pandas as pd
import pytest

from featsql.compile import macros
from featsql.compile.latest import EVENT_TS, materialization_query
from featsql.offline.base import for_dialect
from featsql.store import FeatureStore
from tests.support import ROOT, clean_env, dbt, exe, invoke, require_service, run

MODELS = {
    "ts_service": "select * from {{ featsql.training_set(ref('driver_labels'), 'driver_ranking_v1',"
                  " full_feature_names=true) }}",
    "ts_features": "select * from {{ featsql.training_set(ref('driver_labels'),"
                   " ['driver_hourly_stats:conv_rate', 'driver_hourly_stats:avg_daily_trips']) }}",
    "ts_known_at": "select * from {{ featsql.training_set(ref('driver_labels'),"
                   " ['driver_hourly_stats:*'], filter_by_created_timestamp=true) }}",
}
PYTHON = {
    "ts_service": dict(features="driver_ranking_v1", full_feature_names=True),
    "ts_features": dict(features=["driver_hourly_stats:conv_rate", "driver_hourly_stats:avg_daily_trips"]),
    "ts_known_at": dict(features=["driver_hourly_stats:*"], filter_by_created_timestamp=True),
}
LATEST = {
    "driver_hourly_stats_latest": "select * from {{ featsql.latest_values(ref('driver_hourly_stats')) }}",
    "location_stats_latest": "select * from {{ featsql.latest_values('location_stats',"
                             " end=\"timestamp '2025-01-05 00:00:00'\") }}",
}
# A dbt unit test of a macro model: its own rows for both refs (no graph in that context).
UNIT_TEST = {"unit_tests": [{
    "name": "ts_features_picks_as_of_each_label",
    "model": "ts_features",
    "given": [
        {"input": "ref('driver_labels')", "rows": [
            {"trip_id": 1, "driver_id": 1001, "event_timestamp": "2025-01-02 10:00:00"},
            {"trip_id": 2, "driver_id": 1001, "event_timestamp": "2025-01-05 10:00:00"},
            {"trip_id": 3, "driver_id": 1002, "event_timestamp": "2025-01-02 10:00:00"}]},
        {"input": "ref('driver_hourly_stats')", "rows": [
            {"driver_id": 1001, "event_timestamp": "2025-01-02 09:00:00",
             "created": "2025-01-02 09:05:00", "conv_rate": 0.5, "avg_daily_trips": 10},
            {"driver_id": 1001, "event_timestamp": "2025-01-02 11:00:00",
             "created": "2025-01-02 11:05:00", "conv_rate": 0.9, "avg_daily_trips": 20}]}],
    "expect": {"rows": [  # trip 2: the 11:00 row is older than the 1d ttl; 1002 has no rows
        {"trip_id": 1, "conv_rate": 0.5, "avg_daily_trips": 10},
        {"trip_id": 2, "conv_rate": None, "avg_daily_trips": None},
        {"trip_id": 3, "conv_rate": None, "avg_daily_trips": None}]},
}]}
STALE = ("featsql: feature view 'driver_hourly_stats' changed since the last `featsql apply`"
         " (macros/featsql_compiled.sql is stale); run `featsql apply`")


def _install(repo: Path) -> None:
    (repo / "packages.yml").write_text(f"packages:\n  - local: {ROOT}\n")
    folder = repo / "models" / "training"
    folder.mkdir(parents=True, exist_ok=True)
    for name, sql in MODELS.items():
        (folder / f"{name}.sql").write_text(sql + "\n")
    (folder / "unit_tests.yml").write_text(json.dumps(UNIT_TEST))
    for name, sql in LATEST.items():
        (repo / "models" / f"{name}.sql").write_text(sql + "\n")


def _compare(store: FeatureStore, read_model) -> None:
    for name, spec in PYTHON.items():
        kwargs = dict(spec)
        features = kwargs.pop("features")
        if isinstance(features, str):
            features = store.get_feature_service(features)
        python = store.get_historical_features(
            "select * from {{ ref('driver_labels') }}", features, **kwargs).to_df()
        macro = read_model(name)
        assert list(macro.columns) == list(python.columns), name
        assert len(macro) == len(python) == 200, name
        python = python.sort_values("trip_id").reset_index(drop=True)
        macro = macro.sort_values("trip_id").reset_index(drop=True)
        assert python.iloc[:, -1].notna().sum() > 100, name  # something was joined, identically
        pd.testing.assert_frame_equal(macro, python, check_dtype=False)
    for name, end in (("driver_hourly_stats", datetime(2030, 1, 1)), ("location_stats", datetime(2025, 1, 5))):
        view = store.get_feature_view(name)
        cols = [*view.join_keys, view.timestamp_field, *(f.name for f in view.features)]
        macro = read_model(f"{name}_latest")[cols]
        sql = materialization_query(view, None, end, store.compiler()).sql(store.dialect())
        with store.warehouse() as wh:
            python = wh.query_arrow(sql).to_pandas()
        python = python[[*view.join_keys, EVENT_TS, *(f.name for f in view.features)]]
        python.columns = cols
        key = view.join_keys
        assert len(macro) == 5, name
        pd.testing.assert_frame_equal(macro.sort_values(key).reset_index(drop=True),
                                      python.sort_values(key).reset_index(drop=True), check_dtype=False)


def _dbt_fails(repo: Path, *args: str, env: dict | None = None) -> str:
    result = run([exe("dbt"), *args], cwd=repo, env=clean_env(**(env or {})))
    assert result.returncode != 0, result.stdout
    return " ".join((result.stdout + result.stderr).split())


@pytest.mark.slow
def test_macros_on_duckdb(repo: Path) -> None:
    import duckdb

    _install(repo)
    dbt("deps", cwd=repo)
    result = invoke("apply", cwd=repo)
    assert result.exit_code == 0, result.output
    assert "Wrote the dbt macros' SQL to" in result.output
    compiled = (repo / "macros" / macros.FILE_NAME).read_text()
    assert "depends_on" not in compiled and "{{ ref(\"driver_hourly_stats\") }}" in compiled
    dbt("run", cwd=repo)
    db = str(repo / "data" / "warehouse.duckdb")

    def read_model(name: str) -> pd.DataFrame:
        with duckdb.connect(db, read_only=True) as con:
            return con.sql(f'select * from main."{name}"').df()

    store = FeatureStore(repo_path=repo)
    _compare(store, read_model)
    store.close()
    dbt("test", "-s", "test_type:unit", cwd=repo)
    # Re-applying unchanged definitions leaves the file (and dbt's partial parse) alone.
    assert "Wrote the dbt macros' SQL" not in invoke("apply", cwd=repo).output

    # A meta change without `featsql apply`: the macro models stop, in one line naming the fix.
    schema = repo / "models" / "schema.yml"
    good = schema.read_text()
    schema.write_text(good.replace("          ttl: 1d\n", "          ttl: 2h\n", 1))
    assert STALE in _dbt_fails(repo, "run", "-s", "ts_features")
    assert "~ dbt macros: " in invoke("plan", cwd=repo).output  # and plan says apply rewrites it
    # A declaration apply rejects: the macros fail with apply's own message.
    schema.write_text(good.replace("          ttl: 1d\n", "          ttl: 1 fortnight\n", 1))
    result = invoke("apply", cwd=repo)
    assert result.exit_code == 1
    problem = result.stderr.strip().splitlines()[-1].strip("- ")
    assert "featsql.ttl" in problem
    assert problem in _dbt_fails(repo, "run", "-s", "driver_hourly_stats_latest")
    schema.write_text(good)
    assert invoke("apply", cwd=repo).exit_code == 0
    dbt("run", "-s", "ts_features", "driver_hourly_stats_latest", cwd=repo)

    # The latest-values table named in the view's meta: materialization only unloads it.
    schema.write_text(good.replace("          ttl: 1d\n", "          ttl: 1d\n"
                                   "          latest_table: driver_hourly_stats_latest\n", 1))
    store = FeatureStore(repo_path=repo)
    store.apply()
    view = store.get_feature_view("driver_hourly_stats")
    unload = materialization_query(view, None, datetime(2030, 1, 1), for_dialect("duckdb")).sql("duckdb")
    assert "driver_hourly_stats_latest" in unload and "ROW_NUMBER" not in unload.upper()
    (run_,) = store.materialize_incremental(datetime(2025, 2, 1), ["driver_hourly_stats"])
    assert run_.rows == 5
    with duckdb.connect(db) as con:
        con.execute("insert into main.driver_hourly_stats values (1003, timestamp '2025-03-01 00:00:00',"
                    " timestamp '2025-03-01 00:05:00', 0.5, 0.5, 3)")
    store.close()
    dbt("run", "-s", "driver_hourly_stats_latest", cwd=repo)
    store = FeatureStore(repo_path=repo)
    (run_,) = store.materialize_incremental("now", ["driver_hourly_stats"])
    assert run_.rows == 1  # only the changed entity
    resp = store.get_online_features(["driver_hourly_stats:conv_rate"], [{"driver_id": 1003}])
    assert resp.event_timestamps["conv_rate"] == [datetime(2025, 3, 1, tzinfo=timezone.utc)]
    store.close()


@pytest.mark.slow
@pytest.mark.postgres
def test_macros_on_postgres_and_a_fresh_warehouse(repo: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    psycopg = pytest.importorskip("psycopg")
    dsn = "host=127.0.0.1 port=5432 user=postgres dbname=postgres"
    require_service("postgres", lambda: psycopg.connect(dsn, connect_timeout=3).close() or True)
    schema = f"featsql_macro_{uuid.uuid4().hex[:8]}"
    env = {"FEATSQL_TARGET": "pg", "FEATSQL_PG_SCHEMA": schema}
    _install(repo)

    def dbt_pg(*args: str) -> None:
        result = run([exe("dbt"), *args, "--target", "pg"], cwd=repo, env=clean_env(**env))
        assert result.returncode == 0, result.stdout + result.stderr

    def read_model(name: str) -> pd.DataFrame:
        with psycopg.connect(dsn) as con:
            cur = con.execute(f'select * from "{schema}"."{name}"')
            return pd.DataFrame(cur.fetchall(), columns=[d.name for d in cur.description])

    try:
        dbt_pg("deps")
        dbt_pg("seed")
        dbt_pg("run", "-s", "driver_hourly_stats", "location_stats")
        for key, value in env.items():
            monkeypatch.setenv(key, value)
        store = FeatureStore(repo_path=repo)
        store.apply()
        assert store.dialect() == "postgres"
        dbt_pg("run")
        _compare(store, read_model)
        store.close()
        # A fresh warehouse: only the seeds; `+model` builds the feature views first.
        with psycopg.connect(dsn, autocommit=True) as con:
            con.execute(f'drop schema "{schema}" cascade')
        dbt_pg("seed")
        dbt_pg("run", "-s", "+ts_service")
        assert len(read_model("ts_service")) == 200
    finally:
        with psycopg.connect(dsn, autocommit=True) as con:
            con.execute(f'drop schema if exists "{schema}" cascade')


def test_calls_are_found_with_literal_arguments_and_keys_match_dbt() -> None:
    """The keys Python computes equal what the package macro computes with dbt's tojson."""
    manifest = {"nodes": {
        "model.p.a": {"resource_type": "model", "name": "a", "original_file_path": "models/a.sql",
                      "raw_code": "{{ config(materialized='table') }} select * from"
                                  " {{ featsql.training_set(ref('l'), ['v:f'], timestamp_column='ts') }}"},
        "model.p.b": {"resource_type": "model", "name": "b", "original_file_path": "models/b.sql",
                      "raw_code": "{% set fs = var('fs') %} select * from"
                                  " {{ featsql.training_set(ref('l'), fs) }}"}}}
    calls, problems = macros.training_calls(manifest)
    assert [(c.model, c.features, c.timestamp_column) for c in calls] == [("a", ["v:f"], "ts")]
    assert problems == ["models/b.sql: model 'b': featsql.training_set: features must be a literal"
                        " (a list of 'view:feature', a feature-service name, true/false) for featsql"
                        " apply to compile it"]
    # dbt: local_md5(tojson([features, full, ts, known_at], sort_keys=true))
    assert calls[0].key == macros.request_key(["v:f"], False, "ts", False)
    import hashlib

    assert calls[0].key == hashlib.md5(b'[["v:f"], false, "ts", false]').hexdigest()
