#!/usr/bin/env python
"""Feast side of the featsql benchmarks. Runs in bench/.venv-feast (see bench/setup_feast.sh).

    bench/.venv-feast/bin/python bench/feast_side.py --data bench/data/default --task training --work /tmp/fb
    bench/.venv-feast/bin/python bench/feast_side.py --data bench/data/online --task materialize --work /tmp/fb
    bench/.venv-feast/bin/python bench/feast_side.py --data bench/data/online --task online --work /tmp/fb

Builds one Feast repo per engine under --work (feature_store.yaml + FeatureStore.apply of an
Entity `driver` (join key driver_id) and a FeatureView `driver_hourly_stats` over a FileSource on
DATA/features.parquet, timestamp_field=event_timestamp, created_timestamp_column=created, ttl 7d,
features f0..f7), then:

  training     get_historical_features(entities.parquet, all 8 features).to_df() with the default
               file (dask) offline store and with the DuckDB (ibis) offline store.
  materialize  materialize(all data) into the sqlite and the redis online stores.
  online       materialize (untimed), then get_online_features latency (1 and 100 entities) from
               sqlite and redis, plus the raw redis-py HMGET floor.

Prints ONE JSON object on stdout: {"feast_version", "task", "data", "meta", "results": [...]}.
Progress and Feast's own logging go to stderr / per-run log files under --work.

Measurement: every timed run happens in a fresh child process (this same script with --_child).
The child times only the operation itself (perf_counter around get_historical_features().to_df()
or materialize()) and writes its result to a JSON file. Peak RSS comes from os.wait4() on that
child: the kernel's ru_maxrss for the reaped child (KiB on Linux), i.e. the true high-water mark
of its resident set, with no sampling gaps (psutil polling can miss short spikes). Feast's file
store runs dask with the threaded scheduler and DuckDB runs in-process, so all the work is in the
child's own address space; were any grandchildren spawned and reaped, wait4 reports the max over
them too (max, not sum). The number includes the interpreter + Feast import + registry load
(reported separately as base_rss_mb, measured with psutil just before the timed operation).
"""
from __future__ import annotations

import argparse
import json
import os
import signal
import statistics
import subprocess
import sys
import time

FV = "driver_hourly_stats"
N_FEATURES = 8
FEATURES = [f"{FV}:f{i}" for i in range(N_FEATURES)]
REDIS_HOST, REDIS_PORT = "127.0.0.1", 6379
# --redis-db sets this in the environment, which the child processes inherit.
REDIS_DB = int(os.environ.get("FEAST_BENCH_REDIS_DB", "15"))
# Covers every generated event_timestamp (2025-01-01 .. 2025-01-31) with margin.
MAT_START, MAT_END = "2024-12-01T00:00:00+00:00", "2025-02-02T00:00:00+00:00"


def log(msg: str) -> None:
    print(f"[feast_side] {msg}", file=sys.stderr, flush=True)


# --------------------------------------------------------------------------------------------
# Child side (imports feast)
# --------------------------------------------------------------------------------------------

def _rss_mb() -> float:
    import psutil
    return psutil.Process().memory_info().rss / 2**20


def write_repo(repo: str, offline: str, online: str) -> None:
    os.makedirs(os.path.join(repo, "data"), exist_ok=True)
    if online == "sqlite":
        online_yaml = f"  type: sqlite\n  path: {os.path.join(repo, 'data', 'online.db')}\n"
    elif online == "redis":
        online_yaml = (f"  type: redis\n"
                       f"  connection_string: \"{REDIS_HOST}:{REDIS_PORT},db={REDIS_DB}\"\n")
    else:
        raise ValueError(online)
    yaml = (
        "project: featsql_bench\n"
        f"registry: {os.path.join(repo, 'data', 'registry.db')}\n"
        "provider: local\n"
        f"offline_store:\n  type: {offline}\n"
        f"online_store:\n{online_yaml}"
        "entity_key_serialization_version: 3\n"
    )
    with open(os.path.join(repo, "feature_store.yaml"), "w") as f:
        f.write(yaml)


