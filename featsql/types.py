"""Logical types: decided once, at apply, from the warehouse's own column types; read everywhere.

A feature, join key or time column is registered with one of

    int  float  decimal(p, s)  bool  string  bytes  date  timestamp  timestamp_tz  other

(`timestamp` is naive and means UTC; `timestamp_tz` is an absolute instant). Training sets,
online stores, `get-online` and `serve` read only this, never the warehouse's type name, so the
same model gives the same types on every warehouse.

Decimal policy: `decimal(p, 0)` comes out as an integer (int64) and `decimal(p, s > 0)`, or a
decimal of unknown scale, as a float (float64): in training sets on every warehouse, in every
online store and in JSON. `kind` is that output type.
"""
from __future__ import annotations

from typing import Literal

import pyarrow as pa
from sqlglot import exp

ValueType = Literal["int", "float", "decimal", "bool", "string", "bytes", "date", "timestamp",
                    "timestamp_tz", "other"]
# What a value comes out as: a ValueType with decimals resolved by the policy above.
Kind = Literal["int", "float", "bool", "string", "bytes", "date", "timestamp", "timestamp_tz",
               "other"]

_T = exp.DataType.Type
_CLASSES: list[tuple[set, ValueType]] = [
    ({_T.BOOLEAN}, "bool"),
    (exp.DataType.INTEGER_TYPES, "int"),
    ({_T.DECIMAL, _T.BIGDECIMAL, _T.MONEY, _T.SMALLMONEY, _T.UDECIMAL}, "decimal"),
    (exp.DataType.REAL_TYPES, "float"),
    (exp.DataType.TEXT_TYPES | {_T.UUID}, "string"),
    ({_T.DATE, _T.DATE32}, "date"),
    ({_T.TIMESTAMPTZ, _T.TIMESTAMPLTZ}, "timestamp_tz"),
    ({_T.TIMESTAMP, _T.TIMESTAMPNTZ, _T.DATETIME, _T.DATETIME64, _T.TIMESTAMP_S, _T.TIMESTAMP_MS,
      _T.TIMESTAMP_NS}, "timestamp"),
    ({_T.BINARY, _T.VARBINARY, _T.BLOB}, "bytes"),
]
TIME_TYPES = ("timestamp", "timestamp_tz")


def logical_type(dtype: exp.DataType) -> tuple[ValueType, int | None, int | None]:
    """(type, precision, scale) of a warehouse type parsed by sqlglot; precision and scale only
    for decimals, None where the warehouse did not say."""
    for types, name in _CLASSES:
        if dtype.this in types:
            if name != "decimal":
                return name, None, None
            params = [p.this for p in dtype.expressions if isinstance(p, exp.DataTypeParam)]
            numbers = [int(p.name) for p in params if isinstance(p, exp.Literal) and p.is_int]
            precision = numbers[0] if numbers else None
            scale = numbers[1] if len(numbers) > 1 else (0 if numbers else None)
            if dtype.this == _T.BIGDECIMAL and not numbers:
                scale = None
            return name, precision, scale
    return "other", None, None


def kind_of(dtype: ValueType, scale: int | None = None) -> Kind:
    """The output type of a registered type (the decimal policy)."""
    if dtype == "decimal":
        return "int" if scale == 0 else "float"
    return dtype  # type: ignore[return-value]


def type_kind(dtype: exp.DataType) -> Kind:
    """The output kind of a warehouse type parsed by sqlglot."""
    logical, _, scale = logical_type(dtype)
    return kind_of(logical, scale)


def describe(dtype: ValueType, precision: int | None = None, scale: int | None = None) -> str:
    """`decimal(10,2)`, `timestamp_tz`, ... for listings and messages."""
    if dtype == "decimal" and precision is not None:
        return f"decimal({precision},{scale if scale is not None else 0})"
    return dtype


_ARROW: dict[str, pa.DataType] = {
    "int": pa.int64(), "float": pa.float64(), "bool": pa.bool_(), "string": pa.string(),
    "bytes": pa.binary(), "date": pa.date32(), "timestamp": pa.timestamp("us"),
    "timestamp_tz": pa.timestamp("us", tz="UTC"),
}


def arrow_type(kind: Kind) -> pa.DataType | None:
    """The Arrow type a value of `kind` comes out as; None for `other` (left as the warehouse
    returns it)."""
    return _ARROW.get(kind)


def arrow_kind(arrow: pa.DataType) -> Kind:
    """The kind of an Arrow column (an entity DataFrame's), for checks against registered types."""
    if pa.types.is_dictionary(arrow):
        return arrow_kind(arrow.value_type)
    if pa.types.is_boolean(arrow):
        return "bool"
    if pa.types.is_integer(arrow):
        return "int"
    if pa.types.is_decimal(arrow):
        return "int" if arrow.scale == 0 else "float"
    if pa.types.is_floating(arrow):
        return "float"
    if pa.types.is_string(arrow) or pa.types.is_large_string(arrow) or pa.types.is_string_view(arrow):
        return "string"
    if pa.types.is_binary(arrow) or pa.types.is_large_binary(arrow) or pa.types.is_fixed_size_binary(arrow):
        return "bytes"
    if pa.types.is_date(arrow):
        return "date"
    if pa.types.is_timestamp(arrow):
        return "timestamp_tz" if arrow.tz else "timestamp"
    return "other"


def conform(column: pa.ChunkedArray | pa.Array, kind: Kind) -> pa.ChunkedArray | pa.Array:
    """A result column as its registered kind's Arrow type (int widths, decimals, time zones)."""
    target = arrow_type(kind)
    if target is None or column.type == target:
        return column
    if pa.types.is_timestamp(column.type) and pa.types.is_timestamp(target):
        if target.tz and not column.type.tz:
            column = column.cast(pa.timestamp(column.type.unit, tz="UTC"))
        elif column.type.tz and not target.tz:
            column = column.cast(pa.timestamp(column.type.unit, tz="UTC")).cast(
                pa.timestamp(column.type.unit))
        if column.type.unit == "ns":  # warehouses keep microseconds
            import pyarrow.compute as pc

            column = pc.floor_temporal(column, unit="microsecond")
    # decimal -> float64 may round in the last digit (the policy); anything else must be exact.
    return column.cast(target, safe=not (pa.types.is_decimal(column.type) and kind == "float"))
