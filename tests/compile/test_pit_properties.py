"""Property tests: random feature tables and entity sets, every engine, compared with the oracle.

Timestamps sit on a coarse grid (30 minutes, sometimes one microsecond off) so that entity
times equal feature times, rows tie on (ts, created), and ttl edges are hit often; keys come
from a handful of values (composite ones built to collide if concatenated); values are NULL
now and then. Each example runs both entity-set forms (DataFrame and SQL).

FEATSQL_PIT_EXAMPLES sets the number of examples per engine (default 40; fakesnow, which
transpiles every statement, gets a quarter of that).
"""
from __future__ import annotations

import os
from datetime import datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import pyarrow as pa
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.compile.harness import (
    Case,
    Engine,
    Request,
    ViewData,
    check_case,
    engine,  # noqa: F401 - the fixture
    entities,
)

pytestmark = pytest.mark.filterwarnings("ignore:Arrow output on a DB-API result")  # fakesnow

BASE = datetime(2024, 5, 1, 0, 0, 0)
STEP = timedelta(minutes=30)
US = timedelta(microseconds=1)
EXAMPLES = int(os.environ.get("FEATSQL_PIT_EXAMPLES", "40"))
SLOW_ENGINES = {"snowflake": 4, "snowflake-asof": 4}  # engine -> divisor of EXAMPLES

INT_KEYS = [1, 2, 3]
PAIR_KEYS = [("1", "23"), ("12", "3"), ("a|b", "c"), ("a", "b|c"), ("a_b", ""), ("a", "_b")]
ZONES = [None, "UTC", "America/New_York", "Asia/Kolkata"]
FEATURES = {"f_int": pa.int64(), "f_float": pa.float64(), "f_str": pa.string()}
KINDS = {"int": {"driver_id": pa.int64()}, "pair": {"a": pa.string(), "b": pa.string()}}


def times(max_steps: int = 10) -> st.SearchStrategy[datetime]:
    """Grid times, sometimes one microsecond either side of a grid point."""
    return st.builds(lambda n, off: BASE + n * STEP + off * US,
                     st.integers(0, max_steps), st.sampled_from([0, 0, 0, 0, 1, -1]))


def key_values(kind: str, extra: bool) -> st.SearchStrategy[dict]:
    if kind == "int":
        ids = INT_KEYS + ([4, None] if extra else [])
        return st.sampled_from(ids).map(lambda k: {"driver_id": k})
    pairs = PAIR_KEYS + ([("1", "2"), ("a|b|c", ""), (None, "3")] if extra else [])
    return st.sampled_from(pairs).map(lambda p: {"a": p[0], "b": p[1]})


@st.composite
def feature_rows(draw, kind: str, created: bool) -> list[dict]:
    rows = []
    for _ in range(draw(st.integers(0, 25))):
        ts = draw(times())
        row = {**draw(key_values(kind, extra=False)), "ts": ts}
        if created:  # sometimes NULL: the least created time
            lag = draw(st.sampled_from([0, 0, 1, 2, 5, None]))
            jitter = draw(st.sampled_from([0, 0, 1])) * US
            row["created"] = None if lag is None else ts + lag * STEP + jitter
        row["f_int"] = draw(st.one_of(st.none(), st.integers(-3, 3)))
        row["f_float"] = draw(st.one_of(st.none(), st.sampled_from([0.0, -1.5, 0.25, 1e300])))
        row["f_str"] = draw(st.one_of(st.none(), st.sampled_from(["", "a", "ab", "b"])))
        rows.append(row)
    if rows and draw(st.booleans()):  # exact duplicates of a row
        rows.append(dict(draw(st.sampled_from(rows))))
    return rows


@st.composite
def views(draw, name: str, kind: str) -> ViewData:
    created = draw(st.booleans())
    rows = draw(feature_rows(kind, created))
    zones = st.sampled_from([None, None, "UTC"])
    tz, created_tz = draw(zones), draw(zones)
    fields = [pa.field(k, t) for k, t in KINDS[kind].items()]
    fields.append(pa.field("ts", pa.timestamp("us", tz)))
    if created:
        fields.append(pa.field("created", pa.timestamp("us", created_tz)))
    fields += [pa.field(f, t) for f, t in FEATURES.items()]
    # Zone-aware columns hold the same instants (TIMESTAMPTZ in the warehouse).
    for r in rows:
        if tz:
            r["ts"] = r["ts"].replace(tzinfo=timezone.utc)
        if created and created_tz and r["created"] is not None:
            r["created"] = r["created"].replace(tzinfo=timezone.utc)
    data = pa.Table.from_pylist(rows, schema=pa.schema(fields))
    ttl = draw(st.sampled_from([None, None, 0, 1800, 3600, 5400, 86400]))
    return ViewData(name, data, tuple(KINDS[kind]), tuple(FEATURES),
                    created_field="created" if created else None,
                    ttl=timedelta(seconds=ttl) if ttl is not None else None)


@st.composite
def cases(draw) -> Case:
    kinds = draw(st.sampled_from([["int"], ["pair"], ["int", "pair"]]))
    vs = [draw(views(f"v_{kind}", kind)) for kind in kinds]
    subsets = st.lists(st.sampled_from(list(FEATURES)), min_size=1, max_size=3, unique=True)
    requests = [Request(v.name, tuple(draw(subsets))) for v in vs]
    aliased = "int" in kinds and draw(st.booleans())
    if aliased:  # the same view again, keyed by another entity column
        requests.append(Request("v_int", tuple(draw(subsets)), "other", {"driver_id": "other_id"}))
    names = [f for r in requests for f in r.features]
    full = len(names) != len(set(names)) or draw(st.booleans())

    zone = draw(st.sampled_from(ZONES))
    rows = []
    for _ in range(draw(st.integers(0, 12))):
        row = {}
        for kind in kinds:
            row.update(draw(key_values(kind, extra=True)))
        if aliased:
            row["other_id"] = draw(st.sampled_from(INT_KEYS + [None]))
        t = None if draw(st.integers(0, 15)) == 0 else draw(times(max_steps=12))
        if t is not None and zone:
            t = t.replace(tzinfo=timezone.utc).astimezone(ZoneInfo(zone))
        row["event_timestamp"] = t
        row["label"] = draw(st.integers(0, 1))
        rows.append(row)
    fields = [pa.field(k, t) for kind in kinds for k, t in KINDS[kind].items()]
    if aliased:
        fields.append(pa.field("other_id", pa.int64()))
    fields += [pa.field("event_timestamp", pa.timestamp("us", zone)), pa.field("label", pa.int64())]
    if rows and draw(st.booleans()):
        rows += draw(st.lists(st.sampled_from(rows), max_size=3))  # duplicate entity rows
    return Case(vs, requests, entities(rows, pa.schema(fields)), full_feature_names=full,
                filter_by_created_timestamp=draw(st.booleans()))


def test_training_sets_match_the_oracle(engine: Engine) -> None:
    examples = max(1, EXAMPLES // SLOW_ENGINES.get(engine.name, 1))

    @settings(max_examples=examples, deadline=None,
              suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
    @given(case=cases())
    def matches(case: Case) -> None:
        check_case(engine, case)

    matches()