def child_setup(spec: dict) -> dict:
    from datetime import timedelta

    from feast import Entity, FeatureStore, FeatureView, Field, FileSource, ValueType
    from feast.types import Float64

    repo = spec["repo"]
    write_repo(repo, spec["offline"], spec["online"])
    driver = Entity(name="driver", join_keys=["driver_id"], value_type=ValueType.INT64)
    source = FileSource(
        name="driver_stats_source",
        path=os.path.abspath(os.path.join(spec["data"], "features.parquet")),
        timestamp_field="event_timestamp",
        created_timestamp_column="created",
    )
    fv = FeatureView(
        name=FV,
        entities=[driver],
        ttl=timedelta(days=7),
        schema=[Field(name=f"f{i}", dtype=Float64) for i in range(N_FEATURES)],
        source=source,
        online=True,
    )
    store = FeatureStore(repo_path=repo)
    store.apply([driver, fv])
    return {"ok": True}


def child_training(spec: dict) -> dict:
    import pandas as pd
    from feast import FeatureStore

    store = FeatureStore(repo_path=spec["repo"])
    entity_df = pd.read_parquet(os.path.join(spec["data"], "entities.parquet"))
    base = _rss_mb()
    t0 = time.perf_counter()
    df = store.get_historical_features(entity_df=entity_df, features=FEATURES).to_df()
    elapsed = time.perf_counter() - t0
    out = {
        "seconds": elapsed,
        "base_rss_mb": base,
        "rows": int(len(df)),
        "entity_rows": int(len(entity_df)),
        "nonnull_rows": int(df["f0"].notna().sum()),
        "f0_sum": float(df["f0"].sum()),
        "columns": list(map(str, df.columns)),
    }
    if spec.get("dump"):
        df.to_parquet(spec["dump"], index=False)
    return out


def _flush_redis() -> None:
    import redis
    redis.Redis(host=REDIS_HOST, port=REDIS_PORT, db=REDIS_DB).flushdb()


def _online_count(spec: dict) -> int:
    if spec["online"] == "redis":
        import redis
        return int(redis.Redis(host=REDIS_HOST, port=REDIS_PORT, db=REDIS_DB).dbsize())
    import sqlite3
    con = sqlite3.connect(os.path.join(spec["repo"], "data", "online.db"))
    try:
        tables = [r[0] for r in con.execute("select name from sqlite_master where type='table'")]
        t = [x for x in tables if x.endswith(FV)][0]
        return int(con.execute(f'select count(distinct entity_key) from "{t}"').fetchone()[0])
    finally:
        con.close()


def child_materialize(spec: dict) -> dict:
    from datetime import datetime

    from feast import FeatureStore

    if spec["online"] == "redis":
        _flush_redis()  # REDIS_DB is ours; start from empty so we time a full load
    else:
        p = os.path.join(spec["repo"], "data", "online.db")
        if os.path.exists(p):
            os.remove(p)
    store = FeatureStore(repo_path=spec["repo"])
    if spec["online"] == "sqlite":  # recreate the online table removed above
        store.apply(store.list_entities() + store.list_feature_views())
    base = _rss_mb()
    t0 = time.perf_counter()
    store.materialize(start_date=datetime.fromisoformat(MAT_START),
                      end_date=datetime.fromisoformat(MAT_END))
    elapsed = time.perf_counter() - t0
    return {"seconds": elapsed, "base_rss_mb": base, "online_entities": _online_count(spec)}


def _pct(xs: list[float]) -> dict:
    import numpy as np
    a = np.asarray(xs) * 1000.0
    return {"p50_ms": float(np.percentile(a, 50)), "p99_ms": float(np.percentile(a, 99)),
            "mean_ms": float(a.mean()), "calls": len(xs)}


