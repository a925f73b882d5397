"""Training sets: entity set (DataFrame or SQL) + features -> a point-in-time query and its job."""
from __future__ import annotations

import time
import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any, Callable

import pyarrow as pa
import pyarrow.compute as pc
from sqlglot import exp

from featsql.compile.pit import P, ROW, EntitySet, compile_pit, parse_entity_sql
from featsql.compile.request import Computed
from featsql.errors import FeatsqlError
from featsql.refs import ViewRequest
from featsql.sql import parse_table_name
from featsql.types import TIME_TYPES, Kind, arrow_kind, conform, type_kind

if TYPE_CHECKING:
    import pandas as pd

    from featsql.offline.base import Warehouse


def _required_columns(requests: list[ViewRequest], ts_column: str,
                      request_columns: list[str] | None = None) -> list[str]:
    cols = [ts_column]
    for r in requests:
        cols += [c for c in r.entity_columns if c not in cols]
    return cols + [c for c in request_columns or [] if c not in cols]


def _check_columns(have: list[str], requests: list[ViewRequest], ts_column: str, what: str,
                   request_columns: list[str] | None = None) -> None:
    missing = [c for c in _required_columns(requests, ts_column, request_columns) if c not in have]
    if missing:
        need = {c: [r.name for r in requests if c in r.entity_columns] for c in missing}

        def role(c: str, views: list[str]) -> str:
            if views:
                return f" (join key of {', '.join(views)})"
            return " (request column)" if c in (request_columns or []) else " (timestamp)"
        detail = ", ".join(f"'{c}'" + role(c, v) for c, v in need.items())
        raise FeatsqlError(f"{what} is missing column{'s' if len(missing) > 1 else ''} {detail};"
                           f" it has {', '.join(have) or 'no columns'}")


def _check_clashes(have: list[str], requests: list[ViewRequest], full: bool, what: str) -> None:
    """An entity column named like an output feature column would come back twice."""
    for r in requests:
        for f in r.features:
            out = r.output_name(f, full)
            if out in have:
                raise FeatsqlError(
                    f"{what} has a column '{out}', the name of requested feature '{r.name}:{f}';"
                    " rename or drop it" + ("" if full else ", or use full feature names"))


def _check_internal(have: list[str], what: str) -> None:
    """featsql's own column names (`__featsql_...`) would be dropped or shadowed."""
    clash = [c for c in have if c.lower().startswith(P)]
    if clash:
        raise FeatsqlError(f"{what} has a column '{clash[0]}': names starting with '{P}' are"
                           " featsql's own; rename it")


def _check_key_types(types: dict[str, Kind], requests: list[ViewRequest], what: str) -> None:
    """Each entity key of a known kind must be the kind of the view's join key it meets."""
    for r in requests:
        for j, (column, key) in enumerate(zip(r.entity_columns, r.view.join_keys)):
            have = types.get(column)
            want = r.view.join_key_types[j] if j < len(r.view.join_key_types) else None
            if have is None or want is None or have == "other" or want == "other" or have == want:
                continue
            sql_type = r.view.join_key_sql_types[j] if j < len(r.view.join_key_sql_types) else ""
            raise FeatsqlError(
                f"{what} column '{column}' is {have}, but join key '{key}' of feature view"
                f" '{r.view.name}' is {want}{f' ({sql_type})' if sql_type else ''}; cast the"
                f" entity column to {want}")


def _kinds(requests: list[ViewRequest], full: bool, computed: list[Computed]) -> dict[str, Kind]:
    """Output column -> registered kind (results come back in those Arrow types)."""
    kinds: dict[str, Kind] = {r.output_name(f, full): r.view.feature(f).kind  # type: ignore[union-attr]
                              for r in requests for f in r.features}
    kinds.update({c.name: c.kind for c in computed})  # type: ignore[misc]
    return kinds


def key_casts(wh: Warehouse, requests: list[ViewRequest]) -> dict[str, exp.DataType]:
    """Entity columns to cast to their view key's warehouse type: string keys whose type is not
    a text type (uuid), which the warehouse would otherwise refuse to compare with text."""
    casts: dict[str, exp.DataType] = {}
    for r in requests:
        for column, kind, sql_type in zip(r.entity_columns, r.view.join_key_types,
                                          r.view.join_key_sql_types):
            dtype = wh.parse_type(sql_type) if sql_type else None
            if kind == "string" and dtype is not None and dtype.this not in exp.DataType.TEXT_TYPES:
                casts[column] = dtype
    return casts


