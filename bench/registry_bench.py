#!/usr/bin/env python
"""Registry latency: `apply` of 200 feature views and `list` (a full load), file vs SQL registries.

    .venv/bin/python bench/registry_bench.py [--views 200] [--repeat 5] [--pg URL] [--mysql URL]

Each registry starts empty; one timed "first apply" registers 200 views (8 features each) with
one service; then --repeat timed re-applies that change every view's ttl (200 changed objects),
and --repeat timed loads (what `featsql list` and every command read first). PostgreSQL and
MariaDB databases are created and dropped here (defaults: the local servers, user postgres / root).
Results: a table on stderr, JSON on stdout.
"""
from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
import uuid
from pathlib import Path


def definitions(n: int, ttl: int):
    from featsql.definitions import (Definitions, Entity, Feature, FeatureService, FeatureView,
                                     Relation, ViewProjection)

    driver = Entity(name="driver", join_key="driver_id")
    views = {f"view_{i:03d}": FeatureView(
        name=f"view_{i:03d}", entities=(driver,), timestamp_field="event_timestamp", ttl_seconds=ttl,
        features=tuple(Feature(name=f"f{j}", dtype="float", warehouse_type="DOUBLE") for j in range(8)),
        relation=Relation(database="warehouse", schema_name="main", identifier=f"view_{i:03d}"),
        join_key_types=("int",)) for i in range(n)}
    service = FeatureService(name="svc", projections=tuple(ViewProjection(view=v, features=("f0",)) for v in views))
    return Definitions(entities={"driver": driver}, feature_views=views, feature_services={"svc": service})


def measure(registry, n: int, repeat: int) -> dict:
    from featsql.plan import make_plan

    def apply(ttl: int) -> float:
        t0 = time.perf_counter()
        registry.commit(make_plan(registry.load(), definitions(n, ttl)).new_state)
        return time.perf_counter() - t0

    first = apply(3600)
    reapply = [apply(7200 + i) for i in range(repeat)]
    loads = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        state = registry.load()
        state.definitions()
        loads.append(time.perf_counter() - t0)
    assert len(registry.load().objects["feature_views"]) == n
    return {"first_apply_s": first, "reapply_s": statistics.median(reapply), "list_s": statistics.median(loads)}


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--views", type=int, default=200)
    p.add_argument("--repeat", type=int, default=5)
    p.add_argument("--pg", default="postgresql://postgres@127.0.0.1:5432/postgres")
    p.add_argument("--mysql", default="mysql+pymysql://root@127.0.0.1:3306/")
    args = p.parse_args(argv)
    from featsql.registry import FileRegistry
    from featsql.registry.sql import SqlRegistry

    import sqlalchemy as sa

    out: dict = {"views": args.views}
    with tempfile.TemporaryDirectory() as tmp:
        out["file"] = measure(FileRegistry(Path(tmp) / "registry.json", "bench"), args.views, args.repeat)
        out["sqlite"] = measure(SqlRegistry(f"sqlite:///{tmp}/registry.db", "bench"), args.views, args.repeat)
    for kind, server in (("postgresql", args.pg), ("mariadb", args.mysql)):
        db = f"featsql_regbench_{uuid.uuid4().hex[:8]}"
        try:
            admin = sa.create_engine(SqlRegistry(server, "x").engine.url, isolation_level="AUTOCOMMIT")
            with admin.connect() as con:
                con.execute(sa.text(f"create database {db}"))
        except Exception as e:  # noqa: BLE001 - a server that is not there is skipped
            print(f"[registry_bench] {kind}: skipped ({type(e).__name__}: {e})", file=sys.stderr)
            continue
        url = str(admin.url.set(database=db).render_as_string(hide_password=False))
        reg = SqlRegistry(url, "bench")
        try:
            out[kind] = measure(reg, args.views, args.repeat)
        finally:
            reg.engine.dispose()
            with admin.connect() as con:
                con.execute(sa.text(f"drop database {db}"))
            admin.dispose()
    for kind, r in out.items():
        if isinstance(r, dict):
            print(f"[registry_bench] {kind:10s} first apply {r['first_apply_s'] * 1e3:8.1f} ms  re-apply"
                  f" {r['reapply_s'] * 1e3:8.1f} ms  list {r['list_s'] * 1e3:8.1f} ms", file=sys.stderr)
    print(json.dumps(out, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
