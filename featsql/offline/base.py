"""The warehouse interface: one class per warehouse, found by dbt adapter type.

A subclass sets its dbt adapter type and sqlglot dialect, its capability constants and the few
SQL forms that differ, and implements a connection; the SQL it runs comes from featsql.compile,
which reads those constants and calls those methods (never `if dialect == ...`).
"""
from __future__ import annotations

import uuid
from pathlib import Path
from typing import Any, ClassVar, Iterator

import pyarrow as pa
from sqlglot import exp

from featsql.definitions import Relation
from featsql.sql import col, dbt_name, drop_table, ident, stored_name, table

_REGISTRY: dict[str, type[Warehouse]] = {}


def warehouse_class(adapter_type: str) -> type[Warehouse]:
    from featsql.errors import FeatsqlError

    _load_builtin()
    try:
        return _REGISTRY[adapter_type]
    except KeyError:
        raise FeatsqlError(
            f"dbt adapter '{adapter_type}' is not supported as a featsql warehouse;"
            f" supported: {', '.join(sorted(_REGISTRY))}"
        ) from None


def warehouse_classes() -> list[type[Warehouse]]:
    """Every warehouse featsql supports, by adapter type (the dbt macros are compiled for each)."""
    _load_builtin()
    return [_REGISTRY[t] for t in sorted(_REGISTRY)]


def for_dialect(dialect: str) -> Warehouse:
    """The warehouse whose SQL dialect is `dialect`, unconnected (to compile for it)."""
    from featsql.errors import FeatsqlError, did_you_mean

    _load_builtin()
    by_dialect = {cls.dialect: cls for cls in _REGISTRY.values()}
    if dialect not in by_dialect:
        raise FeatsqlError(f"unknown dialect '{dialect}'{did_you_mean(dialect, set(by_dialect))};"
                           f" expected one of {', '.join(sorted(by_dialect))}")
    return by_dialect[dialect]()


def _load_builtin() -> None:
    import importlib

    for mod in ("duckdb", "postgres", "snowflake", "bigquery", "redshift"):
        try:
            importlib.import_module(f"featsql.offline.{mod}")
        except ModuleNotFoundError:
            pass


def _non_negative_mod(value: exp.Expression, n: int) -> exp.Expression:
    """((value % n) + n) % n: the partition of a signed hash, with no ABS (which overflows on
    the smallest integer)."""
    mod = exp.Mod(this=exp.Paren(this=value), expression=exp.Literal.number(n))
    return exp.Mod(this=exp.Paren(this=exp.Add(this=mod, expression=exp.Literal.number(n))),
                   expression=exp.Literal.number(n))


def arrow_sql_type(arrow_type: pa.DataType) -> exp.DataType:
    """A warehouse-neutral column type for an Arrow type; sqlglot prints it per dialect
    (naive timestamp -> TIMESTAMP / TIMESTAMP_NTZ / DATETIME, aware -> TIMESTAMPTZ / TIMESTAMP)."""
    t = arrow_type
    if pa.types.is_dictionary(t):
        return arrow_sql_type(t.value_type)
    if pa.types.is_timestamp(t):
        return exp.DataType.build("TIMESTAMPTZ" if t.tz else "TIMESTAMPNTZ")
    if pa.types.is_decimal(t):
        params = [exp.DataTypeParam(this=exp.Literal.number(n)) for n in (t.precision, t.scale)]
        return exp.DataType(this=exp.DataType.Type.DECIMAL, expressions=params)
    if pa.types.is_uint64(t):
        return exp.DataType.build("DECIMAL(20, 0)")
    for test, name in _ARROW_TYPES:
        if test(t):
            return exp.DataType.build(name)
    return exp.DataType.build("JSON")  # lists, structs, maps: uploaded as JSON text


_ARROW_TYPES = [
    (pa.types.is_boolean, "BOOLEAN"),
    (lambda t: pa.types.is_int8(t) or pa.types.is_int16(t) or pa.types.is_uint8(t), "SMALLINT"),
    (lambda t: pa.types.is_int32(t) or pa.types.is_uint16(t), "INT"),
    (lambda t: pa.types.is_int64(t) or pa.types.is_uint32(t), "BIGINT"),
    (lambda t: pa.types.is_float16(t) or pa.types.is_float32(t), "FLOAT"),
    (pa.types.is_float64, "DOUBLE"),
    (lambda t: pa.types.is_string(t) or pa.types.is_large_string(t) or pa.types.is_string_view(t)
     or pa.types.is_null(t), "TEXT"),
    (lambda t: pa.types.is_binary(t) or pa.types.is_large_binary(t) or pa.types.is_binary_view(t)
     or pa.types.is_fixed_size_binary(t), "VARBINARY"),
    (pa.types.is_date, "DATE"),
    (pa.types.is_time, "TIME"),
    (pa.types.is_duration, "INTERVAL"),
]


