#!/usr/bin/env python
"""Materialization and online-read benchmark: featsql vs Feast 0.67 on identical data.

    python bench/datagen.py --out bench/data/online --online              # 100k entities, 1M rows
    python bench/datagen.py --out bench/data/online_large --online-large  # 100k entities, 10M rows
    bash bench/setup_feast.sh                                             # once: bench/.venv-feast
    .venv/bin/python bench/online_bench.py --data bench/data/online [--data bench/data/online_large]
    python bench/datagen.py --out bench/data/xl --entities 1000000 --rows 10000000 --entity-rows 100000
    .venv/bin/python bench/online_bench.py --data bench/data/xl --tasks materialize --workers 1 2 --floor

Per data set: the parquet is loaded once into a DuckDB warehouse (naive UTC timestamps, as a
dbt-duckdb model holds them) and one feature view (driver_id; 8 float features; created
tie-break) is registered in a dbt-free featsql repo. Then, each in a fresh child process:

  materialize   store.materialize(2024-12-01, 2025-02-02) into an empty SQLite file / Redis db
                14 (--redis-db), once per --workers N (featsql.yml `materialization: {engine:
                local, workers: N}`): seconds around the call; peak RSS = the child's own
                VmHWM (parent_rss_mb), the largest worker's VmHWM (sampled every 0.1 s,
                worker_rss_mb), and peak_rss_mb = ru_maxrss from os.wait4 (max over both).
  floor         (--floor) hand-written: one DuckDB query for the latest row per entity (QUALIFY
                row_number), streamed as record batches (to_arrow_reader; fetch_record_batch
                before DuckDB 2) into a redis-py pipeline of HSETs (featsql's key and value
                encoding, no newer-than script) in db --floor-redis-db, and into sqlite3
                executemany upserts on a WITHOUT ROWID table. Same child-process timing.
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
REDIS_URL = "redis://127.0.0.1:6379/14"  # --redis-db replaces the db; children get it in the spec
MAT_START, MAT_END = "2024-12-01T00:00:00+00:00", "2025-02-02T00:00:00+00:00"


def log(msg: str) -> None:
    print(f"[online_bench] {msg}", file=sys.stderr, flush=True)


# -- repo -----------------------------------------------------------------------------------------
def write_repo(repo: Path, store: str, workers: int = 1, redis_url: str = REDIS_URL) -> None:
    import yaml

    repo.mkdir(parents=True, exist_ok=True)
    (repo / "dbt_project.yml").write_text(yaml.safe_dump(
        {"name": "bench", "version": "1.0.0", "config-version": 2, "profile": "bench"}))
    (repo / "profiles.yml").write_text(yaml.safe_dump({"bench": {"target": "dev", "outputs": {
        "dev": {"type": "duckdb", "path": str(repo.parent / "warehouse.duckdb"), "threads": 2,
                # DuckDB's buffer pool otherwise keeps up to 80% of RAM of scanned blocks.
                "settings": {"memory_limit": "512MB"}}}}}))
    online = ({"type": "sqlite", "path": str(repo / "online.db")} if store == "sqlite"
              else {"type": "redis", "connection_string": redis_url})
    (repo / "featsql.yml").write_text(yaml.safe_dump({
        "project": PROJECT, "dbt": {"project_dir": ".", "profiles_dir": "."},
        "registry": str(repo / "registry.json"), "online_store": online,
        "materialization": {"engine": "local", "workers": workers}}))


def child_load(spec: dict) -> dict:
    return {"rows": load_warehouse(Path(spec["work"]), Path(spec["data"]))}


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


def _hwm_mb(pid: int | str = "self") -> float:
    """VmHWM: the process's own peak RSS since its exec. Unlike ru_maxrss it does not carry over
    the RSS of the (v)forked parent's image, which would make every child as big as its parent."""
    try:
        with open(f"/proc/{pid}/status") as f:
            return next(int(ln.split()[1]) for ln in f if ln.startswith("VmHWM:")) / 1024
    except (OSError, StopIteration):
        return 0.0


class ChildPeaks:
    """Largest VmHWM of any descendant (the writer workers), sampled every `every` seconds; the
    high-water mark only grows, so only a peak in a worker's last `every` seconds can be missed."""

    def __init__(self, every: float = 0.1):
        import threading

        import psutil

        self.peak, self._me, self._every = 0.0, psutil.Process(), every
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.wait(self._every):
            for c in self._me.children(recursive=True):
                self.peak = max(self.peak, _hwm_mb(c.pid))

    def __enter__(self) -> "ChildPeaks":
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join()


