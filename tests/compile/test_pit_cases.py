"""The fixed point-in-time cases of DESIGN.md section 6, on every engine, checked by the oracle.

Every case runs three times per engine (harness.check_case): entity set as a DataFrame, as SQL,
and through the dbt macro `featsql.training_set`'s compiled SQL (featsql.compile.macros).
Most tests also pin the expected values by hand, so the oracle itself is checked.
"""
from __future__ import annotations

from datetime import datetime, timedelta, timezone
from typing import Any, Sequence
from zoneinfo import ZoneInfo

import pyarrow as pa
import pytest
import sqlglot

from featsql.errors import FeatsqlError
from tests.compile import oracle
from tests.compile.harness import (
    TAG,
    Case,
    Engine,
    Request,
    ViewData,
    check_case,
    check_date_range,
    engine,  # noqa: F401 - the fixture
    entities,
    entity_frame,
    entity_sql,
    load,
    oracle_requests,
    plan,
)

pytestmark = pytest.mark.filterwarnings("ignore:Arrow output on a DB-API result")  # fakesnow

T = datetime(2024, 3, 10, 12, 0, 0)  # naive = UTC
US = timedelta(microseconds=1)
H = timedelta(hours=1)
NAIVE = pa.timestamp("us")


def fr(driver_id: Any, ts: datetime, conv: float | None = None, **more: Any) -> dict[str, Any]:
    """A feature row of the default view (driver_id, ts, conv)."""
    return {"driver_id": driver_id, "ts": ts, "conv": conv, **more}


def er(driver_id: Any, t: datetime | None, **more: Any) -> dict[str, Any]:
    """An entity row (driver_id, event_timestamp)."""
    return {"driver_id": driver_id, "event_timestamp": t, **more}


def view(name: str, rows: Sequence[dict[str, Any]], keys: dict[str, pa.DataType] | None = None,
         features: dict[str, pa.DataType] | None = None, created: bool = False,
         ttl: timedelta | None = None, ts_type: pa.DataType = NAIVE) -> ViewData:
    """A feature view over `rows` (dicts with the keys, "ts", maybe "created", the features)."""
    keys = keys if keys is not None else {"driver_id": pa.int64()}
    features = features or {"conv": pa.float64()}
    fields = [pa.field(k, t) for k, t in keys.items()] + [pa.field("ts", ts_type)]
    if created:
        fields.append(pa.field("created", NAIVE))
    fields += [pa.field(f, t) for f, t in features.items()]
    data = pa.Table.from_pylist([dict(r) for r in rows], schema=pa.schema(fields))
    return ViewData(name, data, tuple(keys), tuple(features),
                    created_field="created" if created else None, ttl=ttl)


def ents(rows: Sequence[dict[str, Any]], keys: dict[str, pa.DataType] | None = None,
         ts_type: pa.DataType = NAIVE, extra: dict[str, pa.DataType] | None = None) -> pa.Table:
    keys = keys if keys is not None else {"driver_id": pa.int64()}
    fields = [pa.field(k, t) for k, t in keys.items()] + [pa.field("event_timestamp", ts_type)]
    fields += [pa.field(c, t) for c, t in (extra or {}).items()]
    return entities(rows, pa.schema(fields))


def conv_case(rows: Sequence[dict[str, Any]], entity_rows: Sequence[dict[str, Any]],
              created: bool = False, ttl: timedelta | None = None, **options: Any) -> Case:
    """The default view ("stats": driver_id -> conv) and entity rows."""
    v = view("stats", rows, created=created, ttl=ttl)
    return Case([v], [Request("stats", ("conv",))], ents(entity_rows), **options)


def run(engine: Engine, case: Case, expect: dict[str, list[Any]] | None = None) -> None:
    """Check against the oracle on the engine; `expect` also pins the oracle (column -> values)."""
    if expect:
        want = oracle.expected(oracle_requests(case), case.entities.to_pylist(),
                               case.timestamp_column, case.full_feature_names,
                               case.filter_by_created_timestamp)
        where = {r.output_name(f, case.full_feature_names): (r.name, j)
                 for r in oracle_requests(case) for j, f in enumerate(r.features)}
        for column, values in expect.items():
            name, j = where[column]
            got = [w[name].pick[j] for w in want]
            assert got == values, f"oracle disagrees with the test on {column}: {got} != {values}"
    check_case(engine, case)


def _names(engine: Engine, table: pa.Table) -> pa.Table:
    if not engine.fold_case:
        return table
    return table.rename_columns([c.lower() for c in table.column_names])


# -- time boundaries ------------------------------------------------------------------------------

def test_entity_time_equal_to_feature_time(engine: Engine) -> None:
    rows = [fr(1, T - H, 0.1), fr(1, T, 0.2), fr(1, T + US, 0.3)]
    run(engine, conv_case(rows, [er(1, T), er(1, T - US)]), {"conv": [0.2, 0.1]})


