"""Latest values per entity, as the warehouse computes them for materialization.

For each entity: the row with the greatest event timestamp in [start, end] (both inclusive,
Feast's window; the event time is when the row becomes known: timestamp_field + the view's
timestamp_offset), then the greatest created timestamp. The form follows the warehouse's
capability constants: ARG_MAX where it exists, QUALIFY, DISTINCT ON, a ROW_NUMBER subquery
otherwise. Names are spelled by the warehouse, time columns typed by its `known_at`.
A view with a `latest_table` (kept current by the `featsql.latest_values` dbt macro) is only
unloaded: its rows changed inside the window, no window function at all.

Every query returns the join keys and features under their own names plus two UTC timestamp
columns, EVENT_TS and CREATED_TS, that the online stores use for the newer-than write rule.
"""
from __future__ import annotations

from datetime import datetime, timezone
from typing import TYPE_CHECKING

from sqlglot import exp

from featsql.definitions import FeatureView, Relation
from featsql.sql import col, ident

if TYPE_CHECKING:
    from featsql.offline.base import Warehouse

EVENT_TS = "_featsql_event_ts"
CREATED_TS = "_featsql_created_ts"
_ROW_NUMBER = "_featsql_rn"


def latest_values(view: FeatureView, start: datetime | exp.Expression | None,
                  end: datetime | exp.Expression, wh: Warehouse,
                  view_columns: bool = False, shard: tuple[int, int] | None = None) -> exp.Select:
    """The latest row per entity of `view` with start <= ts <= end (no lower bound if None).

    Bounds are datetimes (naive = UTC) or SQL expressions (the dbt macro's arguments). The
    result has the online columns (keys, EVENT_TS, CREATED_TS, features); with `view_columns`
    the view's own columns instead (keys, its time columns as stored, features): the
    `featsql.latest_values` table that a view's `latest_table` names. `shard` (i, n): only the
    entities whose keys hash to partition i of n (Warehouse.key_partition).
    """
    query = _projection(view, view.relation, wh, start, end, view_columns, shard)
    order = _newest_first(view, wh)
    if not view.join_keys:  # an entity-less view: its one latest row
        return query.order_by(*order, copy=False).limit(1, copy=False)
    if wh.latest_arg_max:
        return _arg_max(view, wh, query, view_columns)
    keys = [wh.col(k) for k in view.join_keys]
    if wh.qualify:
        rank = exp.Window(this=exp.RowNumber(), partition_by=keys, order=exp.Order(expressions=order))
        return query.qualify(exp.EQ(this=rank, expression=exp.Literal.number(1)))
    if wh.distinct_on:
        # DISTINCT ON keeps the first row of each key in ORDER BY order; no window, one sort.
        query.set("distinct", exp.Distinct(on=exp.Tuple(expressions=keys)))
        return query.order_by(*keys, *order, copy=False)
    # No QUALIFY and no DISTINCT ON: rank in a subquery, keep rank 1 outside.
    rank = exp.Window(this=exp.RowNumber(), partition_by=keys, order=exp.Order(expressions=order))
    inner = query.select(exp.alias_(rank, _ROW_NUMBER, quoted=True), copy=False)
    outer_cols = [col(c) for c in _names(view, wh, view_columns)]
    return (exp.select(*outer_cols)
            .from_(exp.Subquery(this=inner, alias=exp.TableAlias(this=ident("_featsql_latest"))))
            .where(exp.EQ(this=col(_ROW_NUMBER), expression=exp.Literal.number(1))))


def unload_latest(view: FeatureView, start: datetime | None, end: datetime,
                  wh: Warehouse, shard: tuple[int, int] | None = None) -> exp.Select:
    """Rows of the view's latest table whose event time is in [start, end]: already one per key."""
    assert view.latest_table is not None
    return _projection(view, view.latest_table, wh, start, end, shard=shard)


def materialization_query(view: FeatureView, start: datetime | None, end: datetime,
                          wh: Warehouse, shard: tuple[int, int] | None = None) -> exp.Select:
    """What materialization runs for `view` (or shard (i, n) of it): an unload if it has a
    latest table, else the window."""
    if view.latest_table is not None:
        return unload_latest(view, start, end, wh, shard)
    return latest_values(view, start, end, wh, shard=shard)


def output_columns(view: FeatureView, wh: Warehouse) -> list[str]:
    """Result column names, as the query spells them (keys and features as stored)."""
    return _names(view, wh, view_columns=False)


def _names(view: FeatureView, wh: Warehouse, view_columns: bool) -> list[str]:
    times = ([view.timestamp_field, *([view.created_timestamp_field] if view.created_timestamp_field else [])]
             if view_columns else [EVENT_TS, CREATED_TS])
    names = [*view.join_keys, *times, *(f.name for f in view.features)]
    return [n if n in (EVENT_TS, CREATED_TS) else wh.stored_name(n) for n in names]


