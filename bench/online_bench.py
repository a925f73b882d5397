#!/usr/bin/env python
"""Materialization and online-read benchmark: featsql vs Feast 0.67 on identical data.

    python bench/datagen.py --out bench/data/online --online              # 100k entities, 1M rows
    python bench/datagen.py --out bench/data/online_large --online-large  # 100k entities, 10M rows
    bash bench/setup_feast.sh                                             # once: bench/.venv-feast
    .venv/bin/python bench/online_bench.py --data bench/data/online [--data bench/data/online_large]

Per data set: the parquet is loaded once into a DuckDB warehouse (naive UTC timestamps, as a
dbt-duckdb model holds them) and one feature view (driver_id; 8 float features; created
tie-break) is registered in a dbt-free featsql repo. Then, each in a fresh child process:

  materialize   store.materialize(2024-12-01, 2025-02-02) into an empty SQLite file / Redis db
                14: seconds around the call, peak RSS = the child's ru_maxrss (os.wait4).
  online        get_online_features(...).to_dict() for 1 and for 100 random entities (same
                generator and seed as bench/feast_side.py; 20 warm-up calls), p50/p99.
  redis-raw     the floor: redis-py HGET (1 key) / a pipeline of 100 HGET on featsql's keys.

The view is registered without ttl here so every value is PRESENT and decoded (Feast does not
apply its ttl online either). With bench/.venv-feast present, bench/feast_side.py runs the same
tasks and the ratios are printed. Results: JSON on stdout, a table on stderr.
"""
from __future__ import annotations

import argparse
import json
import os
import resource
import signal
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
VIEW = "driver_hourly_stats"
FEATURES = [f"f{i}" for i in range(8)]
REFS = [f"{VIEW}:{f}" for f in FEATURES]
PROJECT = "featsql_bench"
REDIS_URL = "redis://127.0.0.1:6379/14"
MAT_START, MAT_END = "2024-12-01T00:00:00+00:00", "2025-02-02T00:00:00+00:00"


def log(msg: str) -> None:
    print(f"[online_bench] {msg}", file=sys.stderr, flush=True)


# -- repo -----------------------------------------------------------------------------------------
def write_repo(repo: Path, store: str) -> None:
    import yaml

    repo.mkdir(parents=True, exist_ok=True)
    (repo / "dbt_project.yml").write_text(yaml.safe_dump(
        {"name": "bench", "version": "1.0.0", "config-version": 2, "profile": "bench"}))
    (repo / "profiles.yml").write_text(yaml.safe_dump({"bench": {"target": "dev", "outputs": {
        "dev": {"type": "duckdb", "path": str(repo.parent / "warehouse.duckdb"), "threads": 2,
                # DuckDB's buffer pool otherwise keeps up to 80% of RAM of scanned blocks.
                "settings": {"memory_limit": "512MB"}}}}}))
    online = ({"type": "sqlite", "path": str(repo / "online.db")} if store == "sqlite"
              else {"type": "redis", "connection_string": REDIS_URL})
    (repo / "featsql.yml").write_text(yaml.safe_dump({
        "project": PROJECT, "dbt": {"project_dir": ".", "profiles_dir": "."},
        "registry": str(repo / "registry.json"), "online_store": online}))


def load_warehouse(work: Path, data: Path) -> int:
    import duckdb

    db = work / "warehouse.duckdb"
    stamp = work / "loaded_from.txt"
    source = str((data / "features.parquet").resolve())
    if db.exists() and stamp.exists() and stamp.read_text() == source:
        with duckdb.connect(str(db), read_only=True) as con:
            return con.execute(f"select count(*) from {VIEW}").fetchone()[0]
    db.unlink(missing_ok=True)
    with duckdb.connect(str(db)) as con:
        con.execute("SET TimeZone = 'UTC'")
        con.execute(f"""create table {VIEW} as select driver_id,
            event_timestamp::timestamp as event_timestamp, created::timestamp as created,
            {', '.join(FEATURES)} from read_parquet('{source}')""")
        n = con.execute(f"select count(*) from {VIEW}").fetchone()[0]
    stamp.write_text(source)
    return n


