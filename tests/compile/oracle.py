"""A brute-force point-in-time oracle: DESIGN.md section 6 applied literally, in plain Python.

No SQL, no pandas: for every entity row and every requested view, scan every feature row.
It shares nothing with featsql.compile, so a planner bug cannot hide in both.

Rules (section 6), per entity row (keys k, time t) and requested view V:
  * a feature row r qualifies when r.keys == k (no key is NULL), r.ts <= t, and, when V has a
    ttl (not None, not 0), r.ts >= t - ttl (inclusive); with filter_by_created_timestamp also
    r.created <= t (a row with a NULL created time is not known to be created by t: it does not
    qualify, as SQL's comparison says);
  * among qualifying rows: the greatest r.ts, then the greatest created time (NULL is least);
  * timestamps compare in UTC: naive ones are UTC, aware ones are converted;
  * no qualifying row (or a NULL entity key or time) -> every feature is NULL.

Exact ties. Rows equal on (ts, created) but with different values are "a deterministic pick"
in the contract, and the planners pick differently: the sort-based and range plans order the
requested values descending, NULLs last (PointInTimeQuery._tiebreak), DuckDB's ASOF plan takes
the greatest content hash. So `Match.candidates` holds every tied row's values and a result is
right when it equals one of them, whole (values never mix rows); the harness adds determinism:
both entity-set forms, and every copy of a duplicated entity row, get the same row.
`Match.pick` is the value-order rule, a stable expected value for the fixed tests.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, timedelta, timezone
from typing import Any, Mapping, Sequence


def utc(value: datetime | date | None) -> datetime | None:
    """Naive = UTC; aware = converted to UTC; a date is its midnight UTC. An aware UTC datetime."""
    if value is None:
        return None
    if not isinstance(value, datetime):
        return datetime(value.year, value.month, value.day, tzinfo=timezone.utc)
    if value.tzinfo is None:
        return value.replace(tzinfo=timezone.utc)
    return value.astimezone(timezone.utc)


@dataclass(frozen=True)
class OracleView:
    """What the oracle needs to know about a feature view; rows are plain dicts."""

    name: str
    join_keys: tuple[str, ...]
    features: tuple[str, ...]
    rows: Sequence[Mapping[str, Any]]
    timestamp_field: str = "ts"
    created_field: str | None = None
    ttl: timedelta | None = None
    offset: timedelta | None = None  # a row becomes known at its timestamp + offset


@dataclass(frozen=True)
class OracleRequest:
    """One requested (maybe aliased) view: `name` prefixes full feature names."""

    view: OracleView
    features: tuple[str, ...]
    alias: str | None = None
    join_key_map: Mapping[str, str] = field(default_factory=dict)  # view key -> entity column

    @property
    def name(self) -> str:
        return self.alias or self.view.name

    def entity_column(self, key: str) -> str:
        return self.join_key_map.get(key, key)

    def output_name(self, feature: str, full: bool) -> str:
        return f"{self.name}__{feature}" if full else feature


@dataclass(frozen=True)
class Match:
    """The feature values one entity row gets from one request."""

    pick: tuple[Any, ...]  # the documented deterministic choice
    candidates: tuple[tuple[Any, ...], ...]  # every acceptable choice (tied rows)


def _desc_nulls_last_key(values: tuple[Any, ...]) -> tuple:
    # max() over this key == first row under ORDER BY v1 DESC NULLS LAST, v2 DESC NULLS LAST, ...
    return tuple((v is not None, v) if v is not None else (False, 0) for v in values)


def match(request: OracleRequest, entity_row: Mapping[str, Any], timestamp_column: str,
          filter_by_created_timestamp: bool = False) -> Match:
    view = request.view
    nulls = (None,) * len(request.features)
    nothing = Match(pick=nulls, candidates=(nulls,))
    t = utc(entity_row.get(timestamp_column))
    keys = tuple(entity_row.get(request.entity_column(k)) for k in view.join_keys)
    if t is None or any(k is None for k in keys):
        return nothing
    lower = t - view.ttl if view.ttl else None  # ttl None or 0: no lower bound
    best: tuple | None = None
    tied: list[tuple[Any, ...]] = []
    for row in view.rows:
        if tuple(row[k] for k in view.join_keys) != keys:
            continue
        ts = utc(row[view.timestamp_field])
        if ts is not None and view.offset:
            ts = ts + view.offset
        if ts is None or ts > t or (lower is not None and ts < lower):
            continue
        created = utc(row[view.created_field]) if view.created_field else None
        if filter_by_created_timestamp and view.created_field and (created is None or created > t):
            continue
        # NULL created is the least: (False, ...) sorts below (True, any time).
        rank = (ts, (created is not None, created or datetime.min.replace(tzinfo=timezone.utc)))
        values = tuple(row[f] for f in request.features)
        if best is None or rank > best:
            best, tied = rank, [values]
        elif rank == best:
            tied.append(values)
    if best is None:
        return nothing
    pick = max(tied, key=_desc_nulls_last_key)
    return Match(pick=pick, candidates=tuple(dict.fromkeys(tied)))


def expected(requests: Sequence[OracleRequest], entity_rows: Sequence[Mapping[str, Any]],
             timestamp_column: str = "event_timestamp", full_feature_names: bool = False,
             filter_by_created_timestamp: bool = False) -> list[dict[str, Match]]:
    """Per entity row (in order): output feature prefix -> Match, one entry per request."""
    out = []
    for row in entity_rows:
        out.append({r.name: match(r, row, timestamp_column, filter_by_created_timestamp)
                    for r in requests})
    return out


def output_columns(requests: Sequence[OracleRequest], full_feature_names: bool) -> list[str]:
    return [r.output_name(f, full_feature_names) for r in requests for f in r.features]


def date_range_entities(requests: Sequence[OracleRequest], start: datetime, end: datetime,
                        timestamp_column: str = "event_timestamp") -> list[dict[str, Any]]:
    """Feast's entity_df=None: each distinct entity key (as entity-set columns) of the keyed
    requested views with a row known inside [start, end], stamped `end`; with only entity-less
    views, one row if any of them has a row in the window."""
    keyed = [r for r in requests if r.view.join_keys] or list(requests)
    seen: dict[tuple, dict[str, Any]] = {}
    for r in keyed:
        view = r.view
        for row in view.rows:
            ts = utc(row[view.timestamp_field])
            if ts is not None and view.offset:
                ts = ts + view.offset
            keys = {r.entity_column(k): row[k] for k in view.join_keys}
            if ts is None or not utc(start) <= ts <= utc(end) or None in keys.values():
                continue
            seen.setdefault(tuple(sorted(keys.items())), {**keys, timestamp_column: end})
    return list(seen.values())