def event_time(view: FeatureView, wh: Warehouse) -> exp.Expression:
    """When a row of `view` becomes known, as naive UTC (timestamp_field + timestamp_offset)."""
    return wh.known_at(wh.col(view.timestamp_field), view.timestamp_dtype,
                       view.timestamp_offset_seconds)


def _bound(value: datetime | exp.Expression, wh: Warehouse) -> exp.Expression:
    """A window bound: a datetime as a UTC literal; an expression (a macro argument) as given."""
    if isinstance(value, exp.Expression):
        return value.copy()
    return wh.timestamp_literal(_iso(value))


def _projection(view: FeatureView, source: Relation, wh: Warehouse,
                start: datetime | exp.Expression | None, end: datetime | exp.Expression,
                view_columns: bool = False, shard: tuple[int, int] | None = None) -> exp.Select:
    """Keys, times and features of the rows of `source` inside the window: the UTC times the
    online stores use, or with `view_columns` the view's own time columns."""
    cols: list[exp.Expression] = [wh.col(k) for k in view.join_keys]
    if view_columns:
        cols.append(wh.col(view.timestamp_field))
        if view.created_timestamp_field:
            cols.append(wh.col(view.created_timestamp_field))
    else:
        created = (wh.known_at(wh.col(view.created_timestamp_field), view.created_timestamp_dtype)
                   if view.created_timestamp_field else exp.cast(exp.null(), wh.naive_type))
        cols.append(exp.alias_(event_time(view, wh), EVENT_TS, quoted=True))
        cols.append(exp.alias_(created, CREATED_TS, quoted=True))
    cols += [wh.col(f.name) for f in view.features]
    ts = event_time(view, wh)
    conds: list[exp.Expression] = [exp.Not(this=exp.Is(this=wh.col(k), expression=exp.null()))
                                   for k in view.join_keys]
    if start is not None:
        conds.append(exp.GTE(this=ts.copy(), expression=_bound(start, wh)))
    conds.append(exp.LTE(this=ts.copy(), expression=_bound(end, wh)))
    if shard is not None and shard[1] > 1:
        i, n = shard
        if view.join_keys:
            part = wh.key_partition([wh.col(k) for k in view.join_keys], n)
            conds.append(exp.EQ(this=part, expression=exp.Literal.number(i)))
        elif i != 0:  # an entity-less view's one row belongs to shard 0
            conds.append(exp.false())
    return exp.select(*cols).from_(wh.table(source)).where(exp.and_(*conds))


def _arg_max(view: FeatureView, wh: Warehouse, scan: exp.Select, view_columns: bool) -> exp.Select:
    """One hash aggregate: per key, ARG_MAX of the whole row as a struct by (ts, created).

    The struct keeps the row whole (separate ARG_MAX calls could mix rows tied on both times);
    a NULL created time ranks below any other, as DESC NULLS LAST does in the window form.
    """
    fields = [e.unalias() if isinstance(e, exp.Alias) else e for e in scan.expressions]
    names = _names(view, wh, view_columns)
    n_keys = len(view.join_keys)
    row = exp.Struct(expressions=[exp.PropertyEQ(this=ident(n), expression=e.copy())
                                  for n, e in zip(names[n_keys:], fields[n_keys:])])
    order: exp.Expression = event_time(view, wh)
    if view.created_timestamp_field:
        created = wh.known_at(wh.col(view.created_timestamp_field), view.created_timestamp_dtype)
        floor = wh.timestamp_literal("0001-01-01 00:00:00")
        order = exp.Tuple(expressions=[order, exp.Coalesce(this=created, expressions=[floor])])
    keys = [wh.col(k) for k in view.join_keys]
    inner = (exp.select(*keys, exp.alias_(exp.ArgMax(this=row, expression=order), "_featsql_row", quoted=True))
             .from_(wh.table(view.relation)).where(scan.args["where"].this.copy())
             .group_by(*[k.copy() for k in keys]))
    picked = [exp.alias_(exp.StructExtract(this=col("_featsql_row"), expression=exp.Literal.string(n)), n,
                         quoted=True) for n in names[n_keys:]]
    return exp.select(*[wh.col(k) for k in view.join_keys], *picked).from_(
        exp.Subquery(this=inner, alias=exp.TableAlias(this=ident("_featsql_latest"))))


def _newest_first(view: FeatureView, wh: Warehouse) -> list[exp.Ordered]:
    order = [exp.Ordered(this=wh.col(view.timestamp_field), desc=True, nulls_first=False)]
    if view.created_timestamp_field:
        order.append(exp.Ordered(this=wh.col(view.created_timestamp_field), desc=True, nulls_first=False))
    return order


def _iso(value: datetime) -> str:
    """A naive UTC ISO string: naive input is UTC already, aware input is converted."""
    if value.tzinfo is not None:
        value = value.astimezone(timezone.utc).replace(tzinfo=None)
    return value.isoformat(sep=" ")
