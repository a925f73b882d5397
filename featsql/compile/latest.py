"""Latest values per entity, as the warehouse computes them for materialization.

For each entity: the row with the greatest event timestamp in [start, end] (both inclusive,
Feast's window), then the greatest created timestamp. The form follows the dialect's capability
table: QUALIFY where it exists, DISTINCT ON where that exists, a ROW_NUMBER subquery otherwise.
A view with a `latest_table` (kept current by the `featsql.latest_values` dbt macro) is only
unloaded: its rows changed inside the window, no window function at all.

Every query returns the join keys and features under their own names plus two UTC timestamp
columns, EVENT_TS and CREATED_TS, that the online stores use for the newer-than write rule.
"""
from __future__ import annotations

from datetime import datetime, timezone

from sqlglot import exp

from featsql.compile.dialects import Capabilities, capabilities
from featsql.definitions import FeatureView, Relation
from featsql.sql import col, ident, table

EVENT_TS = "_featsql_event_ts"
CREATED_TS = "_featsql_created_ts"
_ROW_NUMBER = "_featsql_rn"
_AWARE = {exp.DataType.Type.TIMESTAMPTZ, exp.DataType.Type.TIMESTAMPLTZ}


def latest_values(view: FeatureView, start: datetime | None, end: datetime,
                  dialect: str) -> exp.Select:
    """The latest row per entity of `view` with start <= ts <= end (no lower bound if None)."""
    caps = capabilities(dialect)
    if caps.latest_arg_max:
        return _arg_max(view, caps, start, end)
    query = _projection(view, view.relation, caps, start, end)
    order = _newest_first(view, caps)
    keys = [col(k) for k in view.join_keys]
    if caps.qualify:
        rank = exp.Window(this=exp.RowNumber(), partition_by=keys, order=exp.Order(expressions=order))
        return query.qualify(exp.EQ(this=rank, expression=exp.Literal.number(1)))
    if caps.distinct_on:
        # DISTINCT ON keeps the first row of each key in ORDER BY order; no window, one sort.
        query.set("distinct", exp.Distinct(on=exp.Tuple(expressions=keys)))
        return query.order_by(*keys, *order, copy=False)
    # No QUALIFY and no DISTINCT ON: rank in a subquery, keep rank 1 outside.
    rank = exp.Window(this=exp.RowNumber(), partition_by=keys, order=exp.Order(expressions=order))
    inner = query.select(exp.alias_(rank, _ROW_NUMBER, quoted=True), copy=False)
    outer_cols = [col(c) for c in output_columns(view)]
    return (exp.select(*outer_cols)
            .from_(exp.Subquery(this=inner, alias=exp.TableAlias(this=ident("_featsql_latest"))))
            .where(exp.EQ(this=col(_ROW_NUMBER), expression=exp.Literal.number(1))))


def unload_latest(view: FeatureView, start: datetime | None, end: datetime,
                  dialect: str) -> exp.Select:
    """Rows of the view's latest table whose event time is in [start, end]: already one per key."""
    assert view.latest_table is not None
    return _projection(view, view.latest_table, capabilities(dialect), start, end)


def materialization_query(view: FeatureView, start: datetime | None, end: datetime,
                          dialect: str) -> exp.Select:
    """What materialization runs for `view`: an unload if it has a latest table, else the window."""
    build = unload_latest if view.latest_table is not None else latest_values
    return build(view, start, end, dialect)


def output_columns(view: FeatureView) -> list[str]:
    return [*view.join_keys, EVENT_TS, CREATED_TS, *(f.name for f in view.features)]