def empty_store(spec: dict):
    """The repo's FeatureStore with an empty online store (SQLite file removed / Redis db
    flushed) and its tables created: what every materialization run starts from."""
    from featsql.store import FeatureStore

    repo = Path(spec["repo"])
    if spec["store"] == "sqlite":
        for suffix in ("", "-wal", "-shm"):
            Path(str(repo / "online.db") + suffix).unlink(missing_ok=True)
    else:
        import redis

        redis.Redis.from_url(spec["redis_url"]).flushdb()
    store = FeatureStore(repo_path=repo)
    store.online_store.create(store.list_feature_views())
    return store


def child_materialize(spec: dict) -> dict:
    store = empty_store(spec)
    # Imports and profile loading happen before the clock, as Feast's happen at FeatureStore().
    from featsql.offline.profile import load_credentials

    load_credentials(store.config)
    base = _rss_mb()
    t0 = time.perf_counter()
    with ChildPeaks() as workers:
        runs = store.materialize(MAT_START, MAT_END)
    seconds = time.perf_counter() - t0
    return {"seconds": seconds, "base_rss_mb": base, "rows": runs[0].rows,
            "parent_rss_mb": _hwm_mb(), "worker_rss_mb": workers.peak}


FLOOR_SQL = f"""select driver_id, epoch_us(event_timestamp) as e, epoch_us(created) as c,
    {', '.join(FEATURES)} from {VIEW}
    where driver_id is not null and event_timestamp >= '{MAT_START[:19]}'::timestamp
      and event_timestamp <= '{MAT_END[:19]}'::timestamp
    qualify row_number() over (partition by driver_id order by event_timestamp desc,
                               created desc nulls last) = 1"""


def child_floor(spec: dict) -> dict:
    """The hand-written floor: one query, streamed record batches, plain writes."""
    import duckdb

    con = duckdb.connect(spec["warehouse"], read_only=True)
    con.execute("SET threads = 2; SET memory_limit = '512MB'")  # as the featsql profile
    if spec["store"] == "redis":
        import struct

        import msgpack
        import redis

        r = redis.Redis.from_url(spec["redis_url"])
        r.flushdb()
        header, packb, prefix = struct.Struct(">qqI").pack, msgpack.packb, f"{PROJECT}:driver_id="
    else:
        import sqlite3

        path = Path(spec["sqlite_path"])
        for suffix in ("", "-wal", "-shm"):
            Path(str(path) + suffix).unlink(missing_ok=True)
        db = sqlite3.connect(path, isolation_level=None)
        db.execute("PRAGMA journal_mode=WAL")
        db.execute("PRAGMA synchronous=NORMAL")
        cols = ["driver_id", "e", "c", *FEATURES]
        db.execute(f"create table floor ({', '.join(c + ' INTEGER' for c in cols[:3])} not null,"
                   f" {', '.join(f + ' REAL' for f in FEATURES)}, primary key (driver_id)) without rowid")
        upsert = (f"insert into floor ({', '.join(cols)}) values ({', '.join('?' * len(cols))})"
                  f" on conflict (driver_id) do update set "
                  + ", ".join(f"{c} = excluded.{c}" for c in cols[1:]))
    base = _rss_mb()
    t0 = time.perf_counter()
    reader = con.execute(FLOOR_SQL).to_arrow_reader(spec["batch_rows"])  # fetch_record_batch in duckdb<2
    rows = 0
    for batch in reader:
        data = [c.to_pylist() for c in batch.columns]
        if spec["store"] == "redis":
            pipe = r.pipeline(transaction=False)
            for k, e, c, *vals in zip(*data):
                pipe.hset(f"{prefix}{k}", VIEW, header(e, c, 0) + packb(vals))
            pipe.execute()
        else:
            db.execute("BEGIN")
            db.executemany(upsert, zip(*data))
            db.execute("COMMIT")
        rows += batch.num_rows
    seconds = time.perf_counter() - t0
    return {"seconds": seconds, "base_rss_mb": base, "rows": rows, "parent_rss_mb": _hwm_mb()}


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

    r = redis.Redis.from_url(spec["redis_url"])
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


