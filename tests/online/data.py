"""Deterministic feature rows and an independent (pandas) latest-row computation to check against."""
from __future__ import annotations

import random
from datetime import datetime, timedelta
from typing import Any

import pandas as pd
import pyarrow as pa

BASE = datetime(2025, 1, 1)


def driver_stats(n_entities: int = 40, rows_per_entity: int = 8, seed: int = 7,
                 base: datetime = BASE, first_id: int = 1001) -> pa.Table:
    """driver_id, event_timestamp, created (naive UTC) and four features with ~10% NULLs; some
    rows share an event time with a different created time so the tie-break matters."""
    rng = random.Random(seed)
    rows: list[dict[str, Any]] = []
    for d in range(first_id, first_id + n_entities):
        hours = rng.sample(range(0, 24 * 10), rows_per_entity)
        for h in hours:
            ts = base + timedelta(hours=h)
            rows.append(_row(rng, d, ts, ts + timedelta(minutes=rng.randint(1, 50))))
            if rng.random() < 0.2:  # same event time, later created: this one must win
                rows.append(_row(rng, d, ts, ts + timedelta(minutes=55)))
    rng.shuffle(rows)
    return pa.Table.from_pylist(rows, schema=pa.schema([
        ("driver_id", pa.int64()), ("event_timestamp", pa.timestamp("us")),
        ("created", pa.timestamp("us")), ("conv_rate", pa.float64()), ("trips", pa.int32()),
        ("active", pa.bool_()), ("note", pa.string())]))


def _row(rng: random.Random, d: int, ts: datetime, created: datetime) -> dict[str, Any]:
    def maybe(v: Any) -> Any:
        return None if rng.random() < 0.1 else v

    return {"driver_id": d, "event_timestamp": ts, "created": created,
            "conv_rate": maybe(round(rng.random(), 6)), "trips": maybe(rng.randint(0, 40)),
            "active": maybe(rng.random() < 0.5), "note": maybe(rng.choice(["a", "b, c", "d=e", "ü"]))}


def latest(data: pa.Table, keys: list[str], start: datetime | None, end: datetime,
           ts: str = "event_timestamp", created: str | None = "created") -> dict[tuple, dict]:
    """Latest row per key with start <= ts <= end, by (ts, created): the contract, in pandas."""
    df = data.to_pandas()
    mask = df[ts] <= pd.Timestamp(end)
    if start is not None:
        mask &= df[ts] >= pd.Timestamp(start)
    df = df[mask].sort_values([ts] + ([created] if created else []))
    out = {}
    for rec in df.to_dict("records"):
        out[tuple(rec[k] for k in keys)] = rec  # later rows overwrite: newest wins
    return {k: {c: _py(v) for c, v in rec.items()} for k, rec in out.items()}


def _py(v: Any) -> Any:
    if v is None or (isinstance(v, float) and v != v):
        return None
    if v is pd.NaT:
        return None
    if hasattr(v, "item") and not isinstance(v, (pd.Timestamp,)):
        return v.item()
    return v