@pytest.mark.parametrize("ttl", [H, timedelta(days=2, seconds=7)])
def test_ttl_boundary_is_inclusive(engine: Engine, ttl: timedelta) -> None:
    rows = [fr(1, T - ttl, 1.0),        # exactly t - ttl: counts
            fr(2, T - ttl - US, 2.0),   # one microsecond older: NULL
            fr(3, T - ttl - US, 3.0), fr(3, T - ttl, 3.5)]
    entity_rows = [er(1, T), er(2, T), er(3, T),
                   er(2, T - US)]  # now 2.0 is exactly at the edge
    run(engine, conv_case(rows, entity_rows, ttl=ttl), {"conv": [1.0, None, 3.5, 2.0]})


@pytest.mark.parametrize("ttl", [None, timedelta(0)])
def test_no_ttl_means_no_lower_bound(engine: Engine, ttl: timedelta | None) -> None:
    rows = [fr(1, datetime(2001, 1, 1), 0.5)]
    run(engine, conv_case(rows, [er(1, T)], ttl=ttl), {"conv": [0.5]})


def test_ttl_applies_to_the_latest_row(engine: Engine) -> None:
    """The latest row at or before t is stale: NULL (older rows are staler still)."""
    rows = [fr(1, T - 3 * H, 0.1), fr(1, T - 2 * H, 0.2)]
    run(engine, conv_case(rows, [er(1, T), er(1, T - 1.5 * H)], ttl=H), {"conv": [None, 0.2]})


# -- ties -----------------------------------------------------------------------------------------

def test_backfill_later_created_wins(engine: Engine) -> None:
    ts = T - H
    rows = [fr(1, ts, 0.1, created=ts),
            fr(1, ts, 0.9, created=T + timedelta(days=1)),  # a backfill, even one made after t
            fr(1, ts, 0.5, created=ts + timedelta(minutes=1)),
            fr(2, ts, 0.4, created=ts + timedelta(minutes=1)),
            fr(2, ts, 0.8, created=None)]  # a NULL created time is the least
    run(engine, conv_case(rows, [er(1, T), er(2, T)], created=True), {"conv": [0.9, 0.4]})


def test_exact_duplicates_give_one_row(engine: Engine) -> None:
    ts = T - H
    rows = [fr(1, ts, 0.25, created=ts)] * 3
    # Equal (ts, created), different values: one of them, the same every time.
    rows += [fr(2, ts, v, created=ts) for v in (0.5, None, 0.7, 0.6)]
    run(engine, conv_case(rows, [er(1, T), er(2, T), er(2, T)], created=True),
        {"conv": [0.25, 0.7, 0.7]})


def test_ties_without_created_column(engine: Engine) -> None:
    rows = [fr(1, T - H, v) for v in (None, 0.3, 0.2)]
    run(engine, conv_case(rows, [er(1, T)] * 2), {"conv": [0.3, 0.3]})


def test_tied_rows_come_whole(engine: Engine) -> None:
    """With several features, all values come from one of the tied rows (never mixed)."""
    ts = T - H
    rows = [{"driver_id": 1, "ts": ts, "a": a, "b": b}
            for a, b in [(1, "z"), (2, "a"), (2, None), (None, "zz")]]
    v = view("stats", rows, features={"a": pa.int64(), "b": pa.string()})
    case = Case([v], [Request("stats", ("a", "b"))], ents([er(1, T)]))
    run(engine, case, {"a": [2], "b": ["a"]})


# -- entity rows ----------------------------------------------------------------------------------

def test_duplicate_entity_rows_are_preserved(engine: Engine) -> None:
    entity_rows = [er(1, T)] * 3 + [er(2, T)] * 2
    run(engine, conv_case([fr(1, T - H, 0.1)], entity_rows), {"conv": [0.1, 0.1, 0.1, None, None]})


def test_entities_with_no_data(engine: Engine) -> None:
    entity_rows = [er(7, T), er(1, T), er(None, T), er(1, None)]
    run(engine, conv_case([fr(1, T - H, 0.1)], entity_rows), {"conv": [None, 0.1, None, None]})


def test_only_future_data(engine: Engine) -> None:
    rows = [fr(1, T + timedelta(days=d), float(d)) for d in (1, 2)]
    run(engine, conv_case(rows, [er(1, T)]), {"conv": [None]})


def test_empty_feature_table(engine: Engine) -> None:
    run(engine, conv_case([], [er(1, T)], ttl=H), {"conv": [None]})


def test_empty_entity_set(engine: Engine) -> None:
    run(engine, conv_case([fr(1, T, 0.1)], []))


def test_entity_columns_pass_through_first(engine: Engine) -> None:
    entity_rows = [er(1, T, label=True, note="x|y"), er(1, T, label=None, note=None)]
    case = Case([view("stats", [fr(1, T - H, 0.1)])], [Request("stats", ("conv",))],
                ents(entity_rows, extra={"label": pa.bool_(), "note": pa.string()}))
    run(engine, case, {"conv": [0.1, 0.1]})


def test_entity_column_names_that_need_quoting(engine: Engine) -> None:
    if engine.warehouse == "snowflake":
        pytest.skip("fakesnow's write_pandas creates its table with unquoted names")
    schema = pa.schema([("Origin ID", pa.int64()), ("event_timestamp", NAIVE),
                        ('we"ird', pa.string()), ("select", pa.int64())])
    data = entities([{"Origin ID": 1, "event_timestamp": T, 'we"ird': "x", "select": 1},
                     {"Origin ID": 2, "event_timestamp": T, 'we"ird': None, "select": None}], schema)
    locations = view("locations", [{"location_id": 1, "ts": T - H, "conv": 0.5}],
                     keys={"location_id": pa.int64()})
    case = Case([locations], [Request("locations", ("conv",), "o", {"location_id": "Origin ID"})], data)
    run(engine, case, {"conv": [0.5, None]})


