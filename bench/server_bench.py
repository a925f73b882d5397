#!/usr/bin/env python
"""HTTP feature-server benchmark: `featsql serve` vs `feast serve` (Feast 0.67) on identical data.

From a fresh machine (Debian; Redis on 127.0.0.1:6379):

    python -m venv .venv && .venv/bin/pip install -e '.[dev]'        # featsql + starlette/uvicorn
    apt-get update && apt-get install -y wrk                          # load generator (optional)
    .venv/bin/python bench/datagen.py --out bench/data/online --online  # 100k entities, 1M rows
    bash bench/setup_feast.sh                                         # bench/.venv-feast (Feast 0.67)
    .venv/bin/python bench/server_bench.py --out bench/work/server_bench.json
    bench/.venv-feast/bin/python bench/feast_remote_peer.py           # Feast's client vs featsql serve

    options: [--stores redis,sqlite] [--seconds 3] [--featsql-workers N] [--feast-workers N]
             [--no-feast] [--loadgen wrk|python] [--asgi-python PY] [--redis-dbs 12,13]

Setup (untimed): the parquet is loaded into a DuckDB warehouse and one view (driver_id; 8 float
features; created tie-break; no ttl) plus a feature service `driver_activity` are registered in a
dbt-free featsql repo per store (as bench/online_bench.py does), then materialized into SQLite /
Redis db 12; Feast's repos (bench/feast_side.py's definitions) are materialized into SQLite /
Redis db 13. Nothing else touches those two Redis dbs (they are flushed before loading).

Per store, in this order on the same machine:

  sdk        FeatureStore.get_online_features(...) in a fresh process, 1 and 100 random entities
             (p50/p99; also with server_json + orjson.dumps, what a handler adds).
  featsql    `featsql serve` (cwd = the repo; `--workers N` when its --help offers it), 1 s warm-up,
             then one wrk run per (entities per request in {1, 100}) x (clients in {1, 16, 64}):
             keep-alive connections, POST /get-online-features with random entity ids (the same
             Lua generator and seed for both servers), --seconds each, a per-thread request cap.
  feast      `feast serve --no-access-log --max-requests 0` in Feast's repo dir (gunicorn would
             otherwise restart its worker every ~1000 requests), the same cells.
  parity     one 100-entity request (98 present ids + 2 unknown) to both servers: values and
             statuses compared per feature.

Once per run, `empty`: a Starlette app on uvicorn (the stack of featsql's new server) whose
handler reads the body and returns {"ok": true}, measured the same way (1 connection and 16),
with the 1- and 100-entity bodies. The report sets featsql's 1-connection p50 against
sdk p50 + empty p50.

The load generator is wrk (its own process; Lua builds each POST body) or, without wrk or with
--loadgen python, an asyncio HTTP/1.1 keep-alive client in a child process. Errors = connect /
read / write / timeout errors + non-200 responses. Everything is on 127.0.0.1, and wrk, Redis and
the server share the machine's cores, so read the featsql/Feast ratios, not absolute numbers.
A table goes to stderr; the JSON (--out, and stdout) holds every cell.
"""
from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
VIEW = "driver_hourly_stats"
FEATURES = [f"f{i}" for i in range(8)]
REFS = [f"{VIEW}:{f}" for f in FEATURES]
SERVICE = "driver_activity"
PROJECT = "featsql_bench"
MAT_START, MAT_END = "2024-12-01T00:00:00+00:00", "2025-02-02T00:00:00+00:00"
FEAST_PY = HERE / ".venv-feast" / "bin" / "python"
FEAST_BIN = HERE / ".venv-feast" / "bin" / "feast"
FEATSQL_BIN = Path(sys.executable).parent / "featsql"
SEED = 20240611


def log(msg: str) -> None:
    print(f"[server_bench] {msg}", file=sys.stderr, flush=True)


# -- featsql repo (featsql venv) --------------------------------------------------------------------
def featsql_repo(work: Path, data: Path, store: str, redis_url: str) -> Path:
    sys.path.insert(0, str(HERE))
    import online_bench

    online_bench.REDIS_URL = redis_url  # write_repo reads it at call time
    repo = work / f"featsql-{store}"
    online_bench.write_repo(repo, store)
    register(repo)
    return repo


def register(repo: Path) -> None:
    """bench/online_bench.py's view (no ttl) plus a feature service over all 8 features."""
    from featsql.definitions import (Definitions, Entity, Feature, FeatureService, FeatureView,
                                     Relation, ViewProjection)
    from featsql.plan import make_plan
    from featsql.store import FeatureStore

    view = FeatureView(
        name=VIEW, entities=(Entity(name="driver", join_key="driver_id"),),
        timestamp_field="event_timestamp", created_timestamp_field="created",
        timestamp_dtype="timestamp", created_timestamp_dtype="timestamp",
        features=tuple(Feature(name=f, dtype="float", warehouse_type="DOUBLE") for f in FEATURES),
        relation=Relation(schema_name="main", identifier=VIEW), join_key_types=("int",))
    service = FeatureService(name=SERVICE,
                             projections=(ViewProjection(view=VIEW, features=tuple(FEATURES)),))
    store = FeatureStore(repo_path=repo)
    registry = store.registry
    defs = Definitions(entities={"driver": view.entities[0]}, feature_views={VIEW: view},
                       feature_services={SERVICE: service})
    registry.commit(make_plan(registry.load(), defs).new_state)
    store.close()


