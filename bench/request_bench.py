#!/usr/bin/env python
"""Request-time features: the online cost of 3 request-time features, featsql vs Feast's
on-demand feature view, on identical data (SQLite online stores).

    .venv/bin/python bench/request_bench.py [--entities 10000] [--calls 300] [--out F.json]
    (Feast side: bench/.venv-feast from `bash bench/setup_feast.sh`; skipped if missing)

Data: N drivers x 5 hourly rows of Feast's driver_hourly_stats shape (conv_rate, acc_rate,
avg_daily_trips), written once as parquet. Both stores materialize it into SQLite. A read is 100
random drivers (98 known, 2 unknown) with request data val_to_add / val_to_add_2, twice:

  without   the 3 stored features
  with      the same + conv_rate_plus_val1 = conv_rate + val_to_add,
            conv_rate_plus_val2 = conv_rate + val_to_add_2, acc_pct = ROUND(acc_rate * 100, 1)
            (featsql: request-time SQL on the service; Feast: an @on_demand_feature_view,
            pandas mode as in Feast's template, and python mode)

featsql is timed through the SDK (in-process) and through `featsql serve` (POST with a keep-alive
connection); p50/p99 over --calls reads after 20 warm-up reads. The pass bar: featsql's p50 with
request-time features within 20% of without, SDK and server. Values are checked equal between
the two stores on one read. Results: a table on stderr, JSON on stdout (and --out).
"""
from __future__ import annotations

import argparse
import json
import random
import shutil
import socket
import subprocess
import sys
import time
from datetime import datetime, timedelta
from pathlib import Path

HERE = Path(__file__).resolve().parent
BASE = datetime(2025, 1, 1)
FEAST_PY = HERE / ".venv-feast" / "bin" / "python"
STORED = ["conv_rate", "acc_rate", "avg_daily_trips"]
COMPUTED = {"conv_rate_plus_val1": "conv_rate + val_to_add",
            "conv_rate_plus_val2": "conv_rate + val_to_add_2",
            "acc_pct": "ROUND(acc_rate * 100, 1)"}


def log(msg: str) -> None:
    print(f"[request_bench] {msg}", file=sys.stderr, flush=True)


