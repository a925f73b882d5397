"""Values between the warehouse, the online stores and callers, in one canonical form.

Stores keep a *storage form* that every store can hold natively: int, float, bool, str, bytes,
None, with timestamps as UTC epoch microseconds and dates as epoch days; decimals are ints or
floats by the decimal policy (featsql.types). Arrow batches are converted column by column
(vectorized); reads convert back to Python types using the feature's registered kind (decided
at apply), so every type round-trips as itself and JSON numbers stay numbers.

Keys are made type-stable here: a join key value is normalized by the key's registered type, so
1001 from the warehouse, 1001 from Python and "1001" from a command line are one key.
"""
from __future__ import annotations

import json
import zlib
from dataclasses import dataclass
from datetime import date, datetime, timedelta, timezone
from decimal import Decimal
from typing import Any, Callable

import pyarrow as pa
import pyarrow.compute as pc

from featsql.definitions import Feature, FeatureView
from featsql.errors import FeatsqlError
from featsql.types import TIME_TYPES, conform

EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)
EPOCH_NAIVE = datetime(1970, 1, 1)
EPOCH_DAY = date(1970, 1, 1)
US = timedelta(microseconds=1)

Key = tuple  # canonical join-key values, in the view's join-key order
GLOBAL_KEY = "*"  # the encoded key of an entity-less view's row (no join key has this form)


@dataclass
class Rows:
    """One batch ready for a store: canonical keys, UTC micros, feature columns in storage form."""

    keys: list[Key]
    event_ts: list[int]
    created_ts: list[int]  # 0 when the view has no created timestamp (or it is NULL)
    columns: list[list[Any]]  # one list per feature, in view.features order
    # Written by push / write_to_online_store, not by materialization: stores record it, so a
    # parity check against the warehouse can tell the two apart.
    pushed: bool = False

    def __len__(self) -> int:
        return len(self.keys)

    def values(self, i: int) -> list[Any]:
        return [c[i] for c in self.columns]


# -- Arrow -> storage form (write path) ----------------------------------------------------------
def _micros(arr: pa.Array) -> pa.Array:
    if pa.types.is_date(arr.type):
        arr = arr.cast(pa.timestamp("us"))
    if arr.type.tz is not None:
        arr = arr.cast(pa.timestamp(arr.type.unit, tz="UTC"))
    return arr.cast(pa.timestamp("us", tz=arr.type.tz)).cast(pa.int64())


def _storage_array(arr: pa.Array, feature: Feature) -> list[Any]:
    t, kind = arr.type, feature.kind
    if pa.types.is_dictionary(t):
        arr, t = arr.dictionary_decode(), t.value_type
    if kind in TIME_TYPES and (pa.types.is_timestamp(t) or pa.types.is_date(t)):
        return _micros(arr).to_pylist()
    if kind == "date" and (pa.types.is_date(t) or pa.types.is_timestamp(t)):
        return arr.cast(pa.date32()).cast(pa.int32()).to_pylist()
    if kind in ("int", "float"):
        return conform(arr, kind).to_pylist()
    if kind in ("bool", "string", "bytes"):
        return arr.to_pylist()
    if pa.types.is_time(t) or pa.types.is_interval(t) or pa.types.is_nested(t):
        return [None if v is None else str(v) for v in arr.to_pylist()]
    return arr.to_pylist()


def rows_from_arrow(batch: pa.RecordBatch, view: FeatureView, key_codec: KeyCodec) -> Rows:
    """A record batch of the latest-values query -> Rows for a store.

    Columns are taken by position (keys, event ts, created ts, features: the order of
    featsql.compile.latest.output_columns), so a driver that changes name case cannot matter.
    """
    n_keys = len(view.join_keys)
    keys_cols = [batch.column(i).to_pylist() for i in range(n_keys)]
    if n_keys == 1:
        norm = key_codec.normalizers[0]
        if _native(batch.column(0).type, key_codec.types[0]) and not batch.column(0).null_count:
            keys = [(v,) for v in keys_cols[0]]  # already canonical: skip per-value checks
        else:
            keys = [(norm(v),) for v in keys_cols[0]]
    elif n_keys:
        keys = [key_codec.normalize(vals) for vals in zip(*keys_cols)]
    else:  # an entity-less view: one row, keyed by the empty key
        keys = [()] * batch.num_rows
    event = _micros(batch.column(n_keys)).to_pylist()
    created_arr = batch.column(n_keys + 1)
    if pa.types.is_null(created_arr.type) or created_arr.null_count == len(created_arr):
        created = [0] * len(event)
    else:
        created = pc.fill_null(_micros(created_arr), 0).to_pylist()
    columns = [_storage_array(batch.column(n_keys + 2 + i), f)
               for i, f in enumerate(view.features)]
    return Rows(keys=keys, event_ts=event, created_ts=created, columns=columns)


def _native(arrow_type: pa.DataType, key_type: str) -> bool:
    """True when Arrow's Python values already are the canonical form of `key_type`."""
    return ((key_type == "int" and pa.types.is_integer(arrow_type))
            or (key_type == "string" and (pa.types.is_string(arrow_type) or pa.types.is_large_string(arrow_type))))


# -- storage form -> Python (read path) ----------------------------------------------------------
def decoder(feature: Feature) -> Callable[[Any], Any] | None:
    """A function from storage form to the feature's Python type; None when it is the identity."""
    kind = feature.kind
    if kind in TIME_TYPES:
        base = EPOCH if kind == "timestamp_tz" else EPOCH_NAIVE
        return lambda v: None if v is None else base + timedelta(microseconds=v)
    if kind == "date":
        return lambda v: None if v is None else EPOCH_DAY + timedelta(days=v)
    if kind == "bool":
        return lambda v: None if v is None else bool(v)
    if kind == "float":  # SQLite REAL hands back ints for whole floats; keep the type stable
        return lambda v: None if v is None else float(v)
    return None


