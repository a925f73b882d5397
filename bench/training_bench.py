#!/usr/bin/env python
"""Training-set benchmark: featsql on DuckDB vs Feast 0.67 (file and DuckDB offline stores) vs a
hand-written DuckDB ASOF query (the practical floor), on identical data from bench/datagen.py.

    python bench/datagen.py --out bench/data/default            # once (or --large into .../large)
    bash bench/setup_feast.sh                                    # once: Feast in bench/.venv-feast
    python bench/training_bench.py [--data bench/data/default] [--repeat 3]

Each engine runs in a fresh child process; its peak RSS is the child's ru_maxrss (os.wait4), its
time the median of --repeat runs of the training-set call alone (data loading excluded).
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
FEATURES = [f"f{i}" for i in range(8)]
TTL_S = 7 * 86400
MEMORY_LIMIT = os.environ.get("FEATSQL_BENCH_MEMORY_LIMIT", "")

FLOOR_SQL = """
with f as (
  select * from driver_hourly_stats
  qualify row_number() over (partition by driver_id, event_timestamp order by created desc) = 1
)
select e.*, {cols}
from entities e asof left join f on e.driver_id = f.driver_id and e.event_timestamp >= f.event_timestamp
"""


def _load(db: str, data: Path) -> None:
    import duckdb

    with duckdb.connect(db) as con:
        con.execute("SET TimeZone = 'UTC'")
        # dbt-duckdb models usually hold naive UTC timestamps; store them that way.
        con.execute(f"""create or replace table driver_hourly_stats as select driver_id,
            event_timestamp::timestamp as event_timestamp, created::timestamp as created, {', '.join(FEATURES)}
            from read_parquet('{data / "features.parquet"}')""")
        con.execute(f"""create or replace table entities as select driver_id,
            event_timestamp::timestamp as event_timestamp, label from read_parquet('{data / "entities.parquet"}')""")


def _view():
    from featsql.definitions import Entity, Feature, FeatureView, Relation

    return FeatureView(
        name="driver_hourly_stats", entities=(Entity(name="driver", join_key="driver_id"),),
        timestamp_field="event_timestamp", created_timestamp_field="created",
        timestamp_dtype="timestamp", created_timestamp_dtype="timestamp", ttl_seconds=TTL_S,
        features=tuple(Feature(name=f, dtype="float", warehouse_type="DOUBLE") for f in FEATURES),
        relation=Relation(schema_name="main", identifier="driver_hourly_stats"),
    )


def worker(engine: str, db: str, data: Path, repeat: int) -> dict:
    import duckdb
    import pandas as pd

    from featsql.definitions import Definitions, Relation
    from featsql.offline.duckdb import DuckDBWarehouse
    from featsql.refs import resolve
    from featsql.training import plan_training_set

    class Creds:  # as dbt-duckdb's profile gives them (`settings:` in profiles.yml)
        path = db
        settings = {"memory_limit": MEMORY_LIMIT} if MEMORY_LIMIT else {}

    view = _view()
    requests = resolve([f"driver_hourly_stats:{f}" for f in FEATURES],
                       Definitions(feature_views={view.name: view}))
    entity_df = pd.read_parquet(data / "entities.parquet")
    times, rows = [], 0
    for _ in range(repeat):
        started = time.perf_counter()
        if engine == "duckdb-asof-floor":
            cols = ", ".join(f"case when f.event_timestamp >= e.event_timestamp - interval {TTL_S} second "
                             f"then f.{c} end as {c}" for c in FEATURES)
            with duckdb.connect(db, config=dict(Creds.settings)) as con:
                out = con.sql(FLOOR_SQL.format(cols=cols)).to_arrow_table()
        else:
            entity = entity_df if engine == "featsql-dataframe" else "select * from entities"
            # The entity table's columns from the catalog, as FeatureStore.get_historical_features
            # reads them (so a naive time column needs no conversion).
            with DuckDBWarehouse(Creds()) as catalog:
                columns = catalog.columns(Relation(schema_name="main", identifier="entities"))
            job = plan_training_set(warehouse=DuckDBWarehouse(), requests=requests, entity_df=entity,
                                    open_warehouse=lambda: DuckDBWarehouse(Creds()),
                                    render_sql=lambda s: s, columns_of_table=lambda t: columns)
            out = job.to_arrow()
        times.append(time.perf_counter() - started)
        rows = out.num_rows
    return {"engine": engine, "median_s": statistics.median(times), "rows": rows}


def _child(cmd: list[str], timeout: float) -> tuple[dict, float]:
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, text=True)
    deadline = time.time() + timeout
    while True:
        pid, status, usage = os.wait4(proc.pid, os.WNOHANG)
        if pid:
            break
        if time.time() > deadline:
            proc.kill()
            raise TimeoutError(" ".join(cmd))
        time.sleep(0.05)
    out = proc.stdout.read()
    if status:
        raise RuntimeError(f"{' '.join(cmd)} failed:\n{out}")
    return json.loads(out.strip().splitlines()[-1]), usage.ru_maxrss / 1024


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--data", default=str(HERE / "data" / "default"))
    p.add_argument("--repeat", type=int, default=3)
    p.add_argument("--no-feast", action="store_true", help="skip Feast (no bench/.venv-feast)")
    p.add_argument("--feast-repeat", type=int, default=1,
                   help="runs per Feast engine (its file store takes minutes and ~20 GB at default size)")
    p.add_argument("--feast-engines", nargs="*", default=["feast-duckdb", "feast-file"])
    p.add_argument("--memory-limit", default="",
                   help="DuckDB memory_limit for featsql and the floor, as `settings:` in a dbt-duckdb "
                        "profile would set it (e.g. 1GB)")
    p.add_argument("--worker", help=argparse.SUPPRESS)
    p.add_argument("--db", help=argparse.SUPPRESS)
    args = p.parse_args()
    data = Path(args.data).resolve()
    if args.memory_limit:
        os.environ["FEATSQL_BENCH_MEMORY_LIMIT"] = args.memory_limit  # children inherit it
        global MEMORY_LIMIT
        MEMORY_LIMIT = args.memory_limit
    if args.worker:
        print(json.dumps(worker(args.worker, args.db, data, args.repeat)))
        return 0
    if not (data / "features.parquet").is_file():
        sys.exit(f"{data}/features.parquet missing: run python bench/datagen.py --out {data}")
    results = []
    with tempfile.TemporaryDirectory(prefix="featsql-bench-") as work:
        db = str(Path(work) / "bench.duckdb")
        _load(db, data)
        for engine in ("featsql-dataframe", "featsql-sql", "duckdb-asof-floor"):
            r, rss = _child([sys.executable, __file__, "--worker", engine, "--db", db, "--data", str(data),
                             "--repeat", str(args.repeat)], timeout=3600)
            results.append({**r, "peak_rss_mb": rss})
            print(f"  {engine}: {r['median_s']:.3f}s, {rss:.0f} MB, {r['rows']:,} rows", file=sys.stderr)
        feast_py = HERE / ".venv-feast" / "bin" / "python"
        if not args.no_feast and feast_py.is_file():
            out = subprocess.run([str(feast_py), str(HERE / "feast_side.py"), "--data", str(data), "--task",
                                  "training", "--work", work, "--repeat", str(args.feast_repeat),
                                  "--engines", *args.feast_engines, "--max-rss-gb", "20"],
                                 capture_output=True, text=True, timeout=7200)
            try:  # one JSON object, also when an engine failed or was killed (then it has "error")
                results += json.loads(out.stdout.strip().splitlines()[-1])["results"]
            except (IndexError, ValueError, KeyError):
                print(f"feast failed:\n{out.stderr[-2000:]}", file=sys.stderr)
    base = next(r for r in results if r["engine"] == "featsql-sql")
    print(f"\nTraining set on {data.name}: median of {args.repeat}, peak RSS per process\n")
    print(f"{'engine':<22}{'median s':>10}{'peak MB':>10}{'rows':>12}{'time / featsql-sql':>20}")
    for r in results:
        t = r.get("median_s")
        ratio = f"{t / base['median_s']:.2f}x" if t else "-"
        t_txt = f"{t:.3f}" if t else str(r.get("error", "failed"))[:10]
        print(f"{r['engine']:<22}{t_txt:>10}{r.get('peak_rss_mb', 0):>10.0f}{r.get('rows', 0):>12,}{ratio:>20}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