def _as_arrow(df: Any) -> pa.Table:
    """A pandas DataFrame or Arrow table as Arrow; anything else is a clear error."""
    if isinstance(df, pa.Table):
        data = df
    elif hasattr(df, "columns") and hasattr(df, "dtypes") and hasattr(df, "iloc"):
        dupes = sorted({str(c) for c in df.columns[df.columns.duplicated()]})
        if dupes:
            raise FeatsqlError(f"entity DataFrame has column '{dupes[0]}' more than once")
        bad = [c for c in df.columns if not isinstance(c, str)]
        if bad:
            raise FeatsqlError(f"entity DataFrame column names must be strings, got {bad[0]!r}")
        data = pa.Table.from_pandas(df, preserve_index=False)
    else:
        raise FeatsqlError("entity_df must be a pandas DataFrame, an Arrow table or a SQL query"
                           f" string, got {type(df).__name__}")
    names = data.column_names
    dupes = sorted({c for c in names if names.count(c) > 1})
    if dupes:
        raise FeatsqlError(f"entity DataFrame has column '{dupes[0]}' more than once")
    return data


def entity_arrow(df: Any, requests: list[ViewRequest], ts_column: str,
                 request_columns: list[str] | None = None) -> tuple[pa.Table, pa.ChunkedArray]:
    """The entity DataFrame as Arrow with its time column as naive UTC and a row id appended;
    and the time column as it was given."""
    data = _as_arrow(df)
    _check_columns(data.column_names, requests, ts_column, "entity DataFrame", request_columns)
    _check_internal(data.column_names, "entity DataFrame")
    _check_key_types({f.name: arrow_kind(f.type) for f in data.schema}, requests, "entity DataFrame")
    original = data.schema.field(ts_column).type
    ts = data.column(ts_column)
    if pa.types.is_timestamp(original):
        utc = ts.cast(pa.timestamp(original.unit))  # aware -> its UTC wall clock; naive stays UTC
    elif pa.types.is_date(original):
        utc = ts.cast(pa.timestamp("us"))
    elif pa.types.is_integer(original) or pa.types.is_floating(original):
        raise FeatsqlError(f"entity DataFrame: column '{ts_column}' holds numbers ({original}), not"
                           " timestamps; convert epochs first, e.g. pd.to_datetime(df['"
                           f"{ts_column}'], unit='s')")
    else:
        try:
            utc = pc.cast(ts, pa.timestamp("us"))
        except pa.ArrowInvalid:
            raise FeatsqlError(f"entity DataFrame: column '{ts_column}' is {original}, not a timestamp") from None
    if utc.type.unit == "ns":
        # Warehouses keep microseconds and round finer times, which could move t past a feature
        # row stamped up to 0.5 us after it; floored, no row after t ever qualifies.
        utc = pc.floor_temporal(utc, unit="microsecond")
    data = data.set_column(data.column_names.index(ts_column), ts_column, utc)
    data = data.append_column(ROW, pa.array(range(data.num_rows), pa.int64()))
    return data, ts


