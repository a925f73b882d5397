#!/usr/bin/env python
"""Why the Redis store encodes values with msgpack: decode speed of candidate encodings.

    .venv/bin/python bench/encoding_bench.py

One stored value = one view of one entity: 8 float features (or a mixed row), as the online
read path decodes it. Pickle is measured for reference only: it runs code on load, so a value
in a shared Redis must never be unpickled.
"""
from __future__ import annotations

import json
import pickle
import struct
import timeit

import msgpack
from google.protobuf import struct_pb2

ROWS = {
    "8 floats": [0.123456789 * i for i in range(8)],
    "mixed": [1001, 0.5, True, "a string", None, 1735689600000000, 20089, "12.50"],
}


def _proto_encode(values: list) -> bytes:
    lv = struct_pb2.ListValue()
    for v in values:
        if v is None:
            lv.values.add().null_value = 0
        elif isinstance(v, bool):
            lv.values.add().bool_value = v
        elif isinstance(v, (int, float)):
            lv.values.add().number_value = v
        else:
            lv.values.add().string_value = v
    return lv.SerializeToString()


def _proto_decode(blob: bytes) -> list:
    lv = struct_pb2.ListValue()
    lv.ParseFromString(blob)
    return [getattr(v, v.WhichOneof("kind")) for v in lv.values]


def main() -> None:
    for label, row in ROWS.items():
        candidates = {
            "msgpack": (msgpack.packb(row), lambda b: msgpack.unpackb(b)),
            "json": (json.dumps(row, separators=(",", ":")).encode(), json.loads),
            "protobuf ListValue": (_proto_encode(row), _proto_decode),
            "pickle (unsafe)": (pickle.dumps(row, protocol=5), pickle.loads),
        }
        if label == "8 floats":
            fmt = struct.Struct("<8d")
            candidates["struct <8d (no NULLs)"] = (fmt.pack(*row), fmt.unpack)
        print(f"{label}:")
        for name, (blob, decode) in candidates.items():
            n = 200_000
            t = min(timeit.repeat(lambda: decode(blob), number=n, repeat=3)) / n
            print(f"  {name:24s} {len(blob):4d} bytes  decode {t * 1e9:7.0f} ns")


if __name__ == "__main__":
    main()