def op_materialize(spec: dict) -> dict:
    sys.path.insert(0, str(HERE))
    import online_bench

    store = online_bench.empty_store(spec)
    t0 = time.perf_counter()
    runs = store.materialize(MAT_START, MAT_END)
    return {"seconds": time.perf_counter() - t0, "rows": runs[0].rows}


def _pct(xs: list[float]) -> dict:
    xs = sorted(xs)
    n = len(xs)

    def q(p: float) -> float:
        return xs[min(n - 1, int(round(p / 100 * (n - 1))))] * 1000.0 if n else float("nan")

    return {"p50_ms": q(50), "p99_ms": q(99), "mean_ms": (sum(xs) / n * 1000.0) if n else None,
            "calls": n}


def op_sdk(spec: dict) -> dict:
    import orjson

    from featsql.serving import server_json
    from featsql.store import FeatureStore

    store = FeatureStore(repo_path=Path(spec["repo"]))
    rng = random.Random(SEED)
    out = {}
    for batch, calls in ((1, spec["calls_1"]), (100, spec["calls_100"])):
        sdk, full = [], []
        for i in range(calls + 50):
            rows = [{"driver_id": rng.randint(1, spec["n_entities"])} for _ in range(batch)]
            t0 = time.perf_counter()
            resp = store.get_online_features(REFS, rows)
            t1 = time.perf_counter()
            orjson.dumps(server_json(resp))  # what the server's handler adds
            t2 = time.perf_counter()
            if i >= 50:
                sdk.append(t1 - t0)
                full.append(t2 - t0)
        out[str(batch)] = {"sdk": _pct(sdk), "sdk_json": _pct(full)}
    return out


# -- Feast repo (runs in bench/.venv-feast) ---------------------------------------------------------
def op_feast_prepare(spec: dict) -> dict:
    sys.path.insert(0, str(HERE))
    import feast_side

    feast_side.REDIS_DB = spec["redis_db"]  # read at call time by write_repo / _flush_redis
    repo = spec["repo"]
    os.makedirs(repo, exist_ok=True)
    feast_side.child_setup({"repo": repo, "data": spec["data"], "offline": "file",
                            "online": spec["store"]})
    return feast_side.child_materialize({"repo": repo, "data": spec["data"],
                                         "online": spec["store"]})


OPS = {"materialize": op_materialize, "sdk": op_sdk, "feast_prepare": op_feast_prepare}


def child_main(spec_json: str) -> int:
    from online_bench import child_main as run_op  # bench/ is on sys.path (this script's dir)

    return run_op(spec_json, OPS)


def run_child(python: Path | str, spec: dict, work: Path, tag: str, timeout: float = 1800) -> dict:
    result = work / f"{tag}.result.json"
    result.unlink(missing_ok=True)
    spec = dict(spec, result=str(result))
    with open(work / f"{tag}.log", "w") as logf:
        try:
            subprocess.run([str(python), __file__, "--_child", json.dumps(spec)], stdout=logf,
                           stderr=subprocess.STDOUT, timeout=timeout, cwd=str(work))
        except subprocess.TimeoutExpired:
            return {"ok": False, "error": f"timeout after {timeout}s"}
    out = json.loads(result.read_text()) if result.exists() else {"ok": False, "error": "no result"}
    if not out.get("ok"):
        out["log_tail"] = (work / f"{tag}.log").read_text()[-2000:]
    return out


# -- servers ----------------------------------------------------------------------------------------
def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Server:
    """A server process in its own session (stopped by its process group id)."""

    def __init__(self, name: str, cmd: list[str], cwd: Path, port: int, logpath: Path):
        self.name, self.cmd, self.port, self.logpath = name, cmd, port, logpath
        self.url = f"http://127.0.0.1:{port}"
        self.logf = open(logpath, "w")
        self.proc = subprocess.Popen(cmd, cwd=str(cwd), stdout=self.logf, stderr=subprocess.STDOUT,
                                     start_new_session=True)

    def wait_ready(self, timeout: float = 90) -> None:
        t0 = time.time()
        while time.time() - t0 < timeout:
            if self.proc.poll() is not None:
                raise RuntimeError(f"{self.name} exited {self.proc.returncode}:\n"
                                   + self.logpath.read_text()[-2000:])
            try:
                with urllib.request.urlopen(self.url + "/health", timeout=2) as r:
                    if r.status == 200:
                        return
            except OSError:
                pass
            time.sleep(0.2)
        raise RuntimeError(f"{self.name} not healthy after {timeout}s:\n" + self.logpath.read_text()[-2000:])

    def stop(self) -> None:
        if self.proc.poll() is None:
            try:
                os.killpg(self.proc.pid, signal.SIGTERM)
                self.proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait()
            except ProcessLookupError:
                pass
        self.logf.close()