def register(repo: Path) -> None:
    """What `featsql apply` registers for this view, without dbt."""
    from featsql.definitions import Definitions, Entity, Feature, FeatureView, Relation
    from featsql.plan import make_plan
    from featsql.store import FeatureStore

    view = FeatureView(
        name=VIEW, entities=(Entity(name="driver", join_key="driver_id"),),
        timestamp_field="event_timestamp", created_timestamp_field="created",
        timestamp_dtype="timestamp", created_timestamp_dtype="timestamp",
        features=tuple(Feature(name=f, dtype="float", warehouse_type="DOUBLE") for f in FEATURES),
        relation=Relation(schema_name="main", identifier=VIEW), join_key_types=("int",))
    store = FeatureStore(repo_path=repo)
    registry = store.registry
    defs = Definitions(entities={"driver": view.entities[0]}, feature_views={VIEW: view})
    registry.commit(make_plan(registry.load(), defs).new_state)
    store.close()


# -- children (timed work) ------------------------------------------------------------------------
def _rss_mb() -> float:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20


def child_materialize(spec: dict) -> dict:
    from featsql.store import FeatureStore

    repo = Path(spec["repo"])
    if spec["store"] == "sqlite":
        for suffix in ("", "-wal", "-shm"):
            Path(str(repo / "online.db") + suffix).unlink(missing_ok=True)
    else:
        import redis

        redis.Redis.from_url(REDIS_URL).flushdb()
    store = FeatureStore(repo_path=repo)
    store.online_store.create(store.list_feature_views())
    # Imports and profile loading happen before the clock, as Feast's happen at FeatureStore().
    from featsql.offline.profile import load_credentials

    load_credentials(store.config)
    base = _rss_mb()
    t0 = time.perf_counter()
    runs = store.materialize(MAT_START, MAT_END)
    seconds = time.perf_counter() - t0
    return {"seconds": seconds, "base_rss_mb": base, "rows": runs[0].rows}


def _pct(xs: list[float]) -> dict:
    import numpy as np

    a = np.asarray(xs) * 1000.0
    return {"p50_ms": float(np.percentile(a, 50)), "p99_ms": float(np.percentile(a, 99)),
            "mean_ms": float(a.mean()), "calls": len(xs)}


def child_online(spec: dict) -> dict:
    import numpy as np

    from featsql.store import FeatureStore

    store = FeatureStore(repo_path=Path(spec["repo"]))
    rng = np.random.default_rng(7)
    out = {}
    for batch, calls in ((1, spec["calls_1"]), (100, spec["calls_100"])):
        ids = rng.integers(1, spec["n_entities"] + 1, size=(calls + 20, batch))
        lat, nonnull = [], 0
        for i, row in enumerate(ids):
            rows = [{"driver_id": int(x)} for x in row]
            t0 = time.perf_counter()
            d = store.get_online_features(features=REFS, entity_rows=rows).to_dict()
            dt = time.perf_counter() - t0
            if i >= 20:
                lat.append(dt)
                nonnull += sum(v is not None for v in d["f0"])
        out[f"batch_{batch}"] = dict(_pct(lat), nonnull_frac=nonnull / (calls * batch))
    return out


def child_redis_raw(spec: dict) -> dict:
    import numpy as np
    import redis

    r = redis.Redis.from_url(REDIS_URL)
    rng = np.random.default_rng(7)
    out = {}
    for batch, calls in ((1, spec["calls_1"]), (100, spec["calls_100"])):
        ids = rng.integers(1, spec["n_entities"] + 1, size=(calls + 20, batch))
        lat = []
        for i, row in enumerate(ids):
            keys = [f"{PROJECT}:driver_id={int(x)}" for x in row]
            t0 = time.perf_counter()
            if batch == 1:
                r.hget(keys[0], VIEW)
            else:
                p = r.pipeline(transaction=False)
                for k in keys:
                    p.hget(k, VIEW)
                p.execute()
            dt = time.perf_counter() - t0
            if i >= 20:
                lat.append(dt)
        out[f"batch_{batch}"] = _pct(lat)
    return out


CHILD = {"materialize": child_materialize, "online": child_online, "redis_raw": child_redis_raw}


def child_main(spec_json: str, ops: dict | None = None) -> int:
    """Run one op of a child process (`ops`, default this script's) and write its result JSON."""
    spec = json.loads(spec_json)
    sys.path.insert(0, str(ROOT))
    try:
        out = {"ok": True, **(ops or CHILD)[spec["op"]](spec)}
    except BaseException as e:  # noqa: BLE001 - reported to the parent
        import traceback

        traceback.print_exc()
        out = {"ok": False, "error": f"{type(e).__name__}: {e}"[:2000]}
    Path(spec["result"]).write_text(json.dumps(out))
    return 0 if out["ok"] else 1


