"""Push: rows written straight to a view's online values (Feast's push / write_to_online_store).

The rows go through the same conversion and the same newer-than rule as materialization: an
older pushed row never replaces a newer value, whatever wrote that. Stores mark pushed values,
so a parity check against the warehouse can tell them apart. The warehouse is not written: it
is the offline store, loaded by dbt.
"""
from __future__ import annotations

from typing import Any

import pyarrow as pa
import pyarrow.compute as pc

from featsql.compile.latest import CREATED_TS, EVENT_TS
from featsql.definitions import FeatureView
from featsql.errors import FeatsqlError, did_you_mean
from featsql.online.base import OnlineStore
from featsql.online.codec import KeyCodec, rows_from_arrow


def _utc_micros(column: pa.ChunkedArray, name: str) -> pa.ChunkedArray:
    """A time column (timestamps of any zone, dates, ISO strings) as naive UTC microseconds."""
    t = column.type
    if pa.types.is_timestamp(t):
        return column.cast(pa.timestamp(t.unit)).cast(pa.timestamp("us"))
    if pa.types.is_date(t):
        return column.cast(pa.timestamp("us"))
    if pa.types.is_string(t) or pa.types.is_large_string(t):
        import pandas as pd

        try:
            parsed = pd.to_datetime(pd.Series(column.to_pylist()), utc=True, format="ISO8601")
        except (ValueError, TypeError) as e:
            raise FeatsqlError(f"column '{name}': not ISO 8601 timestamps: {e}") from None
        return pa.chunked_array([pa.array(parsed.dt.tz_localize(None).astype("datetime64[us]"))])
    raise FeatsqlError(f"column '{name}' is {t}, not a timestamp")


def push_rows(online: OnlineStore, view: FeatureView, df: Any) -> int:
    """Write `df` (a pandas DataFrame or Arrow table: the view's join keys, its timestamp field,
    optionally its created timestamp field, and every feature) to `view`'s online values."""
    if not view.online:
        raise FeatsqlError(f"feature view '{view.name}' has online: false; it has no online values")
    data = df if isinstance(df, pa.Table) else pa.Table.from_pandas(df, preserve_index=False)
    names = [f.name for f in view.features]
    needed = [*view.join_keys, view.timestamp_field, *names]
    missing = [c for c in needed if c not in data.column_names]
    if missing:
        raise FeatsqlError(f"rows for feature view '{view.name}' lack column"
                           f"{'s' if len(missing) > 1 else ''} {', '.join(repr(c) for c in missing)}")
    known = set(needed) | ({view.created_timestamp_field} if view.created_timestamp_field else set())
    extra = [c for c in data.column_names if c not in known]
    if extra:
        raise FeatsqlError(f"rows for feature view '{view.name}': '{extra[0]}' is not one of its"
                           f" columns{did_you_mean(extra[0], known)}")
    event = _utc_micros(data.column(view.timestamp_field), view.timestamp_field)
    if view.timestamp_offset_seconds:
        event = pc.add(event, pa.scalar(view.timestamp_offset_seconds * 1_000_000, pa.duration("us")))
    if event.null_count:
        raise FeatsqlError(f"column '{view.timestamp_field}' has missing times")
    created_name = view.created_timestamp_field
    created = (_utc_micros(data.column(created_name), created_name)
               if created_name and created_name in data.column_names
               else pa.chunked_array([pa.nulls(data.num_rows, pa.timestamp("us"))]))
    batch = pa.table([*(data.column(k) for k in view.join_keys), event, created,
                      *(data.column(n) for n in names)],
                     names=[*view.join_keys, EVENT_TS, CREATED_TS, *names])
    codec, written = KeyCodec.of(view), 0
    for i, key in enumerate(view.join_keys):
        check = codec.normalizer(i, key)
        for value in data.column(key).to_pylist():
            check(value)
    for part in batch.to_batches(max_chunksize=online.batch_rows):
        try:
            rows = rows_from_arrow(part, view, codec)
        except (pa.ArrowInvalid, pa.ArrowTypeError, pa.ArrowNotImplementedError) as e:
            raise FeatsqlError(f"rows for feature view '{view.name}': {' '.join(str(e).split())}"
                               f" (features are {', '.join(f'{f.name} {f.type_name}' for f in view.features)})"
                               ) from None
        rows.pushed = True
        written += online.write(view, rows)
    return written