def post(url: str, body: dict, timeout: float = 30) -> tuple[int, dict]:
    req = urllib.request.Request(url + "/get-online-features", data=json.dumps(body).encode(),
                                 headers={"Content-Type": "application/json"}, method="POST")
    try:
        with urllib.request.urlopen(req, timeout=timeout) as r:
            return r.status, json.loads(r.read())
    except urllib.error.HTTPError as e:
        return e.code, {"error": e.read().decode(errors="replace")[:500]}


def featsql_has_workers() -> bool:
    p = subprocess.run([str(FEATSQL_BIN), "serve", "--help"], capture_output=True, text=True)
    return "--workers" in p.stdout


# -- load generation --------------------------------------------------------------------------------
WRK_LUA = r"""
-- Generated by bench/server_bench.py. Env: SB_BATCH, SB_NENT, SB_SEED, SB_CAP, SB_PREFIX, SB_SUFFIX.
local ffi = require("ffi")
ffi.cdef[[ typedef struct { long sb_sec; long sb_nsec; } sb_timespec;
           int clock_gettime(int clk, sb_timespec *tp); ]]
local tsbuf = ffi.new("sb_timespec")
local function now() ffi.C.clock_gettime(1, tsbuf); return tonumber(tsbuf.sb_sec) + tonumber(tsbuf.sb_nsec) * 1e-9 end

local threads = {}
local counter = 0
function setup(thread)
  counter = counter + 1
  thread:set("tid", counter)
  table.insert(threads, thread)
end

local batch, nent, cap, prefix, suffix
-- globals (not locals): done() reads them with thread:get
sent, n200, non200, t0, t1, capped = 0, 0, 0, 0, 0, 0
function init(args)
  batch = tonumber(os.getenv("SB_BATCH"))
  nent = tonumber(os.getenv("SB_NENT"))
  cap = tonumber(os.getenv("SB_CAP"))
  prefix = os.getenv("SB_PREFIX")
  suffix = os.getenv("SB_SUFFIX")
  math.randomseed(tonumber(os.getenv("SB_SEED")) + tid * 7919)
  wrk.method = "POST"
  wrk.headers["Content-Type"] = "application/json"
end

local ids = {}
function request()
  if sent == 0 then t0 = now() end
  sent = sent + 1
  if sent > cap then capped = 1; wrk.thread:stop() end
  for i = 1, batch do ids[i] = math.random(1, nent) end
  return wrk.format(nil, nil, nil, prefix .. table.concat(ids, ",", 1, batch) .. suffix)
end

function response(status, headers, body)
  t1 = now()
  if status == 200 then n200 = n200 + 1 else non200 = non200 + 1 end
end

function done(summary, latency, requests)
  local a, b, ok, bad, cp = math.huge, 0, 0, 0, 0
  for _, t in ipairs(threads) do
    local x0, x1 = t:get("t0"), t:get("t1")
    if x0 and x0 > 0 and x0 < a then a = x0 end
    if x1 and x1 > b then b = x1 end
    ok = ok + (t:get("n200") or 0); bad = bad + (t:get("non200") or 0); cp = cp + (t:get("capped") or 0)
  end
  local e = summary.errors
  io.write(string.format(
    'SRVBENCH_JSON {"responses":%d,"ok":%d,"non200":%d,"capped":%d,"span_s":%.6f,' ..
    '"duration_s":%.6f,"connect":%d,"read":%d,"write":%d,"timeout":%d,"status":%d,' ..
    '"p50_ms":%.4f,"p90_ms":%.4f,"p99_ms":%.4f,"max_ms":%.4f,"mean_ms":%.4f}\n',
    summary.requests, ok, bad, cp, b - a, summary.duration / 1e6, e.connect, e.read, e.write,
    e.timeout, e.status, latency:percentile(50) / 1000, latency:percentile(90) / 1000,
    latency:percentile(99) / 1000, latency.max / 1000, latency.mean / 1000))
end
"""


def body_parts(batch: int, feature_service: bool = False) -> tuple[str, str]:
    """JSON before and after the comma-separated entity ids."""
    head = (f'{{"feature_service":"{SERVICE}",' if feature_service
            else '{"features":' + json.dumps(REFS, separators=(",", ":")) + ",")
    prefix, suffix = head + '"entities":{"driver_id":[', ']},"full_feature_names":false}'
    json.loads(prefix + ",".join(["1"] * batch) + suffix)  # a well-formed body
    return prefix, suffix


