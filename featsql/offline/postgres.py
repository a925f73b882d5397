"""PostgreSQL through psycopg 3: results as Arrow, entity sets uploaded with COPY.

Credentials are dbt-postgres' own (host, port, user, password, dbname/database, schema, sslmode,
connect_timeout, keepalives_idle, application_name, role). Every connection is autocommit with
the session time zone set to UTC, so naive timestamps mean UTC (DESIGN.md section 6).

Redshift speaks the same wire protocol and subclasses this class (featsql.offline.redshift);
what differs between the two is in class constants and two overridden methods.
"""
from __future__ import annotations

import io
import json
import uuid
from pathlib import Path
from typing import Any, Callable, ClassVar, Iterator, Sequence

import pyarrow as pa
from sqlglot import exp

from featsql.definitions import Relation
from featsql.offline.base import Warehouse
from featsql.sql import ident, table

# Result column type OID -> Arrow type (PostgreSQL's catalog OIDs; Redshift uses the same ones).
_OID_ARROW: dict[int, pa.DataType] = {
    16: pa.bool_(), 17: pa.binary(), 18: pa.string(), 19: pa.string(), 20: pa.int64(),
    21: pa.int16(), 23: pa.int32(), 25: pa.string(), 26: pa.int64(), 700: pa.float32(),
    701: pa.float64(), 1042: pa.string(), 1043: pa.string(), 1082: pa.date32(),
    1083: pa.time64("us"), 1114: pa.timestamp("us"), 1184: pa.timestamp("us", tz="UTC"),
    1186: pa.month_day_nano_interval(), 2950: pa.string(), 114: pa.string(), 3802: pa.string(),
}
_NUMERIC, _JSON, _UUID, _INTERVAL = 1700, (114, 3802), 2950, 1186

Convert = Callable[[Sequence[Any]], pa.Array]


def _column_converter(type_code: int, precision: int | None,
                      scale: int | None) -> tuple[pa.DataType, Convert]:
    """How one result column becomes an Arrow array, decided once from its type (not its values)."""
    if type_code == _NUMERIC:
        if precision is not None and scale is not None:  # numeric(p, s): exact
            decimal = pa.decimal128 if precision <= 38 else pa.decimal256
            dtype: pa.DataType = decimal(precision, scale)
            return dtype, lambda v, t=dtype: pa.array(v, type=t)
        # Unconstrained numeric has no fixed scale; like DuckDB's postgres scanner, read it as double.
        return pa.float64(), lambda v: pa.array([None if x is None else float(x) for x in v], pa.float64())
    if type_code in _JSON:
        return pa.string(), lambda v: pa.array([None if x is None else json.dumps(x) for x in v], pa.string())
    if type_code == _UUID:
        return pa.string(), lambda v: pa.array([None if x is None else str(x) for x in v], pa.string())
    if type_code == _INTERVAL:
        return pa.duration("us"), lambda v: pa.array(v, pa.duration("us"))
    dtype = _OID_ARROW.get(type_code)
    if dtype is not None:
        return dtype, lambda v, t=dtype: pa.array(v, type=t)
    # Anything else (arrays, enums, ranges, user types): let Arrow infer, else its text form.
    def infer(v: Sequence[Any]) -> pa.Array:
        try:
            return pa.array(v)
        except (pa.ArrowInvalid, pa.ArrowTypeError):
            return pa.array([None if x is None else str(x) for x in v], pa.string())
    return pa.string(), infer


def _csv_ready(data: pa.Table) -> pa.Table:
    """Columns Arrow's CSV writer cannot print PostgreSQL-readably, as text PostgreSQL parses."""
    out = data
    for i, field in enumerate(data.schema):
        t = field.type
        if pa.types.is_dictionary(t):
            out = out.set_column(i, field.name, out.column(i).cast(t.value_type))
        elif pa.types.is_binary(t) or pa.types.is_large_binary(t) or pa.types.is_fixed_size_binary(t):
            values = ["\\x" + b.hex() if b is not None else None for b in out.column(i).to_pylist()]
            out = out.set_column(i, field.name, pa.array(values, pa.string()))
        elif pa.types.is_nested(t):
            values = [json.dumps(v, default=str) if v is not None else None
                      for v in out.column(i).to_pylist()]
            out = out.set_column(i, field.name, pa.array(values, pa.string()))
        elif pa.types.is_duration(t):
            values = [f"{v.total_seconds()} seconds" if v is not None else None
                      for v in out.column(i).to_pylist()]
            out = out.set_column(i, field.name, pa.array(values, pa.string()))
    return out


