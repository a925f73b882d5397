"""Prometheus metrics of `featsql serve`: requests and latency by endpoint, online-store errors,
and per view the age of what is materialized (now - the view's watermark).

With `--workers N` the workers share one prometheus_client multiprocess directory
(PROMETHEUS_MULTIPROC_DIR, set by `featsql serve`), so /metrics sums every worker.
"""
from __future__ import annotations

import os
import time
from datetime import datetime
from typing import Any

_BUCKETS = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 10.0)


class Metrics:
    def __init__(self) -> None:
        from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

        self.registry = CollectorRegistry(auto_describe=True)
        self.multiprocess = bool(os.environ.get("PROMETHEUS_MULTIPROC_DIR"))
        kw: dict[str, Any] = {} if self.multiprocess else {"registry": self.registry}
        self.requests = Counter("featsql_requests_total", "Requests by endpoint and status",
                                ["endpoint", "status"], **kw)
        self.latency = Histogram("featsql_request_seconds", "Request latency by endpoint",
                                 ["endpoint"], buckets=_BUCKETS, **kw)
        self.store_errors = Counter("featsql_online_store_errors_total",
                                    "Online store errors seen while serving", **kw)
        gauge_kw = {"multiprocess_mode": "max"} if self.multiprocess else {}
        self.watermark = Gauge("featsql_view_watermark_timestamp_seconds",
                               "Per view: the END of its last materialization (Unix time); its"
                               " online values are as of then", ["view"], **kw, **gauge_kw)
        self.age = Gauge("featsql_view_materialized_age_seconds",
                         "Per view: seconds since the END of its last materialization", ["view"],
                         **kw, **gauge_kw)
        self._marks: dict[str, float] = {}

    def observe(self, endpoint: str, status: int, seconds: float) -> None:
        self.requests.labels(endpoint, str(status)).inc()
        self.latency.labels(endpoint).observe(seconds)

    def store_error(self) -> None:
        self.store_errors.inc()

    def set_watermarks(self, marks: dict[str, datetime]) -> None:
        self._marks = {v: ts.timestamp() for v, ts in marks.items()}
        for view, ts in self._marks.items():
            self.watermark.labels(view).set(ts)

    def render(self) -> tuple[bytes, str]:
        from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest

        now = time.time()
        for view, ts in self._marks.items():
            self.age.labels(view).set(max(0.0, now - ts))
        if self.multiprocess:
            from prometheus_client import multiprocess

            registry = CollectorRegistry()
            multiprocess.MultiProcessCollector(registry)
            return generate_latest(registry), CONTENT_TYPE_LATEST
        return generate_latest(self.registry), CONTENT_TYPE_LATEST
