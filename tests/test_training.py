"""RetrievalJob on the example repo: to_table makes a missing schema, to_df keeps pandas dtypes."""
from __future__ import annotations

from pathlib import Path

import pandas as pd

from featsql.store import FeatureStore


def test_to_table_makes_its_schema_and_to_df_keeps_pandas_dtypes(built_repo: Path, tmp_path: Path) -> None:
    """`--table analytics.train_v1` works on a fresh warehouse (dbt makes missing schemas too),
    and a DataFrame's own dtypes (nullable Int64, category) come back from to_df."""
    import duckdb

    from tests.support import copy_repo

    repo = copy_repo(built_repo, tmp_path / "repo")
    store = FeatureStore(repo_path=repo)
    store.apply(parse=False)
    features = ["driver_hourly_stats:conv_rate"]
    name = store.get_historical_features("select * from {{ ref('driver_labels') }}", features
                                         ).to_table("analytics.train_v1")
    assert name == '"analytics"."train_v1"'
    with duckdb.connect(str(repo / "data" / "warehouse.duckdb"), read_only=True) as con:
        assert con.execute("select count(*) from analytics.train_v1").fetchone() == (200,)
    entity = pd.DataFrame({"driver_id": pd.array([1001, None], dtype="Int64"),
                           "event_timestamp": pd.to_datetime(["2025-01-03", "2025-01-03"]),
                           "city": pd.Series(["a", "b"], dtype="category")})
    out = store.get_historical_features(entity, features).to_df()
    assert out.dtypes["driver_id"] == "Int64" and out.dtypes["city"] == "category"
    assert out["driver_id"].isna().tolist() == [False, True] and out["conv_rate"].notna().tolist() == [True, False]

    # Date-range retrieval (entity_df=None): every driver with rows in the window, as of its end;
    # the same values the SQL entity path gives for those (driver, end) rows.
    window = dict(start_date="2025-01-02T00:00:00", end_date=pd.Timestamp("2025-01-03", tz="UTC"))
    ranged = store.get_historical_features(features=features, **window).to_df()
    assert list(ranged.columns) == ["driver_id", "event_timestamp", "conv_rate"]
    assert len(ranged) > 1 and ranged["driver_id"].is_unique
    assert (ranged["event_timestamp"] == pd.Timestamp("2025-01-03")).all()
    sql = ("select distinct driver_id, cast('2025-01-03' as timestamp) as event_timestamp"
           " from {{ ref('driver_hourly_stats') }} where event_timestamp between"
           " '2025-01-02' and '2025-01-03'")
    by_sql = store.get_historical_features(sql, features).to_df()
    pd.testing.assert_frame_equal(ranged.sort_values("driver_id").reset_index(drop=True),
                                  by_sql.sort_values("driver_id").reset_index(drop=True))
    with pytest.raises(FeatsqlError, match="give an entity_df, or start_date and end_date"):
        store.get_historical_features(features=features)
    with pytest.raises(FeatsqlError, match="give one or the other"):
        store.get_historical_features(entity, features, **window)
    with pytest.raises(FeatsqlError, match="'someday' is not a timestamp"):
        store.get_historical_features(features=features, start_date="someday", end_date="2025-01-03")


# -- checks before any warehouse work ---------------------------------------------------------------
import pyarrow as pa  # noqa: E402
import pytest  # noqa: E402

from featsql.errors import FeatsqlError  # noqa: E402
from tests.engines import label_entities, offline_definitions, plan  # noqa: E402

FEATURES = ["driver_hourly_stats:conv_rate"]


def _plan(entity, **kwargs):
    """Plan on DuckDB with no warehouse at all: a check must fire before anything runs."""
    return plan("duckdb", offline_definitions("duckdb"), FEATURES, entity, **kwargs)


def _labels(**changes) -> pd.DataFrame:
    df = label_entities()
    for name, values in changes.items():
        df[name] = values
    return df


