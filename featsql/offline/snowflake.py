"""Snowflake through snowflake-connector-python: Arrow results, write_pandas uploads.

Credentials are dbt-snowflake's own (account, user, password or authenticator / private key /
token, database, schema, warehouse, role). Every session runs ALTER SESSION SET TIMEZONE = 'UTC'
so naive timestamps mean UTC (DESIGN.md section 6).

Names: Snowflake folds unquoted names to upper case, and dbt builds models with unquoted names,
so `driver_id` in a model is stored as DRIVER_ID. Every such name goes through featsql.sql's
one spelling path (stored_name / dbt_name): columns() reports DRIVER_ID as the dbt YAML spells it,
driver_id, and the compiler spells it back DRIVER_ID; an uploaded entity DataFrame keeps its
names exactly (write_pandas quote_identifiers=True), as featsql quotes them.
"""
from __future__ import annotations

from pathlib import Path
from typing import Any, ClassVar, Iterator

import pyarrow as pa
from sqlglot import exp

from featsql.definitions import Relation
from featsql.offline.base import Warehouse
from featsql.sql import ident, table

# cursor.description type codes (snowflake.connector.constants.FIELD_TYPES) -> Arrow, used only
# to give an empty result its schema.
_TYPE_CODES: dict[int, pa.DataType] = {
    0: pa.int64(), 1: pa.float64(), 2: pa.string(), 3: pa.date32(), 4: pa.timestamp("ns"),
    5: pa.string(), 6: pa.timestamp("ns", tz="UTC"), 7: pa.timestamp("ns", tz="UTC"),
    8: pa.timestamp("ns"), 9: pa.string(), 10: pa.string(), 11: pa.binary(), 12: pa.time64("ns"),
    13: pa.bool_(),
}


class SnowflakeWarehouse(Warehouse):
    adapter_type = "snowflake"
    dialect = "snowflake"
    utc_session = "ALTER SESSION SET TIMEZONE = 'UTC'"
    asof = True
    qualify = True
    naive_type = "TIMESTAMP_NTZ"
    aware_type = "TIMESTAMP_TZ"
    # dbt-snowflake credential field -> snowflake.connector.connect keyword.
    _CONNECT_KEYS: ClassVar[dict[str, str]] = {
        "account": "account", "user": "user", "password": "password",
        "authenticator": "authenticator", "token": "token", "database": "database",
        "schema": "schema", "warehouse": "warehouse", "role": "role", "host": "host",
        "port": "port", "protocol": "protocol", "private_key_path": "private_key_file",
        "private_key_passphrase": "private_key_file_pwd", "connect_timeout": "login_timeout",
        "insecure_mode": "insecure_mode", "client_session_keep_alive": "client_session_keep_alive",
    }

    def __init__(self, credentials: Any = None, project_dir: Path | None = None):
        super().__init__(credentials, project_dir)
        self._con = None

    def connect_kwargs(self) -> dict[str, Any]:
        kwargs: dict[str, Any] = {"application": "featsql"}
        for field, keyword in self._CONNECT_KEYS.items():
            value = getattr(self.credentials, field, None)
            if value not in (None, ""):
                kwargs[keyword] = value
        return kwargs

    @property
    def con(self):
        if self._con is None:
            import snowflake.connector

            con = snowflake.connector.connect(**self.connect_kwargs())
            with con.cursor() as cur:
                cur.execute(self.utc_session)  # naive timestamps are UTC (DESIGN.md 6)
            self._con = con
        return self._con

    def columns(self, relation: Relation) -> dict[str, str] | None:
        """information_schema of the relation's database, names spelled as stored (dbt's
        unquoted `driver_id` is DRIVER_ID); such names come back as dbt YAML writes them."""
        catalog = ident(relation.database, self.dialect) if relation.database else None
        with self.con.cursor() as cur:
            rows = cur.execute(self.sql(self.columns_query(relation, catalog))).fetchall()
        return self.catalog_columns(rows)

    # -- SQL forms -----------------------------------------------------------------------------
    def key_partition(self, keys: list[exp.Expression], n: int) -> exp.Expression:
        from featsql.offline.base import _non_negative_mod

        return _non_negative_mod(exp.Anonymous(this="HASH", expressions=keys), n)

    def epoch_us(self, value: exp.Expression) -> exp.Expression:
        return exp.Anonymous(this="DATE_PART", expressions=[exp.var("EPOCH_MICROSECOND"), value])

    def utc_naive(self, value: exp.Expression) -> exp.Expression:
        # TIMESTAMP_TZ -> NTZ keeps the wall clock of the stored offset; convert to UTC first.
        aware = exp.cast(value, exp.DataType.build("TIMESTAMP_TZ", dialect="snowflake"))
        utc = exp.Anonymous(this="CONVERT_TIMEZONE", expressions=[exp.Literal.string("UTC"), aware])
        return exp.cast(utc, exp.DataType.build("TIMESTAMP_NTZ", dialect="snowflake"))

    def asof_join(self, rows: exp.Expression, keys: list[exp.Expression],
                  match: exp.Expression) -> exp.Join:
        # ASOF JOIN r MATCH_CONDITION (inequality) ON keys; unmatched left rows are null-padded.
        return exp.Join(this=rows, method="ASOF", match_condition=match,
                        on=exp.and_(*keys) if keys else None)

    def execute(self, sql: str) -> None:
        with self.con.cursor() as cur:
            cur.execute(sql)

    @staticmethod
    def _empty(cur) -> pa.Table:
        fields = [pa.field(d.name, _TYPE_CODES.get(d.type_code, pa.string())) for d in cur.description]
        return pa.schema(fields).empty_table()

    def query_arrow(self, sql: str) -> pa.Table:
        with self.con.cursor() as cur:
            cur.execute(sql)
            result = cur.fetch_arrow_all(force_return_table=True)
            return result if result is not None else self._empty(cur)

    def stream(self, sql: str, batch_rows: int = 100_000) -> Iterator[pa.RecordBatch]:
        """Result chunks as the server sends them, re-cut to at most `batch_rows` rows."""
        with self.con.cursor() as cur:
            cur.execute(sql)
            for part in cur.fetch_arrow_batches():
                yield from part.to_batches(max_chunksize=batch_rows)

    def upload(self, name: str, data: pa.Table) -> exp.Table:
        """write_pandas into a TEMPORARY table it creates from the frame's types."""
        import pandas as pd
        from snowflake.connector.pandas_tools import write_pandas

        # Nullable pandas types, so an int column with NULLs stays an exact integer (plain
        # to_pandas makes it float64, and 2**53 + 1 would arrive as 2**53).
        nullable = {pa.int8(): pd.Int8Dtype(), pa.int16(): pd.Int16Dtype(), pa.int32(): pd.Int32Dtype(),
                    pa.int64(): pd.Int64Dtype(), pa.uint8(): pd.UInt8Dtype(), pa.uint16(): pd.UInt16Dtype(),
                    pa.uint32(): pd.UInt32Dtype(), pa.uint64(): pd.UInt64Dtype(), pa.bool_(): pd.BooleanDtype()}
        frame = data.to_pandas(types_mapper=nullable.get)
        write_pandas(self.con, frame, table_name=name, auto_create_table=True,
                     table_type="temporary", quote_identifiers=True, use_logical_type=True)
        return table(name)
