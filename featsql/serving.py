"""Online reads: feature references resolved once into a read plan, then one store call per read.

A plan (cached per feature list on the FeatureStore) holds everything a request needs: which
entity-row columns each view's keys come from, how to normalize them by key type, which stored
columns to pick and how to decode them, and each view's ttl. A request then only validates the
rows, normalizes keys, makes one `OnlineStore.read` and assembles columns.
"""
from __future__ import annotations

import base64
import time
from datetime import date, datetime, timedelta, timezone
from typing import Any, Callable, Iterable

from featsql.definitions import Definitions, FeatureService
from featsql.errors import FeatsqlError, did_you_mean
from featsql.online.base import OnlineStore
from featsql.online.codec import EPOCH_NAIVE, KeyCodec, decoder, event_time, key_decoder
from featsql.refs import ViewRequest, resolve

PRESENT, NOT_FOUND, OUTSIDE_MAX_AGE = "PRESENT", "NOT_FOUND", "OUTSIDE_MAX_AGE"


class OnlineResponse:
    """Feature values for a list of entity rows, column-oriented (as Feast returns them). Join
    keys come back as their registered type (a key sent as "1001" for an int key is 1001)."""

    def __init__(self, keys: dict[str, list[Any]], values: dict[str, list[Any]],
                 statuses: dict[str, list[str]], event_micros: dict[str, list[int | None]],
                 kinds: dict[str, str] | None = None):
        self.keys = keys
        self.values = values
        self.statuses = statuses
        self._event_micros = event_micros
        self.kinds = kinds or {}

    @property
    def feature_names(self) -> list[str]:
        return list(self.values)

    def micros(self, name: str) -> list[int | None]:
        """The UTC event times of a feature's values, as epoch microseconds (None: not found)."""
        return self._event_micros[name]

    @property
    def event_timestamps(self) -> dict[str, list[Any]]:
        """Per feature: the UTC event time of each value (None when not found)."""
        return {n: [None if m is None else event_time(m) for m in ms]
                for n, ms in self._event_micros.items()}

    def to_dict(self, include_event_timestamps: bool = False) -> dict[str, list[Any]]:
        """{column: [values]}: join keys first, then features in request order; with
        `include_event_timestamps` each feature's event time beside it as `feature__ts`
        (Feast's naming; None where not found)."""
        if not include_event_timestamps:
            return {**self.keys, **self.values}
        out: dict[str, list[Any]] = dict(self.keys)
        stamps = self.event_timestamps
        for name, values in self.values.items():
            out[name] = values
            out[f"{name}__ts"] = stamps[name]
        return out

    def to_df(self, include_event_timestamps: bool = False):
        return self.to_arrow(include_event_timestamps).to_pandas()

    def to_arrow(self, include_event_timestamps: bool = False):
        """A pyarrow Table, each column in its registered type's Arrow type (featsql.types)."""
        import pyarrow as pa

        from featsql.types import arrow_type

        columns = {}
        for name, values in self.to_dict(include_event_timestamps).items():
            kind = "timestamp_tz" if name not in self.kinds and name.endswith("__ts") else self.kinds.get(name)
            target = arrow_type(kind) if kind else None
            columns[name] = pa.array(values, type=target) if target is not None else pa.array(values)
        return pa.table(columns)

    def __len__(self) -> int:
        return len(next(iter(self.keys.values()), None) or next(iter(self.values.values()), []))