def test_custom_timestamp_column(engine: Engine) -> None:
    data = entities([{"driver_id": 1, "label_time": T}, {"driver_id": 1, "label_time": T - 2 * H}],
                    pa.schema([("driver_id", pa.int64()), ("label_time", NAIVE)]))
    case = Case([view("stats", [fr(1, T - H, 0.1)])], [Request("stats", ("conv",))], data,
                timestamp_column="label_time")
    run(engine, case, {"conv": [0.1, None]})


# -- keys -----------------------------------------------------------------------------------------

def _pair_case(pairs: list[tuple], extra: list[tuple], key_type: pa.DataType) -> Case:
    keys = {"a": key_type, "b": key_type}
    rows = [{"a": a, "b": b, "ts": T - H, "conv": float(i)} for i, (a, b) in enumerate(pairs)]
    entity_rows = [{"a": a, "b": b, "event_timestamp": T} for a, b in pairs + extra]
    return Case([view("pairs", rows, keys=keys)], [Request("pairs", ("conv",))],
                ents(entity_rows, keys=keys))


def test_composite_keys_do_not_collide(engine: Engine) -> None:
    pairs = [("1", "23"), ("12", "3"), ("a|b", "c"), ("a", "b|c"), ("a_b", "c"), ("a", "b_c"),
             ("", "x"), ("x", ""), ("a__b", ""), ("a", "_b"), ("a,b", "c"), ("a", "b,c")]
    case = _pair_case(pairs, [("a|b|c", ""), ("1", "2")], pa.string())
    run(engine, case, {"conv": [float(i) for i in range(len(pairs))] + [None, None]})


def test_composite_integer_keys_do_not_collide(engine: Engine) -> None:
    case = _pair_case([(1, 23), (12, 3), (1, 2), (12, None)], [(123, None)], pa.int64())
    run(engine, case, {"conv": [0.0, 1.0, 2.0, None, None]})


def test_string_keys(engine: Engine) -> None:
    keys = {"driver_id": pa.string()}
    rows = [fr(k, T - H, float(i)) for i, k in enumerate(["1", "01", " 1", "1 ", "ü"])]
    entity_rows = [er(k, T) for k in ["1", "01", " 1", "1 ", "ü", "u"]]
    case = Case([view("stats", rows, keys=keys)], [Request("stats", ("conv",))],
                ents(entity_rows, keys=keys))
    run(engine, case, {"conv": [0.0, 1.0, 2.0, 3.0, 4.0, None]})


# -- time zones -----------------------------------------------------------------------------------

def _in_zone(t: datetime, zone: str) -> datetime:
    return t.replace(tzinfo=timezone.utc).astimezone(ZoneInfo(zone))


@pytest.mark.parametrize("zone", [None, "UTC", "America/New_York", "Asia/Kolkata"])
def test_entity_time_zones(engine: Engine, zone: str | None) -> None:
    """The same instants, in any zone, pick the same rows; naive means UTC."""
    rows = [fr(1, T + timedelta(minutes=30 * i), float(i)) for i in range(-24, 25)]
    instants = [T, T - US, T + 5 * H, T - 5.5 * H, T + timedelta(minutes=29)]
    stamps = [_in_zone(t, zone) if zone else t for t in instants]
    case = Case([view("stats", rows, ttl=6 * H)], [Request("stats", ("conv",))],
                ents([er(1, s) for s in stamps], ts_type=pa.timestamp("us", zone)))
    run(engine, case, {"conv": [0.0, -1.0, 10.0, -11.0, 0.0]})


@pytest.mark.parametrize("zone", ["UTC", "Asia/Kolkata"])
def test_zone_aware_feature_timestamps(engine: Engine, zone: str) -> None:
    """A view whose time column is zone-aware compares in UTC too."""
    rows = [fr(1, (T + timedelta(minutes=30 * i)).replace(tzinfo=timezone.utc), float(i))
            for i in range(-4, 5)]
    v = view("stats", rows, ts_type=pa.timestamp("us", zone), ttl=H)
    stamps = [T, T - US, T + timedelta(minutes=45), T - 3 * H]
    case = Case([v], [Request("stats", ("conv",))],
                ents([er(1, _in_zone(s, "America/New_York")) for s in stamps],
                     ts_type=pa.timestamp("us", "America/New_York")))
    run(engine, case, {"conv": [0.0, -1.0, 1.0, None]})


@pytest.mark.parametrize("unit", ["s", "ms", "ns"])
def test_feature_time_units(engine: Engine, unit: str) -> None:
    """Feature time and created columns of other resolutions than microseconds."""
    step = timedelta(seconds=1) if unit == "s" else timedelta(milliseconds=1)
    rows = [fr(1, T - step, 0.1, created=T), fr(1, T, 0.2, created=T - step),
            fr(1, T, 0.3, created=T), fr(1, T + step, 0.4, created=T)]
    data = view("stats", rows, created=True).data
    data = data.cast(pa.schema([f.with_type(pa.timestamp(unit)) if f.name in ("ts", "created") else f
                                for f in data.schema]))
    v = ViewData("stats", data, ("driver_id",), ("conv",), created_field="created", ttl=H)
    case = Case([v], [Request("stats", ("conv",))], ents([er(1, T), er(1, T - US), er(1, T + H)]))
    run(engine, case, {"conv": [0.3, 0.1, 0.4]})


