"""A registry in a SQL database through SQLAlchemy: `registry: postgresql://...`,
`mysql+pymysql://...` (MySQL, MariaDB) or `sqlite:///path` (`pip install 'featsql[sql-registry]'`).

One row per project (its commit counter), one per object (kind, name, version, spec as JSON),
one per watermark; the tables are created on first use and carry a schema version
(`featsql_registry_schema`), so a later featsql can migrate them. Every operation is one
transaction; concurrency is optimistic and needs no database-specific locking:

- commit: `UPDATE featsql_registry_projects SET version = v + 1 WHERE project = p AND version = v`
  (or the INSERT of the project's first row) decides the race: the loser sees 0 rows (or a key
  violation), rolls back and gets RegistryConflict; then the objects are replaced and the
  watermarks the plan dropped deleted, in the same transaction;
- set_watermark: an UPDATE guarded by `end_at < :end` (ISO 8601 text in UTC, which sorts as time)
  and by the view's version, or the INSERT of its first row.
"""
from __future__ import annotations

import json
from contextlib import contextmanager
from datetime import datetime, timezone
from typing import Iterator

from featsql.errors import FeatsqlError
from featsql.registry.base import FORMAT, Registered, Registry, RegistryConflict, RegistryState

SCHEMA_VERSION = 1
_TS = "%Y-%m-%dT%H:%M:%S.%f+00:00"


def _iso(ts: datetime) -> str:
    if ts.tzinfo is None:
        ts = ts.replace(tzinfo=timezone.utc)
    return ts.astimezone(timezone.utc).strftime(_TS)


def _run_key(run: str) -> str:
    import hashlib

    return hashlib.sha256(run.encode()).hexdigest()


def engine_url(url: str) -> str:
    """PostgreSQL through psycopg 3 (featsql's PostgreSQL driver) unless a driver is named."""
    if url.startswith("postgresql://") or url.startswith("postgres://"):
        return "postgresql+psycopg://" + url.split("://", 1)[1]
    return url


