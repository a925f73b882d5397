"""A small dbt-free feature repo for store tests: a DuckDB warehouse filled from Python, views
registered straight into the registry, and one online store of each kind (sqlite, redis,
dynamodb via moto's server)."""
from __future__ import annotations

import os
import socket
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pyarrow as pa
import yaml

from featsql.definitions import FeatureView
from featsql.plan import make_plan
from featsql.store import FeatureStore

PROJECT = "online_test"
REDIS_URL = os.environ.get("FEATSQL_TEST_REDIS", "redis://127.0.0.1:6379/13")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def store_section(kind: str, tmp: Path, dynamo_url: str | None = None) -> dict[str, Any]:
    if kind == "sqlite":
        return {"type": "sqlite", "path": str(tmp / "online.db")}
    if kind == "redis":
        return {"type": "redis", "connection_string": REDIS_URL}
    return {"type": "dynamodb", "region": "us-east-1", "endpoint_url": dynamo_url}


def make_repo(tmp: Path, online: dict[str, Any], project: str = PROJECT) -> Path:
    """featsql.yml + a dbt project/profile naming a DuckDB file; no models (views are registered
    directly by `register`)."""
    tmp.mkdir(parents=True, exist_ok=True)
    (tmp / "dbt_project.yml").write_text(yaml.safe_dump(
        {"name": "online_test", "version": "1.0.0", "config-version": 2, "profile": "online_test"}))
    (tmp / "profiles.yml").write_text(yaml.safe_dump({"online_test": {"target": "dev", "outputs": {
        "dev": {"type": "duckdb", "path": str(tmp / "warehouse.duckdb"), "threads": 1}}}}))
    (tmp / "featsql.yml").write_text(yaml.safe_dump({
        "project": project, "dbt": {"project_dir": ".", "profiles_dir": "."},
        "registry": str(tmp / "registry.json"), "online_store": online}))
    return tmp


def load_table(store: FeatureStore, name: str, data: pa.Table, ddl: str | None = None) -> None:
    """Create (or replace) a warehouse table from Arrow data, with an optional explicit DDL."""
    with store.warehouse() as wh:
        con = wh.con
        con.register("_incoming", data)
        if ddl:
            con.execute(f'DROP TABLE IF EXISTS "{name}"')
            con.execute(ddl)
            con.execute(f'INSERT INTO "{name}" SELECT * FROM _incoming')
        else:
            con.execute(f'CREATE OR REPLACE TABLE "{name}" AS SELECT * FROM _incoming')
        con.unregister("_incoming")


@dataclass
class ViewSpec:
    name: str
    table: str
    keys: list[str]
    ts: str = "event_timestamp"
    created: str | None = "created"
    ttl_seconds: int | None = None
    latest_table: str | None = None
    meta: dict[str, Any] = field(default_factory=dict)  # more featsql meta (timestamp_offset ...)


def register(store: FeatureStore, specs: list[ViewSpec],
             services: dict[str, dict[str, Any]] | None = None) -> dict[str, FeatureView]:
    """Register views over existing warehouse tables (apply's own validation and typing, minus
    dbt) and create their online tables."""
    from featsql.declarations import build_definitions
    from featsql.manifest import Declared

    declared = []
    for s in specs:
        meta: dict[str, Any] = {"entities": list(s.keys), "timestamp_field": s.ts}
        if s.created:
            meta["created_timestamp_field"] = s.created
        if s.ttl_seconds:
            meta["ttl"] = f"{s.ttl_seconds}s"
        if s.latest_table:
            meta["latest_table"] = s.latest_table
        meta.update(s.meta)
        declared.append(Declared(name=s.name, unique_id=f"model.{PROJECT}.{s.name}",
                                 yaml_file="models/schema.yml", meta=meta,
                                 relation=(None, "main", s.table)))
    exposures = [Declared(name=n, unique_id=f"exposure.{PROJECT}.{n}", yaml_file="models/schema.yml",
                          meta=m) for n, m in (services or {}).items()]
    with store.warehouse() as wh:
        built = build_definitions(declared, exposures, wh.columns, wh.parse_type)
    views = built.feature_views
    registry = store.registry
    current = registry.load()
    defs = current.definitions()
    wanted = defs.model_copy(update={
        "feature_services": {**defs.feature_services, **built.feature_services},
        "feature_views": {**defs.feature_views, **views},
        "entities": {**defs.entities, **{e.name: e for v in views.values() for e in v.entities}}})
    registry.commit(make_plan(current, wanted).new_state)
    store.refresh()
    store.online_store.create(list(views.values()))
    return views


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=timezone.utc)


def now_utc() -> datetime:
    return datetime.now(timezone.utc).replace(microsecond=0)


HOUR = timedelta(hours=1)
