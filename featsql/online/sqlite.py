"""SQLite: the embedded default online store. One wide table per view, one row per entity.

Writes are `executemany` upserts whose DO UPDATE has a WHERE implementing the newer-than rule;
reads are one prepared SELECT per view with every key of the call in an IN list.
"""
from __future__ import annotations

import itertools
import sqlite3
import threading
from functools import lru_cache
from typing import Any

from sqlglot import exp
from sqlglot.dialects.sqlite import SQLite

from featsql.definitions import FeatureView
from featsql.online.base import Lookup, OnlineStore, Record
from featsql.online.codec import Rows
from featsql.sql import col, drop_table, ident, table

# Reserved columns beside the join keys and features: event and created time, epoch microseconds,
# and 1 on a value written by push instead of materialization (added to older tables in place).
EVENT_TS, CREATED_TS, PUSHED = "_featsql_event_ts", "_featsql_created_ts", "_featsql_pushed"
# An entity-less view's table has one row, keyed by this column (always GLOBAL_ROW).
GLOBAL_COLUMN, GLOBAL_ROW = "_featsql_global", 0
# Storage form (featsql.online.codec) -> SQLite column type.
_AFFINITY = {"int": "INTEGER", "bool": "INTEGER", "float": "REAL", "string": "TEXT",
             "timestamp": "INTEGER", "timestamp_tz": "INTEGER", "date": "INTEGER", "bytes": "BLOB",
             "other": "TEXT"}