class _ViewRead:
    """One requested view: where its keys come from and what to pick from a stored record."""

    def __init__(self, request: ViewRequest, full: bool):
        view = request.view
        self.view = view
        self.name, self.features = request.name, request.features
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
        self.key_decoders: dict[str, Callable[[Any], Any] | None] = {}
        self.kinds: dict[str, str] = {}
        for read in self.reads:
            codec = KeyCodec.of(read.view)
            for i, column in enumerate(read.key_columns):
                if column not in self.normalizers:
                    self.columns.append(column)
                    self.normalizers[column] = codec.normalizer(i, column)
                    self.key_decoders[column] = key_decoder(codec.types[i])
                    self.kinds[column] = codec.types[i]
            for index, name in zip(read.indices, read.outputs):
                self.kinds[name] = read.view.features[index].kind
        self.column_set = frozenset(self.columns)
        outputs = [o for r in self.reads for o in r.outputs]
        clash = sorted(set(outputs) & self.column_set)
        if clash:
            raise FeatsqlError(f"feature '{clash[0]}' has the name of a join key; use full_feature_names=True")
        self.computed = _ComputedReads(features, definitions, self.reads)
        for c in self.computed.items:
            self.kinds[c.name] = c.kind
        # Entity rows carry the join keys and, for request-time features, the request columns.
        self.row_columns = self.column_set | frozenset(self.computed.request)

    def read(self, store: OnlineStore,
             entity_rows: Iterable[dict[str, Any]] | dict[str, list[Any]]) -> OnlineResponse:
        normalized, lookups, request = self._lookups(entity_rows)
        return self._response(normalized, store.read(lookups), request)

    async def read_async(self, store: OnlineStore,
                         entity_rows: Iterable[dict[str, Any]] | dict[str, list[Any]]) -> OnlineResponse:
        """`read` with the store's round trip awaited (the server's event loop goes on)."""
        normalized, lookups, request = self._lookups(entity_rows)
        return self._response(normalized, await store.read_async(lookups), request)

    def _lookups(self, entity_rows: Any) -> tuple[dict[str, list[Any]], list[Any], dict[str, list[Any]]]:
        keys, n = self._columns(entity_rows)
        request = self.computed.request_values(keys) if self.computed.items else {}
        normalized = {c: [self.normalizers[c](v) for v in keys[c]] for c in self.columns}
        lookups = []
        for read in self.reads:
            cols = [normalized[c] for c in read.key_columns]
            if not cols:  # an entity-less view: its one row for every entity row
                lookups.append((read.view, [()] * n))
                continue
            lookups.append((read.view, list(zip(*cols)) if len(cols) > 1 else [(v,) for v in cols[0]]))
        return normalized, lookups, request

    def _response(self, normalized: dict[str, list[Any]], results: list[Any],
                  request: dict[str, list[Any]]) -> OnlineResponse:
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
        if self.computed.items:
            self.computed.evaluate(values, statuses, stamps, request)
        echoed = {c: (vals if self.key_decoders[c] is None else [self.key_decoders[c](v) for v in vals])
                  for c, vals in normalized.items()}
        return OnlineResponse(echoed, values, statuses, stamps, self.kinds)

    def _columns(self, entity_rows: Any) -> tuple[dict[str, list[Any]], int]:
        """Entity rows as {join key: [values]} and their number: from a list of rows or Feast's
        columnar form (which, with only entity-less views requested, stands for one row)."""
        if isinstance(entity_rows, dict):
            self._check_keys(entity_rows, "")
            columns = {c: entity_rows[c] for c in self.row_columns}
            bad = [c for c, v in columns.items() if not isinstance(v, (list, tuple))]
            if bad:
                raise FeatsqlError(f"entity rows: '{bad[0]}' must be a list of values")
            lengths = {len(v) for v in columns.values()}
            if len(lengths) > 1:
                raise FeatsqlError("entity rows: every join-key list must have the same length")
            return {c: list(v) for c, v in columns.items()}, lengths.pop() if lengths else 1
        rows = entity_rows if isinstance(entity_rows, list) else list(entity_rows)
        column_set = self.row_columns
        for i, row in enumerate(rows):
            if not isinstance(row, dict) or row.keys() != column_set:
                self._bad_row(i, row)
        return {c: [row[c] for row in rows] for c in column_set}, len(rows)

    def _bad_row(self, i: int, row: Any) -> None:
        if not isinstance(row, dict):
            raise FeatsqlError(f"entity row {i}: expected a mapping of join key -> value, got {row!r}")
        self._check_keys(row, f"entity row {i}: ")

    def _check_keys(self, given: Iterable[str], where: str) -> None:
        """An unknown or a missing join key among `given` is one clear error."""
        extra = [c for c in given if c not in self.row_columns]
        need = ", ".join([*self.columns, *self.computed.request])
        if extra:
            raise FeatsqlError(f"{where}unknown join key '{extra[0]}'"
                               f"{did_you_mean(str(extra[0]), set(self.row_columns))};"
                               f" the requested features need {need}")
        missing = [c for c in self.columns if c not in given]
        if missing:
            raise FeatsqlError(f"{where}missing join key '{missing[0]}'"
                               f" (the requested features need {need})")
        missing = [c for c in self.computed.request if c not in given]
        if missing:
            raise FeatsqlError(f"{where}missing request column '{missing[0]}'"
                               f" (the requested features need {need})")