@dataclass
class RetrievalJob:
    """A planned training set: nothing runs until to_df / to_arrow / to_table."""

    wh: Warehouse  # the warehouse (dialect) the query was compiled for
    query: exp.Query
    open_warehouse: Callable[[], Any]
    # Output feature column -> its registered kind: results come back in those Arrow types.
    kinds: dict[str, Kind] | None = None
    upload: pa.Table | None = None
    upload_name: str | None = None
    original_ts_type: pa.DataType | None = None
    # The DataFrame's own time column: rows come back in its order, so it is put back as given.
    original_ts: pa.ChunkedArray | None = None
    # A pandas entity set's own dtypes (nullable Int64, category, string...), given back by to_df.
    pandas_dtypes: dict[str, Any] | None = None
    ts_column: str = "event_timestamp"
    progress: Callable[[str], None] | None = None

    def to_sql(self, pretty: bool = True) -> str:
        return self.query.sql(dialect=self.wh.dialect, pretty=pretty)

    def _run(self, action: Callable[[Any, str], Any]) -> Any:
        started = time.perf_counter()
        with self.open_warehouse() as wh:
            uploaded = None
            if self.upload is not None:
                uploaded = wh.upload(self.upload_name, self.upload)
            try:
                result = action(wh, self.query.sql(dialect=wh.dialect))
            finally:
                if uploaded is not None:
                    wh.drop_upload(uploaded)
        if self.progress:
            self.progress(f"done in {time.perf_counter() - started:.2f}s")
        return result

    def to_arrow(self) -> pa.Table:
        if self.upload is None:
            return self._conform(self._run(lambda wh, sql: wh.query_arrow(sql)))
        # A DataFrame's rows come back in its order: the row id travels with the result and
        # the rows are scattered back into place here (no ORDER BY over the whole result).
        query = self.query.select(exp.column(ROW, "e", quoted=True).as_(ROW, quoted=True))
        table = self._run(lambda wh, _: wh.query_arrow(query.sql(dialect=wh.dialect)))
        return self._restore_ts(self._conform(_in_row_order(table)))

    def _conform(self, table: pa.Table) -> pa.Table:
        """Feature columns as their registered types, whatever the warehouse's driver returned."""
        for name, kind in (self.kinds or {}).items():
            if name in table.column_names:
                i = table.column_names.index(name)
                table = table.set_column(i, name, conform(table.column(i), kind))
        return table

    def to_df(self) -> "pd.DataFrame":
        df = self.to_arrow().to_pandas()
        for column, dtype in (self.pandas_dtypes or {}).items():
            if column in df.columns and df[column].dtype != dtype:
                try:
                    df[column] = df[column].astype(dtype)
                except (TypeError, ValueError):
                    pass  # leave Arrow's choice when pandas cannot convert back exactly
        return df

    def to_table(self, name: str) -> str:
        """CREATE TABLE name AS the query, in the warehouse; nothing comes to the client."""
        target = parse_table_name(name, self.wh.dialect)
        create = exp.Create(this=target, kind="TABLE", expression=self.query.copy())

        def run(wh: Any, _: str) -> None:
            # Like dbt, make a missing `schema.` of a two-part name (three-part names are taken
            # as they are: CREATE SCHEMA cannot name a database everywhere).
            if target.args.get("db") and not target.args.get("catalog"):
                schema = exp.Table(this=target.args["db"].copy())
                wh.execute(exp.Create(this=schema, kind="SCHEMA", exists=True).sql(dialect=wh.dialect))
            wh.execute(create.sql(dialect=wh.dialect))

        self._run(run)
        return target.sql(dialect=self.wh.dialect)

    def _restore_ts(self, table: pa.Table) -> pa.Table:
        """Give an uploaded DataFrame's time column back as it was given (zone, unit, strings)."""
        if self.original_ts_type is None or self.ts_column not in table.column_names:
            return table
        i = table.column_names.index(self.ts_column)
        if self.original_ts is not None and len(self.original_ts) == table.num_rows:
            return table.set_column(i, self.ts_column, self.original_ts)
        column = table.column(i)
        original = self.original_ts_type
        if pa.types.is_timestamp(original) and original.tz:
            column = column.cast(pa.timestamp(original.unit)).cast(pa.timestamp(original.unit, "UTC"))
            column = column.cast(original)
        else:
            try:
                column = column.cast(original)
            except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
                return table
        return table.set_column(i, self.ts_column, column)


def _in_row_order(table: pa.Table) -> pa.Table:
    """Rows put back in the entity DataFrame's order by their row id (0..n-1, each once), which
    is then dropped."""
    import numpy as np

    names = [c.lower() for c in table.column_names]  # a driver may fold the alias' case
    i = names.index(ROW)
    rows = table.column(i).to_numpy()
    order = np.empty(len(rows), dtype=np.int64)
    order[rows] = np.arange(len(rows), dtype=np.int64)
    return table.remove_column(i).take(order)