def test_date_typed_feature_time(engine: Engine) -> None:
    """A daily aggregate stamped with its DATE and timestamp_offset 1d: day D's row is known
    from D + 1 at 00:00 UTC, never during D itself (no leak of the day into its own rows)."""
    day = timedelta(days=1)
    rows = [{"driver_id": 1, "day": (T - d * day).date(), "conv": float(d)} for d in (0, 1, 3)]
    data = pa.Table.from_pylist(rows, schema=pa.schema([("driver_id", pa.int64()),
                                                         ("day", pa.date32()), ("conv", pa.float64())]))
    v = ViewData("daily", data, ("driver_id",), ("conv",), timestamp_field="day", ttl=day,
                 offset=day)
    midnight = datetime(T.year, T.month, T.day)
    # midnight + 1d: today's row is known; midnight: yesterday's; during today: still yesterday's;
    # just before yesterday's midnight only the row of 3 days ago is known (since midnight - 2d,
    # inside the ttl); just before today's midnight it is older than the ttl.
    entity_rows = [er(1, midnight + day), er(1, midnight), er(1, midnight + day - US),
                   er(1, midnight - day - US), er(1, midnight - US)]
    case = Case([v], [Request("daily", ("conv",))], ents(entity_rows))
    run(engine, case, {"conv": [0.0, 1.0, 1.0, 3.0, None]})


# -- values ---------------------------------------------------------------------------------------

def test_null_at_the_latest_row_wins(engine: Engine) -> None:
    feats = {"conv": pa.float64(), "trips": pa.int64(), "city": pa.string(), "ok": pa.bool_()}
    old = {"conv": 0.5, "trips": 7, "city": "x"}
    rows = [fr(1, T - 2 * H, **old, ok=True), fr(1, T - H, None, trips=None, city=None, ok=None),
            fr(2, T - 2 * H, **old, ok=False), fr(2, T - H, None, trips=8, city=None, ok=None)]
    case = Case([view("stats", rows, features=feats)], [Request("stats", tuple(feats))],
                ents([er(1, T), er(2, T), er(2, T - 1.5 * H)]))
    run(engine, case, {"conv": [None, None, 0.5], "trips": [None, 8, 7], "city": [None, None, "x"],
                       "ok": [None, None, False]})


def test_large_integers_stay_exact(engine: Engine) -> None:
    """Integers beyond 2**53 (ids, counters) survive upload, join and result, NULLs beside them."""
    big = 2**53 + 1
    keys, feats = {"driver_id": pa.int64()}, {"trips": pa.int64()}
    rows = [{"driver_id": k, "ts": T - H, "trips": v}
            for k, v in [(big, big), (big - 1, None), (1, -big)]]
    case = Case([view("stats", rows, keys=keys, features=feats)], [Request("stats", ("trips",))],
                ents([er(big, T), er(big - 1, T), er(None, T), er(1, T)], keys=keys))
    run(engine, case, {"trips": [big, None, None, -big]})


# -- several views --------------------------------------------------------------------------------

PAIR_KEYS = {"driver_id": pa.int64(), "customer_id": pa.string()}


def _three_views() -> list[ViewData]:
    driver = view("driver_stats", [fr(1, T - h * H, 0.1 * h) for h in (1, 3, 5)])
    customer = view("customer_stats", [
        {"customer_id": c, "ts": ts, "created": T, "spend": spend}
        for c, ts, spend in [("c1", T - timedelta(minutes=10), 10.0),
                             ("c1", T - timedelta(minutes=70), 70.0),
                             ("c2", T + timedelta(minutes=1), 1.0)]],
        keys={"customer_id": pa.string()}, features={"spend": pa.float64()}, created=True, ttl=H)
    pair = view("pair_stats", [
        {"driver_id": 1, "customer_id": "c1", "ts": T - timedelta(days=1), "trips": 3},
        {"driver_id": 1, "customer_id": "c2", "ts": T - timedelta(days=2), "trips": 4}],
        keys=PAIR_KEYS, features={"trips": pa.int64()})
    return [driver, customer, pair]


def test_three_views_with_different_entities(engine: Engine) -> None:
    entity_rows = [er(1, T, customer_id="c1"), er(1, T - 2 * H, customer_id="c2"),
                   er(2, T - 0.5 * H, customer_id="c1")]
    requests = [Request("customer_stats", ("spend",)), Request("driver_stats", ("conv",)),
                Request("pair_stats", ("trips",))]
    case = Case(_three_views(), requests, ents(entity_rows, keys=PAIR_KEYS))
    run(engine, case, {"spend": [10.0, None, 70.0], "conv": [0.1, 0.1 * 3, None],
                       "trips": [3, 4, None]})