_STATUS_RANK = {PRESENT: 0, OUTSIDE_MAX_AGE: 1, NOT_FOUND: 2}


class _ComputedReads:
    """A service's request-time features, each compiled once into a column evaluator over the
    read's feature values and the request columns (featsql.compile.request), with statuses."""

    def __init__(self, features: Any, definitions: Definitions, reads: list[_ViewRead]):
        from featsql.compile.request import column_evaluator, computed_features

        self.items = computed_features(features, definitions.feature_views)
        self.request: tuple[str, ...] = self.items[0].request if self.items else ()
        self.request_kinds = {c: self.items[0].inputs[c] for c in self.request}
        columns: dict[str, str] = {}  # expression input name -> output column of the read
        for read in reads:
            for f, out in zip(read.features, read.outputs):
                columns[f"{read.name}__{f}"] = out
                columns.setdefault(f, out)
        self.plans = []
        for c in self.items:
            used = sorted(c.uses())
            self.plans.append((c, column_evaluator(c.node, c.inputs),
                               [(u, columns[u]) for u in used if u not in self.request],
                               [u for u in used if u in self.request]))

    def request_values(self, keys: dict[str, list[Any]]) -> dict[str, list[Any]]:
        """The request columns taken out of the entity rows, each value as its declared type."""
        out = {}
        for c in self.request:
            kind, values = self.request_kinds[c], keys.pop(c)
            native = _NATIVE.get(kind)
            if native is not None and set(map(type, values)) <= {native, type(None)}:
                out[c] = values
                continue
            convert = _REQUEST_TYPES[kind]
            try:
                out[c] = [None if v is None else convert(v) for v in values]
            except (TypeError, ValueError):
                bad = next(v for v in values if not _converts(convert, v))
                raise FeatsqlError(f"request column '{c}': {bad!r} is not {kind}") from None
        return out

    def evaluate(self, values: dict[str, list[Any]], statuses: dict[str, list[str]],
                 stamps: dict[str, list[int | None]], request: dict[str, list[Any]]) -> None:
        n = len(next(iter(values.values()), None) or next(iter(request.values()), []))
        for c, fn, used, req in self.plans:
            env = {name: values[out] for name, out in used}
            env.update({r: request[r] for r in req})
            result = fn(env, n)
            outs = [out for _, out in used]
            # PRESENT when computed; a NULL result takes the worst status among its inputs.
            if not outs:
                status = [PRESENT] * n
            elif len(outs) == 1 and c.strict:  # NULL exactly where its input is not PRESENT
                status = statuses[outs[0]]
            elif len(outs) == 1:
                status = [PRESENT if v is not None else s for v, s in zip(result, statuses[outs[0]])]
            else:
                status = [PRESENT if v is not None else max(ss, key=_STATUS_RANK.__getitem__)
                          for v, ss in zip(result, zip(*(statuses[o] for o in outs)))]
            if len(outs) == 1:
                when = stamps[outs[0]]
            else:
                when = [max((t for t in ts if t is not None), default=None)
                        for ts in zip(*(stamps[o] for o in outs))] if outs else [None] * n
            values[c.name], statuses[c.name], stamps[c.name] = result, status, when


