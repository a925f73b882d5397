"""DuckDB: the embedded default warehouse. Entity sets are registered Arrow tables (no copy)."""
from __future__ import annotations

from pathlib import Path
from typing import Any, Iterator

import pyarrow as pa
from sqlglot import exp

from featsql.definitions import Relation
from featsql.offline.base import Warehouse
from featsql.sql import table


class DuckDBWarehouse(Warehouse):
    adapter_type = "duckdb"
    dialect = "duckdb"
    utc_session = "SET TimeZone = 'UTC'"
    asof = True
    asof_struct = True
    latest_arg_max = True
    qualify = True
    distinct_on = True
    materialized_cte = True

    def __init__(self, credentials: Any = None, project_dir: Path | None = None):
        super().__init__(credentials, project_dir)
        self._con = None

    @property
    def path(self) -> str:
        path = getattr(self.credentials, "path", ":memory:") or ":memory:"
        if path == ":memory:" or path.startswith("md:") or Path(path).is_absolute():
            return path
        return str(self.project_dir / path)

    @property
    def con(self):
        if self._con is None:
            import duckdb

            # The profile's `settings` (memory_limit, threads, ...) apply here as in `dbt run`.
            settings = {k: str(v) for k, v in (getattr(self.credentials, "settings", None) or {}).items()}
            try:
                self._con = duckdb.connect(self.path, read_only=self.read_only, config=settings)
            except duckdb.IOException as e:
                if self.read_only and "lock" in str(e).lower():
                    from featsql.errors import FeatsqlError

                    raise FeatsqlError(f"DuckDB {self.path}: another process holds its write lock"
                                       " (a dbt run?); materialization workers and shards open it"
                                       " read-only, which needs no writer: retry when it is done") from None
                raise
            self._con.execute(self.utc_session)  # naive timestamps are UTC (DESIGN.md 6)
        return self._con

    def columns(self, relation: Relation) -> dict[str, str] | None:
        return self.catalog_columns(self.con.execute(self.sql(self.columns_query(relation))).fetchall())

    def query_arrow(self, sql: str) -> pa.Table:
        return self.con.sql(sql).to_arrow_table()

    def stream(self, sql: str, batch_rows: int = 100_000) -> Iterator[pa.RecordBatch]:
        yield from self.con.sql(sql).to_arrow_reader(batch_rows)

    def execute(self, sql: str) -> None:
        self.con.execute(sql)

    def upload(self, name: str, data: pa.Table) -> exp.Table:
        self.con.register(name, data)
        return table(name)

    def drop_upload(self, table: exp.Table) -> None:
        self.con.unregister(table.name)

    def key_partition(self, keys: list[exp.Expression], n: int) -> exp.Expression:
        # HASH(k1, k2, ...) is an unsigned 64-bit hash of the values themselves.
        return exp.Mod(this=exp.Anonymous(this="HASH", expressions=keys), expression=exp.Literal.number(n))

    def epoch_us(self, value: exp.Expression) -> exp.Expression:
        return exp.Anonymous(this="EPOCH_US", expressions=[value])