class PostgresWarehouse(Warehouse):
    adapter_type = "postgres"
    dialect = "postgres"
    utc_session = "SET TIME ZONE 'UTC'"
    distinct_on = True
    materialized_cte = True
    default_port: ClassVar[int] = 5432
    # Binary result transfer: faster and exact; Redshift's leader node does not offer it.
    binary_results: ClassVar[bool] = True
    # libpq connection keywords taken from dbt credentials when set.
    _LIBPQ_KEYS: ClassVar[tuple[str, ...]] = ("sslmode", "sslcert", "sslkey", "sslrootcert",
                                              "connect_timeout", "keepalives_idle", "application_name")

    def __init__(self, credentials: Any = None, project_dir: Path | None = None):
        super().__init__(credentials, project_dir)
        self._con = None

    # -- connection ----------------------------------------------------------------------------
    def connect_kwargs(self) -> dict[str, Any]:
        c = self.credentials
        kwargs: dict[str, Any] = {
            "host": getattr(c, "host", None) or "localhost",
            "port": int(getattr(c, "port", None) or self.default_port),
            "user": getattr(c, "user", None),
            "password": getattr(c, "password", None) or None,
            "dbname": getattr(c, "database", None) or getattr(c, "dbname", None),
        }
        for key in self._LIBPQ_KEYS:
            value = getattr(c, key, None)
            # dbt defaults keepalives_idle (and others) to 0 meaning "unset"; libpq rejects 0.
            if value not in (None, "", 0):
                kwargs[key] = value
        return {k: v for k, v in kwargs.items() if v is not None}

    @property
    def con(self):
        if self._con is None:
            import psycopg

            from featsql.errors import FeatsqlError

            kwargs = self.connect_kwargs()
            try:
                con = psycopg.connect(autocommit=True, **kwargs)
            except psycopg.OperationalError as e:
                where = f"{kwargs.get('host')}:{kwargs.get('port')}/{kwargs.get('dbname', '')}"
                detail = " ".join(str(e).split())
                raise FeatsqlError(f"{self.adapter_type} at {where}: cannot connect: {detail}") from None
            con.execute(self.utc_session)  # naive timestamps are UTC (DESIGN.md 6)
            role = getattr(self.credentials, "role", None)
            if role:
                con.execute(self.sql(_set_role(role)))
            self._con = con
        return self._con

    # -- catalog -------------------------------------------------------------------------------
    def columns(self, relation: Relation) -> dict[str, str] | None:
        with self.con.cursor() as cur:
            return self.catalog_columns(cur.execute(self.sql(self.columns_query(relation))).fetchall())

    # -- queries -------------------------------------------------------------------------------
    def execute(self, sql: str) -> None:
        with self.con.cursor() as cur:
            cur.execute(sql)

    @staticmethod
    def _converters(description: Sequence[Any]) -> tuple[pa.Schema, list[Convert]]:
        fields, converters = [], []
        for d in description:
            dtype, convert = _column_converter(d.type_code, d.precision, d.scale)
            fields.append(pa.field(d.name, dtype))
            converters.append(convert)
        return pa.schema(fields), converters

    @staticmethod
    def _batch(schema: pa.Schema, converters: list[Convert], rows: list[tuple]) -> pa.RecordBatch:
        columns = list(zip(*rows)) if rows else [()] * len(converters)
        arrays = [convert(values) for convert, values in zip(converters, columns)]
        fields = [f.with_type(a.type) for f, a in zip(schema, arrays)]
        return pa.RecordBatch.from_arrays(arrays, schema=pa.schema(fields))

    def _fetch(self, cur, batch_rows: int) -> Iterator[pa.RecordBatch]:
        if cur.description is None:
            return
        schema, converters = self._converters(cur.description)
        emitted = False
        while rows := cur.fetchmany(batch_rows):
            emitted = True
            yield self._batch(schema, converters, rows)
        if not emitted:
            yield self._batch(schema, converters, [])

    def query_arrow(self, sql: str) -> pa.Table:
        with self.con.cursor(binary=self.binary_results) as cur:
            cur.execute(sql)
            batches = list(self._fetch(cur, 100_000))
        if not batches:
            return pa.table({})
        return pa.Table.from_batches(batches)

    def stream(self, sql: str, batch_rows: int = 100_000) -> Iterator[pa.RecordBatch]:
        """A server-side cursor inside a transaction: at most `batch_rows` rows held at a time."""
        name = f"featsql_{uuid.uuid4().hex[:12]}"
        with self.con.transaction():
            with self.con.cursor(name=name, binary=self.binary_results) as cur:
                cur.itersize = batch_rows
                cur.execute(sql)
                yield from self._fetch(cur, batch_rows)

    # -- uploads -------------------------------------------------------------------------------
    def upload(self, name: str, data: pa.Table) -> exp.Table:
        """A TEMPORARY table typed from the Arrow schema, filled by COPY ... FROM STDIN (CSV)."""
        target = table(name)
        self.execute(self.sql(self.create_table(target, data.schema, temporary=True)))
        self._load(target, data)
        # Autovacuum never visits temporary tables: without statistics the planner would guess
        # the entity set's size and may pick nested loops over hash joins.
        self.execute(self.sql(exp.Analyze(tables=[target.copy()])))
        return target

    def _load(self, target: exp.Table, data: pa.Table) -> None:
        import pyarrow.csv as pacsv

        columns = exp.Schema(this=target.copy(), expressions=[ident(n) for n in data.column_names])
        copy = exp.Copy(this=columns,
                        kind=True, files=[exp.var("STDIN")],
                        params=[exp.CopyParameter(this=exp.var("FORMAT"), expression=exp.var("CSV"))])
        buffer = io.BytesIO()
        # Arrow writes NULL as an empty field and quotes every string, so '' stays an empty string.
        pacsv.write_csv(_csv_ready(data), buffer, pacsv.WriteOptions(include_header=False))
        with self.con.cursor() as cur:
            with cur.copy(self.sql(copy)) as pipe:
                view = buffer.getbuffer()
                for start in range(0, len(view), 1 << 20):
                    pipe.write(view[start:start + (1 << 20)])


def _set_role(role: str) -> exp.Expression:
    return exp.Set(expressions=[exp.SetItem(this=exp.EQ(this=exp.var("ROLE"),
                                                        expression=exp.Literal.string(role)))])