class SqlRegistry(Registry):
    def __init__(self, url: str, project: str):
        try:
            import sqlalchemy as sa
        except ModuleNotFoundError:
            raise FeatsqlError("a SQL registry needs SQLAlchemy: pip install 'featsql[sql-registry]'") from None
        self.url = url
        self.project = project
        self._sa = sa
        try:
            self.engine = sa.create_engine(engine_url(url), pool_pre_ping=True)
        except (ModuleNotFoundError, sa.exc.NoSuchModuleError, sa.exc.ArgumentError) as e:
            raise FeatsqlError(f"registry: '{self._safe_url()}': {e}; for MySQL/MariaDB use"
                               " mysql+pymysql://, pip install 'featsql[sql-registry]'") from None
        meta = sa.MetaData()
        from sqlalchemy.dialects import mysql

        text = sa.Text().with_variant(mysql.LONGTEXT(), "mysql", "mariadb")
        name = sa.String(255)
        self.schema = sa.Table("featsql_registry_schema", meta, sa.Column("version", sa.Integer, nullable=False))
        self.projects = sa.Table(
            "featsql_registry_projects", meta,
            sa.Column("project", name, primary_key=True), sa.Column("version", sa.Integer, nullable=False),
            sa.Column("format", sa.Integer, nullable=False), sa.Column("updated_at", sa.String(40)))
        self.objects = sa.Table(
            "featsql_registry_objects", meta,
            sa.Column("project", name, primary_key=True), sa.Column("kind", sa.String(32), primary_key=True),
            sa.Column("name", name, primary_key=True), sa.Column("version", sa.Integer, nullable=False),
            sa.Column("spec", text, nullable=False))
        self.watermarks = sa.Table(
            "featsql_registry_watermarks", meta,
            sa.Column("project", name, primary_key=True), sa.Column("view", name, primary_key=True),
            sa.Column("end_at", sa.String(40), nullable=False))
        self.shards = sa.Table(
            "featsql_registry_shards", meta,
            sa.Column("project", name, primary_key=True), sa.Column("run", sa.String(64), primary_key=True),
            sa.Column("shard", sa.Integer, primary_key=True))
        self._meta = meta
        self._ready = False

    @property
    def location(self) -> str:
        return self._safe_url()

    def _safe_url(self) -> str:
        try:
            return self._sa.engine.make_url(self.url).render_as_string(hide_password=True)
        except Exception:  # noqa: BLE001 - only for messages
            return self.url.split("@")[-1]

    @contextmanager
    def _errors(self) -> Iterator[None]:
        """A database that cannot be reached or refuses a statement: one line naming it."""
        try:
            yield
        except self._sa.exc.OperationalError as e:
            raise FeatsqlError(f"registry {self.location}: {' '.join(str(e.orig).split())[:300]}") from None

    def _setup(self) -> None:
        """Create the tables on first use; refuse a schema a newer featsql wrote."""
        if self._ready:
            return
        sa = self._sa
        with self._errors():
            self._meta.create_all(self.engine, checkfirst=True)
            with self.engine.begin() as con:
                found = con.execute(sa.select(self.schema.c.version)).scalar()
                if found is None:
                    con.execute(self.schema.insert().values(version=SCHEMA_VERSION))
                elif found > SCHEMA_VERSION:
                    raise FeatsqlError(f"registry {self.location}: schema version {found} was written"
                                       f" by a newer featsql (this one knows {SCHEMA_VERSION}); upgrade featsql")
        self._ready = True

    def load(self) -> RegistryState:
        self._setup()
        sa = self._sa
        state = RegistryState(project=self.project, location=self.location)
        with self._errors(), self.engine.connect() as con:
            row = con.execute(sa.select(self.projects).where(self.projects.c.project == self.project)).first()
            if row is None:
                return state
            state.version, state.format = row.version, row.format
            state.updated_at = datetime.fromisoformat(row.updated_at) if row.updated_at else None
            for r in con.execute(sa.select(self.objects).where(self.objects.c.project == self.project)):
                if r.kind in state.objects:
                    state.objects[r.kind][r.name] = Registered(version=r.version, spec=json.loads(r.spec))
            for r in con.execute(sa.select(self.watermarks).where(self.watermarks.c.project == self.project)):
                state.watermarks[r.view] = datetime.fromisoformat(r.end_at)
        return state

    def commit(self, state: RegistryState) -> None:
        self._setup()
        sa = self._sa
        p, now = self.project, datetime.now(timezone.utc)
        conflict = RegistryConflict(f"registry {self.location}: another apply committed since this"
                                    f" one read the registry (at version {state.version})")
        with self._errors():
            try:
                with self.engine.begin() as con:
                    if state.version == 0:
                        con.execute(self.projects.insert().values(project=p, version=1, format=FORMAT,
                                                                  updated_at=now.isoformat()))
                    else:
                        done = con.execute(self.projects.update().where(
                            (self.projects.c.project == p) & (self.projects.c.version == state.version)
                        ).values(version=state.version + 1, format=FORMAT, updated_at=now.isoformat()))
                        if done.rowcount != 1:
                            raise conflict
                    con.execute(self.objects.delete().where(self.objects.c.project == p))
                    rows = [{"project": p, "kind": kind, "name": n, "version": r.version,
                             "spec": json.dumps(r.spec, sort_keys=True, default=str)}
                            for kind, objs in state.objects.items() for n, r in sorted(objs.items())]
                    if rows:
                        con.execute(self.objects.insert(), rows)
                    if state.dropped_watermarks:
                        con.execute(self.watermarks.delete().where(
                            (self.watermarks.c.project == p)
                            & self.watermarks.c.view.in_(sorted(state.dropped_watermarks))))
            except sa.exc.IntegrityError:
                raise conflict from None
        state.version, state.updated_at, state.format = state.version + 1, now, FORMAT

    def set_watermark(self, view: str, end: datetime, view_version: int | None = None) -> bool:
        self._setup()
        sa = self._sa
        p, when = self.project, _iso(end)
        w = self.watermarks.c
        with self._errors():
            for _ in range(3):
                try:
                    with self.engine.begin() as con:
                        if view_version is not None:
                            current = con.execute(sa.select(self.objects.c.version).where(
                                (self.objects.c.project == p) & (self.objects.c.kind == "feature_views")
                                & (self.objects.c.name == view.split("@", 1)[0]))).scalar()
                            if current != view_version:
                                return False
                        where = (w.project == p) & (w.view == view)
                        if con.execute(sa.select(w.end_at).where(where)).first() is None:
                            con.execute(self.watermarks.insert().values(project=p, view=view, end_at=when))
                        else:  # forward only, decided by the database
                            con.execute(self.watermarks.update().where(where & (w.end_at < when))
                                        .values(end_at=when))
                    return True
                except sa.exc.IntegrityError:
                    continue  # another writer inserted the first row: update it instead
        return True

    def shard_done(self, run: str, shard: int, shards: int) -> int:
        self._setup()
        sa = self._sa
        key = _run_key(run)
        with self._errors(), self.engine.begin() as con:
            try:
                with con.begin_nested():
                    con.execute(self.shards.insert().values(project=self.project, run=key, shard=shard))
            except sa.exc.IntegrityError:
                pass  # that shard finished before (a rerun)
            return con.execute(sa.select(sa.func.count()).select_from(self.shards).where(
                (self.shards.c.project == self.project) & (self.shards.c.run == key))).scalar()

    def forget_run(self, run: str) -> None:
        self._setup()
        with self._errors(), self.engine.begin() as con:
            con.execute(self.shards.delete().where((self.shards.c.project == self.project)
                                                   & (self.shards.c.run == _run_key(run))))

    def delete(self) -> bool:
        self._setup()
        with self._errors(), self.engine.begin() as con:
            found = con.execute(self.projects.delete().where(self.projects.c.project == self.project)).rowcount
            for t in (self.objects, self.watermarks, self.shards):
                con.execute(t.delete().where(t.c.project == self.project))
        return bool(found)