def _locations() -> ViewData:
    rows = [{"location_id": loc, "ts": T - h * H, "wait": float(loc * 10 + h)}
            for loc in (1, 2, 3) for h in (1, 4)]
    return view("location_stats", rows, keys={"location_id": pa.int64()},
                features={"wait": pa.float64()})


ORIGIN_DESTINATION = [
    Request("location_stats", ("wait",), "origin", {"location_id": "origin_id"}),
    Request("location_stats", ("wait",), "destination", {"location_id": "destination_id"}),
]
TRIP_KEYS = {"origin_id": pa.int64(), "destination_id": pa.int64()}


def test_origin_destination_aliases(engine: Engine) -> None:
    entity_rows = [{"origin_id": o, "destination_id": d, "event_timestamp": t}
                   for o, d, t in [(1, 2, T), (2, 1, T - 2 * H), (3, 3, T), (4, 1, T)]]
    case = Case([_locations()], ORIGIN_DESTINATION, ents(entity_rows, keys=TRIP_KEYS),
                full_feature_names=True)
    run(engine, case, {"origin__wait": [11.0, 24.0, 31.0, None],
                       "destination__wait": [21.0, 14.0, 31.0, 11.0]})


def test_aliases_without_full_names_collide(engine: Engine) -> None:
    data = ents([], keys=TRIP_KEYS)
    case = Case([_locations()], ORIGIN_DESTINATION, data)
    defs = load(engine, case)
    collision = "'wait' is requested from both 'origin' and 'destination'"
    with pytest.raises(FeatsqlError, match=collision):
        plan(engine, case, defs, entity_frame(data), open_warehouse=_no_warehouse)


# -- options --------------------------------------------------------------------------------------

def test_filter_by_created_timestamp(engine: Engine) -> None:
    rows = [fr(1, T - 3 * H, 0.3, created=T - 3 * H),
            fr(1, T - 2 * H, 0.2, created=T + H),       # known only after T
            fr(1, T - 3 * H, 0.35, created=T - H / 2),  # a backfill known at T
            fr(1, T - H, 0.1, created=T),               # created exactly at T
            fr(2, T - 5 * H, 0.9, created=T + H)]
    entity_rows = [er(1, T), er(1, T - US), er(1, T + 2 * H), er(2, T), er(1, T - H)]
    for known_at, expect in [(True, [0.1, 0.35, 0.1, None, 0.3]),
                             (False, [0.1, 0.1, 0.1, 0.9, 0.1])]:
        case = conv_case(rows, entity_rows, created=True, filter_by_created_timestamp=known_at)
        run(engine, case, {"conv": expect})
    ttl_case = conv_case(rows, entity_rows, created=True, ttl=2 * H,
                         filter_by_created_timestamp=True)
    run(engine, ttl_case, {"conv": [0.1, None, None, None, 0.3]})


def test_filter_by_created_timestamp_and_null_created(engine: Engine) -> None:
    """Known-at: a row with no created time is not known to exist by t, so it does not qualify
    (SQL's `created <= t`); without the filter it is the least recent version."""
    rows = [fr(1, T - 2 * H, 0.2, created=T - 2 * H), fr(1, T - H, 0.1, created=None),
            fr(2, T - H, 0.3, created=None)]
    for known_at, expect in [(True, [0.2, None]), (False, [0.1, 0.3])]:
        case = conv_case(rows, [er(1, T), er(2, T)], created=True,
                         filter_by_created_timestamp=known_at)
        run(engine, case, {"conv": expect})


def test_filter_by_created_timestamp_without_created_column(engine: Engine) -> None:
    rows = [fr(1, T - h * H, float(h)) for h in (1, 2)]
    run(engine, conv_case(rows, [er(1, T)], filter_by_created_timestamp=True), {"conv": [1.0]})


@pytest.mark.parametrize("full", [False, True])
def test_full_feature_names(engine: Engine, full: bool) -> None:
    data = ents([er(1, T, customer_id="c1")], keys=PAIR_KEYS)
    requests = [Request("driver_stats", ("conv",)), Request("pair_stats", ("trips",))]
    case = Case(_three_views(), requests, data, full_feature_names=full)
    run(engine, case)
    names = ["driver_stats__conv", "pair_stats__trips"] if full else ["conv", "trips"]
    got = _names(engine, plan(engine, case, load(engine, case), entity_frame(data)).to_arrow())
    assert got.column_names == [TAG, "driver_id", "customer_id", "event_timestamp", *names]


def test_feature_name_collision_is_an_error(engine: Engine) -> None:
    a, b = view("a_stats", [fr(1, T, 0.1)]), view("b_stats", [fr(1, T, 0.2)])
    data = ents([er(1, T)])
    case = Case([a, b], [Request("a_stats", ("conv",)), Request("b_stats", ("conv",))], data)
    defs = load(engine, case)
    with pytest.raises(FeatsqlError, match="'conv' is requested from both 'a_stats' and 'b_stats'"):
        plan(engine, case, defs, entity_frame(data), open_warehouse=_no_warehouse)
    case.full_feature_names = True
    run(engine, case)


# -- errors before warehouse work -----------------------------------------------------------------

def _no_warehouse() -> Any:
    raise AssertionError("the warehouse was opened before the entity set was checked")