def child_online(spec: dict) -> dict:
    import numpy as np
    from feast import FeatureStore

    store = FeatureStore(repo_path=spec["repo"])
    rng = np.random.default_rng(7)
    n_ent = spec["n_entities"]
    res = {}
    for batch, calls in ((1, spec["calls_1"]), (100, spec["calls_100"])):
        ids = rng.integers(1, n_ent + 1, size=(calls + 20, batch))
        lat = []
        nonnull = 0
        for i, row in enumerate(ids):
            rows = [{"driver_id": int(x)} for x in row]
            t0 = time.perf_counter()
            d = store.get_online_features(features=FEATURES, entity_rows=rows).to_dict()
            dt = time.perf_counter() - t0
            if i >= 20:  # first 20 calls are warm-up
                lat.append(dt)
                nonnull += sum(v is not None for v in d["f0"])
        res[f"batch_{batch}"] = dict(_pct(lat), nonnull_frac=nonnull / (calls * batch))
    return res


def child_redis_floor(spec: dict) -> dict:
    import numpy as np
    import redis

    r = redis.Redis(host=REDIS_HOST, port=REDIS_PORT, db=REDIS_DB)
    keys = []
    for k in r.scan_iter(count=1000):
        keys.append(k)
        if len(keys) >= 1000:
            break
    if not keys:
        raise RuntimeError(f"redis db {REDIS_DB} is empty; materialize first")
    fields = r.hkeys(keys[0])  # Feast hash layout: 8 mmh3(feature) fields + _ts:<fv>
    rng = np.random.default_rng(7)
    res = {"fields_per_key": len(fields)}
    for batch, calls in ((1, spec["calls_1"]), (100, spec["calls_100"])):
        lat = []
        for i in range(calls + 20):
            ks = [keys[j] for j in rng.integers(0, len(keys), size=batch)]
            t0 = time.perf_counter()
            if batch == 1:
                r.hmget(ks[0], fields)
            else:
                p = r.pipeline(transaction=False)
                for k in ks:
                    p.hmget(k, fields)
                p.execute()
            dt = time.perf_counter() - t0
            if i >= 20:
                lat.append(dt)
        res[f"batch_{batch}"] = _pct(lat)
    return res


CHILD_OPS = {"setup": child_setup, "training": child_training, "materialize": child_materialize,
             "online": child_online, "redis_floor": child_redis_floor}


def child_main(spec_json: str) -> int:
    spec = json.loads(spec_json)
    try:
        out = {"ok": True, **CHILD_OPS[spec["op"]](spec)}
    except BaseException as e:  # noqa: BLE001 - report any failure to the parent
        import traceback
        traceback.print_exc()
        out = {"ok": False, "error": f"{type(e).__name__}: {e}"[:2000]}
    with open(spec["result"], "w") as f:
        json.dump(out, f)
    return 0 if out["ok"] else 1


# --------------------------------------------------------------------------------------------
# Parent side (no feast import; only orchestrates children)
# --------------------------------------------------------------------------------------------

def _oom_first() -> None:
    # Runs in the child before exec: make the benchmark child the OOM killer's first choice so a
    # blow-up (Feast's file store needs ~22 GB at the default size) never takes other processes.
    try:
        with open("/proc/self/oom_score_adj", "w") as f:
            f.write("1000")
    except OSError:
        pass


def _rss_of(pid: int) -> float:
    """Current RSS of pid in MiB from /proc (0 if gone); used only for the --max-rss-gb guard."""
    try:
        with open(f"/proc/{pid}/statm") as f:
            return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20
    except (OSError, IndexError, ValueError):
        return 0.0


MAX_RSS_MB = 0.0  # set from --max-rss-gb