def wrk_cell(args, url: str, batch: int, clients: int, seconds: float, n_ent: int) -> dict:
    lua = Path(args.work) / "srvbench.lua"
    if not lua.exists():
        lua.write_text(WRK_LUA)
    prefix, suffix = body_parts(batch)
    threads = max(1, min(args.wrk_threads, clients))
    cap = int(args.max_requests_per_second * max(1, round(seconds)) / threads) + 1
    env = dict(os.environ, SB_BATCH=str(batch), SB_NENT=str(n_ent), SB_SEED=str(SEED),
               SB_CAP=str(cap), SB_PREFIX=prefix, SB_SUFFIX=suffix)
    seconds = max(1, int(round(seconds)))  # wrk takes whole seconds
    cmd = [args.wrk, f"-t{threads}", f"-c{clients}", f"-d{seconds}s", "--timeout", "10s",
           "-s", str(lua), url + "/get-online-features"]
    p = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=seconds + 60)
    line = next((ln for ln in p.stdout.splitlines() if ln.startswith("SRVBENCH_JSON ")), None)
    if line is None:
        return {"error": f"wrk exit {p.returncode}: {p.stderr[-500:]} {p.stdout[-500:]}"}
    r = json.loads(line.split(" ", 1)[1])
    span = r["span_s"] if r["span_s"] > 0 else r["duration_s"]
    errors = r["connect"] + r["read"] + r["write"] + r["timeout"] + r["non200"]
    return {"rps": r["responses"] / span, "p50_ms": r["p50_ms"], "p90_ms": r["p90_ms"],
            "p99_ms": r["p99_ms"], "max_ms": r["max_ms"], "mean_ms": r["mean_ms"],
            "requests": r["responses"], "errors": errors, "non200": r["non200"],
            "socket_errors": {k: r[k] for k in ("connect", "read", "write", "timeout")},
            "capped": bool(r["capped"]), "seconds": span, "threads": threads}


# asyncio fallback load generator (a child process: `server_bench.py --_loadgen SPEC`)
def loadgen_main(spec_json: str) -> int:
    import asyncio

    spec = json.loads(spec_json)
    host, port = "127.0.0.1", spec["port"]
    prefix, suffix = spec["prefix"], spec["suffix"]
    batch, n_ent = spec["batch"], spec["n_entities"]
    cap = spec["cap"]
    lat: list[float] = []
    stats = {"non200": 0, "connect": 0, "read": 0, "write": 0, "timeout": 0, "sent": 0}
    t_first, t_last = [None], [0.0]

    async def one(i: int, deadline: float) -> None:
        rng = random.Random(SEED + i * 7919)
        try:
            reader, writer = await asyncio.open_connection(host, port)
        except OSError:
            stats["connect"] += 1
            return
        while time.perf_counter() < deadline and stats["sent"] < cap:
            body = (prefix + ",".join(str(rng.randint(1, n_ent)) for _ in range(batch)) + suffix).encode()
            req = (f"POST /get-online-features HTTP/1.1\r\nHost: {host}:{port}\r\n"
                   f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n\r\n").encode() + body
            stats["sent"] += 1
            t0 = time.perf_counter()
            if t_first[0] is None:
                t_first[0] = t0
            try:
                writer.write(req)
                await writer.drain()
                head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 10)
                status = int(head.split(b" ", 2)[1])
                length = 0
                for ln in head.split(b"\r\n")[1:]:
                    k, _, v = ln.partition(b":")
                    if k.strip().lower() == b"content-length":
                        length = int(v)
                await asyncio.wait_for(reader.readexactly(length), 10)
            except asyncio.TimeoutError:
                stats["timeout"] += 1
                break
            except (OSError, asyncio.IncompleteReadError, ValueError):
                stats["read"] += 1
                break
            t1 = time.perf_counter()
            lat.append(t1 - t0)
            t_last[0] = t1
            if status != 200:
                stats["non200"] += 1
        writer.close()

    async def run() -> None:
        deadline = time.perf_counter() + spec["seconds"]
        await asyncio.gather(*(one(i, deadline) for i in range(spec["clients"])))

    asyncio.run(run())
    span = (t_last[0] - t_first[0]) if t_first[0] else 0.0
    p = _pct(lat)
    errors = stats["connect"] + stats["read"] + stats["write"] + stats["timeout"] + stats["non200"]
    print(json.dumps({"rps": len(lat) / span if span else 0.0, "p50_ms": p["p50_ms"],
                      "p99_ms": p["p99_ms"], "mean_ms": p["mean_ms"], "requests": len(lat),
                      "errors": errors, "non200": stats["non200"],
                      "socket_errors": {k: stats[k] for k in ("connect", "read", "write", "timeout")},
                      "capped": stats["sent"] >= cap, "seconds": span}))
    return 0