@pytest.mark.parametrize("missing, message", [
    ("driver_id", r"missing column 'driver_id' \(join key of stats\)"),
    ("event_timestamp", r"missing column 'event_timestamp' \(timestamp\)"),
])
def test_missing_entity_columns_fail_before_warehouse_work(engine: Engine, missing: str,
                                                           message: str) -> None:
    case = conv_case([fr(1, T, 0.1)], [er(1, T)])
    defs = load(engine, case)
    data = case.entities.drop_columns([missing])
    with pytest.raises(FeatsqlError, match="entity DataFrame is " + message):
        plan(engine, case, defs, entity_frame(data), open_warehouse=_no_warehouse)
    keep = [c for c in ("driver_id", "event_timestamp") if c != missing]
    sql = f"select {', '.join(keep)} from somewhere_not_built"
    with pytest.raises(FeatsqlError, match="entity SQL is " + message):
        plan(engine, case, defs, sql, open_warehouse=_no_warehouse)
    # select * over a built table: the catalog says which columns it has.
    with pytest.raises(FeatsqlError, match="entity SQL is " + message):
        plan(engine, case, defs, entity_sql(engine, data), open_warehouse=_no_warehouse)


def test_entity_column_named_like_a_feature_is_an_error(engine: Engine) -> None:
    """It would come back twice; full names sidestep it (the output is stats__conv)."""
    case = conv_case([fr(1, T, 0.1)], [er(1, T)])
    defs = load(engine, case)
    data = case.entities.append_column("conv", pa.array([0.5]))
    message = r"entity DataFrame has a column 'conv', the name of requested feature 'stats:conv'"
    with pytest.raises(FeatsqlError, match=message):
        plan(engine, case, defs, entity_frame(data), open_warehouse=_no_warehouse)
    with pytest.raises(FeatsqlError, match=message.replace("DataFrame", "SQL")):
        plan(engine, case, defs, "select driver_id, event_timestamp, 1 as conv from t",
             open_warehouse=_no_warehouse)


def test_mapped_join_key_missing_names_the_alias(engine: Engine) -> None:
    data = ents([{"location_id": 1, "event_timestamp": T}], keys={"location_id": pa.int64()})
    case = Case([_locations()], ORIGIN_DESTINATION[:1], data)
    defs = load(engine, case)
    with pytest.raises(FeatsqlError, match=r"missing column 'origin_id' \(join key of origin\)"):
        plan(engine, case, defs, entity_frame(data), open_warehouse=_no_warehouse)


# -- entity sets ----------------------------------------------------------------------------------

@pytest.mark.parametrize("unit", ["s", "ms", "us", "ns"])
def test_entity_time_units(engine: Engine, unit: str) -> None:
    """Entity times of any Arrow/pandas resolution compare as the same instants."""
    step = {"s": timedelta(seconds=1), "ms": timedelta(milliseconds=1), "us": US, "ns": US}[unit]
    rows = [fr(1, T - step, 0.1), fr(1, T, 0.2), fr(1, T + step, 0.3)]
    entity_rows = [er(1, t) for t in (T - step, T, T + step, T - 2 * step)]
    case = Case([view("stats", rows)], [Request("stats", ("conv",))],
                ents(entity_rows, ts_type=pa.timestamp(unit)))
    run(engine, case, {"conv": [0.1, 0.2, 0.3, None]})


@pytest.mark.parametrize("stamps", [
    ["2024-03-10 12:00:00", "2024-03-10T10:59:59"],
    [datetime(2024, 3, 10).date(), datetime(2024, 3, 11).date()],
])
def test_entity_time_column_comes_back_as_given(engine: Engine, stamps: list[Any]) -> None:
    """Strings and dates are read as naive UTC times and returned untouched."""
    import pandas as pd

    rows = [fr(1, T - H, 0.1), fr(1, datetime(2024, 3, 9, 23), 0.0)]
    frame = pd.DataFrame({"driver_id": [1, 1], "event_timestamp": stamps})
    case = Case([view("stats", rows)], [Request("stats", ("conv",))], ents([]))
    got = _names(engine, plan(engine, case, load(engine, case), frame).to_arrow())
    assert got.column("conv").to_pylist() == ([0.1, 0.0] if isinstance(stamps[0], str) else [0.0, 0.1])
    if not engine.fold_case:
        assert got.column("event_timestamp").to_pylist() == stamps


def _entity_table_name(engine: Engine, case: Case) -> str:
    """The entity rows loaded as a table; its name as DuckDB SQL (transpiled per engine after)."""
    query = sqlglot.parse_one(entity_sql(engine, case.entities), read=engine.dialect)
    return query.find(sqlglot.exp.Table).sql(dialect="duckdb")


def test_entity_sql_of_any_shape(engine: Engine) -> None:
    """A CTE and a UNION in the user's query: it is wrapped, not pasted."""
    case = conv_case([fr(1, T - H, 0.1), fr(2, T - 3 * H, 0.2)], [er(1, T), er(2, T - 2 * H)])
    defs = load(engine, case)
    name = _entity_table_name(engine, case)
    sql = sqlglot.transpile(f"with a as (select * from {name} where driver_id = 1)"
                            f" select * from a union all select * from {name} where driver_id <> 1",
                            read="duckdb", write=engine.dialect)[0]
    got = _names(engine, plan(engine, case, defs, sql).to_arrow())
    assert sorted(zip(got.column(TAG).to_pylist(), got.column("conv").to_pylist())) == [(0, 0.1),
                                                                                        (1, 0.2)]