class SqliteOnlineStore(OnlineStore):
    # SQLite has one writer at a time: more batches in flight would only queue on its lock.
    max_in_flight = 1
    batch_rows = 50_000
    # One connection shared by the process: concurrent readers take turns.
    thread_safe_reads = False

    def __init__(self, config: Any):
        super().__init__(config)
        self.path = config.path(self.store_config.path)
        self._con: sqlite3.Connection | None = None
        self._lock = threading.Lock()

    @property
    def location(self) -> str:
        return f"sqlite {self.path}"

    @property
    def identity(self) -> str:
        return f"sqlite:{self.path.resolve()}#{self.project}"

    @property
    def _markers(self) -> str:
        return f"{self.project}___featsql_markers"

    def _ensure_markers(self) -> None:
        self.con.execute(f'CREATE TABLE IF NOT EXISTS "{self._markers}" (view TEXT PRIMARY KEY)')

    def has_marker(self, view: FeatureView) -> bool:
        with self._lock:
            if self._markers not in self._tables():
                return False
            return self.con.execute(f'SELECT 1 FROM "{self._markers}" WHERE view = ?',
                                    (view.name,)).fetchone() is not None

    def set_marker(self, view: FeatureView) -> None:
        with self._lock:
            self._ensure_markers()
            self.con.execute(f'INSERT OR IGNORE INTO "{self._markers}" (view) VALUES (?)', (view.name,))

    def _forget_marker(self, view: FeatureView) -> None:
        self._ensure_markers()
        self.con.execute(f'DELETE FROM "{self._markers}" WHERE view = ?', (view.name,))

    @property
    def con(self) -> sqlite3.Connection:
        if self._con is None:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            con = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False,
                                  cached_statements=512)
            con.execute("PRAGMA journal_mode=WAL")
            con.execute("PRAGMA synchronous=NORMAL")
            self._con = con
        return self._con

    def table_name(self, view: FeatureView) -> str:
        return f"{self.project}__{view.name}"

    def _table(self, view: FeatureView) -> exp.Table:
        return table(self.table_name(view))

    # -- apply / teardown ------------------------------------------------------------------------
    def create(self, views: list[FeatureView]) -> list[str]:
        """Create each view's table; one whose columns no longer match the view is rebuilt
        (apply also resets that view's watermark, so the next incremental run refills it):
        a kept row would serve a new feature as NULL, or a re-added one with old values."""
        created = []
        existing = self._tables()
        for view in views:
            name = self.table_name(view)
            if name in existing:
                stored = self._stored_layout(view)
                if PUSHED not in stored:  # a table from before pushes: one column more, in place
                    self.con.execute(f"ALTER TABLE {self._table(view).sql('sqlite')} ADD COLUMN"
                                     f" {ident(PUSHED).sql('sqlite')} INTEGER")
                    stored[PUSHED] = "INTEGER"
                if self._layout(view) == stored:
                    continue
            if name in existing:
                self.con.execute(drop_table(self._table(view)).sql("sqlite"))
            self.con.execute(self._create_sql(view))
            self._forget_marker(view)  # a new, empty table: whatever a watermark says, refill it
            created.append(name)
        _select_sql.cache_clear()
        return created

    def _layout(self, view: FeatureView) -> dict[str, str]:
        return {c.name: c.args["kind"].sql(dialect="sqlite").upper() for c in self._columns(view)}

    def _stored_layout(self, view: FeatureView) -> dict[str, str]:
        info = self.con.execute(f"PRAGMA table_info({self._table(view).sql('sqlite')})")
        return {r[1]: str(r[2]).upper() for r in info}

    def _tables(self) -> set[str]:
        return {r[0] for r in self.con.execute("SELECT name FROM sqlite_master WHERE type='table'")}

    def _columns(self, view: FeatureView) -> list[exp.ColumnDef]:
        key_types = list(view.join_key_types) or ["other"] * len(view.join_keys)
        if not view.join_keys:
            key_types = ["int"]
        cols = [exp.ColumnDef(this=ident(k), kind=exp.DataType.build(_AFFINITY.get(t, "TEXT")),
                              constraints=[exp.ColumnConstraint(kind=exp.NotNullColumnConstraint())])
                for k, t in zip(_key_columns(view), key_types)]
        cols += [exp.ColumnDef(this=ident(c), kind=exp.DataType.build("BIGINT"))
                 for c in (EVENT_TS, CREATED_TS)]
        cols.append(exp.ColumnDef(this=ident(PUSHED), kind=exp.DataType.build("INTEGER")))
        cols += [exp.ColumnDef(this=ident(f.name),
                               kind=exp.DataType.build(_AFFINITY[f.kind], dialect="sqlite"))
                 for f in view.features]
        return cols

    def _create_sql(self, view: FeatureView) -> str:
        pk = exp.PrimaryKey(expressions=[ident(k) for k in _key_columns(view)])
        schema = exp.Schema(this=self._table(view), expressions=[*self._columns(view), pk])
        # WITHOUT ROWID: the primary key is the table's b-tree, so a lookup is one seek.
        return exp.Create(this=schema, kind="TABLE", exists=True).sql(dialect="sqlite") + " WITHOUT ROWID"

    def drop(self, views: list[FeatureView]) -> list[str]:
        existing = self._tables()
        dropped = []
        for view in views:
            if self.table_name(view) in existing:
                self.con.execute(drop_table(self._table(view)).sql("sqlite"))
                dropped.append(self.table_name(view))
            if self._markers in existing:
                self._forget_marker(view)
        _select_sql.cache_clear()
        return dropped

    # -- writes ----------------------------------------------------------------------------------
    def write(self, view: FeatureView, rows: Rows) -> int:
        sql = _upsert_sql(self._table(view), _key_columns(view),
                          tuple(f.name for f in view.features))
        n_keys = len(view.join_keys)
        pushed = itertools.repeat(1 if rows.pushed else None)
        if n_keys <= 1:
            keys = (k[0] for k in rows.keys) if n_keys else itertools.repeat(GLOBAL_ROW)
            params = zip(keys, rows.event_ts, rows.created_ts, pushed, *rows.columns)
        else:
            params = ((*k, e, c, p, *vals) for k, e, c, p, *vals in
                      zip(rows.keys, rows.event_ts, rows.created_ts, pushed, *rows.columns))
        with self._lock:
            con = self.con
            con.execute("BEGIN")
            try:
                con.executemany(sql, params)
                con.execute("COMMIT")
            except BaseException as e:
                con.execute("ROLLBACK")
                self._missing_table(e)
                raise
        return len(rows)

    def ping(self) -> None:
        with self._lock:
            self.con.execute("SELECT 1").fetchone()

    def _missing_table(self, e: BaseException) -> None:
        if isinstance(e, sqlite3.OperationalError) and "no such table" in str(e):
            from featsql.errors import FeatsqlError

            raise FeatsqlError(f"{self.location}: {e}; run `featsql apply` first") from None

    # -- reads -----------------------------------------------------------------------------------
    def read(self, lookups: list[Lookup]) -> list[list[Record | None]]:
        out: list[list[Record | None]] = []
        con = self.con
        for view, keys in lookups:
            n_keys = len(view.join_keys)
            if not n_keys:  # an entity-less view: its one row, for every entity row
                keys = [(GLOBAL_ROW,)] * len(keys)
                n_keys = 1
            unique = list(dict.fromkeys(keys))
            sql = _select_sql(self.table_name(view), _key_columns(view),
                              tuple(f.name for f in view.features), len(unique))
            params = [v for k in unique for v in k] if n_keys > 1 else [k[0] for k in unique]
            try:
                fetched = con.execute(sql, params).fetchall()
            except sqlite3.OperationalError as e:
                self._missing_table(e)
                if "no such column" in str(e):
                    from featsql.errors import FeatsqlError

                    raise FeatsqlError(f"{self.location}: {e}: feature view '{view.name}' changed"
                                       " since these features were resolved; retry") from None
                raise
            found = {tuple(r[:n_keys]): (r[n_keys], list(r[n_keys + 1:])) for r in fetched}
            out.append([found.get(k) for k in keys])
        return out

    def close(self) -> None:
        if self._con is not None:
            self._con.close()
            self._con = None