class Warehouse:
    """One warehouse: its dialect's capabilities and SQL forms, its connection, its uploads and
    its name rules. Capabilities are class constants the compiler reads (as sqlglot's dialects
    are); the few SQL forms that really differ are the small methods below, overridden per
    warehouse. An instance made without credentials is the dialect alone: it compiles, and
    connects only when a query runs.
    """

    adapter_type: ClassVar[str]
    dialect: ClassVar[str]
    # Run on every new connection so naive timestamps read as UTC (DESIGN.md 6). None only where
    # the warehouse has no session zone to set (BigQuery: TIMESTAMP is UTC by definition).
    utc_session: ClassVar[str | None] = None
    # A native as-of join (DuckDB's ASOF LEFT JOIN, Snowflake's ASOF JOIN ... MATCH_CONDITION);
    # without one the planner uses the sort-based window plan.
    asof: ClassVar[bool] = False
    # The ASOF inequality may compare STRUCTs (DuckDB): ordering by (ts, created, content hash)
    # inside the join replaces a window dedup over the whole scan (about 2x faster).
    asof_struct: ClassVar[bool] = False
    qualify: ClassVar[bool] = False
    distinct_on: ClassVar[bool] = False
    # ARG_MAX(struct of the row, (ts, created)) GROUP BY keys: latest values by hash aggregate,
    # memory bounded by the number of entities instead of a window sort over every row.
    latest_arg_max: ClassVar[bool] = False
    # CTEs may be inlined (run once per reference) unless marked MATERIALIZED.
    materialized_cte: ClassVar[bool] = False
    naive_type: ClassVar[str] = "TIMESTAMP"
    aware_type: ClassVar[str] = "TIMESTAMPTZ"

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        if "adapter_type" in cls.__dict__:
            _REGISTRY[cls.adapter_type] = cls

    def __init__(self, credentials: Any = None, project_dir: Path | None = None):
        self.credentials = credentials
        self.project_dir = project_dir or Path(".")
        # Materialization workers and shards only read: where the warehouse is a local file
        # with one writer (DuckDB), they open it read-only, so several can read at once.
        self.read_only = False

    # -- names: every name of something dbt built goes through featsql.sql.stored_name --------
    def stored_name(self, name: str) -> str:
        return stored_name(name, self.dialect)

    def table(self, relation: Relation) -> exp.Table:
        """A relation dbt built, each part spelled as this warehouse stores it."""
        return table(relation, self.dialect)

    def col(self, name: str, alias: str | None = None) -> exp.Column:
        """A column of a relation dbt built (or of an entity query), spelled as stored."""
        return col(name, alias, self.dialect)

    # -- SQL forms that differ between warehouses ---------------------------------------------
    def sql(self, expression: exp.Expression, pretty: bool = False) -> str:
        return expression.sql(dialect=self.dialect, pretty=pretty)

    def parse_type(self, warehouse_type: str) -> exp.DataType:
        try:
            return exp.DataType.build(warehouse_type, dialect=self.dialect)
        except Exception:  # an exotic type sqlglot cannot parse still registers, as 'other'
            return exp.DataType.build("unknown")

    def utc_naive(self, value: exp.Expression) -> exp.Expression:
        """An aware timestamp of any zone -> a naive UTC timestamp.

        Relies on the session time zone being UTC, which every featsql connection sets.
        """
        aware = exp.cast(value, exp.DataType.build(self.aware_type, dialect=self.dialect))
        return exp.cast(aware, exp.DataType.build(self.naive_type, dialect=self.dialect))

    def known_at(self, value: exp.Expression, dtype: str | None,
                 offset_seconds: int | None = None) -> exp.Expression:
        """A time column as the naive UTC instant its row becomes known: aware -> UTC, a date ->
        its midnight, plus the view's timestamp_offset. The one place time columns are typed."""
        if dtype == "timestamp_tz":
            value = self.utc_naive(value)
        elif dtype == "date":
            value = exp.cast(value, exp.DataType.build(self.naive_type, dialect=self.dialect))
        return self.plus_seconds(value, offset_seconds) if offset_seconds else value

    def epoch_us(self, value: exp.Expression) -> exp.Expression:
        """Microseconds since 1970 of a naive UTC timestamp, as an integer."""
        seconds = exp.Extract(this=exp.var("EPOCH"), expression=value)
        return exp.cast(exp.Mul(this=seconds, expression=exp.Literal.number(1_000_000)), "BIGINT")

    def plus_seconds(self, value: exp.Expression, seconds: int) -> exp.Expression:
        op = exp.Add if seconds >= 0 else exp.Sub
        return op(this=value, expression=exp.Interval(this=exp.Literal.string(str(abs(seconds))),
                                                      unit=exp.var("SECOND")))

    def minus_seconds(self, value: exp.Expression, seconds: int) -> exp.Expression:
        return self.plus_seconds(value, -seconds)

    def key_partition(self, keys: list[exp.Expression], n: int) -> exp.Expression:
        """Which of `n` partitions a row's join keys fall in, 0..n-1, computed in the warehouse
        (materialization workers and shards each read one): a hash of the keys as text
        (PostgreSQL's hashtextextended), its remainder made non-negative."""
        text = exp.Anonymous(this="CONCAT_WS", expressions=[
            exp.Literal.string("|"), *(exp.cast(k, exp.DataType.build("TEXT")) for k in keys)])
        return _non_negative_mod(exp.Anonymous(this="HASHTEXTEXTENDED", expressions=[text, exp.Literal.number(0)]), n)

    def timestamp_literal(self, iso: str) -> exp.Expression:
        return exp.cast(exp.Literal.string(iso), exp.DataType.build(self.naive_type, dialect=self.dialect))

    def asof_join(self, rows: exp.Expression, keys: list[exp.Expression],
                  match: exp.Expression) -> exp.Join:
        """The native as-of join of `rows` on equal `keys` and the `match` inequality (DuckDB's
        form: ASOF LEFT JOIN ... ON keys AND match)."""
        return exp.Join(this=rows, method="ASOF", side="LEFT", on=exp.and_(*keys, match))

    # -- what each warehouse implements ---------------------------------------------------------
    def columns(self, relation: Relation) -> dict[str, str] | None:
        """Column name -> warehouse type of a built relation, in order; None if it does not exist."""
        raise NotImplementedError

    def query_arrow(self, sql: str) -> pa.Table:
        raise NotImplementedError

    def stream(self, sql: str, batch_rows: int = 100_000) -> Iterator[pa.RecordBatch]:
        """Record batches of bounded size, so memory does not grow with the result."""
        yield from self.query_arrow(sql).to_batches(max_chunksize=batch_rows)

    def execute(self, sql: str) -> None:
        raise NotImplementedError

    def upload(self, name: str, data: pa.Table) -> exp.Table:
        """Upload an entity set as a temporary table via the native bulk path."""
        raise NotImplementedError

    def drop_upload(self, table: exp.Table) -> None:
        self.execute(drop_table(table).sql(dialect=self.dialect))

    def sql_type(self, arrow_type: pa.DataType) -> exp.DataType:
        """The column type an uploaded Arrow column gets (override for warehouse quirks)."""
        return arrow_sql_type(arrow_type)

    def create_table(self, target: exp.Table, schema: pa.Schema, temporary: bool = False) -> exp.Create:
        """CREATE [TEMPORARY] TABLE target (columns typed from an Arrow schema)."""
        columns = [exp.ColumnDef(this=ident(f.name), kind=self.sql_type(f.type)) for f in schema]
        props = exp.Properties(expressions=[exp.TemporaryProperty()]) if temporary else None
        return exp.Create(this=exp.Schema(this=target, expressions=columns), kind="TABLE",
                          properties=props)

    def write_table(self, relation: Relation | exp.Table, data: pa.Table,
                    replace: bool = True) -> exp.Table:
        """Load Arrow data into a permanent table: the upload path, then CREATE TABLE AS.

        Used by tests, benchmarks and examples to put the same data in every warehouse.
        """
        target = relation if isinstance(relation, exp.Table) else self.table(relation)
        staged = self.upload(f"featsql_load_{uuid.uuid4().hex[:12]}", data)
        try:
            if replace:
                self.execute(drop_table(target).sql(dialect=self.dialect))
            # Columns named as a dbt model's unquoted columns would be (Snowflake: upper case).
            select = exp.select(*(col(c).as_(self.stored_name(c), quoted=True)
                                  for c in data.column_names)).from_(staged)
            create = exp.Create(this=target, kind="TABLE", expression=select)
            self.execute(create.sql(dialect=self.dialect))
        finally:
            self.drop_upload(staged)
        return target

    # The live connection (DB-API style, with .close()), opened lazily by each subclass's `con`.
    _con: Any = None

    def close(self) -> None:
        if self._con is not None:
            self._con.close()
            self._con = None

    def columns_query(self, relation: Relation, catalog: exp.Identifier | None = None) -> exp.Select:
        """information_schema lookup of a relation's columns, in order (ANSI; most warehouses),
        the relation's names spelled as stored."""
        conds = [("table_name", relation.identifier)]
        if relation.schema_name:
            conds.append(("table_schema", relation.schema_name))
        if relation.database:
            conds.append(("table_catalog", relation.database))
        where = exp.and_(*(exp.column(c).eq(exp.Literal.string(self.stored_name(v)))
                           for c, v in conds))
        return (exp.select("column_name", "data_type", "numeric_precision", "numeric_scale")
                .from_(exp.table_("columns", db="information_schema", catalog=catalog))
                .where(where).order_by("ordinal_position"))

    def catalog_columns(self, rows: list[tuple]) -> dict[str, str] | None:
        """(name, type, precision, scale) rows of columns_query -> {dbt name: type}; a decimal
        the catalog names without its precision gets it (numeric -> numeric(10,2))."""
        out = {}
        for name, dtype, precision, scale in rows:
            dtype = str(dtype)
            if precision is not None and "(" not in dtype and self.parse_type(dtype).this in (
                    exp.DataType.Type.DECIMAL, exp.DataType.Type.BIGDECIMAL):
                dtype = f"{dtype}({precision},{scale or 0})"
            out[dbt_name(name, self.dialect)] = dtype
        return out or None

    def __enter__(self) -> Warehouse:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()