@pytest.mark.parametrize(("entity", "message"), [
    pytest.param(_labels().assign(driver_id=lambda d: d["driver_id"].astype(str)),
                 "entity DataFrame column 'driver_id' is string, but join key 'driver_id' of feature"
                 " view 'driver_hourly_stats' is int (BIGINT); cast the entity column to int",
                 id="key-type-mismatch"),
    pytest.param(_labels().assign(event_timestamp=lambda d: d["event_timestamp"].astype("int64") // 10**9),
                 "entity DataFrame: column 'event_timestamp' holds numbers (int64), not timestamps;"
                 " convert epochs first, e.g. pd.to_datetime(df['event_timestamp'], unit='s')",
                 id="integer-epochs"),
    pytest.param(_labels().assign(__featsql_row=1),
                 "entity DataFrame has a column '__featsql_row': names starting with '__featsql_'"
                 " are featsql's own; rename it", id="internal-name"),
    pytest.param(pd.concat([label_entities(), label_entities()[["trip_id"]]], axis=1),
                 "entity DataFrame has column 'trip_id' more than once", id="duplicate-column"),
    pytest.param([{"driver_id": 1001}], "entity_df must be a pandas DataFrame, an Arrow table or a"
                 " SQL query string, got list", id="not-a-dataframe"),
    pytest.param(None, "entity_df must be a pandas DataFrame, an Arrow table or a SQL query"
                 " string, got NoneType", id="none"),
])
def test_bad_entity_sets_are_one_clear_line(entity, message: str) -> None:
    with pytest.raises(FeatsqlError) as err:
        _plan(entity)
    assert str(err.value) == message


def test_compatible_keys_pass_and_uuid_keys_are_cast() -> None:
    """int32 keys meet int64 keys as they are; a text key meeting a uuid join key is cast."""
    df = label_entities()
    df["driver_id"] = df["driver_id"].astype("int32")
    assert _plan(df).to_sql()
    defs = offline_definitions("postgres")
    view = defs.feature_views["driver_hourly_stats"]
    uuid_view = view.model_copy(update={"join_key_types": ("string",), "join_key_sql_types": ("uuid",)})
    defs = defs.model_copy(update={"feature_views": {**defs.feature_views, view.name: uuid_view}})
    entity = pa.table({"driver_id": ["6f1c0c1e-0000-4000-8000-000000000001"],
                       "event_timestamp": pa.array([0], pa.timestamp("us"))})
    sql = plan("postgres", defs, FEATURES, entity).to_sql(pretty=False)
    assert 'CAST("e"."driver_id" AS UUID)' in sql


def test_sql_entity_set_key_types_come_from_the_catalog() -> None:
    types = {"driver_id": "VARCHAR", "event_timestamp": "TIMESTAMP"}
    with pytest.raises(FeatsqlError, match="entity SQL column 'driver_id' is string, but join key"):
        _plan("select * from main.labels", columns_of_table=lambda t: types)
    with pytest.raises(FeatsqlError, match="entity SQL: column 'event_timestamp' is BIGINT, not a timestamp"):
        _plan("select * from main.labels",
              columns_of_table=lambda t: {"driver_id": "BIGINT", "event_timestamp": "BIGINT"})
    # a naive time column needs no conversion; an unknown one is cast through an aware timestamp
    known = _plan("select * from main.labels",
                  columns_of_table=lambda t: {"driver_id": "BIGINT", "event_timestamp": "TIMESTAMP"})
    unknown = _plan("select driver_id, event_timestamp from main.labels")
    assert "TIMESTAMPTZ" not in known.to_sql() and "TIMESTAMPTZ" in unknown.to_sql()


def test_a_key_type_mismatch_through_the_cli_writes_nothing(built_repo, tmp_path) -> None:
    """One line, exit 1, no file, no traceback: the check runs before any warehouse work."""
    import duckdb

    from tests.support import copy_repo, invoke

    repo = copy_repo(built_repo, tmp_path / "repo")
    assert invoke("apply", "--no-parse", cwd=repo).exit_code == 0
    with duckdb.connect(str(repo / "data" / "warehouse.duckdb")) as con:
        con.execute("create table main.labels_text as select cast(driver_id as varchar) as driver_id,"
                    " event_timestamp from main.driver_labels")
    out = tmp_path / "train.parquet"
    result = invoke("training-set", "--entity-sql", "select * from main.labels_text",
                    "--features", "driver_hourly_stats:conv_rate", "--out", str(out), cwd=repo)
    assert result.exit_code == 1 and "Traceback" not in result.output
    assert result.stderr.strip() == (
        "error: entity SQL column 'driver_id' is string, but join key 'driver_id' of feature view"
        " 'driver_hourly_stats' is int (BIGINT); cast the entity column to int")
    assert not out.exists() and not out.with_suffix(".parquet.tmp").exists()
    # Date-range retrieval from the CLI; no dates and no entity SQL is one line.
    result = invoke("training-set", "--start-date", "2025-01-02", "--end-date", "2025-01-03",
                    "--features", "driver_hourly_stats:conv_rate", "--out", str(out), cwd=repo)
    assert result.exit_code == 0, result.output
    import pyarrow.parquet as pq

    assert pq.read_table(out).column_names == ["driver_id", "event_timestamp", "conv_rate"]
    result = invoke("training-set", "--features", "driver_hourly_stats:conv_rate", "--out",
                    str(out), cwd=repo)
    assert result.exit_code == 1 and "give an entity_df, or start_date and end_date" in result.stderr
