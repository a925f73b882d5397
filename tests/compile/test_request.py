"""Request-time expressions (featsql.compile.request): the warehouse's value equals the
in-process evaluator's, for every expression of the portable set, on DuckDB and PostgreSQL.

Random rows (NULLs, zeros, negative numbers, long strings, timestamps before 1970 and in several
zones) are loaded as a table; each expression is compiled by `to_sql` and run there, and also
evaluated by `evaluator` on the same rows in Python. Floats agree within 1e-12 relative; every
other type exactly. Bad expressions are one line naming the problem.
"""
from __future__ import annotations

import math
from datetime import datetime, timezone
from decimal import Decimal
from typing import Any, Iterator
from zoneinfo import ZoneInfo

import pyarrow as pa
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from featsql.compile import request as rt
from featsql.errors import FeatsqlError
from featsql.sql import col, table
from tests import engines

INPUTS = {"a": "float", "b": "int", "s": "string", "u": "string", "p": "bool",
          "t1": "timestamp", "t2": "timestamp", "tz": "timestamp_tz", "x": "float", "n": "int"}
EXPRESSIONS = [
    "a + b", "a - b * 2", "a / b", "b / 0", "-a", "a * b + 1.5", "n * b - 7", "a + x",
    "a > b", "a = b", "b <> 3", "s = u", "s <> 'abc'", "t1 <= t2", "p AND (a > 0)", "p OR NOT p",
    "NOT (a < x)", "a IS NULL", "s IS NOT NULL",
    "CASE WHEN a > 0 THEN a WHEN b < 0 THEN b ELSE 0 END", "CASE WHEN p THEN s END",
    "COALESCE(a, b, 0)", "COALESCE(s, u, 'none')",
    "LEAST(a, b)", "GREATEST(a, b, 1)", "GREATEST(t1, t2)",
    "ABS(a)", "ABS(b)", "ROUND(a, 2)", "ROUND(a)", "ROUND(b / 3, 1)", "ROUND(a, -2)",
    "LN(a)", "EXP(a)", "EXP(a / 100000)", "SQRT(a)", "SQRT(b)",
    "s || u", "LOWER(s)", "UPPER(u)", "LENGTH(s || u)", "LENGTH(s) + b",
    "EXTRACT(YEAR FROM t1)", "EXTRACT(MONTH FROM tz)", "EXTRACT(DAY FROM t2)",
    "EXTRACT(HOUR FROM tz)", "EXTRACT(MINUTE FROM t1)", "EXTRACT(SECOND FROM t2)",
    "DATE_DIFF('hour', t1, t2)", "DATE_DIFF('day', tz, t1)", "DATE_DIFF('minute', t2, tz)",
    "DATE_DIFF('second', t1, TIMESTAMP '2025-01-01 00:00:00')",
    "CASE WHEN DATE_DIFF('day', t1, t2) > 30 THEN ROUND(a * 2, 1) ELSE LN(ABS(a) + 1) END",
]
SCHEMA = pa.schema([("id", pa.int64()), ("a", pa.float64()), ("b", pa.int64()), ("s", pa.string()),
                    ("u", pa.string()), ("p", pa.bool_()), ("t1", pa.timestamp("us")),
                    ("t2", pa.timestamp("us")), ("tz", pa.timestamp("us", tz="UTC")),
                    ("x", pa.float64()), ("n", pa.int64())])

ZONES = [timezone.utc, ZoneInfo("America/New_York"), ZoneInfo("Asia/Kolkata"), ZoneInfo("Pacific/Chatham")]
floats = st.one_of(st.just(0.0), st.floats(-1e6, 1e6, allow_nan=False, allow_infinity=False),
                   st.sampled_from([0.5, -0.5, 2.675, -1.005, 1e-9, 710.0, -710.0]))
ints = st.one_of(st.just(0), st.integers(-10**6, 10**6))
texts = st.text(alphabet="abcXYZ 019_-éÉ,", max_size=300)
times = st.datetimes(min_value=datetime(1900, 1, 1), max_value=datetime(2100, 1, 1))


def _maybe(s: st.SearchStrategy) -> st.SearchStrategy:
    return st.one_of(st.none(), s, s, s)


rows = st.lists(st.fixed_dictionaries({
    "a": _maybe(floats), "b": _maybe(ints), "s": _maybe(texts), "u": _maybe(texts),
    "p": _maybe(st.booleans()), "t1": _maybe(times), "t2": _maybe(times),
    "tz": _maybe(st.builds(lambda t, z: t.replace(tzinfo=z), times, st.sampled_from(ZONES))),
    "x": _maybe(floats), "n": _maybe(ints)}), min_size=1, max_size=8)


