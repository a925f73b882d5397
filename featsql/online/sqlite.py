"""SQLite: the embedded default online store. One wide table per view, one row per entity."""
from __future__ import annotations

import sqlite3
from typing import Any

from sqlglot import exp

from featsql.definitions import FeatureView
from featsql.online.base import OnlineStore
from featsql.sql import drop_table, ident, table

# Reserved columns beside the join keys and features: event and created time, epoch microseconds.
EVENT_TS, CREATED_TS = "_featsql_event_ts", "_featsql_created_ts"
_AFFINITY = {"int": "INTEGER", "bool": "INTEGER", "float": "REAL", "string": "TEXT",
             "timestamp": "INTEGER", "date": "TEXT", "decimal": "TEXT", "bytes": "BLOB", "other": "TEXT"}


class SqliteOnlineStore(OnlineStore):
    def __init__(self, config: Any):
        super().__init__(config)
        self.path = config.path(self.store_config.path)
        self._con: sqlite3.Connection | None = None

    @property
    def con(self) -> sqlite3.Connection:
        if self._con is None:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._con = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False)
            self._con.execute("PRAGMA journal_mode=WAL")
        return self._con

    def table_name(self, view: FeatureView) -> str:
        return f"{self.project}__{view.name}"

    def _table(self, view: FeatureView) -> exp.Table:
        return table(self.table_name(view))

    def create(self, views: list[FeatureView]) -> list[str]:
        created = []
        existing = {r[0] for r in self.con.execute("SELECT name FROM sqlite_master WHERE type='table'")}
        for view in views:
            name = self.table_name(view)
            if name in existing:
                continue  # a changed view keeps its rows; new feature columns are added below
            self.con.execute(self._create_sql(view))
            created.append(name)
        for view in views:
            self._add_missing_columns(view)
        return created

    def _create_sql(self, view: FeatureView) -> str:
        cols = [exp.ColumnDef(this=ident(k), kind=exp.DataType.build("TEXT"),
                              constraints=[exp.ColumnConstraint(kind=exp.NotNullColumnConstraint())])
                for k in view.join_keys]
        cols += [exp.ColumnDef(this=ident(c), kind=exp.DataType.build("BIGINT"))
                 for c in (EVENT_TS, CREATED_TS)]
        cols += [exp.ColumnDef(this=ident(f.name),
                               kind=exp.DataType.build(_AFFINITY[f.dtype], dialect="sqlite"))
                 for f in view.features]
        pk = exp.PrimaryKey(expressions=[ident(k) for k in view.join_keys])
        schema = exp.Schema(this=self._table(view), expressions=[*cols, pk])
        return exp.Create(this=schema, kind="TABLE", exists=True).sql(dialect="sqlite")

    def _add_missing_columns(self, view: FeatureView) -> None:
        have = {r[1] for r in self.con.execute(f"PRAGMA table_info({self._table(view).sql('sqlite')})")}
        for f in view.features:
            if f.name not in have:
                col = exp.ColumnDef(this=ident(f.name),
                                    kind=exp.DataType.build(_AFFINITY[f.dtype], dialect="sqlite"))
                alter = exp.Alter(this=self._table(view), kind="TABLE", actions=[col])
                self.con.execute(alter.sql(dialect="sqlite"))

    def drop(self, views: list[FeatureView]) -> list[str]:
        existing = {r[0] for r in self.con.execute("SELECT name FROM sqlite_master WHERE type='table'")}
        dropped = []
        for view in views:
            if self.table_name(view) in existing:
                self.con.execute(drop_table(self._table(view)).sql("sqlite"))
                dropped.append(self.table_name(view))
        return dropped

    def close(self) -> None:
        if self._con is not None:
            self._con.close()
            self._con = None