def _converts(convert: Callable[[Any], Any], v: Any) -> bool:
    try:
        convert(v)
        return True
    except (TypeError, ValueError):
        return v is None


def _to_bool(v: Any) -> bool:
    if isinstance(v, str):
        if v.strip().lower() in ("true", "1"):
            return True
        if v.strip().lower() in ("false", "0"):
            return False
        raise ValueError(v)
    return bool(v)


def _to_int(v: Any) -> int:
    if isinstance(v, float) and not v.is_integer():
        raise ValueError(v)
    return int(v)


def _to_time(v: Any) -> datetime:
    from featsql.durations import to_utc

    return to_utc(v if isinstance(v, (str, datetime)) else str(v)).replace(tzinfo=None)


_REQUEST_TYPES: dict[str, Callable[[Any], Any]] = {
    "int": _to_int, "float": float, "string": str, "bool": _to_bool, "timestamp": _to_time}
_NATIVE: dict[str, type] = {"int": int, "float": float, "string": str, "bool": bool}


_EPOCH_Z = "1970-01-01T00:00:00Z"


def feast_timestamp(value: datetime | None) -> str:
    """RFC 3339 in UTC with `Z`, fractional digits as protobuf's JSON gives them (none, 3 or 6)."""
    if value is None:
        return _EPOCH_Z
    if value.tzinfo is not None:
        value = value.astimezone(timezone.utc).replace(tzinfo=None)
    text = value.isoformat()  # C code: no digits, or 6
    if value.microsecond and value.microsecond % 1000 == 0:
        text = text[:-3]
    return text + "Z"


def _stamp(micros: int) -> str:
    """feast_timestamp of UTC epoch microseconds, without making an aware datetime."""
    text = (EPOCH_NAIVE + timedelta(microseconds=micros)).isoformat()
    if micros % 1_000_000 and micros % 1000 == 0:
        text = text[:-3]
    return text + "Z"


def _stamps(micros: list[int | None], cache: dict[int | None, str]) -> list[str]:
    """Feast timestamps for UTC micros, each distinct instant formatted once per response."""
    out = []
    for m in micros:
        text = cache.get(m)
        if text is None:
            text = cache[m] = _EPOCH_Z if m is None else _stamp(m)
        out.append(text)
    return out


def _jsonable(value: Any) -> Any:
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    if isinstance(value, datetime):
        return feast_timestamp(value) if value.tzinfo is not None else value.isoformat()
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, (bytes, bytearray)):
        return base64.b64encode(value).decode()
    return str(value)


def server_json(resp: OnlineResponse) -> dict[str, Any]:
    """Feast's feature-server response: metadata.feature_names (keys first), one result per column,
    event timestamps in Feast's format (the epoch for keys and values not found)."""
    names = list(resp.keys) + resp.feature_names
    cache: dict[int | None, str] = {}
    # The features of one view share one list of event times: format it once.
    formatted: dict[int, list[str]] = {}
    results = []
    plain = (bool, int, float, str, type(None))
    for values in resp.keys.values():
        results.append({"values": [_jsonable(v) for v in values], "statuses": ["PRESENT"] * len(values),
                        "event_timestamps": [_EPOCH_Z] * len(values)})
    for name, values in resp.values.items():
        kind = resp.kinds.get(name)
        out = values if kind in ("int", "float", "bool", "string") or all(
            isinstance(v, plain) for v in values) else [_jsonable(v) for v in values]
        micros = resp.micros(name)
        stamps = formatted.get(id(micros))
        if stamps is None:
            stamps = formatted[id(micros)] = _stamps(micros, cache)
        results.append({"values": out, "statuses": resp.statuses[name], "event_timestamps": stamps})
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