def plan_training_set(
    *,
    warehouse: Warehouse,
    requests: list[ViewRequest],
    entity_df: Any,
    open_warehouse: Callable[[], Any],
    render_sql: Callable[[str], str],
    columns_of_table: Callable[[exp.Table], dict[str, str] | None],
    full_feature_names: bool = False,
    filter_by_created_timestamp: bool = False,
    timestamp_column: str = "event_timestamp",
    computed: list[Computed] | None = None,
) -> RetrievalJob:
    """Check the entity set, then compile for `warehouse` (an unconnected one is enough);
    errors surface before any warehouse work. `computed`: the service's request-time features,
    whose request columns the entity set must carry."""
    wh = warehouse
    computed = computed or []
    kinds = _kinds(requests, full_feature_names, computed)
    casts = key_casts(wh, requests)
    extra = list(computed[0].request) if computed else []
    if isinstance(entity_df, str):
        query = parse_entity_sql(render_sql(entity_df), wh.dialect)
        have = _output_columns(query, columns_of_table)
        if have is not None:
            names = list(have)
            _check_columns(names, requests, timestamp_column, "entity SQL", extra)
            _check_clashes(names, requests, full_feature_names, "entity SQL")
            _check_internal(names, "entity SQL")
            typed = {c: wh.parse_type(t) for c, t in have.items() if t}
            _check_key_types({c: type_kind(t) for c, t in typed.items()}, requests, "entity SQL")
            ts_type = typed.get(timestamp_column)
            ts_kind = type_kind(ts_type) if ts_type is not None else None
            if ts_kind is not None and ts_kind not in (*TIME_TYPES, "date", "other"):
                raise FeatsqlError(f"entity SQL: column '{timestamp_column}' is"
                                   f" {have[timestamp_column]}, not a timestamp")
        else:
            ts_kind = None
        entity = EntitySet(source=query, timestamp_column=timestamp_column, casts=casts,
                           ts_dtype=ts_kind if ts_kind in (*TIME_TYPES, "date") else None)
        q = compile_pit(wh, entity, requests, full_feature_names, filter_by_created_timestamp, computed)
        return RetrievalJob(wh, q, open_warehouse, kinds=kinds, ts_column=timestamp_column)
    data, original = entity_arrow(entity_df, requests, timestamp_column, extra)
    _check_clashes(data.column_names, requests, full_feature_names, "entity DataFrame")
    name = f"featsql_entity_{uuid.uuid4().hex[:12]}"
    bounds = pc.min_max(data.column(timestamp_column)).as_py() if data.num_rows else {}
    entity = EntitySet(
        source=exp.table_(exp.to_identifier(name, quoted=True)),
        timestamp_column=timestamp_column, columns=data.column_names, row_id=ROW, utc_naive=True,
        min_ts=bounds.get("min"), max_ts=bounds.get("max"), casts=casts,
    )
    if not data.num_rows:  # an empty entity set: bounds from the (empty) table itself
        entity.min_ts = entity.max_ts = None
    q = compile_pit(wh, entity, requests, full_feature_names, filter_by_created_timestamp, computed)
    return RetrievalJob(wh, q, open_warehouse, kinds=kinds, upload=data, upload_name=name,
                        original_ts_type=original.type, original_ts=original,
                        ts_column=timestamp_column,
                        pandas_dtypes=dict(entity_df.dtypes) if hasattr(entity_df, "dtypes") else None)