def test_entity_sql_runs_once(engine: Engine) -> None:
    """Random entity times: features must match each returned row's own time, which only holds
    when the query ran once (its rows feed both the keys and the final join)."""
    if engine.warehouse == "snowflake":
        pytest.skip("fakesnow runs Snowflake CTEs as plain DuckDB CTEs, which DuckDB may inline;"
                    " Snowflake evaluates a WITH clause once")
    rows = [fr(1, T - timedelta(minutes=m), float(m)) for m in range(0, 600, 7)]
    case = conv_case(rows, [er(1, T)] * 200)
    defs = load(engine, case)
    sql = sqlglot.transpile(
        "select row_tag, driver_id,"
        " event_timestamp - (floor(random() * 500) * interval '1 minute') as event_timestamp"
        f" from {_entity_table_name(engine, case)}", read="duckdb", write=engine.dialect)[0]
    got = plan(engine, case, defs, sql).to_arrow().to_pylist()
    assert len(got) == 200 and len({r["event_timestamp"] for r in got}) > 10
    want = oracle.expected(oracle_requests(case), got)
    assert [r["conv"] for r in got] == [w["stats"].pick[0] for w in want]


def _raw_entities(engine: Engine, case: Case) -> tuple[str, str]:
    """The entity rows loaded with their time column named label_time: the table's qualified
    name and its bare name, as DuckDB SQL."""
    from featsql.sql import table

    raw = case.entities.rename_columns([TAG, "driver_id", "label_time"])
    rel = engine.write_table(engine.fresh("raw"), raw)
    bare = sqlglot.exp.to_identifier(rel.identifier, quoted=True).sql(dialect="duckdb")
    return table(rel).sql(dialect="duckdb"), bare


def test_entity_sql_columns_from_derived_tables(engine: Engine) -> None:
    """`select *` over a derived table or a CTE has that query's columns, not its table's."""
    case = conv_case([fr(1, T - H, 0.1)], [er(1, T)])
    defs = load(engine, case)
    raw, bare = _raw_entities(engine, case)
    renamed = f"select {TAG}, driver_id, label_time as event_timestamp from {raw}"
    # The last one names its CTE as the table it reads: no catalog lookup for that name.
    for sql in [f"select * from ({renamed}) as s", f"with s as ({renamed}) select * from s",
                f"with {bare} as ({renamed}) select * from {bare}"]:
        job = plan(engine, case, defs, sqlglot.transpile(sql, read="duckdb", write=engine.dialect)[0],
                   open_warehouse=engine.open_warehouse)
        got = _names(engine, job.to_arrow())
        assert got.column("conv").to_pylist() == [0.1], sql
    for sql in [f"select * from (select {TAG}, driver_id from {raw}) as s",
                f"with s as (select driver_id, label_time from {raw}) select * from s",
                f"select * from {raw} union all select * from {raw}"]:
        with pytest.raises(FeatsqlError, match="entity SQL is missing column 'event_timestamp'"):
            plan(engine, case, defs, sqlglot.transpile(sql, read="duckdb", write=engine.dialect)[0],
                 open_warehouse=_no_warehouse)


def test_sub_microsecond_entity_times_never_see_later_rows(engine: Engine) -> None:
    """A nanosecond entity time is floored to the microsecond warehouses compare in (rounding
    could move it past a feature row stamped after it); it comes back as sent."""
    import pandas as pd

    rows = [fr(1, T - US, 0.05), fr(1, T, 0.1), fr(1, T + US, 0.2)]
    half = pd.Timedelta(nanoseconds=500)
    sent = [pd.Timestamp(T) + half, pd.Timestamp(T) - half, pd.Timestamp(T) + 2 * half]
    data = entities([er(1, t) for t in sent],
                    pa.schema([("driver_id", pa.int64()), ("event_timestamp", pa.timestamp("ns"))]))
    case = Case([view("stats", rows, ttl=H)], [Request("stats", ("conv",))], data)
    got = _names(engine, plan(engine, case, load(engine, case), entity_frame(data)).to_arrow())
    assert got.column("conv").to_pylist() == [0.1, 0.05, 0.2]
    if not engine.fold_case:  # fakesnow's upper-case names: RetrievalJob cannot restore it
        assert got.column("event_timestamp").to_pylist() == sent


@pytest.mark.parametrize("form", ["df", "sql"])
def test_to_table_holds_the_same_rows(engine: Engine, form: str) -> None:
    """job.to_table builds the training set in the warehouse: the rows to_arrow returns."""
    from featsql.sql import table
    from tests.engines import relation_in

    rows = [fr(1, T - H, 0.1), fr(2, T - 2 * H, None), fr(2, T - 3 * H, 0.3)]
    case = conv_case(rows, [er(1, T), er(2, T), er(2, T - 2.5 * H), er(3, T), er(1, T)], ttl=2 * H)
    defs = load(engine, case)
    entity = entity_frame(case.entities) if form == "df" else entity_sql(engine, case.entities)
    job = plan(engine, case, defs, entity)
    name = table(relation_in(engine.wh, engine.fresh("train"))).sql(dialect=engine.wh.dialect)
    job.to_table(name)
    built = _names(engine, engine.wh.query_arrow(f"SELECT * FROM {name}"))
    fetched = _names(engine, job.to_arrow())
    for got in (built, fetched):
        assert sorted(got.column(TAG).to_pylist()) == [0, 1, 2, 3, 4]
        assert dict(zip(got.column(TAG).to_pylist(), got.column("conv").to_pylist())) == {
            0: 0.1, 1: None, 2: 0.3, 3: None, 4: 0.1}