def run_child(spec: dict, work: str, tag: str, timeout: float) -> dict:
    """Run one op in a fresh process; return its result dict plus wall_s / peak_rss_mb."""
    max_rss_mb = MAX_RSS_MB
    spec = dict(spec, result=os.path.join(work, f"{tag}.result.json"))
    logpath = os.path.join(work, f"{tag}.log")
    if os.path.exists(spec["result"]):
        os.remove(spec["result"])
    with open(logpath, "w") as logf:
        p = subprocess.Popen([sys.executable, os.path.abspath(__file__), "--_child", json.dumps(spec)],
                             stdout=logf, stderr=subprocess.STDOUT, start_new_session=True,
                             preexec_fn=_oom_first)
        t0 = time.perf_counter()
        killed = None
        while True:
            pid, status, ru = os.wait4(p.pid, os.WNOHANG)
            if pid == p.pid:
                break
            if time.perf_counter() - t0 > timeout:
                killed = f"timeout after {timeout:.0f}s"
            elif max_rss_mb and _rss_of(p.pid) > max_rss_mb:
                killed = f"RSS above --max-rss-gb ({max_rss_mb / 1024:.1f} GiB)"
            if killed:
                os.killpg(p.pid, signal.SIGKILL)  # the child's own session/group
                pid, status, ru = os.wait4(p.pid, 0)
                break
            time.sleep(0.02)
        p.returncode = os.waitstatus_to_exitcode(status)
    wall = time.perf_counter() - t0
    out = {"ok": False}
    if os.path.exists(spec["result"]):
        with open(spec["result"]) as f:
            out = json.load(f)
    if killed:
        out = {"ok": False, "error": f"killed: {killed}"}
    elif not out.get("ok") and "error" not in out:
        out["error"] = f"child exited {p.returncode} without a result" + (
            " (SIGKILL: probably the kernel OOM killer)" if p.returncode == -signal.SIGKILL else "")
    if not out.get("ok"):
        with open(logpath) as f:
            out["log_tail"] = f.read()[-1500:]
    out["wall_s"] = wall
    out["peak_rss_mb"] = ru.ru_maxrss / 1024.0  # Linux: KiB
    return out


def setup_repo(args, engine: str, offline: str, online: str) -> str:
    repo = os.path.join(args.work, engine)
    os.makedirs(repo, exist_ok=True)
    log(f"setup {engine} (offline={offline}, online={online})")
    r = run_child({"op": "setup", "repo": repo, "data": args.data, "offline": offline,
                   "online": online}, args.work, f"{engine}.setup", args.timeout)
    if not r.get("ok"):
        raise RuntimeError(f"setup {engine} failed: {r.get('error')}\n{r.get('log_tail', '')}")
    return repo


def _fail(engine: str, task: str, r: dict) -> dict:
    return {"engine": engine, "task": task, "error": r.get("error"),
            "peak_rss_mb": round(r.get("peak_rss_mb", 0), 1), "log_tail": r.get("log_tail", "")[-600:]}


def task_training(args) -> list[dict]:
    results = []
    for engine, offline in (("feast-file", "file"), ("feast-duckdb", "duckdb")):
        if args.engines and engine not in args.engines:
            continue
        repo = setup_repo(args, engine, offline, "sqlite")
        runs = []
        err = None
        for i in range(args.repeat):
            dump = os.path.join(args.dump_dir, f"{engine}.parquet") if (args.dump_dir and i == 0) else None
            r = run_child({"op": "training", "repo": repo, "data": args.data, "dump": dump},
                          args.work, f"{engine}.training.{i}", args.timeout)
            log(f"{engine} training run {i}: " + (f"{r['seconds']:.2f}s rows={r['rows']} "
                f"rss={r['peak_rss_mb']:.0f}MB" if r.get("ok") else f"FAILED {r.get('error')}"))
            if not r.get("ok"):
                err = r
                break
            runs.append(r)
        if err is not None:
            results.append(_fail(engine, "training", err))
            continue
        secs = [r["seconds"] for r in runs]
        last = runs[-1]
        results.append({
            "engine": engine, "task": "training",
            "median_s": round(statistics.median(secs), 4), "min_s": round(min(secs), 4),
            "runs_s": [round(s, 4) for s in secs],
            "peak_rss_mb": round(max(r["peak_rss_mb"] for r in runs), 1),
            "base_rss_mb": round(max(r["base_rss_mb"] for r in runs), 1),
            "rows": last["rows"], "entity_rows": last["entity_rows"],
            "dropped_entity_rows": last["entity_rows"] - last["rows"],
            "nonnull_rows": last["nonnull_rows"], "f0_sum": round(last["f0_sum"], 6),
        })
    return results