def key_decoder(kind: str) -> Callable[[Any], Any] | None:
    """A normalized key (featsql.online.codec's canonical form) back to its registered Python type."""
    if kind == "date":
        return lambda v: EPOCH_DAY + timedelta(days=v)
    if kind in TIME_TYPES:
        base = EPOCH if kind == "timestamp_tz" else EPOCH_NAIVE
        return lambda v: base + timedelta(microseconds=v)
    return None


def event_time(micros: int) -> datetime:
    return EPOCH + timedelta(microseconds=micros)


def fingerprint(view: FeatureView) -> int:
    """32-bit id of a view's feature layout: a stored value with another layout is stale."""
    text = "\x1f".join(f"{f.name}:{f.kind}" for f in view.features)
    return zlib.crc32(text.encode())


# -- keys ----------------------------------------------------------------------------------------
def _int_key(v: Any) -> int:
    if type(v) is int:
        return v
    if isinstance(v, bool):
        raise TypeError
    if isinstance(v, str):
        return int(v.strip())
    if isinstance(v, float):
        if v.is_integer():
            return int(v)
        raise TypeError
    if hasattr(v, "__index__"):  # numpy integers
        return int(v)
    if isinstance(v, Decimal) and v == v.to_integral_value():  # NUMBER(38, 0) from a driver
        return int(v)
    raise TypeError


def _str_key(v: Any) -> str:
    if type(v) is str:
        return v
    if isinstance(v, (bool, float)) or v is None:
        raise TypeError
    if isinstance(v, (int, Decimal)) or hasattr(v, "__index__"):
        return str(v)
    raise TypeError


def _bool_key(v: Any) -> bool:
    if isinstance(v, bool):
        return v
    if isinstance(v, str) and v.lower() in ("true", "false", "1", "0"):
        return v.lower() in ("true", "1")
    if isinstance(v, int) and v in (0, 1):
        return bool(v)
    raise TypeError


def _date_key(v: Any) -> int:
    if isinstance(v, datetime):
        raise TypeError
    if isinstance(v, date):
        return (v - EPOCH_DAY).days
    if isinstance(v, str):
        return (date.fromisoformat(v.strip()) - EPOCH_DAY).days
    raise TypeError


def _ts_key(v: Any) -> int:
    if isinstance(v, str):
        v = datetime.fromisoformat(v.strip())
    if isinstance(v, datetime):
        if v.tzinfo is None:
            v = v.replace(tzinfo=timezone.utc)
        return (v - EPOCH) // US
    if isinstance(v, int) and not isinstance(v, bool):
        return v
    raise TypeError


def _decimal_key(v: Any) -> str:
    if isinstance(v, (bool, float)):
        raise TypeError
    return str(Decimal(str(v)).normalize())


_KEY_NORMALIZERS: dict[str, Callable[[Any], Any]] = {
    "int": _int_key, "string": _str_key, "bool": _bool_key, "date": _date_key,
    "timestamp": _ts_key, "timestamp_tz": _ts_key, "decimal": _decimal_key,
}
_KEY_TYPE_NAMES = {"int": "an integer", "string": "a string", "bool": "true or false",
                   "date": "a date (YYYY-MM-DD)", "timestamp": "a timestamp", "decimal": "a number"}


def _any_key(v: Any) -> Any:
    if isinstance(v, (bytes, bytearray)):
        return bytes(v)
    return str(v)


class KeyCodec:
    """Normalizes a view's join-key values by their registered types and encodes them."""

    def __init__(self, names: list[str], types: list[str]):
        self.names = names
        self.types = types
        self.normalizers = [_KEY_NORMALIZERS.get(t, _any_key) for t in types]

    @classmethod
    def of(cls, view: FeatureView) -> KeyCodec:
        types = list(view.join_key_types) or ["other"] * len(view.join_keys)
        return cls(view.join_keys, types)

    def normalize(self, values: tuple | list) -> Key:
        return tuple(n(v) for n, v in zip(self.normalizers, values))

    def normalizer(self, i: int, column: str) -> Callable[[Any], Any]:
        """Normalizer for the i-th key, raising a clear error that names `column`."""
        norm, dtype = self.normalizers[i], self.types[i]

        def check(v: Any) -> Any:
            try:
                return norm(v)
            except (TypeError, ValueError):
                if v is None:
                    raise FeatsqlError(f"join key '{column}' is missing a value (got None)") from None
                raise FeatsqlError(f"join key '{column}': {v!r} is not {_KEY_TYPE_NAMES.get(dtype, dtype)}"
                                   f" (the key's type is {dtype})") from None
        return check


def encode_key(names: list[str], key: Key) -> str:
    """An unambiguous text form of an entity key: `driver_id=1001` or `a=1,b="x"`.

    Names are sorted so the same entity in two views (same join keys) maps to the same key;
    strings are JSON-quoted, so separators inside values cannot make two keys collide.
    """
    if not names:  # an entity-less view's one row (DynamoDB refuses an empty key)
        return GLOBAL_KEY
    if len(names) == 1:
        v = key[0]
        return f"{names[0]}={v if type(v) is int else json.dumps(v if type(v) is not bytes else v.hex())}"
    pairs = sorted(zip(names, key))
    return ",".join(f"{n}={v if type(v) is int else json.dumps(v if type(v) is not bytes else v.hex())}"
                    for n, v in pairs)
