"""Materialization: latest values per entity, computed in the warehouse, into the online store.

Per view: one query (featsql.compile.latest), streamed as Arrow record batches of the store's
`batch_rows` (memory does not grow with the table), each batch converted once and written, up to
the store's `max_in_flight` batches at a time. The view's watermark moves only after its last
batch is written; any failure leaves it where it was, and re-running is safe because stores
only accept values newer than what they hold.
"""
from __future__ import annotations

import time
from collections import deque
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import TYPE_CHECKING, Any, Protocol

from featsql.compile.latest import materialization_query
from featsql.definitions import FeatureView
from featsql.durations import to_utc
from featsql.errors import FeatsqlError
from featsql.online.codec import KeyCodec, rows_from_arrow

if TYPE_CHECKING:
    from featsql.registry.base import RegistryState
    from featsql.store import FeatureStore


@dataclass
class ViewRun:
    """What one view's materialization did."""

    view: str
    start: datetime | None
    end: datetime
    rows: int = 0
    seconds: float = 0.0
    skipped: bool = False
    # An apply changed the view while it was being written: its watermark was left as it was.
    view_changed: bool = False
    # A sharded run: (shard, of) and how many of its shards have finished (this one included).
    shard: tuple[int, int] | None = None
    shards_done: int = 0

    @property
    def rate(self) -> float:
        return self.rows / self.seconds if self.seconds > 0 else 0.0

    def line(self) -> str:
        window = f"{_fmt(self.start) if self.start else 'the oldest row'} .. {_fmt(self.end)}"
        if self.skipped:
            return f"{self.view}: up to date (watermark {_fmt(self.start)} >= {_fmt(self.end)})"
        changed = ("; the view changed during the run (featsql apply): watermark not moved,"
                   " rerun to materialize the new definition") if self.view_changed else ""
        if self.shard is not None and not changed:
            i, n = self.shard
            changed = (f"; shard {i}/{n}, {self.shards_done} of {n} done"
                       + ("" if self.shards_done >= n else ": the watermark moves when all are"))
        return (f"{self.view}: {self.rows:,} rows in {self.seconds:.2f}s ({self.rate:,.0f} rows/s),"
                f" {window}{changed}")


class Progress(Protocol):
    def started(self, run: ViewRun) -> None: ...
    def advanced(self, run: ViewRun) -> None: ...
    def finished(self, run: ViewRun) -> None: ...


def online_views(store: FeatureStore, names: list[str] | None) -> list[FeatureView]:
    if not names:
        views = [v for v in store.list_feature_views() if v.online]
        if not views:
            raise FeatsqlError("no online feature views registered; run `featsql apply` first")
        return views
    views = [store.get_feature_view(n) for n in names]
    for v in views:
        if not v.online:
            raise FeatsqlError(f"feature view '{v.name}' has online: false; it is not materialized")
    return views


def watermark_key(view: str, online: Any) -> str:
    """A watermark belongs to a view *in one online store*: another store starts from scratch."""
    return f"{view}@{online.identity}"


def end_time(value: datetime | str) -> datetime:
    """A window's END: a time up to now, or `now`. A future END would stop every later
    incremental run ("up to date") until that time came."""
    if isinstance(value, str) and value.strip().lower() == "now":
        return datetime.now(timezone.utc)
    end = to_utc(value)
    now = datetime.now(timezone.utc)
    if end > now + timedelta(minutes=1):
        raise FeatsqlError(f"END {_fmt(end)} is in the future (now is {_fmt(now.replace(microsecond=0))});"
                           " give a time up to now, or `now`")
    return end


def materialize(store: FeatureStore, start: datetime | str, end: datetime | str,
                views: list[str] | None = None, progress: Progress | None = None,
                shard: tuple[int, int] | None = None) -> list[ViewRun]:
    """Write the latest row per entity with start <= ts <= end of each view (or, with `shard`
    (i, n), of the entities in partition i of n)."""
    start_utc, end_utc = to_utc(start), _end(end, shard)
    if start_utc > end_utc:
        raise FeatsqlError(f"start {_fmt(start_utc)} is after end {_fmt(end_utc)}")
    chosen = online_views(store, views)
    return _engine(store, [(v, start_utc) for v in chosen], end_utc, progress, shard)


def materialize_incremental(store: FeatureStore, end: datetime | str, views: list[str] | None = None,
                            progress: Progress | None = None,
                            shard: tuple[int, int] | None = None) -> list[ViewRun]:
    """Continue each view from its watermark in this online store up to `end`; from its oldest
    row when there is none, or when the store lost what the watermark describes (its marker is
    gone: a deleted file, a flushed Redis, a rebuilt table)."""
    end_utc = _end(end, shard)
    chosen = online_views(store, views)
    state = store.registry.load()
    marks = state.watermarks
    online = store.online_store
    windows = []
    for v in chosen:
        mark = marks.get(watermark_key(v.name, online))
        if mark is not None and not online.has_marker(v):
            mark = None
        windows.append((v, to_utc(mark) if mark is not None else None))
    return _engine(store, windows, end_utc, progress, shard, state)


