"""Golden compiled SQL per dialect: what each warehouse runs, checked in for reviewers.

The files are tests/compile/golden/<dialect>/<case>.sql (cases and how they are compiled:
tests/compile/regen_golden.py). After an intended change to the compiler, rewrite them with

    python -m tests.compile.regen_golden

and review the diff in git like any other change. A failure here prints a unified diff of
the golden file against the freshly compiled SQL.

Beyond equality, each golden must parse with sqlglot's reader for its dialect, and the join
strategy each dialect promises is asserted on the text: DuckDB `ASOF LEFT JOIN ... ON`,
Snowflake `ASOF JOIN ... MATCH_CONDITION (...) ON` (fakesnow cannot run that form, so this
text check is the only thing standing between a typo and real Snowflake), and no ASOF at all
where the dialect has none. Offline: no warehouse, no dbt.
"""
from __future__ import annotations

import difflib
import re

import pytest
import sqlglot

from tests.compile.regen_golden import CASES, DIALECTS, REGEN, compile_case, golden_path

PAIRS = [(d, c) for d in DIALECTS for c in CASES]
IDS = [f"{d}-{c.name}" for d, c in PAIRS]


@pytest.mark.parametrize(("dialect", "case"), PAIRS, ids=IDS)
def test_compiled_sql_matches_golden(dialect, case) -> None:
    path = golden_path(dialect, case)
    fresh = compile_case(dialect, case)
    assert path.is_file(), f"{path} is missing; run `{REGEN}`"
    golden = path.read_text()
    if fresh != golden:
        diff = "".join(difflib.unified_diff(golden.splitlines(True), fresh.splitlines(True),
                                            fromfile=f"golden/{dialect}/{case.name}.sql",
                                            tofile="compiled now"))
        pytest.fail(f"compiled {dialect} SQL for '{case.name}' differs from its golden file;"
                    f" if intended, run `{REGEN}` and review the diff\n{diff}", pytrace=False)


@pytest.mark.parametrize(("dialect", "case"), PAIRS, ids=IDS)
def test_golden_parses_in_its_dialect(dialect, case) -> None:
    sql = golden_path(dialect, case).read_text().replace("<upload>", "upload")
    statements = sqlglot.parse(sql, dialect=dialect)
    assert len([s for s in statements if s is not None]) == 1


def _sql(dialect: str, name: str) -> str:
    case = next(c for c in CASES if c.name == name)
    return golden_path(dialect, case).read_text()


def _flat(sql: str) -> str:
    return re.sub(r"\s+", " ", sql)


def test_snowflake_uses_native_asof_with_match_condition() -> None:
    sql = _flat(_sql("snowflake", "driver_ranking_v1"))
    joins = re.findall(r'ASOF JOIN "featsql_\d_rows" AS "r" MATCH_CONDITION \("k"\."__featsql_ts" >= '
                       r'"r"\."__featsql_fts"\) ON "k"\."__featsql_k0" = "r"\."__featsql_k0"', sql)
    assert len(joins) == 3, sql  # one per requested view: driver, origin, destination
    assert "ASOF LEFT JOIN" not in sql  # DuckDB's form, which Snowflake rejects
    # ttl after the join, as a CASE, never in the join condition
    assert "WHEN \"r\".\"__featsql_fts\" >= \"k\".\"__featsql_ts\" - INTERVAL '86400 SECOND'" in sql


def test_duckdb_uses_asof_left_join() -> None:
    """The entity rows ASOF LEFT JOIN each view's rows directly, comparing (time, created, hash)
    structs; no distinct keys and no join back."""
    sql = _flat(_sql("duckdb", "driver_ranking_v1"))
    joins = re.findall(r'ASOF LEFT JOIN "featsql_(\d)_rows" AS "v\1" ON "e"\."\w+" = '
                       r'"v\1"\."__featsql_k0" AND CASE WHEN NOT .*? END >= "v\1"\."__featsql_order"', sql)
    assert joins == ["0", "1", "2"]
    assert "MATCH_CONDITION" not in sql and "featsql_0_keys" not in sql and "LEFT JOIN \"featsql_0\"" not in sql


@pytest.mark.parametrize("dialect", ["postgres", "redshift", "bigquery"])
def test_sort_based_dialects_have_no_asof(dialect: str) -> None:
    for case in CASES:
        sql = _flat(golden_path(dialect, case).read_text())
        assert "ASOF" not in sql and "MATCH_CONDITION" not in sql
        if case.options.get("filter_by_created_timestamp"):
            continue
        assert "FIRST_VALUE(" in sql and "UNION ALL" in sql  # the window plan


@pytest.mark.parametrize("dialect", DIALECTS)
def test_feature_scans_are_bounded_by_entity_time(dialect: str) -> None:
    """One scan per view, bounded by (min entity time - ttl, max entity time)."""
    sql = _flat(_sql(dialect, "dataframe_entity"))
    assert sql.lower().count("driver_hourly_stats") == 1
    assert "2025-01-08 23:12:00" in sql and "2025-01-01 02:29:00" in sql  # the labels' max and min
