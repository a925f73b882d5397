"""The dbt macro `featsql.training_set` (run by `dbt run`) equals the Python compiler's result.

A copy of the built example repo installs the featsql repo root as a dbt package
(`packages.yml: - local:`), gets training-set models, and `dbt run` builds them in the warehouse;
the Python path (`get_historical_features` with the same SQL entity set) must match row for row.
"""
from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from featsql.store import FeatureStore
from tests.support import ROOT, dbt

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
DEPENDS = "-- depends_on: {{ ref('driver_hourly_stats') }}\n-- depends_on: {{ ref('location_stats') }}\n"


def _install_macro_models(repo: Path) -> None:
    (repo / "packages.yml").write_text(f"packages:\n  - local: {ROOT}\n")
    folder = repo / "models" / "training"
    folder.mkdir(parents=True, exist_ok=True)
    for name, sql in MODELS.items():
        (folder / f"{name}.sql").write_text(DEPENDS + sql + "\n")


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
        # Something was actually joined (not all NULL), and identically.
        assert python.iloc[:, -1].notna().sum() > 100, name
        pd.testing.assert_frame_equal(macro, python, check_dtype=False)


@pytest.mark.slow
def test_macro_matches_python_on_duckdb(repo: Path) -> None:
    _install_macro_models(repo)
    dbt("deps", cwd=repo)
    dbt("run", "-s", "training", cwd=repo)
    store = FeatureStore(repo_path=repo)
    store.apply()
    import duckdb

    def read_model(name: str) -> pd.DataFrame:
        with duckdb.connect(str(repo / "data" / "warehouse.duckdb"), read_only=True) as con:
            return con.sql(f'select * from main."{name}"').df()

    _compare(store, read_model)


@pytest.mark.slow
@pytest.mark.postgres
def test_macro_matches_python_on_postgres(repo: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import uuid

    from tests.support import clean_env, exe, require_service, run

    psycopg = pytest.importorskip("psycopg")
    dsn = "host=127.0.0.1 port=5432 user=postgres dbname=postgres"
    require_service("postgres", lambda: psycopg.connect(dsn, connect_timeout=3).close() or True)
    schema = f"featsql_macro_{uuid.uuid4().hex[:8]}"
    env = {"FEATSQL_TARGET": "pg", "FEATSQL_PG_SCHEMA": schema}
    _install_macro_models(repo)
    try:
        for args in (["deps"], ["seed"], ["run"]):
            result = run([exe("dbt"), *args, "--target", "pg"], cwd=repo, env=clean_env(**env))
            assert result.returncode == 0, result.stdout + result.stderr
        for key, value in env.items():
            monkeypatch.setenv(key, value)
        store = FeatureStore(repo_path=repo)
        store.apply()
        assert store.dialect() == "postgres"

        def read_model(name: str) -> pd.DataFrame:
            with psycopg.connect(dsn) as con:
                cur = con.execute(f'select * from "{schema}"."{name}"')
                cols = [d.name for d in cur.description]
                return pd.DataFrame(cur.fetchall(), columns=cols)

        _compare(store, read_model)
    finally:
        with psycopg.connect(dsn, autocommit=True) as con:
            con.execute(f'drop schema if exists "{schema}" cascade')