def py_cell(args, url: str, batch: int, clients: int, seconds: float, n_ent: int) -> dict:
    prefix, suffix = body_parts(batch)
    spec = {"port": int(url.rsplit(":", 1)[1]), "prefix": prefix, "suffix": suffix, "batch": batch,
            "n_entities": n_ent, "clients": clients, "seconds": seconds,
            "cap": int(args.max_requests_per_second * seconds)}
    p = subprocess.run([sys.executable, __file__, "--_loadgen", json.dumps(spec)],
                       capture_output=True, text=True, timeout=seconds + 60)
    try:
        return json.loads(p.stdout.strip().splitlines()[-1])
    except (IndexError, json.JSONDecodeError):
        return {"error": f"loadgen exit {p.returncode}: {p.stderr[-500:]}"}


def cell(args, url: str, batch: int, clients: int, seconds: float, n_ent: int) -> dict:
    fn = wrk_cell if args.loadgen == "wrk" else py_cell
    return fn(args, url, batch, clients, seconds, n_ent)


def run_cells(args, server: Server, n_ent: int) -> list[dict]:
    cell(args, server.url, 1, 4, 1.0, n_ent)  # warm-up (discarded)
    cell(args, server.url, 100, 4, 1.0, n_ent)
    out = []
    for batch in args.entities:
        for clients in args.clients:
            r = cell(args, server.url, batch, clients, args.seconds, n_ent)
            r.update(entities=batch, clients=clients)
            out.append(r)
            log(f"  {server.name} x{batch} c{clients}: " + (
                f"{r['rps']:.0f} req/s p50 {r['p50_ms']:.2f} ms p99 {r['p99_ms']:.2f} ms"
                f" errors {r['errors']}" if "error" not in r else f"FAILED {r['error']}"))
    return out


# -- parity -----------------------------------------------------------------------------------------
def parity_ids(n_ent: int) -> list[int]:
    rng = random.Random(SEED + 1)
    return [rng.randint(1, n_ent) for _ in range(98)] + [n_ent + 1, n_ent + 2]


def by_name(doc: dict) -> dict:
    names = doc["metadata"]["feature_names"]
    return {n: (r["values"], r["statuses"], r.get("event_timestamps")) for n, r in zip(names, doc["results"])}


def compare(a: dict, b: dict) -> dict:
    """featsql's answer vs Feast's for the same body: values, statuses, event times per feature."""
    fa, fb = by_name(a), by_name(b)
    first, nv, ns, nt = [], 0, 0, 0
    for n in FEATURES:
        if n not in fa or n not in fb:
            first.append(f"{n}: missing in {'featsql' if n not in fa else 'feast'}")
            nv += 1
            continue
        for i, (va, vb, sa, sb) in enumerate(zip(fa[n][0], fb[n][0], fa[n][1], fb[n][1])):
            nv += va != vb
            ns += sa != sb
            if va != vb or sa != sb:
                first.append(f"{n}[{i}]: featsql {va!r}/{sa} vs feast {vb!r}/{sb}")
        nt += sum(x != y for x, y in zip(fa[n][2] or [], fb[n][2] or []))
    return {"values_equal": nv == 0, "value_mismatches": nv, "status_mismatches": ns,
            "event_timestamp_mismatches": nt, "first": first[:4],
            "present": sum(s == "PRESENT" for s in fa.get("f0", ([], []))[1])}


# -- empty handler ----------------------------------------------------------------------------------
EMPTY_APP = '''
from starlette.applications import Starlette
from starlette.responses import JSONResponse
from starlette.routing import Route


async def get_online_features(request):
    await request.body()
    return JSONResponse({"ok": True})


async def health(request):
    return JSONResponse({"status": "ok"})


app = Starlette(routes=[Route("/get-online-features", get_online_features, methods=["POST"]),
                        Route("/health", health)])
'''


def asgi_python(args) -> str | None:
    for py in [args.asgi_python, sys.executable]:
        if py and subprocess.run([py, "-c", "import starlette, uvicorn"],
                                 capture_output=True).returncode == 0:
            return py
    return None


def bench_empty(args, py: str, work: Path) -> dict:
    (work / "srvbench_empty_app.py").write_text(EMPTY_APP)
    stack = subprocess.run([py, "-c", (
        "import importlib.util as u, starlette, uvicorn; print(f'starlette {starlette.__version__},"
        " uvicorn {uvicorn.__version__}, uvloop={u.find_spec(\"uvloop\") is not None},"
        " httptools={u.find_spec(\"httptools\") is not None}')")], capture_output=True, text=True).stdout.strip()
    port = free_port()
    srv = Server("empty", [py, "-m", "uvicorn", "srvbench_empty_app:app", "--host", "127.0.0.1",
                           "--port", str(port), "--no-access-log", "--log-level", "warning"],
                 work, port, work / "empty.log")
    out = {"python": py, "stack": stack, "cells": []}
    try:
        srv.wait_ready()
        cell(args, srv.url, 1, 4, 1.0, 1000)
        for batch in args.entities:
            for clients in (1, 16):
                r = cell(args, srv.url, batch, clients, args.seconds, 100000)
                r.update(entities=batch, clients=clients)
                out["cells"].append(r)
                log(f"  empty x{batch} c{clients}: " + (
                    f"{r['rps']:.0f} req/s p50 {r['p50_ms']:.3f} ms p99 {r['p99_ms']:.3f} ms errors"
                    f" {r['errors']}" if "error" not in r else f"FAILED {r['error']}"))
    finally:
        srv.stop()
    return out