def _key_columns(view: FeatureView) -> tuple[str, ...]:
    """The table's key: the join keys, or for an entity-less view a constant column."""
    return tuple(view.join_keys) or (GLOBAL_COLUMN,)


@lru_cache(maxsize=256)
def _upsert_sql(target: exp.Table, keys: tuple[str, ...], features: tuple[str, ...]) -> str:
    """INSERT .. ON CONFLICT DO UPDATE .. WHERE the new (event, created) is newer."""
    names = [*keys, EVENT_TS, CREATED_TS, PUSHED, *features]
    insert = exp.Insert(this=exp.Schema(this=target.copy(), expressions=[ident(n) for n in names]),
                        expression=exp.Values(expressions=[exp.Tuple(expressions=[exp.Placeholder()] * len(names))]))
    stored_e, stored_c = col(EVENT_TS, target.name), col(CREATED_TS, target.name)
    new_e, new_c = col(EVENT_TS, "excluded"), col(CREATED_TS, "excluded")
    newer = exp.or_(exp.GT(this=new_e, expression=stored_e),
                    exp.and_(exp.EQ(this=new_e.copy(), expression=stored_e.copy()),
                             exp.GT(this=new_c, expression=stored_c)))
    sets = [exp.EQ(this=col(n), expression=col(n, "excluded")) for n in names[len(keys):]]
    conflict = exp.OnConflict(conflict_keys=[ident(k) for k in keys], action=exp.var("DO UPDATE"),
                              expressions=sets, where=exp.Where(this=newer))
    insert.set("conflict", conflict)
    return insert.sql(dialect="sqlite")


class _Backticks(SQLite):
    """SQLite with `identifiers` in backticks: SQLite reads a double-quoted name that is not a
    column as a string literal, so a feature dropped by an apply while a server still plans it
    would come back as its own name; in backticks it is an error ("no such column")."""

    class Tokenizer(SQLite.Tokenizer):
        IDENTIFIERS = ["`", '"', ("[", "]")]


@lru_cache(maxsize=1024)
def _select_sql(name: str, keys: tuple[str, ...], features: tuple[str, ...], n: int) -> str:
    """SELECT keys, event ts, features FROM t WHERE key IN (?, ...) — cached per shape."""
    src = table(name)
    cols = [col(k) for k in keys] + [col(EVENT_TS)] + [col(f) for f in features]
    if len(keys) == 1:
        cond: exp.Expression = (exp.EQ(this=col(keys[0]), expression=exp.Placeholder()) if n == 1
                                else exp.In(this=col(keys[0]), expressions=[exp.Placeholder()] * n))
    else:
        rows = exp.Values(expressions=[exp.Tuple(expressions=[exp.Placeholder()] * len(keys))
                                       for _ in range(n)])
        cond = exp.In(this=exp.Tuple(expressions=[col(k) for k in keys]),
                      query=exp.Subquery(this=rows))
    return exp.select(*cols).from_(src).where(cond).sql(dialect=_Backticks)
