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