def _n_entities(args) -> int:
    meta = os.path.join(args.data, "meta.json")
    if os.path.exists(meta):
        with open(meta) as f:
            return int(json.load(f)["entities"])
    import pyarrow.compute as pc
    import pyarrow.parquet as pq
    return int(pc.max(pq.read_table(os.path.join(args.data, "features.parquet"),
                                    columns=["driver_id"])["driver_id"]).as_py())


def _materialize(args, engine: str, repo: str, online: str, tag: str) -> dict:
    r = run_child({"op": "materialize", "repo": repo, "data": args.data, "online": online},
                  args.work, tag, args.timeout)
    log(f"{engine} materialize: " + (f"{r['seconds']:.2f}s rss={r['peak_rss_mb']:.0f}MB "
        f"keys={r['online_entities']}" if r.get("ok") else f"FAILED {r.get('error')}"))
    return r


def task_materialize(args) -> list[dict]:
    results = []
    for engine, online in (("feast-sqlite", "sqlite"), ("feast-redis", "redis")):
        if args.engines and engine not in args.engines:
            continue
        repo = setup_repo(args, engine, args.materialize_offline, online)
        r = _materialize(args, engine, repo, online, f"{engine}.materialize")
        if not r.get("ok"):
            results.append(_fail(engine, "materialize", r))
            continue
        results.append({"engine": engine, "task": "materialize", "offline_store": args.materialize_offline,
                        "seconds": round(r["seconds"], 3), "wall_s": round(r["wall_s"], 3),
                        "peak_rss_mb": round(r["peak_rss_mb"], 1), "base_rss_mb": round(r["base_rss_mb"], 1),
                        "online_entities": r["online_entities"]})
    return results


def task_online(args) -> list[dict]:
    results = []
    n_ent = _n_entities(args)
    calls = {"calls_1": args.calls_1, "calls_100": args.calls_100, "n_entities": n_ent}
    redis_ready = False
    for engine, online in (("feast-sqlite", "sqlite"), ("feast-redis", "redis")):
        if args.engines and engine not in args.engines:
            continue
        repo = setup_repo(args, engine, args.materialize_offline, online)
        m = _materialize(args, engine, repo, online, f"{engine}.online-materialize")
        if not m.get("ok"):
            results.append(_fail(engine, "online", m))
            continue
        redis_ready = redis_ready or online == "redis"
        r = run_child(dict(calls, op="online", repo=repo), args.work, f"{engine}.online", args.timeout)
        if not r.get("ok"):
            results.append(_fail(engine, "online", r))
            continue
        for b in ("batch_1", "batch_100"):
            x = r[b]
            log(f"{engine} online {b}: p50={x['p50_ms']:.3f}ms p99={x['p99_ms']:.3f}ms")
            results.append({"engine": engine, "task": "online", "entities_per_call": int(b.split("_")[1]),
                            "calls": x["calls"], "p50_ms": round(x["p50_ms"], 4),
                            "p99_ms": round(x["p99_ms"], 4), "mean_ms": round(x["mean_ms"], 4),
                            "nonnull_frac": round(x["nonnull_frac"], 4),
                            "materialize_s": round(m["seconds"], 3), "online_entities": m["online_entities"]})
    if redis_ready and (not args.engines or "redis-raw" in args.engines or "feast-redis" in args.engines):
        r = run_child(dict(calls, op="redis_floor"), args.work, "redis-raw.online", args.timeout)
        if not r.get("ok"):
            results.append(_fail("redis-raw", "online", r))
        else:
            for b, what in (("batch_1", "HMGET"), ("batch_100", "pipeline of 100 HMGET")):
                x = r[b]
                log(f"redis-raw {b}: p50={x['p50_ms']:.3f}ms p99={x['p99_ms']:.3f}ms")
                results.append({"engine": "redis-raw", "task": "online", "op": what,
                                "entities_per_call": int(b.split("_")[1]), "calls": x["calls"],
                                "fields_per_key": r["fields_per_key"],
                                "p50_ms": round(x["p50_ms"], 4), "p99_ms": round(x["p99_ms"], 4),
                                "mean_ms": round(x["mean_ms"], 4)})
    return results


