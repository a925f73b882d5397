"""The point-in-time planner: entity set + feature requests -> one sqlglot query per dialect.

Contract: DESIGN.md section 6. Shape of every plan:

    featsql_entity      the entity set (uploaded table or the user's query), referenced, never re-run
    featsql_bounds      min/max entity time, when they are not known as constants
    featsql_<i>_keys    distinct (join keys, UTC time) of the entity set, per requested view
    featsql_<i>_rows    one bounded scan of the view: min entity time - ttl <= ts <= max entity time
    featsql_<i>         one row per distinct (keys, time) with the chosen feature values
    final SELECT        entity rows LEFT JOIN each featsql_<i> on (keys, time): duplicates stay,
                        no row is dropped, no concatenated row ids

Where the ASOF inequality may compare STRUCTs (DuckDB), the entity rows themselves are
ASOF LEFT JOINed to each featsql_<i>_rows, ordered by (time, created, content hash): no distinct
keys, no join back (an ASOF LEFT join returns each left row once, duplicates stay).

The join strategy comes from the warehouse's capability constants: a native ASOF join (DuckDB,
Snowflake; ttl applied after the join), or a sort-based window plan elsewhere. Names of what dbt
built are spelled by the warehouse (featsql.sql.stored_name); time columns are typed by its
`known_at`, from the logical types registered at apply.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Callable

import sqlglot
from sqlglot import exp

from featsql.compile.request import Computed, to_sql
from featsql.refs import ViewRequest
from featsql.sql import col, ident, table

if TYPE_CHECKING:
    from featsql.offline.base import Warehouse

P = "__featsql_"  # prefix of internal columns
TS, FTS, CREATED, IS_ENTITY, GRP, ROW = (f"{P}ts", f"{P}fts", f"{P}created", f"{P}is_entity",
                                          f"{P}grp", f"{P}row")
ORDER = f"{P}order"
AVAIL, RANK = f"{P}avail", f"{P}rank"
EPOCH_OFFSET = 10**16  # microseconds: keeps epochs from 1653 to 2286 positive and 17 digits wide
ENTITY = "featsql_entity"
BOUNDS = "featsql_bounds"


@dataclass
class EntitySet:
    """Where entity rows come from and what is known about them without running anything."""

    source: exp.Query | exp.Table
    timestamp_column: str = "event_timestamp"
    # Known for uploaded DataFrames: then the output lists them (dropping the row id) in order.
    # The row id (0..n-1) is not selected: RetrievalJob.to_arrow asks for it and puts the rows
    # back in the DataFrame's order itself, an O(n) scatter instead of the warehouse sorting the
    # whole result (measured: ~30% of a 100k-row DuckDB training set).
    columns: list[str] | None = None
    row_id: str | None = None
    # True when the time column is already naive UTC (uploaded DataFrames are converted first).
    utc_naive: bool = False
    # The time column's kind when the catalog told it (a SQL entity set over a table): converted
    # by the warehouse's known_at; unknown, it is cast through an aware timestamp to UTC.
    ts_dtype: str | None = None
    # Constant bounds when known (DataFrames); otherwise computed in the query from the entity set.
    min_ts: datetime | None = None
    max_ts: datetime | None = None
    # Entity columns whose values must be cast to the view key's type to compare (text -> uuid).
    casts: dict[str, exp.DataType] = field(default_factory=dict)


@dataclass
class PointInTimeQuery:
    wh: Warehouse
    entity: EntitySet
    requests: list[ViewRequest]
    full_feature_names: bool = False
    filter_by_created_timestamp: bool = False
    # Request-time features (featsql.compile.request): computed over the joined values.
    computed: list[Computed] = field(default_factory=list)
    ctes: list[exp.CTE] = field(default_factory=list)

    # -- helpers ----------------------------------------------------------------------------------
    def _cte(self, name: str, query: exp.Query, materialized: bool = False) -> None:
        cte = exp.CTE(this=query, alias=exp.TableAlias(this=ident(name)))
        if materialized and self.wh.materialized_cte:
            cte.set("materialized", True)
        self.ctes.append(cte)

    def _raw(self, name: str, alias: str | None = "f") -> exp.Column:
        """A column of a feature view's relation, spelled as the warehouse stores dbt's names."""
        return self.wh.col(name, alias)

    def _ecol(self, name: str, alias: str = "e") -> exp.Column:
        """An entity-set column: uploaded DataFrames keep their names; SQL ones follow dbt's."""
        return col(name, alias) if self.entity.columns is not None else self.wh.col(name, alias)

    def _ekey(self, name: str, alias: str = "e") -> exp.Expression:
        """An entity-set key column, cast to the view key's type where the two differ."""
        cast = self.entity.casts.get(name)
        return self._ecol(name, alias) if cast is None else exp.cast(self._ecol(name, alias), cast)

    def _entity_ts(self, alias: str) -> exp.Expression:
        ts = self._ecol(self.entity.timestamp_column, alias)
        if self.entity.utc_naive:
            return ts
        if self.entity.ts_dtype is not None:
            return self.wh.known_at(ts, self.entity.ts_dtype)
        return self.wh.utc_naive(ts)

    def _bound(self, which: str) -> exp.Expression:
        value = self.entity.min_ts if which == "min" else self.entity.max_ts
        if value is not None:
            return self.wh.timestamp_literal(value.isoformat(sep=" "))
        return exp.Subquery(this=exp.select(col(which, None)).from_(table(BOUNDS)))

    # -- the plan ---------------------------------------------------------------------------------
    def build(self) -> exp.Query:
        src = self.entity.source
        entity_query = src if isinstance(src, exp.Query) else exp.select("*").from_(src.copy())
        self._cte(ENTITY, entity_query, materialized=isinstance(src, exp.Query))
        if self.entity.min_ts is None or self.entity.max_ts is None:
            ts = self._entity_ts("e")
            self._cte(BOUNDS, exp.select(exp.Min(this=ts).as_("min", quoted=True),
                                         exp.Max(this=ts.copy()).as_("max", quoted=True))
                      .from_(exp.alias_(table(ENTITY), "e", table=True, quoted=True)))
        for i, request in enumerate(self.requests):
            self._view(i, request)
        return self._final()

    def _keys(self, i: int, r: ViewRequest) -> None:
        cols = [self._ekey(c).as_(f"{P}k{j}", quoted=True) for j, c in enumerate(r.entity_columns)]
        q = (exp.select(*cols, self._entity_ts("e").as_(TS, quoted=True)).distinct()
             .from_(exp.alias_(table(ENTITY), "e", table=True, quoted=True)))
        self._cte(f"featsql_{i}_keys", q)

    def _direct(self, r: ViewRequest) -> bool:
        """The entity rows ASOF-join the view's rows themselves (struct-ordered ASOF)."""
        return self.wh.asof and self.wh.asof_struct and not self._known_at(r)

    def _direct_join(self, i: int, r: ViewRequest, alias: str) -> tuple[exp.Join, list[exp.Expression]]:
        """ASOF LEFT JOIN featsql_<i>_rows for the entity rows, and the ttl-guarded features.

        The entity side's order key sits above every feature row at the same time (created
        +infinity, hash maximal); a NULL entity time gets no key, so it matches nothing.
        """
        ts = self._entity_ts("e")
        top = self._order_struct(ts, self.wh.timestamp_literal("infinity")
                                 if r.view.created_timestamp_field else None, r, top=True)
        top_or_null = exp.Case(ifs=[exp.If(this=exp.Not(this=exp.Is(this=ts.copy(), expression=exp.Null())),
                                           true=top)])
        keys = [exp.EQ(this=self._ekey(c), expression=col(f"{P}k{j}", alias))
                for j, c in enumerate(r.entity_columns)]
        join = self.wh.asof_join(exp.alias_(table(f"featsql_{i}_rows"), alias, table=True, quoted=True),
                                 keys, exp.GTE(this=top_or_null, expression=col(ORDER, alias)))
        matched = exp.Dot(this=col(ORDER, alias), expression=exp.to_identifier("t", quoted=True))
        return join, self._fresh(r, alias, ts, matched)

    def _order_struct(self, ts: exp.Expression, created: exp.Expression | None, r: ViewRequest,
                      top: bool = False) -> exp.Struct:
        """(time, created, content hash): the ASOF key that picks the latest time, then the latest
        created, then a content-determined row among exact duplicates — no window needed."""
        fields: list[tuple[str, exp.Expression]] = [("t", ts.copy())]
        if created is not None:
            lowest = self.wh.timestamp_literal("-infinity")
            fields.append(("c", created.copy() if top else exp.Coalesce(this=created.copy(), expressions=[lowest])))
        content = (exp.cast(exp.Literal.number("18446744073709551615"), "UBIGINT", dialect="duckdb") if top else
                   exp.Anonymous(this="HASH", expressions=[self._raw(f) for f in r.features] or [exp.Null()]))
        fields.append(("h", content))
        return exp.Struct(expressions=[exp.PropertyEQ(this=exp.to_identifier(n), expression=e) for n, e in fields])

    def _known_at(self, r: ViewRequest) -> bool:
        """filter_by_created_timestamp applies (a view without created times is unaffected)."""
        return self.filter_by_created_timestamp and bool(r.view.created_timestamp_field)

    def _sortable(self, ts: exp.Expression) -> exp.Expression:
        """Epoch microseconds as fixed-width text (offset to stay positive): sorts like `ts`."""
        shifted = exp.Add(this=self.wh.epoch_us(ts), expression=exp.Literal.number(EPOCH_OFFSET))
        return exp.Anonymous(this="LPAD", expressions=[
            exp.cast(shifted, exp.DataType.build("VARCHAR")), exp.Literal.number(17),
            exp.Literal.string("0")])

    def _rows(self, i: int, r: ViewRequest, dedup: bool) -> None:
        v = r.view
        fts = self.wh.known_at(self._raw(v.timestamp_field), v.timestamp_dtype,
                               v.timestamp_offset_seconds)
        created = (self.wh.known_at(self._raw(v.created_timestamp_field), v.created_timestamp_dtype)
                   if v.created_timestamp_field else None)
        sel = [self._raw(k).as_(f"{P}k{j}", quoted=True) for j, k in enumerate(v.join_keys)]
        known_at = self._known_at(r)
        if not self._direct(r):  # the direct ASOF reads both times from its order key
            sel.append(fts.copy().as_(FTS, quoted=True))
            if created is not None:
                sel.append(created.copy().as_(CREATED, quoted=True))
        sel += [self._raw(f).as_(f, quoted=True) for f in r.features]
        if self._direct(r):
            sel.append(self._order_struct(fts, created, r).as_(ORDER, quoted=True))
        upper = exp.LTE(this=fts.copy(), expression=self._bound("max"))
        conds: list[exp.Expression] = [upper]
        if known_at and created is not None:
            # Known at t: created <= t too (a NULL created time is never known), so the row
            # becomes visible at the later of its two times; (ts, created) as text ranks it.
            sel.append(exp.Greatest(this=fts.copy(), expressions=[created.copy()]).as_(AVAIL, quoted=True))
            sel.append(exp.DPipe(this=self._sortable(fts), expression=self._sortable(created),
                                 safe=True).as_(RANK, quoted=True))
            conds.append(exp.LTE(this=created.copy(), expression=self._bound("max")))
        if v.ttl_seconds:
            lower = self.wh.minus_seconds(self._bound("min"), v.ttl_seconds)
            conds.append(exp.GTE(this=fts.copy(), expression=lower))
        conds += [exp.Not(this=exp.Is(this=self._raw(k), expression=exp.Null())) for k in v.join_keys]
        q = (exp.select(*sel).from_(exp.alias_(self.wh.table(v.relation), "f", table=True, quoted=True))
             .where(exp.and_(*conds)))
        if dedup:
            q = self._dedup(q, r, fts, created)
        self._cte(f"featsql_{i}_rows", q, materialized=known_at)  # read twice when known_at

    def _tiebreak(self, r: ViewRequest, created: exp.Expression | None, desc: bool,
                  feature: Callable[[str], exp.Expression]) -> list[exp.Ordered]:
        """Order among rows with the same time: created timestamp, then values (deterministic)."""
        exprs = ([created.copy()] if created is not None else []) + [feature(f) for f in r.features]
        return [exp.Ordered(this=e, desc=desc, nulls_first=not desc) for e in exprs]

    def _dedup(self, q: exp.Select, r: ViewRequest, fts: exp.Expression,
               created: exp.Expression | None) -> exp.Select:
        """One row per (keys, ts): the greatest created timestamp wins (backfills)."""
        order = self._tiebreak(r, created, desc=True, feature=self._raw)
        if not order:
            return q
        rn = exp.Window(this=exp.RowNumber(),
                        partition_by=[self._raw(k) for k in r.view.join_keys] + [fts.copy()],
                        order=exp.Order(expressions=order))
        if self.wh.qualify:
            return q.qualify(exp.EQ(this=rn, expression=exp.Literal.number(1)))
        inner = q.select(rn.as_(f"{P}rn", quoted=True))
        outer_cols = [c.alias_or_name for c in q.selects]
        return (exp.select(*(col(c, "d") for c in outer_cols))
                .from_(exp.alias_(inner.subquery(), "d", quoted=True))
                .where(exp.EQ(this=col(f"{P}rn", "d"), expression=exp.Literal.number(1))))

    def _fresh(self, r: ViewRequest, alias: str, ts: exp.Expression,
               fts: exp.Expression) -> list[exp.Expression]:
        """Feature values, NULL when the matched row is older than the view's ttl."""
        out: list[exp.Expression] = []
        for f in r.features:
            value: exp.Expression = col(f, alias)
            if r.view.ttl_seconds:
                fresh = exp.GTE(this=fts.copy(), expression=self.wh.minus_seconds(ts.copy(), r.view.ttl_seconds))
                value = exp.Case(ifs=[exp.If(this=fresh, true=value)])
            out.append(value)
        return out

    def _guarded(self, r: ViewRequest, alias: str, ts: exp.Expression,
                 fts: exp.Expression) -> list[exp.Expression]:
        return [exp.alias_(v, f, quoted=True) for v, f in zip(self._fresh(r, alias, ts, fts), r.features)]

    def _view(self, i: int, r: ViewRequest) -> None:
        if self._direct(r):
            return self._rows(i, r, dedup=False)
        self._keys(i, r)
        if self._known_at(r):
            self._rows(i, r, dedup=False)
            return self._known_at_plan(i, r)
        if self.wh.asof:  # ASOF on the time alone (Snowflake): deduplicate (ts, created) first
            self._rows(i, r, dedup=True)
            return self._asof(i, r)
        self._rows(i, r, dedup=False)
        return self._window(i, r)

    def _key_cols(self, r: ViewRequest, alias: str) -> list[exp.Expression]:
        return [col(f"{P}k{j}", alias) for j in range(len(r.view.join_keys))]

    def _key_eq(self, r: ViewRequest, left: str, right: str) -> list[exp.Expression]:
        return [exp.EQ(this=col(f"{P}k{j}", left), expression=col(f"{P}k{j}", right))
                for j in range(len(r.view.join_keys))]

    def _asof(self, i: int, r: ViewRequest) -> None:
        keys, rows = table(f"featsql_{i}_keys"), table(f"featsql_{i}_rows")
        match = exp.GTE(this=col(TS, "k"), expression=col(FTS, "r"))
        join = self.wh.asof_join(exp.alias_(rows, "r", table=True, quoted=True),
                                 self._key_eq(r, "k", "r"), match)
        q = exp.select(*self._key_cols(r, "k"), col(TS, "k"),
                       *self._guarded(r, "r", col(TS, "k"), col(FTS, "r")))
        q = q.from_(exp.alias_(keys, "k", table=True, quoted=True))
        q.append("joins", join)
        self._cte(f"featsql_{i}", q)

    def _window(self, i: int, r: ViewRequest) -> None:
        """Sort-based plan: union entity and feature rows per key, carry the last feature row forward.

        grp counts feature rows up to each row (features sort before entities at equal time, and
        by created within a time), so an entity row shares grp with exactly the last feature row
        at or before it; FIRST_VALUE over (keys, grp) reads that row. NULL values stay NULL.
        """
        v = r.view
        k = len(v.join_keys)
        nulls = [exp.Null().as_(f, quoted=True) for f in r.features]
        entity_side = exp.select(*[col(f"{P}k{j}") for j in range(k)], col(TS).as_(FTS, quoted=True),
                                 exp.Null().as_(CREATED, quoted=True),
                                 exp.Literal.number(1).as_(IS_ENTITY, quoted=True), *nulls
                                 ).from_(table(f"featsql_{i}_keys"))
        created = col(CREATED) if v.created_timestamp_field else exp.Null()
        feature_side = exp.select(*[col(f"{P}k{j}") for j in range(k)], col(FTS),
                                  created.as_(CREATED, quoted=True),
                                  exp.Literal.number(0).as_(IS_ENTITY, quoted=True),
                                  *[col(f) for f in r.features]).from_(table(f"featsql_{i}_rows"))
        self._cte(f"featsql_{i}_union", exp.union(feature_side, entity_side, distinct=False))
        parts = [col(f"{P}k{j}") for j in range(k)]
        order = [exp.Ordered(this=col(FTS), nulls_first=True),
                 exp.Ordered(this=col(IS_ENTITY), nulls_first=True)]
        order += self._tiebreak(r, col(CREATED) if v.created_timestamp_field else None, desc=False,
                                feature=col)
        running = exp.WindowSpec(kind="ROWS", start="UNBOUNDED", start_side="PRECEDING", end="CURRENT ROW")
        grp = exp.Window(this=exp.Count(this=exp.Case(ifs=[exp.If(
            this=exp.EQ(this=col(IS_ENTITY), expression=exp.Literal.number(0)),
            true=exp.Literal.number(1))])), partition_by=parts, order=exp.Order(expressions=order),
            spec=running)
        self._cte(f"featsql_{i}_grp", exp.select("*", grp.as_(GRP, quoted=True))
                  .from_(table(f"featsql_{i}_union")))
        whole = exp.WindowSpec(kind="ROWS", start="UNBOUNDED", start_side="PRECEDING",
                               end="UNBOUNDED", end_side="FOLLOWING")

        def carried(e: exp.Expression) -> exp.Window:
            return exp.Window(this=exp.FirstValue(this=e), partition_by=[*[p.copy() for p in parts], col(GRP)],
                              order=exp.Order(expressions=[exp.Ordered(this=col(IS_ENTITY))]), spec=whole.copy())

        feature_row = exp.EQ(this=col(IS_ENTITY), expression=exp.Literal.number(0))
        carried_cols = [carried(exp.Case(ifs=[exp.If(this=feature_row, true=col(FTS))])).as_(f"{P}matched", quoted=True)]
        carried_cols += [carried(col(f)).as_(f, quoted=True) for f in r.features]
        self._cte(f"featsql_{i}_carried", exp.select(*[col(f"{P}k{j}") for j in range(k)],
                                                     col(FTS).as_(TS, quoted=True), col(IS_ENTITY),
                                                     *carried_cols).from_(table(f"featsql_{i}_grp")))
        q = exp.select(*self._key_cols(r, "c"), col(TS, "c"),
                       *self._guarded(r, "c", col(TS, "c"), col(f"{P}matched", "c")))
        q = q.from_(exp.alias_(table(f"featsql_{i}_carried"), "c", table=True, quoted=True)).where(
            exp.EQ(this=col(IS_ENTITY, "c"), expression=exp.Literal.number(1)))
        self._cte(f"featsql_{i}", q)

    def _known_at_plan(self, i: int, r: ViewRequest) -> None:
        """filter_by_created_timestamp: the best row among those with ts <= t and created <= t.

        Visibility follows the later of the two times, the choice the greatest (ts, created):
        so rows sort by visibility time, a running MAX of the (ts, created) rank gives each
        entity row its pick, and one equality join on that rank reads its values back (the rows
        CTE is materialized where the dialect can, so the view is still scanned once).
        """
        k = len(r.view.join_keys)
        keys = [col(f"{P}k{j}") for j in range(k)]
        feature_side = exp.select(*keys, col(AVAIL), exp.Literal.number(0).as_(IS_ENTITY, quoted=True),
                                  col(RANK)).from_(table(f"featsql_{i}_rows"))
        entity_side = exp.select(*[c.copy() for c in keys], col(TS).as_(AVAIL, quoted=True),
                                 exp.Literal.number(1).as_(IS_ENTITY, quoted=True),
                                 exp.Null().as_(RANK, quoted=True)).from_(table(f"featsql_{i}_keys"))
        self._cte(f"featsql_{i}_union", exp.union(feature_side, entity_side, distinct=False))
        running = exp.WindowSpec(kind="ROWS", start="UNBOUNDED", start_side="PRECEDING", end="CURRENT ROW")
        best = exp.Window(this=exp.Max(this=col(RANK)), partition_by=[c.copy() for c in keys],
                          order=exp.Order(expressions=[exp.Ordered(this=col(AVAIL), nulls_first=True),
                                                       exp.Ordered(this=col(IS_ENTITY))]),
                          spec=running)
        self._cte(f"featsql_{i}_best", exp.select(*[c.copy() for c in keys], col(AVAIL).as_(TS, quoted=True),
                                                  col(IS_ENTITY), best.as_(f"{P}best", quoted=True))
                  .from_(table(f"featsql_{i}_union")))
        order = self._tiebreak(r, None, desc=True, feature=lambda f: col(f, "r"))
        rn = exp.Window(this=exp.RowNumber(), partition_by=[*self._key_cols(r, "b"), col(TS, "b")],
                        order=exp.Order(expressions=order) if order else None)
        on = self._key_eq(r, "b", "r") + [exp.EQ(this=col(f"{P}best", "b"), expression=col(RANK, "r"))]
        q = (exp.select(*self._key_cols(r, "b"), col(TS, "b"), col(FTS, "r").as_(f"{P}matched", quoted=True),
                        *[col(f, "r").as_(f, quoted=True) for f in r.features], rn.as_(f"{P}rn", quoted=True))
             .from_(exp.alias_(table(f"featsql_{i}_best"), "b", table=True, quoted=True))
             .join(exp.alias_(table(f"featsql_{i}_rows"), "r", table=True, quoted=True),
                   on=exp.and_(*on), join_type="LEFT")
             .where(exp.EQ(this=col(IS_ENTITY, "b"), expression=exp.Literal.number(1))))
        self._cte(f"featsql_{i}_ranked", q)
        self._cte(f"featsql_{i}", exp.select(*self._key_cols(r, "c"), col(TS, "c"),
                                             *self._guarded(r, "c", col(TS, "c"), col(f"{P}matched", "c")))
                  .from_(exp.alias_(table(f"featsql_{i}_ranked"), "c", table=True, quoted=True))
                  .where(exp.EQ(this=col(f"{P}rn", "c"), expression=exp.Literal.number(1))))

    def _final(self) -> exp.Query:
        e = self.entity
        if e.columns is not None:
            sel: list[exp.Expression] = [col(c, "e") for c in e.columns if c != e.row_id]
        else:
            sel = [exp.Column(this=exp.Star(), table=ident("e"))]
        q = exp.select(*sel).from_(exp.alias_(table(ENTITY), "e", table=True, quoted=True))
        ts = self._entity_ts("e")
        values: dict[str, exp.Expression] = {}  # request-time inputs: feature -> its value
        for i, r in enumerate(self.requests):
            a = f"v{i}"
            if self._direct(r):
                join, raw = self._direct_join(i, r, a)
                typed = [self._typed(r, f, v) for f, v in zip(r.features, raw)]
                q.append("joins", join)
            else:
                typed = [self._typed(r, f, col(f, a)) for f in r.features]
            q = q.select(*(v.as_(r.output_name(f, self.full_feature_names), quoted=True)
                           for f, v in zip(r.features, typed)))
            for f, v in zip(r.features, typed):
                if r.view.feature(f).kind == "timestamp_tz":  # type: ignore[union-attr]
                    v = self.wh.utc_naive(v)
                values[f"{r.name}__{f}"] = v
                values.setdefault(f, v)  # the short name: usable only where it is unique
            if self._direct(r):
                continue
            on = [exp.EQ(this=self._ekey(c), expression=col(f"{P}k{j}", a))
                  for j, c in enumerate(r.entity_columns)]
            on.append(exp.EQ(this=ts.copy(), expression=col(TS, a)))
            q = q.join(exp.alias_(table(f"featsql_{i}"), a, table=True, quoted=True),
                       on=exp.and_(*on), join_type="LEFT")
        for c in self.computed:
            def value(name: str, c: Computed = c) -> exp.Expression:
                if name in c.request:
                    return self._request_column(name, c.inputs[name])
                return values[name].copy()
            q = q.select(to_sql(c.node, self.wh, value).as_(c.name, quoted=True))
        q.set("with_", exp.With(expressions=self.ctes))
        return q

    def _request_column(self, name: str, kind: str) -> exp.Expression:
        """A request column of the entity set as its declared type (times as naive UTC)."""
        column = self._ecol(name)
        if kind == "timestamp":
            return self.wh.utc_naive(column)
        return exp.cast(column, exp.DataType.build(_SQL_TYPES[kind]))


    def _typed(self, r: ViewRequest, name: str, value: exp.Expression) -> exp.Expression:
        """A decimal feature as the decimal policy's type (featsql.types): scale 0 -> BIGINT,
        else DOUBLE, so every warehouse (and to_table) gives the same types."""
        feature = r.view.feature(name)
        if feature is None or feature.dtype != "decimal":
            return value
        return exp.cast(value, exp.DataType.build("BIGINT" if feature.kind == "int" else "DOUBLE"))


_SQL_TYPES = {"int": "BIGINT", "float": "DOUBLE", "string": "VARCHAR", "bool": "BOOLEAN"}


def compile_pit(wh: Warehouse, entity: EntitySet, requests: list[ViewRequest],
                full_feature_names: bool = False, filter_by_created_timestamp: bool = False,
                computed: list[Computed] | None = None) -> exp.Query:
    """Build the point-in-time query in `wh`'s dialect; request-time features last."""
    return PointInTimeQuery(wh, entity, requests, full_feature_names,
                            filter_by_created_timestamp, computed or []).build()


def parse_entity_sql(sql: str, dialect: str) -> exp.Query:
    """The user's entity query, parsed (never pasted): exactly one SELECT-like statement."""
    from featsql.errors import FeatsqlError

    try:
        statements = [s for s in sqlglot.parse(sql, dialect=dialect) if s is not None]
    except sqlglot.errors.ParseError as err:
        raise FeatsqlError(f"entity SQL does not parse as {dialect}: {err}") from None
    if len(statements) != 1 or not isinstance(statements[0], exp.Query):
        raise FeatsqlError("entity SQL must be exactly one SELECT query")
    return statements[0]