# -- report -----------------------------------------------------------------------------------------
def find(cells: list[dict], batch: int, clients: int) -> dict | None:
    return next((c for c in cells if c.get("entities") == batch and c.get("clients") == clients
                 and "error" not in c), None)


def table(res: dict) -> list[str]:
    hdr = (f"{'store':6} {'ents':>4} {'cli':>3} | {'featsql r/s':>11} {'p50':>7} {'p99':>7} {'err':>4}"
           f" | {'Feast r/s':>9} {'p50':>7} {'p99':>7} {'err':>4} | {'r/s x':>6} {'p99 x':>6}")
    lines = [hdr, "-" * len(hdr)]
    for st in res["stores"]:
        for batch in res["args"]["entities"]:
            for clients in res["args"]["clients"]:
                a = find(st["featsql"], batch, clients)
                b = find(st.get("feast", []), batch, clients)

                def fmt(c):
                    if not c:
                        return f"{'-':>11} {'-':>7} {'-':>7} {'-':>4}"
                    return f"{c['rps']:11.0f} {c['p50_ms']:7.2f} {c['p99_ms']:7.2f} {c['errors']:4d}"

                ratio = (f"{a['rps'] / b['rps']:6.2f} {a['p99_ms'] / b['p99_ms']:6.2f}"
                         if a and b and b["rps"] and b["p99_ms"] else f"{'-':>6} {'-':>6}")
                lines.append(f"{st['store']:6} {batch:4d} {clients:3d} | {fmt(a)} | {fmt(b)[2:]} | {ratio}")
    lines.append("ms = milliseconds; r/s x = featsql/Feast throughput; p99 x = featsql/Feast p99 (<1: featsql lower)")
    return lines


def targets(res: dict) -> list[dict]:
    out = []
    empty = res.get("empty") or {}
    for st in res["stores"]:
        s = st["store"]
        for batch in res["args"]["entities"]:
            a, b = find(st["featsql"], batch, 16), find(st.get("feast", []), batch, 16)
            if a and b:
                ok = a["rps"] >= 3 * b["rps"] and a["p99_ms"] <= b["p99_ms"]
                out.append({"target": f"{s} x{batch} @16 clients: featsql >= 3x Feast req/s at <= p99",
                            "pass": ok, "detail": f"{a['rps'] / b['rps']:.2f}x req/s, p99 {a['p99_ms']:.2f}"
                            f" vs {b['p99_ms']:.2f} ms"})
            one = find(st["featsql"], batch, 1)
            sdk = st.get("sdk", {}).get(str(batch), {}).get("sdk")
            e = find(empty.get("cells", []), batch, 1)
            if one and sdk and e:
                floor = sdk["p50_ms"] + e["p50_ms"]
                out.append({"target": f"{s} x{batch} 1 connection: featsql p50 <= 2 x (SDK p50 + empty p50)",
                            "pass": one["p50_ms"] <= 2 * floor,
                            "detail": f"p50 {one['p50_ms']:.3f} ms vs SDK {sdk['p50_ms']:.3f} + empty"
                                      f" {e['p50_ms']:.3f} = {floor:.3f} ms ({one['p50_ms'] / floor:.2f}x)"})
            c64 = find(st["featsql"], batch, 64)
            if c64:
                out.append({"target": f"{s} x{batch} @64 clients: 0 errors", "pass": c64["errors"] == 0,
                            "detail": f"{c64['errors']} errors in {c64['requests']} responses"
                                      f" {c64['socket_errors']}, non-200 {c64['non200']}"})
    return out