def run_child(spec: dict, work: Path, tag: str, timeout: float = 3600) -> dict:
    """One op in a fresh process: its result, wall time and peak RSS (ru_maxrss via wait4)."""
    result = work / f"{tag}.result.json"
    result.unlink(missing_ok=True)
    spec = dict(spec, result=str(result))
    with open(work / f"{tag}.log", "w") as logf:
        p = subprocess.Popen([sys.executable, __file__, "--_child", json.dumps(spec)],
                             stdout=logf, stderr=subprocess.STDOUT, start_new_session=True)
        t0 = time.perf_counter()
        while True:
            pid, status, ru = os.wait4(p.pid, os.WNOHANG)
            if pid == p.pid:
                break
            if time.perf_counter() - t0 > timeout:
                os.killpg(p.pid, signal.SIGKILL)
                pid, status, ru = os.wait4(p.pid, 0)
                break
            time.sleep(0.02)
    out = json.loads(result.read_text()) if result.exists() else {"ok": False, "error": "no result"}
    out["wall_s"] = time.perf_counter() - t0
    out["peak_rss_mb"] = ru.ru_maxrss / 1024.0
    if not out.get("ok"):
        out["log_tail"] = (work / f"{tag}.log").read_text()[-1500:]
    return out


# -- parent ---------------------------------------------------------------------------------------
def bench_featsql(data: Path, work: Path, stores: list[str], calls_1: int, calls_100: int,
                  tasks: list[str]) -> list[dict]:
    work.mkdir(parents=True, exist_ok=True)
    t0 = time.perf_counter()
    n_rows = load_warehouse(work, data)
    log(f"warehouse: {n_rows:,} rows loaded in {time.perf_counter() - t0:.1f}s (setup, not timed)")
    n_ent = json.loads((data / "meta.json").read_text())["entities"]
    results = []
    for store in stores:
        repo = work / f"featsql-{store}"
        write_repo(repo, store)
        register(repo)
        m = run_child({"op": "materialize", "repo": str(repo), "store": store}, work, f"{store}.materialize")
        if not m.get("ok"):
            raise SystemExit(f"featsql materialize into {store} failed: {m.get('error')}\n{m.get('log_tail')}")
        log(f"featsql-{store} materialize: {m['seconds']:.2f}s peak RSS {m['peak_rss_mb']:.0f} MB"
            f" ({m['rows']:,} entities)")
        results.append({"engine": f"featsql-{store}", "task": "materialize", "rows": n_rows,
                        "seconds": round(m["seconds"], 3), "peak_rss_mb": round(m["peak_rss_mb"], 1),
                        "base_rss_mb": round(m["base_rss_mb"], 1), "online_entities": m["rows"]})
        if "online" not in tasks:
            continue
        spec = {"op": "online", "repo": str(repo), "n_entities": n_ent, "calls_1": calls_1,
                "calls_100": calls_100}
        o = run_child(spec, work, f"{store}.online")
        if not o.get("ok"):
            raise SystemExit(f"featsql online reads from {store} failed: {o.get('error')}\n{o.get('log_tail')}")
        for b in ("batch_1", "batch_100"):
            x = o[b]
            log(f"featsql-{store} online {b}: p50={x['p50_ms']:.3f}ms p99={x['p99_ms']:.3f}ms")
            results.append({"engine": f"featsql-{store}", "task": "online",
                            "entities_per_call": int(b.split("_")[1]), **{k: round(v, 4) for k, v in x.items()}})
        if store == "redis":
            r = run_child({"op": "redis_raw", "n_entities": n_ent, "calls_1": calls_1,
                           "calls_100": calls_100}, work, "redis-raw.online")
            for b, what in (("batch_1", "HGET"), ("batch_100", "pipeline of 100 HGET")):
                x = r[b]
                log(f"redis-raw {b}: p50={x['p50_ms']:.3f}ms p99={x['p99_ms']:.3f}ms")
                results.append({"engine": "redis-raw (featsql keys)", "task": "online", "op": what,
                                "entities_per_call": int(b.split("_")[1]), **{k: round(v, 4) for k, v in x.items()}})
    return results