def _end(end: datetime | str, shard: tuple[int, int] | None) -> datetime:
    if shard is not None and isinstance(end, str) and end.strip().lower() == "now":
        raise FeatsqlError("--shard needs an explicit END (every shard of a run must use the same"
                           " one), not `now`")
    return end_time(end)


def _engine(store: FeatureStore, windows: list[tuple[FeatureView, datetime | None]], end: datetime,
            progress: Progress | None, shard: tuple[int, int] | None,
            state: RegistryState | None = None) -> list[ViewRun]:
    """`materialization.workers` > 1: that many processes, each materializing its partition of
    every view (the same windows and END); else this process, all of it (or `shard`)."""
    workers = store.config.materialization.workers
    if shard is not None or workers <= 1:
        return _run(store, windows, end, progress, shard, state)
    return _run_workers(store, windows, end, workers)


def _run_workers(store: FeatureStore, windows: list[tuple[FeatureView, datetime | None]],
                 end: datetime, workers: int) -> list[ViewRun]:
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor

    config = store.config
    spec = [(v.name, s) for v, s in windows]
    ctx = multiprocessing.get_context("spawn")  # fresh processes: no inherited connections
    with ProcessPoolExecutor(workers, mp_context=ctx) as pool:
        futures = [pool.submit(_worker, config, spec, end, (i, workers)) for i in range(workers)]
        parts = [f.result() for f in futures]
    runs = []
    for k, (view, start) in enumerate(windows):
        mine = [p[k] for p in parts]
        run = ViewRun(view.name, start, end, rows=sum(r.rows for r in mine),
                      seconds=max(r.seconds for r in mine), skipped=all(r.skipped for r in mine),
                      view_changed=any(r.view_changed for r in mine))
        runs.append(run)
    return runs


def _worker(config: Any, spec: list, end: datetime, shard: tuple[int, int]) -> list[ViewRun]:
    """One worker process: its shard of every view, the warehouse opened read-only."""
    from featsql.store import FeatureStore

    store = FeatureStore(config=config)
    try:
        windows = [(store.get_feature_view(name), start) for name, start in spec]
        return _run(store, windows, end, None, shard)
    finally:
        store.close()


def _run(store: FeatureStore, windows: list[tuple[FeatureView, datetime | None]], end: datetime,
         progress: Progress | None, shard: tuple[int, int] | None = None,
         state: RegistryState | None = None) -> list[ViewRun]:
    """Write each window; `state`: the registry as the windows were read from it (the view
    versions a watermark update checks), else loaded here."""
    runs = []
    online = store.online_store
    state = state or store.registry.load()
    versions = {v.name: state.view_version(v.name) for v, _ in windows}
    with store.warehouse(read_only=shard is not None) as wh:
        for view, start in windows:
            run = ViewRun(view.name, start, end, shard=shard)
            if start is not None and start > end:
                run.skipped = True
            else:
                if progress:
                    progress.started(run)
                _write_view(wh, online, view, run, progress, shard)
                key = watermark_key(view.name, online)
                if shard is None or _last_shard(store.registry, run, key, shard):
                    online.set_marker(view)
                    # Forward only, and only if the view is still the version that was written.
                    run.view_changed = not store.registry.set_watermark(key, end, versions[view.name])
            if progress:
                progress.finished(run)
            runs.append(run)
    return runs


def _last_shard(registry: Any, run: ViewRun, key: str, shard: tuple[int, int]) -> bool:
    """Record this shard of its run (view@store, START, END, N); True when it is the last one to
    finish, so the watermark may move (the run's records are then dropped)."""
    run_id = f"{key}|{_fmt(run.start)}|{_fmt(run.end)}|{shard[1]}"
    run.shards_done = registry.shard_done(run_id, shard[0], shard[1])
    if run.shards_done < shard[1]:
        return False
    registry.forget_run(run_id)
    return True


def _write_view(wh, online, view: FeatureView, run: ViewRun, progress: Progress | None,
                shard: tuple[int, int] | None = None) -> None:
    sql = wh.sql(materialization_query(view, run.start, run.end, wh, shard))
    codec = KeyCodec.of(view)
    began = time.perf_counter()
    in_flight = max(1, online.max_in_flight)

    def done(n: int) -> None:
        run.rows += n
        run.seconds = time.perf_counter() - began
        if progress:
            progress.advanced(run)

    if in_flight == 1:
        for batch in wh.stream(sql, online.batch_rows):
            done(online.write(view, rows_from_arrow(batch, view, codec)))
    else:
        # Convert the next batch while earlier ones are on the wire; at most `in_flight` pending.
        pending: deque[Future[int]] = deque()
        with ThreadPoolExecutor(in_flight, thread_name_prefix="featsql-write") as pool:
            try:
                for batch in wh.stream(sql, online.batch_rows):
                    rows = rows_from_arrow(batch, view, codec)
                    pending.append(pool.submit(online.write, view, rows))
                    while len(pending) >= in_flight:
                        done(pending.popleft().result())
                while pending:
                    done(pending.popleft().result())
            except BaseException:
                for f in pending:
                    f.cancel()
                raise
    run.seconds = time.perf_counter() - began


def _fmt(ts: datetime | None) -> str:
    return ts.isoformat() if ts else "-"
