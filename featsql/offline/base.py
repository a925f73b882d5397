"""The warehouse interface: what featsql needs from an offline store, and nothing more.

A subclass sets its dbt adapter type and sqlglot dialect and implements a connection; the SQL
it runs comes from featsql.compile, which reads the dialect's capability table.
"""
from __future__ import annotations

from pathlib import Path
from typing import Any, ClassVar, Iterator

import pyarrow as pa
from sqlglot import exp

from featsql.definitions import Relation
from featsql.sql import drop_table

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


class Warehouse:
    adapter_type: ClassVar[str]
    dialect: ClassVar[str]

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

    def close(self) -> None:
        pass

    def __enter__(self) -> Warehouse:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()