CHILD = {"materialize": child_materialize, "online": child_online, "redis_raw": child_redis_raw,
         "floor": child_floor, "load": child_load}


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
def materialize_featsql(repo: Path, work: Path, store: str, workers: int, redis_url: str,
                        n_rows: int) -> dict:
    write_repo(repo, store, workers, redis_url)
    register(repo)
    tag = f"{store}.materialize" + ("" if workers == 1 else f".w{workers}")
    m = run_child({"op": "materialize", "repo": str(repo), "store": store, "redis_url": redis_url},
                  work, tag)
    if not m.get("ok"):
        raise SystemExit(f"featsql materialize into {store} failed: {m.get('error')}\n{m.get('log_tail')}")
    log(f"featsql-{store} w{workers} materialize: {m['seconds']:.2f}s ({n_rows / m['seconds']:,.0f} rows/s)"
        f" peak RSS parent {m['parent_rss_mb']:.0f} MB, workers {m['worker_rss_mb']:.0f} MB"
        f" ({m['rows']:,} entities)")
    return {"engine": f"featsql-{store}", "task": "materialize", "workers": workers, "rows": n_rows,
            "seconds": round(m["seconds"], 3), "rows_per_s": round(n_rows / m["seconds"]),
            "wall_s": round(m["wall_s"], 3), "peak_rss_mb": round(m["peak_rss_mb"], 1),
            "parent_rss_mb": round(m["parent_rss_mb"], 1),
            "worker_rss_mb": round(m["worker_rss_mb"], 1) if workers > 1 else None,
            "base_rss_mb": round(m["base_rss_mb"], 1), "online_entities": m["rows"]}


def bench_floor(work: Path, stores: list[str], redis_url: str, n_rows: int) -> list[dict]:
    out = []
    for store in stores:
        spec = {"op": "floor", "store": store, "warehouse": str(work / "warehouse.duckdb"),
                "sqlite_path": str(work / "floor.db"), "redis_url": redis_url,
                "batch_rows": 20_000 if store == "redis" else 50_000}  # featsql's batch sizes
        m = run_child(spec, work, f"floor-{store}.materialize")
        if not m.get("ok"):
            raise SystemExit(f"floor into {store} failed: {m.get('error')}\n{m.get('log_tail')}")
        log(f"floor-{store} materialize: {m['seconds']:.2f}s ({n_rows / m['seconds']:,.0f} rows/s)"
            f" peak RSS {m['parent_rss_mb']:.0f} MB ({m['rows']:,} entities)")
        out.append({"engine": f"floor-{store}", "task": "materialize", "rows": n_rows,
                    "seconds": round(m["seconds"], 3), "rows_per_s": round(n_rows / m["seconds"]),
                    "wall_s": round(m["wall_s"], 3), "peak_rss_mb": round(m["peak_rss_mb"], 1),
                    "parent_rss_mb": round(m["parent_rss_mb"], 1),
                    "base_rss_mb": round(m["base_rss_mb"], 1), "online_entities": m["rows"]})
    return out


def bench_featsql(data: Path, work: Path, stores: list[str], calls_1: int, calls_100: int,
                  tasks: list[str], workers: list[int] = (1,), redis_url: str = REDIS_URL) -> list[dict]:
    work.mkdir(parents=True, exist_ok=True)
    t0 = time.perf_counter()
    # In a child: DuckDB here would grow this process to ~1 GB at 10M rows, and a (v)forked
    # child's ru_maxrss starts from its parent's RSS (wait4 would report >= that for every run).
    loaded = run_child({"op": "load", "work": str(work), "data": str(data)}, work, "load")
    if not loaded.get("ok"):
        raise SystemExit(f"loading the warehouse failed: {loaded.get('error')}\n{loaded.get('log_tail')}")
    n_rows = loaded["rows"]
    log(f"warehouse: {n_rows:,} rows loaded in {time.perf_counter() - t0:.1f}s (setup, not timed)")
    n_ent = json.loads((data / "meta.json").read_text())["entities"]
    results = []
    for store in stores:
        for w in workers:  # the online reads below use the last repo
            repo = work / (f"featsql-{store}" if w == 1 else f"featsql-{store}-w{w}")
            results.append(materialize_featsql(repo, work, store, w, redis_url, n_rows))
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
                           "calls_100": calls_100, "redis_url": redis_url}, work, "redis-raw.online")
            for b, what in (("batch_1", "HGET"), ("batch_100", "pipeline of 100 HGET")):
                x = r[b]
                log(f"redis-raw {b}: p50={x['p50_ms']:.3f}ms p99={x['p99_ms']:.3f}ms")
                results.append({"engine": "redis-raw (featsql keys)", "task": "online", "op": what,
                                "entities_per_call": int(b.split("_")[1]), **{k: round(v, 4) for k, v in x.items()}})
    return results


