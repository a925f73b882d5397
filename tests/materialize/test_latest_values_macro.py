"""The dbt macro `featsql.latest_values` (run by `dbt run`) equals the Python latest-values query,
and a view whose meta names the macro's table as `latest_table` is materialized by unloading it:
the same online values, and on the next incremental run only the rows that changed."""
from __future__ import annotations

from datetime import datetime, timezone
from pathlib import Path

import duckdb
import pytest

from featsql.compile.latest import EVENT_TS, materialization_query
from featsql.offline.base import for_dialect
from featsql.store import FeatureStore
from tests.support import ROOT, dbt

FAR = datetime(2030, 1, 1)


def _install(repo: Path) -> None:
    (repo / "packages.yml").write_text(f"packages:\n  - local: {ROOT}\n")
    (repo / "models" / "driver_hourly_stats_latest.sql").write_text(
        "select * from {{ featsql.latest_values(ref('driver_hourly_stats')) }}\n")
    (repo / "models" / "location_stats_latest.sql").write_text(
        "select * from {{ featsql.latest_values(ref('location_stats'), join_keys=['location_id'],"
        " end=\"timestamp '2025-01-05 00:00:00'\") }}\n")


def _rows(con, sql: str) -> list[tuple]:
    return sorted(con.execute(sql).fetchall())


@pytest.mark.slow
def test_macro_matches_python_and_latest_table_unloads(repo: Path) -> None:
    _install(repo)
    dbt("deps", cwd=repo)
    dbt("run", "-s", "driver_hourly_stats_latest", "location_stats_latest", cwd=repo)
    store = FeatureStore(repo_path=repo)
    store.apply()
    views = store.definitions.feature_views
    db = str(repo / "data" / "warehouse.duckdb")
    with duckdb.connect(db, read_only=True) as con:
        for name, end in (("driver_hourly_stats", FAR), ("location_stats", datetime(2025, 1, 5))):
            view = views[name]
            cols = ", ".join(f'"{c}"' for c in [*view.join_keys, view.timestamp_field,
                                                *(f.name for f in view.features)])
            macro = _rows(con, f'select {cols} from main."{name}_latest"')
            python_sql = materialization_query(view, None, end, for_dialect("duckdb")).sql("duckdb")
            pcols = ", ".join(f'"{c}"' for c in [*view.join_keys, EVENT_TS, *(f.name for f in view.features)])
            python = _rows(con, f"select {pcols} from ({python_sql})")
            assert macro == python and len(macro) == 5, name

    # Name the macro's table in the view's meta: materialization now unloads it.
    schema = repo / "models" / "schema.yml"
    schema.write_text(schema.read_text().replace(
        "          ttl: 1d\n", "          ttl: 1d\n          latest_table: driver_hourly_stats_latest\n", 1))
    store.apply()
    view = store.get_feature_view("driver_hourly_stats")
    assert view.latest_table is not None and view.latest_table.identifier == "driver_hourly_stats_latest"
    unload = materialization_query(view, None, FAR, for_dialect("duckdb")).sql("duckdb")
    assert "driver_hourly_stats_latest" in unload and "ROW_NUMBER" not in unload.upper()

    runs = {r.view: r for r in store.materialize_incremental(datetime(2025, 2, 1), ["driver_hourly_stats"])}
    assert runs["driver_hourly_stats"].rows == 5
    ids = [{"driver_id": i} for i in range(1001, 1006)]
    first = store.get_online_features(["driver_hourly_stats:conv_rate"], ids).event_timestamps

    # A new hour for one driver: after the warehouse job, only that row is unloaded.
    with duckdb.connect(db) as con:
        con.execute("insert into main.driver_hourly_stats values "
                    "(1003, timestamp '2025-03-01 00:00:00', timestamp '2025-03-01 00:05:00', 0.5, 0.5, 3)")
    store.close()
    dbt("run", "-s", "driver_hourly_stats_latest", cwd=repo)
    store = FeatureStore(repo_path=repo)
    (run,) = store.materialize_incremental(FAR, ["driver_hourly_stats"])
    assert run.rows == 1
    resp = store.get_online_features(["driver_hourly_stats:conv_rate"], ids)
    assert resp.event_timestamps["conv_rate"][2] == datetime(2025, 3, 1, tzinfo=timezone.utc)
    assert [t for i, t in enumerate(resp.event_timestamps["conv_rate"]) if i != 2] == \
           [t for i, t in enumerate(first["conv_rate"]) if i != 2]
    store.close()