def pct(xs: list[float]) -> dict:
    xs = sorted(xs)
    return {"p50_ms": xs[len(xs) // 2] * 1e3, "p99_ms": xs[int(len(xs) * 0.99) - 1] * 1e3, "n": len(xs)}


def make_data(path: Path, n: int) -> None:
    import pyarrow as pa
    import pyarrow.parquet as pq

    rng = random.Random(1)
    rows = []
    for d in range(1, n + 1):
        for h in range(5):
            ts = BASE + timedelta(hours=h)
            rows.append({"driver_id": d, "event_timestamp": ts, "created": ts + timedelta(minutes=1),
                         "conv_rate": round(rng.random(), 6), "acc_rate": round(rng.random(), 6),
                         "avg_daily_trips": rng.randint(0, 1000)})
    pq.write_table(pa.Table.from_pylist(rows, schema=pa.schema([
        ("driver_id", pa.int64()), ("event_timestamp", pa.timestamp("us")), ("created", pa.timestamp("us")),
        ("conv_rate", pa.float64()), ("acc_rate", pa.float64()), ("avg_daily_trips", pa.int64())])), path)


def reads(n_entities: int, calls: int) -> list[list[dict]]:
    rng = random.Random(7)
    out = []
    for _ in range(calls + 20):
        ids = [rng.randint(1, n_entities) for _ in range(98)] + [n_entities + 1, n_entities + 2]
        out.append([{"driver_id": i, "val_to_add": rng.randint(0, 100), "val_to_add_2": rng.randint(0, 9)}
                    for i in ids])
    return out


# -- featsql (main venv) -------------------------------------------------------------------------

def featsql_repo(work: Path, data: Path) -> Path:
    import yaml

    repo = work / "featsql"
    repo.mkdir(parents=True)
    (repo / "dbt_project.yml").write_text(yaml.safe_dump(
        {"name": "bench", "version": "1.0.0", "config-version": 2, "profile": "bench"}))
    (repo / "profiles.yml").write_text(yaml.safe_dump({"bench": {"target": "dev", "outputs": {
        "dev": {"type": "duckdb", "path": str(repo / "warehouse.duckdb"), "threads": 1}}}}))
    (repo / "featsql.yml").write_text(yaml.safe_dump({
        "project": "request_bench", "dbt": {"project_dir": ".", "profiles_dir": "."},
        "registry": str(repo / "registry.json"),
        "online_store": {"type": "sqlite", "path": str(repo / "online.db")}}))
    import duckdb

    with duckdb.connect(str(repo / "warehouse.duckdb")) as con:
        con.execute(f"create table driver_hourly_stats as select * from read_parquet('{data}')")
    from featsql.declarations import build_definitions
    from featsql.manifest import Declared
    from featsql.plan import make_plan
    from featsql.store import FeatureStore

    store = FeatureStore(repo_path=repo)
    view = Declared(name="driver_hourly_stats", unique_id="model.bench.driver_hourly_stats",
                    yaml_file="models/schema.yml", relation=(None, "main", "driver_hourly_stats"),
                    meta={"entities": ["driver_id"], "created_timestamp_field": "created",
                          "features": STORED})
    stored = [f"driver_hourly_stats:{f}" for f in STORED]
    services = [
        Declared(name="without", unique_id="exposure.bench.without", yaml_file="models/schema.yml",
                 meta={"features": stored}),
        Declared(name="with", unique_id="exposure.bench.with", yaml_file="models/schema.yml",
                 meta={"request": [{"name": "val_to_add", "type": "int"}, {"name": "val_to_add_2", "type": "int"}],
                       "features": stored + [{"name": n, "sql": s} for n, s in COMPUTED.items()]})]
    with store.warehouse() as wh:
        defs = build_definitions([view], services, wh.columns, wh.parse_type)
    store.registry.commit(make_plan(store.registry.load(), defs).new_state)
    store.refresh()
    store.online_store.create(list(defs.feature_views.values()))
    store.materialize(BASE, BASE + timedelta(days=1))
    store.close()
    return repo


def _interleaved(calls: dict, batches: list[list[dict]]) -> dict:
    """Each read of `batches` once per case, the cases alternating read by read (so drift on a
    noisy machine hits them alike); the first 20 reads are warm-up."""
    lat: dict[str, list[float]] = {name: [] for name in calls}
    for i, rows in enumerate(batches):
        for name, call in calls.items():
            t0 = time.perf_counter()
            call(rows)
            if i >= 20:
                lat[name].append(time.perf_counter() - t0)
    return {name: pct(v) for name, v in lat.items()}


def _keys_only(rows: list[dict]) -> list[dict]:
    return [{"driver_id": r["driver_id"]} for r in rows]


def featsql_sdk(repo: Path, batches: list[list[dict]]) -> dict:
    from featsql.store import FeatureStore

    store = FeatureStore(repo_path=repo)
    without, with_ = store.get_feature_service("without"), store.get_feature_service("with")
    out = _interleaved({
        "without": lambda rows: store.get_online_features(without, _keys_only(rows)).to_dict(),
        "with": lambda rows: store.get_online_features(with_, rows).to_dict()}, batches)
    out["sample"] = store.get_online_features(with_, batches[0]).to_dict()
    store.close()
    return out


def featsql_server(repo: Path, batches: list[list[dict]]) -> dict:
    import http.client

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    exe = Path(sys.executable).parent / "featsql"
    proc = subprocess.Popen([str(exe), "serve", "--port", str(port)], cwd=repo,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        for _ in range(200):
            try:
                with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                    break
            except OSError:
                time.sleep(0.1)
        conn = http.client.HTTPConnection("127.0.0.1", port)

        def post(name: str, rows: list[dict]) -> None:
            entities = {"driver_id": [r["driver_id"] for r in rows]}
            if name == "with":
                entities |= {c: [r[c] for r in rows] for c in ("val_to_add", "val_to_add_2")}
            conn.request("POST", "/get-online-features",
                         json.dumps({"feature_service": name, "entities": entities}),
                         {"Content-Type": "application/json"})
            resp = conn.getresponse()
            resp.read()
            assert resp.status == 200, resp.status
        return _interleaved({"without": lambda rows: post("without", rows),
                             "with": lambda rows: post("with", rows)}, batches)
    finally:
        proc.terminate()
        proc.wait(10)


# -- Feast (bench/.venv-feast) -------------------------------------------------------------------

FEAST_REPO = '''
from datetime import timedelta
import pandas as pd
from feast import Entity, FeatureView, Field, FileSource, RequestSource, FeatureService
from feast.on_demand_feature_view import on_demand_feature_view
from feast.types import Float64, Int64

driver = Entity(name="driver", join_keys=["driver_id"])
source = FileSource(path="{data}", timestamp_field="event_timestamp", created_timestamp_column="created")
driver_hourly_stats = FeatureView(name="driver_hourly_stats", entities=[driver], ttl=timedelta(days=3650),
    schema=[Field(name="conv_rate", dtype=Float64), Field(name="acc_rate", dtype=Float64),
            Field(name="avg_daily_trips", dtype=Int64)], source=source, online=True)
request = RequestSource(name="vals_to_add", schema=[Field(name="val_to_add", dtype=Int64),
                                                    Field(name="val_to_add_2", dtype=Int64)])

@on_demand_feature_view(sources=[driver_hourly_stats, request],
    schema=[Field(name="conv_rate_plus_val1", dtype=Float64), Field(name="conv_rate_plus_val2", dtype=Float64),
            Field(name="acc_pct", dtype=Float64)])
def transformed_conv_rate(inputs: pd.DataFrame) -> pd.DataFrame:
    df = pd.DataFrame()
    df["conv_rate_plus_val1"] = inputs["conv_rate"] + inputs["val_to_add"]
    df["conv_rate_plus_val2"] = inputs["conv_rate"] + inputs["val_to_add_2"]
    df["acc_pct"] = (inputs["acc_rate"] * 100).round(1)
    return df

@on_demand_feature_view(sources=[driver_hourly_stats, request], mode="python",
    schema=[Field(name="conv_rate_plus_val1_py", dtype=Float64), Field(name="conv_rate_plus_val2_py", dtype=Float64),
            Field(name="acc_pct_py", dtype=Float64)])
def transformed_conv_rate_python(inputs: dict) -> dict:
    return {{"conv_rate_plus_val1_py": [None if c is None else c + v for c, v in zip(inputs["conv_rate"], inputs["val_to_add"])],
             "conv_rate_plus_val2_py": [None if c is None else c + v for c, v in zip(inputs["conv_rate"], inputs["val_to_add_2"])],
             "acc_pct_py": [None if a is None else round(a * 100, 1) for a in inputs["acc_rate"]]}}
'''


def feast_child(spec: dict) -> dict:
    """Runs in bench/.venv-feast."""
    import importlib.util

    from feast import FeatureStore

    repo = Path(spec["repo"])
    repo.mkdir(parents=True, exist_ok=True)
    (repo / "feature_store.yaml").write_text(
        f"project: request_bench\nregistry: {repo / 'registry.db'}\nprovider: local\n"
        f"online_store:\n  type: sqlite\n  path: {repo / 'online.db'}\n"
        "entity_key_serialization_version: 3\n")
    (repo / "definitions.py").write_text(FEAST_REPO.format(data=spec["data"]))
    module_spec = importlib.util.spec_from_file_location("definitions", repo / "definitions.py")
    mod = importlib.util.module_from_spec(module_spec)
    module_spec.loader.exec_module(mod)
    store = FeatureStore(repo_path=str(repo))
    store.apply([mod.driver, mod.driver_hourly_stats, mod.request, mod.transformed_conv_rate,
                 mod.transformed_conv_rate_python])
    store.materialize(datetime(2024, 12, 31), datetime(2025, 1, 2))
    stored = [f"driver_hourly_stats:{f}" for f in STORED]
    cases = {"without": stored,
             "with": stored + [f"transformed_conv_rate:{c}" for c in COMPUTED],
             "with_python_mode": stored + [f"transformed_conv_rate_python:{c}_py" for c in COMPUTED]}
    out = _interleaved({name: (lambda rows, f=features, n=name: store.get_online_features(
        features=f, entity_rows=_keys_only(rows) if n == "without" else rows).to_dict())
        for name, features in cases.items()}, spec["batches"])
    out["sample"] = store.get_online_features(features=cases["with"], entity_rows=spec["batches"][0]).to_dict()
    return out


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--entities", type=int, default=10_000)
    p.add_argument("--calls", type=int, default=300)
    p.add_argument("--work", default=str(HERE / "work" / "request_bench"))
    p.add_argument("--out")
    p.add_argument("--feast-child", help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    if args.feast_child:
        spec = json.loads(Path(args.feast_child).read_text())
        print(json.dumps(feast_child(spec), default=str))
        return 0
    work = Path(args.work)
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir(parents=True)
    data = work / "driver_hourly_stats.parquet"
    make_data(data, args.entities)
    batches = reads(args.entities, args.calls)
    log(f"featsql: materializing {args.entities * 5:,} rows")
    repo = featsql_repo(work, data)
    result: dict = {"entities": args.entities, "calls": args.calls, "batch": 100}
    result["featsql_sdk"] = featsql_sdk(repo, batches)
    result["featsql_server"] = featsql_server(repo, batches)
    if FEAST_PY.exists():
        log("feast: apply, materialize, read")
        spec = work / "feast_spec.json"
        spec.write_text(json.dumps({"repo": str(work / "feast"), "data": str(data), "batches": batches}))
        proc = subprocess.run([str(FEAST_PY), __file__, "--feast-child", str(spec)], capture_output=True,
                              text=True, timeout=1800)
        if proc.returncode != 0:
            log(f"feast failed: {proc.stderr[-2000:]}")
        else:
            result["feast_sdk"] = json.loads(proc.stdout.strip().splitlines()[-1])
    # Parity on one read: featsql's and Feast's request-time values.
    sample = result["featsql_sdk"].pop("sample")
    if "feast_sdk" in result:
        theirs = result["feast_sdk"].pop("sample")
        diffs = sum(1 for c in COMPUTED for a, b in zip(sample[c], theirs[c])
                    if not ((a is None and b is None) or (a is not None and b is not None and abs(a - b) < 1e-9)))
        result["parity_mismatches"] = diffs
    for side in ("featsql_sdk", "featsql_server", "feast_sdk"):
        if side in result:
            r = result[side]
            r["overhead"] = r["with"]["p50_ms"] / r["without"]["p50_ms"] - 1
    if "feast_sdk" in result:
        result["feast_over_featsql_with"] = result["feast_sdk"]["with"]["p50_ms"] / result["featsql_sdk"]["with"]["p50_ms"]
    for side in ("featsql_sdk", "featsql_server", "feast_sdk"):
        if side in result:
            r = result[side]
            cells = "  ".join(f"{k}: p50 {v['p50_ms']:.3f} ms p99 {v['p99_ms']:.3f} ms"
                              for k, v in r.items() if isinstance(v, dict))
            log(f"{side:15s} {cells}  overhead {r['overhead']:+.1%}")
    text = json.dumps(result, indent=2, default=str)
    if args.out:
        Path(args.out).write_text(text + "\n")
    print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