# -- main -------------------------------------------------------------------------------------------
def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["--_child"]:
        return child_main(argv[1])
    if argv[:1] == ["--_loadgen"]:
        return loadgen_main(argv[1])
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--data", default=str(HERE / "data" / "online"))
    p.add_argument("--work", default=str(HERE / "work" / "server"))
    p.add_argument("--stores", default="redis,sqlite")
    p.add_argument("--seconds", type=int, default=3, help="per cell (whole seconds)")
    p.add_argument("--entities", default="1,100", help="entities per request")
    p.add_argument("--clients", default="1,16,64", help="concurrent keep-alive connections")
    p.add_argument("--out", help="write the JSON results here")
    p.add_argument("--featsql-workers", type=int, help="`featsql serve --workers N` (if offered)")
    p.add_argument("--feast-workers", type=int, help="`feast serve -w N` (default: --featsql-workers or 1)")
    p.add_argument("--no-feast", action="store_true")
    p.add_argument("--loadgen", choices=["wrk", "python"], help="default: wrk when on PATH")
    p.add_argument("--wrk-threads", type=int, default=1)
    p.add_argument("--max-requests-per-second", type=float, default=50000,
                   help="request cap per cell = this x --seconds (a bound, not a rate)")
    p.add_argument("--asgi-python", help="interpreter with starlette+uvicorn for the empty-handler"
                                         " baseline (default: this one, if it has them)")
    p.add_argument("--redis", default="redis://127.0.0.1:6379")
    p.add_argument("--redis-dbs", default="12,13", help="featsql db, Feast db (both are flushed)")
    p.add_argument("--sdk-calls", type=int, default=2000)
    a = p.parse_args(argv)
    a.stores = [s for s in a.stores.split(",") if s]
    a.entities = [int(x) for x in a.entities.split(",")]
    a.clients = [int(x) for x in a.clients.split(",")]
    a.wrk = shutil.which("wrk")
    a.loadgen = a.loadgen or ("wrk" if a.wrk else "python")
    if a.loadgen == "wrk" and not a.wrk:
        raise SystemExit("wrk not on PATH (apt-get install -y wrk) - or use --loadgen python")
    db_featsql, db_feast = (int(x) for x in a.redis_dbs.split(","))
    data = Path(a.data).resolve()
    if not (data / "features.parquet").exists():
        raise SystemExit(f"{data}/features.parquet missing: run bench/datagen.py --out {a.data} --online")
    work = Path(a.work).resolve()
    work.mkdir(parents=True, exist_ok=True)
    n_ent = json.loads((data / "meta.json").read_text())["entities"]
    feast_ok = not a.no_feast and FEAST_PY.exists()
    if not a.no_feast and not feast_ok:
        log("bench/.venv-feast missing (bash bench/setup_feast.sh): Feast side skipped")
    has_workers = featsql_has_workers()
    if a.featsql_workers and not has_workers:
        log(f"`featsql serve --help` has no --workers: --featsql-workers {a.featsql_workers} ignored")
    feast_workers = a.feast_workers or (a.featsql_workers if has_workers and a.featsql_workers else 1)

    sys.path.insert(0, str(HERE))
    import online_bench

    t0 = time.perf_counter()
    rows = online_bench.load_warehouse(work, data)
    log(f"warehouse: {rows:,} rows ({time.perf_counter() - t0:.1f}s, untimed); load generator: {a.loadgen}")
    res = {"args": {"stores": a.stores, "seconds": a.seconds, "entities": a.entities,
                    "clients": a.clients, "loadgen": a.loadgen, "wrk_threads": a.wrk_threads,
                    "featsql_workers": a.featsql_workers if has_workers else None,
                    "featsql_serve_has_workers": has_workers, "feast_workers": feast_workers,
                    "data": str(data), "entities_in_store": n_ent, "rows": rows},
           "machine": {"cpus": os.cpu_count(), "loadavg_start": os.getloadavg()},
           "featsql_server": (ROOT / "featsql" / "server.py").read_text().split('"""')[1].split("\n")[0],
           "stores": []}
    try:
        res["featsql_git"] = subprocess.run(["git", "-C", str(ROOT), "log", "-1", "--format=%h %s"],
                                            capture_output=True, text=True).stdout.strip()
        res["featsql_dirty"] = subprocess.run(["git", "-C", str(ROOT), "status", "--short", "featsql/"],
                                              capture_output=True, text=True).stdout.split()[1::2]
    except OSError:
        pass

    py = asgi_python(a)
    if py:
        log("empty handler (Starlette on uvicorn)")
        res["empty"] = bench_empty(a, py, work)
    else:
        log("no interpreter with starlette+uvicorn (pip install -e '.[server]' or --asgi-python): "
            "empty-handler baseline skipped")

    for store in a.stores:
        st = {"store": store}
        res["stores"].append(st)
        redis_url = f"{a.redis}/{db_featsql}"
        repo = featsql_repo(work, data, store, redis_url)
        m = run_child(sys.executable, {"op": "materialize", "repo": str(repo), "store": store,
                                       "redis_url": redis_url}, work, f"featsql-{store}.materialize")
        if not m.get("ok"):
            raise SystemExit(f"featsql materialize {store} failed: {m.get('error')}\n{m.get('log_tail')}")
        st["featsql_materialize"] = {"seconds": round(m["seconds"], 2), "entities": m["rows"]}
        log(f"{store}: featsql materialized {m['rows']:,} entities in {m['seconds']:.1f}s")
        feast_repo = work / f"feast-{store}"
        if feast_ok:
            fm = run_child(FEAST_PY, {"op": "feast_prepare", "repo": str(feast_repo), "data": str(data),
                                      "store": store, "redis_db": db_feast}, work, f"feast-{store}.prepare")
            if fm.get("ok"):
                st["feast_materialize"] = {"seconds": round(fm["seconds"], 2),
                                           "entities": fm["online_entities"]}
                log(f"{store}: Feast materialized {fm['online_entities']:,} entities in {fm['seconds']:.1f}s")
            else:
                log(f"{store}: Feast prepare failed: {fm.get('error')}\n{fm.get('log_tail')}")
                st["feast_error"] = fm.get("error")
        sdk = run_child(sys.executable, {"op": "sdk", "repo": str(repo), "n_entities": n_ent,
                                         "calls_1": a.sdk_calls, "calls_100": max(200, a.sdk_calls // 4)},
                        work, f"featsql-{store}.sdk")
        if sdk.get("ok"):
            st["sdk"] = {k: v for k, v in sdk.items() if k != "ok"}
            for b in ("1", "100"):
                log(f"{store}: SDK x{b} p50 {sdk[b]['sdk']['p50_ms']:.3f} ms (with JSON"
                    f" {sdk[b]['sdk_json']['p50_ms']:.3f} ms)")
        else:
            log(f"{store}: SDK measurement failed: {sdk.get('error')}")

        parity_body = {"features": REFS, "entities": {"driver_id": parity_ids(n_ent)},
                       "full_feature_names": False}
        port = free_port()
        cmd = [str(FEATSQL_BIN), "serve", "--host", "127.0.0.1", "--port", str(port)]
        if has_workers and a.featsql_workers:
            cmd += ["--workers", str(a.featsql_workers)]
        srv = Server(f"featsql-{store}", cmd, repo, port, work / f"featsql-{store}.serve.log")
        featsql_doc = None
        st["featsql_cmd"] = " ".join(["featsql", *cmd[1:]])
        st["featsql"] = []
        try:
            srv.wait_ready()
            code, featsql_doc = post(srv.url, parity_body)
            if code != 200:
                log(f"{store}: featsql parity request -> {code} {featsql_doc}")
                featsql_doc = None
            log(f"{store}: {st['featsql_cmd']}")
            st["featsql"] = run_cells(a, srv, n_ent)
        except RuntimeError as e:  # the server did not come up: record it, go on with Feast
            st["featsql_error"] = str(e)[-1500:]
            log(f"{store}: featsql serve failed: {e}")
        finally:
            srv.stop()
        if feast_ok and "feast_error" not in st:
            port = free_port()
            cmd = [str(FEAST_BIN), "serve", "-h", "127.0.0.1", "-p", str(port), "--no-access-log",
                   "--max-requests", "0", "-w", str(feast_workers)]
            srv = Server(f"feast-{store}", cmd, feast_repo, port, work / f"feast-{store}.serve.log")
            st["feast_cmd"] = " ".join(["feast", *cmd[1:]])
            try:
                srv.wait_ready()
                code, feast_doc = post(srv.url, parity_body)
                if featsql_doc is not None and code == 200:
                    st["parity"] = compare(featsql_doc, feast_doc)
                    log(f"{store}: parity featsql vs Feast on 100 entities: {st['parity']}")
                log(f"{store}: {st['feast_cmd']}")
                st["feast"] = run_cells(a, srv, n_ent)
            finally:
                srv.stop()

    res["machine"]["loadavg_end"] = os.getloadavg()
    res["targets"] = targets(res)
    lines = table(res)
    if res.get("empty"):
        for c in res["empty"]["cells"]:
            if "error" in c:
                continue
            lines.append(f"empty handler ({res['empty']['stack']}) x{c['entities']} c{c['clients']}:"
                         f" {c['rps']:.0f} req/s, p50 {c['p50_ms']:.3f} ms, p99 {c['p99_ms']:.3f} ms")
    for st in res["stores"]:
        for b, v in st.get("sdk", {}).items():
            lines.append(f"SDK {st['store']} x{b}: get_online_features p50 {v['sdk']['p50_ms']:.3f} ms"
                         f" (+ server_json + orjson.dumps: {v['sdk_json']['p50_ms']:.3f} ms)")
        if "parity" in st:
            q = st["parity"]
            lines.append(f"parity {st['store']} (98 known + 2 unknown ids): values "
                         f"{'equal' if q['values_equal'] else 'DIFFERENT'} ({q['value_mismatches']} mismatches),"
                         f" {q['status_mismatches']} status and {q['event_timestamp_mismatches']} event-time"
                         f" mismatches" + (f"; first: {q['first'][0]}" if q["first"] else ""))
    for st in res["stores"]:
        if "featsql_error" in st:
            lines.append(f"featsql serve ({st['store']}) did not run: {st['featsql_error'].splitlines()[-1]}")
    for t in res["targets"]:
        lines.append(f"{'PASS' if t['pass'] else 'FAIL'}  {t['target']}: {t['detail']}")
    res["table"] = lines
    print("\n".join(lines), file=sys.stderr)
    text = json.dumps(res, indent=2)
    if a.out:
        Path(a.out).parent.mkdir(parents=True, exist_ok=True)
        Path(a.out).write_text(text)
    print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