def bench_feast(data: Path, work: Path, stores: list[str], calls_1: int, calls_100: int,
                tasks: list[str], extra: list[str] = (), reuse: Path | None = None) -> list[dict]:
    if reuse is not None:  # a feast_side.py JSON from an earlier run on the same data
        log(f"feast: results from {reuse}")
        return json.loads(reuse.read_text().strip().splitlines()[-1])["results"]
    py = HERE / ".venv-feast" / "bin" / "python"
    if not py.exists():
        log("bench/.venv-feast missing: Feast side skipped (bash bench/setup_feast.sh)")
        return []
    engines = [f"feast-{s}" for s in stores]
    out = []
    for task in tasks:
        cmd = [str(py), str(HERE / "feast_side.py"), "--data", str(data), "--task", task,
               "--work", str(work / "feast"), "--engines", *engines,
               "--calls-1", str(calls_1), "--calls-100", str(calls_100), *extra]
        log(f"feast {task}: {' '.join(cmd[1:])}")
        p = subprocess.run(cmd, stdout=subprocess.PIPE, text=True)
        try:
            out += json.loads(p.stdout.strip().splitlines()[-1])["results"]
        except (IndexError, json.JSONDecodeError):
            log(f"feast {task} produced no JSON (exit {p.returncode})")
    return out


def ratios(rows: list[dict]) -> list[str]:
    def find(engine: str, task: str, n: int | None = None, workers: int | None = None) -> dict | None:
        for r in rows:
            if r.get("engine") == engine and r.get("task") == task and "error" not in r and \
                    (n is None or r.get("entities_per_call") == n) and \
                    (workers is None or r.get("workers", 1) == workers):
                return r
        return None

    lines = []
    all_workers = sorted({r["workers"] for r in rows if r.get("task") == "materialize" and "workers" in r})
    for store in ("sqlite", "redis"):
        theirs, floor = find(f"feast-{store}", "materialize"), find(f"floor-{store}", "materialize")
        for w in all_workers or [1]:
            ours = find(f"featsql-{store}", "materialize", workers=w)
            if not ours:
                continue
            line = (f"materialize {store} w{w}: featsql {ours['seconds']:.2f}s / {ours['peak_rss_mb']:.0f} MB")
            if theirs:
                line += (f" vs Feast {theirs['seconds']:.2f}s / {theirs['peak_rss_mb']:.0f} MB"
                         f" -> {theirs['seconds'] / ours['seconds']:.1f}x faster")
            if floor:
                line += f"; {ours['seconds'] / floor['seconds']:.2f}x the floor ({floor['seconds']:.2f}s)"
            lines.append(line)
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
    p.add_argument("--workers", type=int, nargs="+", default=[1],
                   help="featsql materialization.workers values to materialize with, in turn")
    p.add_argument("--redis-db", type=int, default=14, help="featsql's Redis db (FLUSHDB'ed)")
    p.add_argument("--floor", action="store_true",
                   help="also time the hand-written DuckDB -> redis-py / sqlite3 floor")
    p.add_argument("--floor-redis-db", type=int, default=13, help="the floor's Redis db (FLUSHDB'ed)")
    p.add_argument("--feast-redis-db", type=int, default=15, help="Feast's Redis db (FLUSHDB'ed)")
    p.add_argument("--feast-timeout", type=float, default=1800, help="per Feast child, seconds")
    p.add_argument("--feast-results", help="reuse this feast_side.py JSON instead of running Feast")
    a = p.parse_args(argv)
    redis_url = REDIS_URL.rsplit("/", 1)[0]
    feast_extra = ["--redis-db", str(a.feast_redis_db), "--timeout", str(a.feast_timeout)]
    out = []
    for data in [Path(d).resolve() for d in (a.data or [str(HERE / "data" / "online")])]:
        if not (data / "features.parquet").exists():
            raise SystemExit(f"{data}/features.parquet missing: run bench/datagen.py first")
        work = Path(a.work) / data.name
        rows = bench_featsql(data, work, a.stores, a.calls_1, a.calls_100, a.tasks, a.workers,
                             f"{redis_url}/{a.redis_db}")
        if a.floor:
            rows += bench_floor(work, a.stores, f"{redis_url}/{a.floor_redis_db}", rows[0]["rows"])
        if not a.no_feast:
            rows += bench_feast(data, work, a.stores, a.calls_1, a.calls_100, a.tasks, feast_extra,
                                Path(a.feast_results) if a.feast_results else None)
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
