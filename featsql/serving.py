"""Online reads: feature references resolved once into a read plan, then one store call per read.

A plan (cached per feature list on the FeatureStore) holds everything a request needs: which
entity-row columns each view's keys come from, how to normalize them by key type, which stored
columns to pick and how to decode them, and each view's ttl. A request then only validates the
rows, normalizes keys, makes one `OnlineStore.read` and assembles columns.
"""
from __future__ import annotations

import time
from typing import Any, Callable, Iterable

from featsql.definitions import Definitions, FeatureService
from featsql.errors import FeatsqlError, did_you_mean
from featsql.online.base import OnlineStore
from featsql.online.codec import KeyCodec, decoder, event_time
from featsql.refs import ViewRequest, resolve

PRESENT, NOT_FOUND, OUTSIDE_MAX_AGE = "PRESENT", "NOT_FOUND", "OUTSIDE_MAX_AGE"


class OnlineResponse:
    """Feature values for a list of entity rows, column-oriented (as Feast returns them)."""

    def __init__(self, keys: dict[str, list[Any]], values: dict[str, list[Any]],
                 statuses: dict[str, list[str]], event_micros: dict[str, list[int | None]]):
        self.keys = keys
        self.values = values
        self.statuses = statuses
        self._event_micros = event_micros

    @property
    def feature_names(self) -> list[str]:
        return list(self.values)

    @property
    def event_timestamps(self) -> dict[str, list[Any]]:
        """Per feature: the UTC event time of each value (None when not found)."""
        return {n: [None if m is None else event_time(m) for m in ms]
                for n, ms in self._event_micros.items()}

    def to_dict(self, include_event_timestamps: bool = False) -> dict[str, list[Any]]:
        """{column: [values]}: join keys first, then features in request order."""
        out = {**self.keys, **self.values}
        if include_event_timestamps:
            out.update({f"{n}__event_timestamp": ts for n, ts in self.event_timestamps.items()})
        return out

    def to_df(self, include_event_timestamps: bool = False):
        import pandas as pd

        return pd.DataFrame(self.to_dict(include_event_timestamps))

    def __len__(self) -> int:
        return len(next(iter(self.keys.values()), []))


class _ViewRead:
    """One requested view: where its keys come from and what to pick from a stored record."""

    def __init__(self, request: ViewRequest, full: bool):
        view = request.view
        self.view = view
        self.key_columns = request.entity_columns
        names = [f.name for f in view.features]
        self.indices = [names.index(f) for f in request.features]
        self.outputs = [request.output_name(f, full) for f in request.features]
        self.decoders = [decoder(view.features[i]) for i in self.indices]
        self.ttl_us = view.ttl_seconds * 1_000_000 if view.ttl_seconds else None


class ReadPlan:
    """Resolved feature references, reusable across requests (no registry work per request)."""

    def __init__(self, features: list[str] | str | FeatureService, definitions: Definitions,
                 full_feature_names: bool = False):
        self.definitions = definitions
        self.reads = [_ViewRead(r, full_feature_names) for r in
                      resolve(features, definitions, full_feature_names)]
        self.columns: list[str] = []
        self.normalizers: dict[str, Callable[[Any], Any]] = {}
        for read in self.reads:
            codec = KeyCodec.of(read.view)
            for i, column in enumerate(read.key_columns):
                if column not in self.normalizers:
                    self.columns.append(column)
                    self.normalizers[column] = codec.normalizer(i, column)
        self.column_set = frozenset(self.columns)
        outputs = [o for r in self.reads for o in r.outputs]
        clash = sorted(set(outputs) & self.column_set)
        if clash:
            raise FeatsqlError(f"feature '{clash[0]}' has the name of a join key; use full_feature_names=True")

    def read(self, store: OnlineStore, entity_rows: Iterable[dict[str, Any]]) -> OnlineResponse:
        rows = entity_rows if isinstance(entity_rows, list) else list(entity_rows)
        column_set = self.column_set
        for i, row in enumerate(rows):
            if not isinstance(row, dict) or row.keys() != column_set:
                self._bad_row(i, row)
        keys = {c: [row[c] for row in rows] for c in self.columns}
        normalized = {c: [self.normalizers[c](v) for v in keys[c]] for c in self.columns}
        lookups = []
        for read in self.reads:
            cols = [normalized[c] for c in read.key_columns]
            lookups.append((read.view, list(zip(*cols)) if len(cols) > 1 else [(v,) for v in cols[0]]))
        results = store.read(lookups)

        now = time.time_ns() // 1000
        values: dict[str, list[Any]] = {}
        statuses: dict[str, list[str]] = {}
        stamps: dict[str, list[int | None]] = {}
        for read, records in zip(self.reads, results):
            ttl = read.ttl_us
            status = [NOT_FOUND if r is None else
                      (OUTSIDE_MAX_AGE if ttl is not None and r[0] < now - ttl else PRESENT)
                      for r in records]
            live = [r[1] if s is PRESENT else None for r, s in zip(records, status)]
            micros = [None if r is None else r[0] for r in records]
            for idx, name, dec in zip(read.indices, read.outputs, read.decoders):
                column = [None if v is None else v[idx] for v in live]
                values[name] = column if dec is None else [dec(v) for v in column]
                statuses[name] = status
                stamps[name] = micros
        return OnlineResponse(keys, values, statuses, stamps)

    def _bad_row(self, i: int, row: Any) -> None:
        if not isinstance(row, dict):
            raise FeatsqlError(f"entity row {i}: expected a mapping of join key -> value, got {row!r}")
        extra = [c for c in row if c not in self.column_set]
        if extra:
            raise FeatsqlError(f"entity row {i}: unknown join key '{extra[0]}'"
                               f"{did_you_mean(str(extra[0]), self.column_set)};"
                               f" the requested features need {', '.join(self.columns)}")
        missing = [c for c in self.columns if c not in row]
        raise FeatsqlError(f"entity row {i}: missing join key '{missing[0]}'"
                           f" (the requested features need {', '.join(self.columns)})")


def _jsonable(value: Any) -> Any:
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    if isinstance(value, (bytes, bytearray)):
        import base64

        return base64.b64encode(value).decode()
    if hasattr(value, "isoformat"):
        return value.isoformat()
    return str(value)


def server_json(resp: OnlineResponse) -> dict[str, Any]:
    """Feast feature-server shape: metadata.feature_names, then one result per column."""
    names = list(resp.keys) + resp.feature_names
    stamps = resp.event_timestamps
    results = []
    for name, values in resp.keys.items():
        results.append({"values": [_jsonable(v) for v in values],
                        "statuses": [PRESENT] * len(values),
                        "event_timestamps": ["1970-01-01T00:00:00Z"] * len(values)})
    for name, values in resp.values.items():
        results.append({"values": [_jsonable(v) for v in values], "statuses": resp.statuses[name],
                        "event_timestamps": [_jsonable(t) for t in stamps[name]]})
    return {"metadata": {"feature_names": names}, "results": results}


def table_rows(resp: OnlineResponse) -> list[list[str]]:
    """One line per entity and feature: keys, feature, value, status, event time (as text)."""
    keys = list(resp.keys)
    stamps = resp.event_timestamps
    out = [[*keys, "feature", "value", "status", "event_timestamp"]]
    for i in range(len(resp)):
        key_text = [str(resp.keys[k][i]) for k in keys]
        for name, values in resp.values.items():
            ts = stamps[name][i]
            out.append([*key_text, name, "NULL" if values[i] is None else str(values[i]),
                        resp.statuses[name][i], ts.isoformat() if ts else "-"])
    return out