@pytest.fixture(scope="module", params=["duckdb", "postgres"])
def warehouse(request: pytest.FixtureRequest) -> Iterator[Any]:
    with engines.engine(request.param) as wh:
        yield wh


def _sql_value(v: Any) -> Any:
    if isinstance(v, Decimal):
        return float(v)
    if isinstance(v, datetime) and v.tzinfo is not None:
        return v.astimezone(timezone.utc).replace(tzinfo=None)
    return v


def _same(got: Any, want: Any) -> bool:
    if got is None or want is None:
        return got is None and want is None
    if isinstance(want, float) or isinstance(got, float):
        return isinstance(got, (int, float)) and math.isclose(got, want, rel_tol=1e-12, abs_tol=1e-12)
    return type(got) is type(want) and got == want


_counter = iter(range(10**9))


@settings(max_examples=20, deadline=None, suppress_health_check=list(HealthCheck))
@given(data=rows)
def test_warehouse_equals_evaluator(warehouse: Any, data: list[dict[str, Any]]) -> None:
    relation = engines.relation_in(warehouse, f"rt_{next(_counter)}")
    warehouse.write_table(relation, pa.Table.from_pylist([{"id": i, **r} for i, r in enumerate(data)],
                                                         schema=SCHEMA))

    def column(name: str) -> Any:
        value = col(name)
        return warehouse.utc_naive(value) if INPUTS[name] == "timestamp_tz" else value

    nodes = [rt.parse(e) for e in EXPRESSIONS]
    for node in nodes:
        rt.check(node, INPUTS)
    select = ", ".join(rt.to_sql(n, warehouse, column).sql(dialect=warehouse.dialect) + f' AS "c{i}"'
                       for i, n in enumerate(nodes))
    sql = f'SELECT {select} FROM {table(relation).sql(dialect=warehouse.dialect)} ORDER BY "id"'
    result = warehouse.query_arrow(sql).to_pylist()
    evaluators = [rt.evaluator(n, INPUTS) for n in nodes]
    problems = []
    for row, got in zip(data, result):
        for i, (expression, fn) in enumerate(zip(EXPRESSIONS, evaluators)):
            online, offline = fn(row), _sql_value(got[f"c{i}"])
            if not _same(offline, online):
                problems.append(f"{expression}: warehouse {offline!r}, evaluator {online!r}, inputs {row}")
    assert not problems, f"{warehouse.dialect}: " + "\n".join(problems[:10])


@pytest.mark.parametrize("expression,message", [
    ("conv_rate + nope", "unknown column 'nope'"),
    ("POWER(conv_rate, 2)", "function POWER is not in the portable set"),
    ("my_udf(conv_rate)", "function MY_UDF is not in the portable set"),
    ("conv_rate || 'x'", "type mismatch in 'conv_rate || 'x'': float where string is expected"),
    ("name < 'b'", "compare strings with = or <> only"),
    ("CAST(conv_rate AS INT)", "CAST is not in the portable set"),
    ("(SELECT 1)", "expected one expression"),
    ("conv_rate +", "does not parse"),
    ("DATE_DIFF('week', ts, ts)", "unit 'week' is not one of second, minute, hour, day"),
])
def test_bad_expressions_are_one_line(expression: str, message: str) -> None:
    inputs = {"conv_rate": "float", "name": "string", "ts": "timestamp"}
    with pytest.raises(FeatsqlError, match=_escape(message)):
        rt.check(rt.parse(expression), inputs)


def _escape(text: str) -> str:
    import re

    return re.escape(text)


def test_types_are_inferred_or_checked_against_the_declaration() -> None:
    inputs = {"a": "float", "b": "int"}
    assert rt.result_type(rt.parse("b * 2"), inputs, None) == "int"
    assert rt.result_type(rt.parse("b * 2"), inputs, "float") == "float"  # int widens
    assert rt.result_type(rt.parse("a > b"), inputs, None) == "bool"
    with pytest.raises(FeatsqlError, match="declared int, the expression is float"):
        rt.result_type(rt.parse("a / b"), inputs, "int")
    with pytest.raises(FeatsqlError, match="always NULL; declare its type"):
        rt.result_type(rt.parse("NULL"), inputs, None)
    assert math.isclose(rt.evaluator(rt.parse("ROUND(2.5) + ROUND(-2.5)"), inputs)({}), 0.0)
    assert rt.evaluator(rt.parse("ROUND(0.125, 2)"), inputs)({}) == 0.13  # half away from zero
    assert rt.evaluator(rt.parse("DATE_DIFF('hour', TIMESTAMP '2025-01-01 01:59:00',"
                                 " TIMESTAMP '2025-01-01 02:01:00')"), inputs)({}) == 1