def bench_feast(data: Path, work: Path, stores: list[str], calls_1: int, calls_100: int,
                tasks: list[str]) -> list[dict]:
    py = HERE / ".venv-feast" / "bin" / "python"
    if not py.exists():
        log("bench/.venv-feast missing: Feast side skipped (bash bench/setup_feast.sh)")
        return []
    engines = [f"feast-{s}" for s in stores]
    out = []
    for task in tasks:
        cmd = [str(py), str(HERE / "feast_side.py"), "--data", str(data), "--task", task,
               "--work", str(work / "feast"), "--engines", *engines,
               "--calls-1", str(calls_1), "--calls-100", str(calls_100)]
        log(f"feast {task}: {' '.join(cmd[1:])}")
        p = subprocess.run(cmd, stdout=subprocess.PIPE, text=True)
        try:
            out += json.loads(p.stdout.strip().splitlines()[-1])["results"]
        except (IndexError, json.JSONDecodeError):
            log(f"feast {task} produced no JSON (exit {p.returncode})")
    return out


def ratios(rows: list[dict]) -> list[str]:
    def find(engine: str, task: str, n: int | None = None) -> dict | None:
        for r in rows:
            if r.get("engine") == engine and r.get("task") == task and "error" not in r and \
                    (n is None or r.get("entities_per_call") == n):
                return r
        return None

    lines = []
    for store in ("sqlite", "redis"):
        ours, theirs = find(f"featsql-{store}", "materialize"), find(f"feast-{store}", "materialize")
        if ours and theirs:
            lines.append(f"materialize {store}: featsql {ours['seconds']:.2f}s / {ours['peak_rss_mb']:.0f} MB"
                         f" vs Feast {theirs['seconds']:.2f}s / {theirs['peak_rss_mb']:.0f} MB"
                         f" -> {theirs['seconds'] / ours['seconds']:.1f}x faster")
        elif ours:
            lines.append(f"materialize {store}: featsql {ours['seconds']:.2f}s / {ours['peak_rss_mb']:.0f} MB")
        for n in (1, 100):
            ours, theirs = find(f"featsql-{store}", "online", n), find(f"feast-{store}", "online", n)
            if not ours:
                continue
            line = f"online {store} x{n}: featsql p50 {ours['p50_ms']:.3f} ms p99 {ours['p99_ms']:.3f} ms"
            if theirs:
                line += (f" vs Feast p50 {theirs['p50_ms']:.3f} ms p99 {theirs['p99_ms']:.3f} ms"
                         f" -> {theirs['p50_ms'] / ours['p50_ms']:.1f}x faster")
            raw = find("redis-raw (featsql keys)", "online", n) if store == "redis" else None
            if raw:
                line += f"; {ours['p50_ms'] / raw['p50_ms']:.2f}x the raw round trip ({raw['p50_ms']:.3f} ms)"
            lines.append(line)
    return lines


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["--_child"]:
        return child_main(argv[1])
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--data", action="append", help="bench/datagen.py output dir (repeatable)")
    p.add_argument("--work", default=str(HERE / "work" / "online"))
    p.add_argument("--stores", nargs="*", default=["sqlite", "redis"])
    p.add_argument("--calls-1", type=int, default=2000)
    p.add_argument("--calls-100", type=int, default=500)
    p.add_argument("--tasks", nargs="*", default=["materialize", "online"],
                   help="materialize and/or online (online reads materialize first, untimed)")
    p.add_argument("--no-feast", action="store_true", help="featsql only")
    a = p.parse_args(argv)
    out = []
    for data in [Path(d).resolve() for d in (a.data or [str(HERE / "data" / "online")])]:
        if not (data / "features.parquet").exists():
            raise SystemExit(f"{data}/features.parquet missing: run bench/datagen.py first")
        work = Path(a.work) / data.name
        rows = bench_featsql(data, work, a.stores, a.calls_1, a.calls_100, a.tasks)
        if not a.no_feast:
            rows += bench_feast(data, work, a.stores, a.calls_1, a.calls_100, a.tasks)
        meta = json.loads((data / "meta.json").read_text())
        summary = ratios(rows)
        for line in summary:
            log(f"{data.name}: {line}")
        out.append({"data": data.name, "rows": meta["rows"], "entities": meta["entities"],
                    "cpus": os.cpu_count(), "results": rows, "summary": summary})
    print(json.dumps(out, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
