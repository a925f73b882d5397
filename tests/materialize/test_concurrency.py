"""Concurrent applies and materializations, PostgreSQL as the warehouse (DuckDB would serialize
writers by its file lock), on the file registry and on a PostgreSQL registry.

8 `featsql apply` processes, each registering its own ttl (its own copy of the project, whose
manifest carries that edit; `--no-parse`), race 2 `featsql materialize-incremental` processes
with different ENDs. Afterwards: every apply succeeded (a lost race re-planned), the registry is
readable and is exactly one of the applied definitions with every apply counted (no update lost,
none undone by a watermark write), a run whose view was re-applied meanwhile left its watermark
(and said so), watermarks never move backwards, and after catching up the online values equal
latest values computed here from the warehouse's rows.
"""
from __future__ import annotations

import json
import shutil
import subprocess
import uuid
from datetime import datetime, timezone
from pathlib import Path

import pytest
import yaml

from featsql.store import FeatureStore
from tests.support import clean_env, exe, require_service, run

DSN = "host=127.0.0.1 port=5432 user=postgres dbname=postgres"
ENDS = ["2025-01-09T00:00:00", "2025-01-08T00:00:00"]


def _copy(repo: Path, dest: Path, ttl_hours: int, registry: str, online: Path) -> Path:
    """A project copy whose manifest says `ttl: {ttl_hours}h` for driver_hourly_stats."""
    dest.mkdir(parents=True)
    for name in ("dbt_project.yml", "profiles.yml"):
        shutil.copy(repo / name, dest / name)
    (dest / "target").mkdir()
    manifest = json.loads((repo / "target" / "manifest.json").read_text())
    for node in manifest["nodes"].values():
        if node.get("name") == "driver_hourly_stats" and node["resource_type"] == "model":
            node["config"]["meta"]["featsql"]["ttl"] = f"{ttl_hours}h"
    (dest / "target" / "manifest.json").write_text(json.dumps(manifest))
    doc = yaml.safe_load((repo / "featsql.yml").read_text())
    doc["registry"] = registry
    doc["online_store"] = {"type": "sqlite", "path": str(online)}
    (dest / "featsql.yml").write_text(yaml.safe_dump(doc))
    return dest


@pytest.fixture(scope="module")
def pg_repo(built_repo: Path, tmp_path_factory: pytest.TempPathFactory):
    """The example built once on a PostgreSQL schema of its own: (repo, schema, env)."""
    from tests.support import copy_repo

    psycopg = pytest.importorskip("psycopg")
    require_service("postgres", lambda: psycopg.connect(DSN, connect_timeout=3).close() or True)
    repo = copy_repo(built_repo, tmp_path_factory.mktemp("conc") / "repo")
    schema = f"featsql_conc_{uuid.uuid4().hex[:8]}"
    env = clean_env(FEATSQL_TARGET="pg", FEATSQL_PG_SCHEMA=schema)
    try:
        for args in (["seed"], ["run"]):
            result = run([exe("dbt"), *args, "--target", "pg"], cwd=repo, env=env)
            assert result.returncode == 0, result.stdout + result.stderr
        yield repo, schema, env
    finally:
        with psycopg.connect(DSN, autocommit=True) as con:
            con.execute(f'drop schema if exists "{schema}" cascade')


@pytest.mark.slow
@pytest.mark.postgres
@pytest.mark.parametrize("registry_kind", ["file", "postgresql"])
def test_applies_racing_materializations(pg_repo, tmp_path: Path, registry_kind: str,
                                         monkeypatch: pytest.MonkeyPatch) -> None:
    import psycopg

    repo, schema, env = pg_repo
    regdb = f"featsql_conc_reg_{uuid.uuid4().hex[:8]}"
    registry = (str(tmp_path / "registry.json") if registry_kind == "file"
                else f"postgresql://postgres@127.0.0.1:5432/{regdb}")
    online = tmp_path / "online.db"
    try:
        if registry_kind == "postgresql":
            with psycopg.connect(DSN, autocommit=True) as con:
                con.execute(f'create database "{regdb}"')
        base = _copy(repo, tmp_path / "base", 24, registry, online)
        first = run([exe("featsql"), "apply", "--no-parse"], cwd=base, env=env)
        assert first.returncode == 0, first.stderr
        copies = [_copy(repo, tmp_path / f"apply{i}", i + 1, registry, online) for i in range(8)]
        procs = [subprocess.Popen([exe("featsql"), "apply", "--no-parse"], cwd=c, env=env,
                                  stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for c in copies]
        procs += [subprocess.Popen([exe("featsql"), "materialize-incremental", end], cwd=base, env=env,
                                   stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for end in ENDS]
        outs = [p.communicate(timeout=300) for p in procs]
        assert all(p.returncode == 0 for p in procs), [o[1] for o in outs]

        for key, value in (("FEATSQL_TARGET", "pg"), ("FEATSQL_PG_SCHEMA", schema)):
            monkeypatch.setenv(key, value)
        store = FeatureStore(repo_path=base)
        state = store.registry.load()
        view = state.definitions().feature_views["driver_hourly_stats"]
        assert view.ttl_seconds in {3600 * (i + 1) for i in range(8)}  # one of the applies, whole
        assert state.objects["feature_views"]["driver_hourly_stats"].version == 9  # none lost
        assert state.version == 9
        # A run whose view an apply changed meanwhile leaves the watermark (and says so); one
        # that moved it moved it forward only.
        ends = [datetime.fromisoformat(e).replace(tzinfo=timezone.utc) for e in ENDS]
        mark = store.watermark("driver_hourly_stats")
        assert mark in (None, *ends)
        said = [o[0] for o in outs[8:]]
        assert mark is not None or all("watermark not moved" in o for o in said), said
        store.materialize_incremental(ENDS[1])  # the older END again: never backwards
        assert store.watermark("driver_hourly_stats") == max(m for m in (mark, ends[1]) if m is not None)
        store.materialize_incremental(ENDS[0])
        assert store.watermark("driver_hourly_stats") == ends[0]
        with psycopg.connect(DSN) as con:
            rows = con.execute(f'select driver_id, event_timestamp, created, conv_rate from'
                               f' "{schema}".driver_hourly_stats').fetchall()
        newest: dict[int, tuple] = {}
        for driver, ts, created, conv in rows:
            if ts <= datetime(2025, 1, 9) and (driver not in newest or (ts, created) > newest[driver][:2]):
                newest[driver] = (ts, created, conv)
        ids = sorted(newest)
        # Values (not statuses: the example's ttl makes old rows OUTSIDE_MAX_AGE today).
        resp = store.get_online_features(["driver_hourly_stats:conv_rate"], [{"driver_id": i} for i in ids])
        stamps = resp.event_timestamps["conv_rate"]
        assert [s.replace(tzinfo=None) for s in stamps] == [newest[i][0] for i in ids]
        store.close()
    finally:
        with psycopg.connect(DSN, autocommit=True) as con:
            con.execute(f'drop database if exists "{regdb}" with (force)')
