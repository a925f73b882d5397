#!/usr/bin/env python
"""Deterministic benchmark data for featsql vs Feast.

Needs only numpy, pandas, pyarrow (runs in the main venv and in bench/.venv-feast).

    python bench/datagen.py --out bench/data/default              # 1k ents / 1M rows / 100k entity rows
    python bench/datagen.py --out bench/data/large --large        # 100k / 10M / 1M
    python bench/datagen.py --out bench/data/online --online      # 100k / 1M   (materialize + online)
    python bench/datagen.py --out bench/data/online_large --online-large  # 100k / 10M
    python bench/datagen.py --out DIR --entities 10 --rows 1000 --entity-rows 100

Writes DIR/features.parquet, DIR/entities.parquet, DIR/meta.json.

features.parquet: driver_id int64 (1..N), event_timestamp timestamp[us, UTC] (whole seconds,
  uniform over [2025-01-01, 2025-01-31)), created timestamp[us, UTC] (= event_timestamp +
  0..3600 s), f0..f7 float64. ~1% of rows are exact (driver_id, event_timestamp) duplicates of an
  earlier row in the same chunk with a *different* created value, so the created-timestamp
  tie-break matters.
entities.parquet: driver_id int64, event_timestamp timestamp[us, UTC] (whole seconds, uniform
  over [2025-01-02, 2025-02-01)), label int64 0/1.

Feature view semantics shared by all engines: join key driver_id, timestamp event_timestamp,
created timestamp `created`, ttl 7 days.

Determinism: every chunk uses its own numpy PCG64 generator seeded with (seed, table, chunk
index), and chunk boundaries depend only on --rows/--chunk-rows, so the output is byte-for-byte
independent of the venv as long as numpy's Generator streams are stable (they are across numpy
1.17+ for integers/random/standard_normal).
"""
from __future__ import annotations

import argparse
import json
import os
import sys
import time

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

SIZES = {
    # name: (entities, feature rows, entity rows)
    "default": (1_000, 1_000_000, 100_000),
    "large": (100_000, 10_000_000, 1_000_000),
    "online": (100_000, 1_000_000, 100_000),
    "online_large": (100_000, 10_000_000, 100_000),
}

US = 1_000_000
FEAT_START = np.datetime64("2025-01-01T00:00:00", "s").astype(np.int64)
FEAT_END = np.datetime64("2025-01-31T00:00:00", "s").astype(np.int64)
ENT_START = np.datetime64("2025-01-02T00:00:00", "s").astype(np.int64)
ENT_END = np.datetime64("2025-02-01T00:00:00", "s").astype(np.int64)
N_FEATURES = 8
DUP_FRACTION = 0.01
CREATED_MAX_S = 3600

TS = pa.timestamp("us", tz="UTC")
FEATURE_SCHEMA = pa.schema(
    [("driver_id", pa.int64()), ("event_timestamp", TS), ("created", TS)]
    + [(f"f{i}", pa.float64()) for i in range(N_FEATURES)]
)
ENTITY_SCHEMA = pa.schema(
    [("driver_id", pa.int64()), ("event_timestamp", TS), ("label", pa.int64())]
)


def _ts(seconds: np.ndarray) -> pa.Array:
    return pa.array(seconds.astype(np.int64) * US, type=TS)


def feature_chunk(seed: int, idx: int, n: int, n_entities: int) -> pa.Table:
    rng = np.random.default_rng([seed, 1, idx])
    driver = rng.integers(1, n_entities + 1, size=n, dtype=np.int64)
    ts = rng.integers(FEAT_START, FEAT_END, size=n, dtype=np.int64)
    created_off = rng.integers(0, CREATED_MAX_S + 1, size=n, dtype=np.int64)
    feats = rng.standard_normal(size=(N_FEATURES, n))
    # ~1% exact (driver_id, event_timestamp) duplicates of an earlier row in this chunk,
    # with a guaranteed-different created offset.
    n_dup = int(round(n * DUP_FRACTION))
    if n_dup and n > n_dup:
        dst = rng.choice(np.arange(1, n), size=n_dup, replace=False)
        dst.sort()
        src = (rng.random(n_dup) * dst).astype(np.int64)  # src < dst
        # Avoid chains (src itself being a dup target) so each dup pairs with an original row.
        is_dst = np.zeros(n, dtype=bool)
        is_dst[dst] = True
        keep = ~is_dst[src]
        dst, src = dst[keep], src[keep]
        driver[dst] = driver[src]
        ts[dst] = ts[src]
        shift = rng.integers(1, CREATED_MAX_S + 1, size=len(dst), dtype=np.int64)
        created_off[dst] = (created_off[src] + shift) % (CREATED_MAX_S + 1)
    cols = [pa.array(driver), _ts(ts), _ts(ts + created_off)]
    cols += [pa.array(feats[i]) for i in range(N_FEATURES)]
    return pa.Table.from_arrays(cols, schema=FEATURE_SCHEMA)


