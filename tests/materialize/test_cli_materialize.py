"""End to end through the real `featsql` command on the example repo (dbt seed + run done by the
session fixture): apply -> materialize-incremental -> get-online shows values."""
from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.support import featsql


def _ok(result) -> str:
    assert result.returncode == 0, result.stdout + result.stderr
    return result.stdout


@pytest.mark.slow
def test_apply_materialize_incremental_get_online(recent_repo) -> None:
    repo, now = recent_repo
    _ok(featsql("apply", cwd=repo))
    out = _ok(featsql("materialize-incremental", now.isoformat(), cwd=repo))
    lines = out.strip().splitlines()
    # Piped: one summary line per view, no progress noise.
    assert len(lines) == 2 and lines[0].startswith("driver_hourly_stats: 5 rows in ")
    assert lines[1].startswith("location_stats: 5 rows in ")

    out = _ok(featsql("get-online", "--features", "driver_hourly_stats:conv_rate,driver_hourly_stats:acc_rate",
                      "driver_id=1001", "driver_id=1002", "driver_id=4242", cwd=repo))
    table = [line.split() for line in out.strip().splitlines()]
    assert table[0] == ["driver_id", "feature", "value", "status", "event_timestamp"]
    present = [r for r in table[1:] if r[0] in ("1001", "1002")]
    assert len(present) == 4 and all(r[3] == "PRESENT" and r[2] != "NULL" for r in present)
    assert [r[3] for r in table[1:] if r[0] == "4242"] == ["NOT_FOUND", "NOT_FOUND"]

    doc = json.loads(_ok(featsql("get-online", "--feature-service", "driver_ranking_v1",
                                 "--full-feature-names", "--json",
                                 "driver_id=1001,origin_id=1,destination_id=2", cwd=repo)))
    names = doc["metadata"]["feature_names"]
    assert names == ["driver_id", "origin_id", "destination_id", "driver_hourly_stats__conv_rate",
                     "driver_hourly_stats__acc_rate", "origin__avg_wait", "destination__avg_wait"]
    results = dict(zip(names, doc["results"]))
    assert results["origin__avg_wait"]["statuses"] == ["PRESENT"]
    assert isinstance(results["destination__avg_wait"]["values"][0], float)

    # A second incremental run continues from the watermark: nothing new.
    out = _ok(featsql("materialize-incremental", now.isoformat(), cwd=repo))
    assert "driver_hourly_stats: 0 rows" in out


@pytest.mark.slow
def test_materialize_window_and_clear_errors(recent_repo) -> None:
    repo, now = recent_repo
    _ok(featsql("apply", cwd=repo))
    out = _ok(featsql("materialize", "2000-01-01T00:00:00", now.isoformat(), "--views",
                      "driver_hourly_stats", cwd=repo))
    assert out.startswith("driver_hourly_stats: 5 rows") and "location_stats" not in out

    bad = featsql("get-online", "--features", "driver_hourly_stats:conv_rat", "driver_id=1001", cwd=repo)
    assert bad.returncode == 1 and "Traceback" not in bad.stderr
    assert bad.stderr.strip().splitlines() == [
        "error: unknown feature 'driver_hourly_stats:conv_rat' (did you mean 'conv_rate'?);"
        " 'driver_hourly_stats' has conv_rate, acc_rate, avg_daily_trips"]
    bad = featsql("get-online", "--features", "driver_hourly_stats:conv_rate", "driver_id=abc", cwd=repo)
    assert bad.returncode == 1 and "'abc' is not an integer" in bad.stderr
    bad = featsql("materialize-incremental", "yesterday", cwd=repo)
    assert bad.returncode == 1 and "'yesterday' is not a timestamp" in bad.stderr
    bad = featsql("materialize", "2025-01-01", "2025-01-02", "--views", "driver_hourly_stat", cwd=repo)
    assert bad.returncode == 1 and "did you mean 'driver_hourly_stats'" in bad.stderr


def test_compile_materialize_prints_the_latest_values_query(applied_repo: Path) -> None:
    """`featsql compile --materialize VIEW` prints what materialization runs, per dialect, and
    the DuckDB text runs as printed."""
    import duckdb

    from tests.support import invoke

    result = invoke("compile", "--materialize", "driver_hourly_stats", "--end",
                    "2025-01-08T00:00:00", cwd=applied_repo)
    assert result.exit_code == 0, result.output
    sql = result.stdout.strip().rstrip(";")
    assert "ARG_MAX" in sql and "CAST('2025-01-08 00:00:00' AS TIMESTAMP)" in sql
    with duckdb.connect(str(applied_repo / "data" / "warehouse.duckdb"), read_only=True) as con:
        assert len(con.sql(sql).fetchall()) == 5
    snow = invoke("compile", "--materialize", "driver_hourly_stats", "--dialect", "snowflake",
                  cwd=applied_repo)
    assert snow.exit_code == 0 and '"DRIVER_ID"' in snow.stdout and '"DRIVER_HOURLY_STATS"' in snow.stdout
    both = invoke("compile", "--materialize", "driver_hourly_stats", "--entity-sql", "select 1",
                  "--features", "driver_hourly_stats:conv_rate", cwd=applied_repo)
    assert both.exit_code == 2 and "exactly one of --entity-sql (or --start-date/--end-date) or --materialize" in both.output