def _projection(view: FeatureView, source: Relation, caps: Capabilities, start: datetime | None,
                end: datetime) -> exp.Select:
    """Keys, UTC times and features of the rows of `source` inside the window."""
    created = (_utc(view.created_timestamp_field, view.created_timestamp_type, caps)
               if view.created_timestamp_field else exp.cast(exp.null(), caps.naive_type))
    cols: list[exp.Expression] = [col(k) for k in view.join_keys]
    cols.append(exp.alias_(_utc(view.timestamp_field, view.timestamp_type, caps), EVENT_TS, quoted=True))
    cols.append(exp.alias_(created, CREATED_TS, quoted=True))
    cols += [col(f.name) for f in view.features]
    ts = _utc(view.timestamp_field, view.timestamp_type, caps)
    conds: list[exp.Expression] = [exp.Not(this=exp.Is(this=col(k), expression=exp.null()))
                                   for k in view.join_keys]
    if start is not None:
        conds.append(exp.GTE(this=ts.copy(), expression=caps.timestamp_literal(_iso(start))))
    conds.append(exp.LTE(this=ts.copy(), expression=caps.timestamp_literal(_iso(end))))
    return exp.select(*cols).from_(table(source)).where(exp.and_(*conds))


def _arg_max(view: FeatureView, caps: Capabilities, start: datetime | None,
             end: datetime) -> exp.Select:
    """One hash aggregate: per key, ARG_MAX of the whole row as a struct by (ts, created).

    The struct keeps the row whole (separate ARG_MAX calls could mix rows tied on both times);
    a NULL created time ranks below any other, as DESC NULLS LAST does in the window form.
    """
    scan = _projection(view, view.relation, caps, start, end)
    fields = [e.unalias() if isinstance(e, exp.Alias) else e for e in scan.expressions]
    names = output_columns(view)
    n_keys = len(view.join_keys)
    row = exp.Struct(expressions=[exp.PropertyEQ(this=ident(n), expression=e.copy())
                                  for n, e in zip(names[n_keys:], fields[n_keys:])])
    order: exp.Expression = _utc(view.timestamp_field, view.timestamp_type, caps)
    if view.created_timestamp_field:
        created = _utc(view.created_timestamp_field, view.created_timestamp_type, caps)
        floor = caps.timestamp_literal("0001-01-01 00:00:00")
        order = exp.Tuple(expressions=[order, exp.Coalesce(this=created, expressions=[floor])])
    keys = [col(k) for k in view.join_keys]
    inner = (exp.select(*keys, exp.alias_(exp.ArgMax(this=row, expression=order), "_featsql_row", quoted=True))
             .from_(table(view.relation)).where(scan.args["where"].this.copy()).group_by(*[k.copy() for k in keys]))
    picked = [exp.alias_(exp.StructExtract(this=col("_featsql_row"), expression=exp.Literal.string(n)), n,
                         quoted=True) for n in names[n_keys:]]
    return exp.select(*[col(k) for k in view.join_keys], *picked).from_(
        exp.Subquery(this=inner, alias=exp.TableAlias(this=ident("_featsql_latest"))))


def _newest_first(view: FeatureView, caps: Capabilities) -> list[exp.Ordered]:
    order = [exp.Ordered(this=col(view.timestamp_field), desc=True, nulls_first=False)]
    if view.created_timestamp_field:
        order.append(exp.Ordered(this=col(view.created_timestamp_field), desc=True, nulls_first=False))
    return order


def _utc(column: str, warehouse_type: str, caps: Capabilities) -> exp.Expression:
    """The column as a naive UTC timestamp; naive columns already are (naive = UTC)."""
    if warehouse_type and _is_aware(warehouse_type, caps.name):
        return caps.utc_naive(col(column))
    return col(column)


def _is_aware(warehouse_type: str, dialect: str) -> bool:
    try:
        return exp.DataType.build(warehouse_type, dialect=dialect).this in _AWARE
    except Exception:  # noqa: BLE001 - an unparseable type is treated as naive
        return False


def _iso(value: datetime) -> str:
    """A naive UTC ISO string: naive input is UTC already, aware input is converted."""
    if value.tzinfo is not None:
        value = value.astimezone(timezone.utc).replace(tzinfo=None)
    return value.isoformat(sep=" ")