def entity_chunk(seed: int, idx: int, n: int, n_entities: int) -> pa.Table:
    rng = np.random.default_rng([seed, 2, idx])
    driver = rng.integers(1, n_entities + 1, size=n, dtype=np.int64)
    ts = rng.integers(ENT_START, ENT_END, size=n, dtype=np.int64)
    label = rng.integers(0, 2, size=n, dtype=np.int64)
    return pa.Table.from_arrays([pa.array(driver), _ts(ts), pa.array(label)], schema=ENTITY_SCHEMA)


def write_table(path: str, schema: pa.Schema, total: int, chunk_rows: int, make) -> None:
    tmp = path + ".tmp"
    with pq.ParquetWriter(tmp, schema, compression="snappy") as w:
        idx = 0
        done = 0
        while done < total:
            n = min(chunk_rows, total - done)
            w.write_table(make(idx, n), row_group_size=chunk_rows)
            done += n
            idx += 1
    os.replace(tmp, path)


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--out", required=True)
    g = p.add_mutually_exclusive_group()
    g.add_argument("--large", action="store_true")
    g.add_argument("--online", action="store_true")
    g.add_argument("--online-large", action="store_true")
    p.add_argument("--entities", type=int)
    p.add_argument("--rows", type=int)
    p.add_argument("--entity-rows", type=int)
    p.add_argument("--seed", type=int, default=42)
    p.add_argument("--chunk-rows", type=int, default=1_000_000)
    a = p.parse_args(argv)

    preset = "large" if a.large else "online" if a.online else "online_large" if a.online_large else "default"
    n_ent, n_rows, n_erows = SIZES[preset]
    n_ent = a.entities if a.entities is not None else n_ent
    n_rows = a.rows if a.rows is not None else n_rows
    n_erows = a.entity_rows if a.entity_rows is not None else n_erows
    if min(n_ent, n_rows, n_erows) < 1 or a.chunk_rows < 1:
        p.error("sizes must be >= 1")

    os.makedirs(a.out, exist_ok=True)
    t0 = time.perf_counter()
    write_table(os.path.join(a.out, "features.parquet"), FEATURE_SCHEMA, n_rows, a.chunk_rows,
                lambda i, n: feature_chunk(a.seed, i, n, n_ent))
    write_table(os.path.join(a.out, "entities.parquet"), ENTITY_SCHEMA, n_erows, a.chunk_rows,
                lambda i, n: entity_chunk(a.seed, i, n, n_ent))
    meta = {
        "preset": preset, "entities": n_ent, "rows": n_rows, "entity_rows": n_erows,
        "seed": a.seed, "chunk_rows": a.chunk_rows, "dup_fraction": DUP_FRACTION,
        "feature_ts_range": ["2025-01-01T00:00:00Z", "2025-01-31T00:00:00Z"],
        "entity_ts_range": ["2025-01-02T00:00:00Z", "2025-02-01T00:00:00Z"],
        "join_key": "driver_id", "timestamp": "event_timestamp", "created": "created",
        "ttl_days": 7, "features": [f"f{i}" for i in range(N_FEATURES)],
    }
    with open(os.path.join(a.out, "meta.json"), "w") as f:
        json.dump(meta, f, indent=2)
    print(f"datagen: wrote {a.out} ({preset}: {n_ent} entities, {n_rows} feature rows, "
          f"{n_erows} entity rows) in {time.perf_counter() - t0:.1f}s", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
