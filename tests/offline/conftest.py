"""Fixtures for the warehouse tests; the engines themselves are in tests/engines.py."""
from __future__ import annotations

import pandas as pd
import pytest

from tests.compile.regen_golden import CASES
from tests.engines import case_entity, comparable, duckdb_engine, load_example, training_set

# The warehouse fixtures live in tests/engines.py; importing them registers them here. Any other
# test directory can do the same (or tests/conftest.py, for all of them).
from tests.engines import (  # noqa: F401
    duckdb_warehouse,
    postgres_warehouse,
    snowflake_warehouse,
    warehouse,
)


@pytest.fixture(scope="session")
def duckdb_results() -> dict[str, pd.DataFrame]:
    """DuckDB's answer for every golden case on the example data: the reference that the
    other warehouses' results must equal (as `comparable` frames)."""
    out = {}
    with duckdb_engine() as wh:
        defs = load_example(wh)
        for case in CASES:
            got = training_set(wh, defs, case.features, case_entity(case), **case.options)
            out[case.name] = comparable(got)
    return out
