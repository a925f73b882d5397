"""The warehouse interface: what featsql needs from an offline store, and nothing more.

A subclass sets its dbt adapter type and sqlglot dialect and implements a connection; the SQL
it runs comes from featsql.compile, which reads the dialect's capability table.
"""
from __future__ import annotations

import uuid
from pathlib import Path
from typing import Any, ClassVar, Iterator

import pyarrow as pa
from sqlglot import exp

from featsql.definitions import Relation
from featsql.sql import drop_table, ident, table

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


def _load_builtin() -> None:
    import importlib

    for mod in ("duckdb", "postgres", "snowflake", "bigquery", "redshift"):
        try:
            importlib.import_module(f"featsql.offline.{mod}")
        except ModuleNotFoundError:
            pass


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
    adapter_type: ClassVar[str]
    dialect: ClassVar[str]
    # Run on every new connection so naive timestamps read as UTC (DESIGN.md 6). None only where
    # the warehouse has no session zone to set (BigQuery: TIMESTAMP is UTC by definition).
    utc_session: ClassVar[str | None] = None

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        if "adapter_type" in cls.__dict__:
            _REGISTRY[cls.adapter_type] = cls

    def __init__(self, credentials: Any, project_dir: Path | None = None):
        self.credentials = credentials
        self.project_dir = project_dir or Path(".")

    # -- SQL helpers shared by every warehouse --------------------------------------------------
    def sql(self, expression: exp.Expression, pretty: bool = False) -> str:
        return expression.sql(dialect=self.dialect, pretty=pretty)

    def parse_type(self, warehouse_type: str) -> exp.DataType:
        try:
            return exp.DataType.build(warehouse_type, dialect=self.dialect)
        except Exception:  # an exotic type sqlglot cannot parse still registers, as 'other'
            return exp.DataType.build("unknown")

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
        target = relation if isinstance(relation, exp.Table) else table(relation)
        staged = self.upload(f"featsql_load_{uuid.uuid4().hex[:12]}", data)
        try:
            if replace:
                self.execute(drop_table(target).sql(dialect=self.dialect))
            create = exp.Create(this=target, kind="TABLE", expression=exp.select("*").from_(staged))
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

    @staticmethod
    def columns_query(relation: Relation) -> exp.Select:
        """information_schema lookup of a relation's columns, in order (ANSI; most warehouses)."""
        conds = [("table_name", relation.identifier)]
        if relation.schema_name:
            conds.append(("table_schema", relation.schema_name))
        if relation.database:
            conds.append(("table_catalog", relation.database))
        where = exp.and_(*(exp.column(c).eq(exp.Literal.string(v)) for c, v in conds))
        return (exp.select("column_name", "data_type")
                .from_(exp.table_("columns", db="information_schema"))
                .where(where).order_by("ordinal_position"))

    def __enter__(self) -> Warehouse:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()