def plan_date_range(
    *,
    warehouse: Warehouse,
    requests: list[ViewRequest],
    start: datetime,
    end: datetime,
    open_warehouse: Callable[[], Any],
    full_feature_names: bool = False,
    filter_by_created_timestamp: bool = False,
    timestamp_column: str = "event_timestamp",
    computed: list[Computed] | None = None,
) -> RetrievalJob:
    """Training rows without an entity set (Feast's `entity_df=None`): every distinct entity key
    of the requested views with a row whose event time is in [start, end], as of `end`.

    The entity set is computed in the warehouse (the keys of each keyed view in the window,
    UNION'ed; entity-less views join on time only and add no keys), with `timestamp_column` the
    constant `end`; the point-in-time plan is the one every training set runs.
    """
    from featsql.compile.latest import event_time

    wh = warehouse
    start_utc, end_utc = _naive_utc(start, "start_date"), _naive_utc(end, "end_date")
    if start_utc > end_utc:
        raise FeatsqlError(f"start_date {start_utc} is after end_date {end_utc}")
    keyed = [r for r in requests if r.view.join_keys]
    columns = keyed[0].entity_columns if keyed else []
    for r in keyed[1:]:
        if sorted(r.entity_columns) != sorted(columns):
            raise FeatsqlError(
                f"date-range retrieval needs the requested views to share their join keys:"
                f" '{keyed[0].name}' has {', '.join(columns)}, '{r.name}' has"
                f" {', '.join(r.entity_columns)}; pass an entity_df instead")
    when = wh.timestamp_literal(end_utc.isoformat(sep=" "))
    parts = []
    for r in keyed or requests:
        keys = dict(zip(r.entity_columns, r.view.join_keys))
        ts = event_time(r.view, wh)
        conds = [exp.GTE(this=ts.copy(), expression=wh.timestamp_literal(start_utc.isoformat(sep=" "))),
                 exp.LTE(this=ts.copy(), expression=when.copy())]
        conds += [exp.Not(this=exp.Is(this=wh.col(k), expression=exp.null())) for k in keys.values()]
        parts.append(exp.select(*(wh.col(keys[c]).as_(wh.stored_name(c), quoted=True) for c in columns),
                                when.copy().as_(wh.stored_name(timestamp_column), quoted=True))
                     .from_(wh.table(r.view.relation)).where(exp.and_(*conds)))
    query: exp.Query = parts[0].distinct() if len(parts) == 1 else exp.union(*parts, distinct=True)
    entity = EntitySet(source=query, timestamp_column=timestamp_column, utc_naive=True,
                       min_ts=end_utc, max_ts=end_utc, casts=key_casts(wh, requests))
    if computed and computed[0].request:
        raise FeatsqlError(f"request-time feature '{computed[0].name}' needs request columns"
                           f" ({', '.join(computed[0].request)}): pass an entity_df that has them")
    q = compile_pit(wh, entity, requests, full_feature_names, filter_by_created_timestamp, computed)
    return RetrievalJob(wh, q, open_warehouse, kinds=_kinds(requests, full_feature_names, computed or []),
                        ts_column=timestamp_column)


def _naive_utc(value: Any, name: str) -> datetime:
    """`value` (datetime, ISO text, pandas Timestamp; naive is UTC) as naive UTC."""
    from featsql.durations import to_utc

    if value is None:
        raise FeatsqlError(f"{name} is required without an entity_df")
    return to_utc(value).replace(tzinfo=None)


def _output_columns(query: exp.Query, columns_of_table: Callable[[exp.Table], dict[str, str] | None],
                    ctes: dict[str, exp.Query] | None = None) -> dict[str, str | None] | None:
    """Column names the entity query returns, from its text or the catalog, with their warehouse
    types where the catalog gave them; None if unknowable.

    A `*` reads the catalog only when it selects from one real table; over a CTE or a derived
    table it is that query's columns (which may rename or compute the time column).
    """
    if ctes is None:
        ctes = {c.alias_or_name: c.this for c in query.find_all(exp.CTE)}
    while isinstance(query, (exp.SetOperation, exp.Subquery)):  # a UNION's columns: its first
        query = query.this
    if not isinstance(query, exp.Select):
        return None
    names: dict[str, str | None] = {}
    for s in query.selects:
        star = s if isinstance(s, exp.Star) else s.this if isinstance(s, exp.Column) else None
        if not isinstance(star, exp.Star):
            names[s.alias_or_name] = None
            continue
        source = query.args.get("from_") or query.args.get("from")
        if source is None or query.args.get("joins") or any(star.args.get(m) for m in star.args):
            return None  # several sources, or * EXCLUDE / REPLACE / RENAME
        source = source.this
        if isinstance(source, exp.Subquery):
            cols = _output_columns(source.this, columns_of_table, ctes)
        elif isinstance(source, exp.Table) and not source.db and source.name in ctes:
            inner = {k: v for k, v in ctes.items() if k != source.name}  # WITH RECURSIVE
            cols = _output_columns(ctes[source.name], columns_of_table, inner)
        elif isinstance(source, exp.Table):
            cols = columns_of_table(source)
        else:
            return None
        if cols is None:
            return None
        names.update(cols)
    return names