# -- entity-less (global) views -------------------------------------------------------------------

def _global_view(ttl: timedelta | None = None, created: bool = False) -> ViewData:
    """Rows that apply to every entity (Feast's global stats): no join key at all."""
    rows = [{"ts": T - 3 * H, "rate": 0.3}, {"ts": T - H, "rate": 0.1},
            {"ts": T + H, "rate": 9.0}]
    if created:
        rows += [{"ts": T - H, "created": T, "rate": 0.15}]
        rows = [{"created": T - 2 * H, **r} if "created" not in r else r for r in rows]
    return view("global_stats", rows, keys={}, features={"rate": pa.float64()}, ttl=ttl,
                created=created)


def test_entity_less_view_joins_on_time_only(engine: Engine) -> None:
    entity_rows = [er(1, T), er(2, T), er(1, T - 2 * H), er(3, T - 5 * H), er(2, None)]
    case = Case([_global_view()], [Request("global_stats", ("rate",))], ents(entity_rows))
    run(engine, case, {"rate": [0.1, 0.1, 0.3, None, None]})


def test_entity_less_view_with_ttl_and_created(engine: Engine) -> None:
    entity_rows = [er(1, T), er(2, T - H + US), er(1, T - 2 * H), er(3, T - 2 * H + US)]
    case = Case([_global_view(ttl=H, created=True)], [Request("global_stats", ("rate",))],
                ents(entity_rows))
    run(engine, case, {"rate": [0.15, 0.15, 0.3, None]})  # ttl inclusive


@pytest.mark.parametrize("known_at", [False, True])
def test_entity_less_view_beside_keyed_views(engine: Engine, known_at: bool) -> None:
    entity_rows = [er(1, T, customer_id="c1"), er(1, T - 2 * H, customer_id="c2")]
    requests = [Request("driver_stats", ("conv",)), Request("global_stats", ("rate",)),
                Request("customer_stats", ("spend",))]
    case = Case([*_three_views(), _global_view(created=True)], requests,
                ents(entity_rows, keys=PAIR_KEYS), filter_by_created_timestamp=known_at)
    run(engine, case)


def test_only_entity_less_views_need_no_key_columns(engine: Engine) -> None:
    data = entities([{"event_timestamp": T}, {"event_timestamp": T - 2 * H}],
                    pa.schema([pa.field("event_timestamp", NAIVE)]))
    run(engine, Case([_global_view()], [Request("global_stats", ("rate",))], data),
        {"rate": [0.1, 0.3]})



# -- date-range retrieval (entity_df=None) --------------------------------------------------------

def test_date_range_every_key_with_rows_in_the_window(engine: Engine) -> None:
    rows = [fr(1, T - 5 * H, 0.5), fr(1, T - H, 0.1), fr(2, T - 10 * H, 1.0), fr(3, T + H, 3.0),
            fr(4, T - 2 * H, None), fr(None, T - H, 7.0)]
    case = Case([view("stats", rows, ttl=6 * H)], [Request("stats", ("conv",))], ents([]))
    got = check_date_range(engine, case, T - 6 * H, T)
    assert sorted(got.column("driver_id").to_pylist()) == [1, 4]  # 2: too old, 3: future, NULL key
    # Values as of end_date, ttl from it: key 2's row is in this window but 10h old at the end.
    got = check_date_range(engine, case, T - 12 * H, T)
    assert dict(zip(got.column("driver_id").to_pylist(), got.column("conv").to_pylist())) == {
        1: 0.1, 2: None, 4: None}


def test_date_range_with_aliases_global_views_and_zones(engine: Engine) -> None:
    requests = [Request("customer_stats", ("spend",)), Request("global_stats", ("rate",))]
    case = Case([*_three_views(), _global_view()], requests, ents([]), full_feature_names=True)
    check_date_range(engine, case, datetime(2024, 3, 10, 4, 0, tzinfo=ZoneInfo("America/New_York")),
                     (T + 2 * H).replace(tzinfo=timezone.utc))
    check_date_range(engine, Case([_global_view()], [Request("global_stats", ("rate",))], ents([])),
                     T - 4 * H, T)
    empty = check_date_range(engine, Case([_global_view()], [Request("global_stats", ("rate",))],
                                          ents([])), T - 100 * H, T - 90 * H)
    assert empty.num_rows == 0


def test_date_range_needs_shared_join_keys(engine: Engine) -> None:
    case = Case(_three_views(), [Request("customer_stats", ("spend",)), Request("driver_stats", ("conv",))],
                ents([]))
    with pytest.raises(FeatsqlError, match="share their join keys: 'customer_stats' has customer_id,"
                                           " 'driver_stats' has driver_id"):
        check_date_range(engine, case, T - H, T)