def main(argv=None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["--_child"]:
        return child_main(argv[1])
    p = argparse.ArgumentParser(description="Feast side of the featsql benchmarks")
    p.add_argument("--data", required=True, help="dir with features.parquet / entities.parquet")
    p.add_argument("--task", required=True, choices=["training", "materialize", "online"])
    p.add_argument("--work", required=True, help="scratch dir for Feast repos and logs")
    p.add_argument("--repeat", type=int, default=3, help="training runs per engine (median)")
    p.add_argument("--engines", nargs="*", help="subset, e.g. feast-file feast-duckdb feast-sqlite feast-redis")
    p.add_argument("--calls-1", type=int, default=2000, help="online calls with 1 entity")
    p.add_argument("--calls-100", type=int, default=500, help="online calls with 100 entities")
    p.add_argument("--materialize-offline", default="file", choices=["file", "duckdb"],
                   help="offline store that materialize reads through (default: file)")
    p.add_argument("--timeout", type=float, default=1800, help="per child process, seconds")
    p.add_argument("--max-rss-gb", type=float, default=0,
                   help="kill a child whose RSS exceeds this (0 = no limit; the child is always "
                        "the OOM killer's first victim anyway)")
    p.add_argument("--dump-dir", help="write the first training output of each engine here (parquet)")
    p.add_argument("--redis-db", type=int, default=REDIS_DB,
                   help="Redis db for the redis online store (FLUSHDB'ed by each materialize)")
    args = p.parse_args(argv)
    os.environ["FEAST_BENCH_REDIS_DB"] = str(args.redis_db)
    global MAX_RSS_MB
    MAX_RSS_MB = args.max_rss_gb * 1024
    args.data = os.path.abspath(args.data)
    args.work = os.path.abspath(args.work)
    os.makedirs(args.work, exist_ok=True)
    if args.dump_dir:
        os.makedirs(args.dump_dir, exist_ok=True)
    meta = {}
    if os.path.exists(os.path.join(args.data, "meta.json")):
        with open(os.path.join(args.data, "meta.json")) as f:
            meta = json.load(f)
    try:
        from importlib.metadata import version
        feast_version = version("feast")
    except Exception:  # noqa: BLE001
        feast_version = None
    t0 = time.perf_counter()
    try:
        results = {"training": task_training, "materialize": task_materialize,
                   "online": task_online}[args.task](args)
    except RuntimeError as e:  # a repo setup failed: still print one JSON object
        results = [{"engine": None, "task": args.task, "error": str(e)[:2000]}]
    out = {"feast_version": feast_version, "task": args.task, "data": args.data,
           "meta": {k: meta.get(k) for k in ("preset", "entities", "rows", "entity_rows")},
           "total_s": round(time.perf_counter() - t0, 1), "results": results}
    print(json.dumps(out))
    return 0 if all("error" not in r for r in results) else 1


if __name__ == "__main__":
    sys.exit(main())
