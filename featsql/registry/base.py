"""Registry interface: load, commit an apply (atomically, optimistically), advance a watermark.

Implemented by a JSON file (featsql.registry.file, with an advisory lock) and SQL databases
through SQLAlchemy (featsql.registry.sql). Two rules every implementation keeps, so concurrent
applies and materializations lose nothing:

- `commit` succeeds only if no other apply committed since the state was loaded (the state's
  `version`); otherwise RegistryConflict, and the caller re-plans. It writes the objects and
  drops the watermarks the plan dropped; it never writes the other watermarks back (a
  materialization may have moved them meanwhile).
- `set_watermark` only moves a watermark forward, and only while the view is still the version
  the materialization read (an apply that changed it meanwhile makes the update a no-op).
"""
from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from featsql.definitions import KINDS, Definitions
from featsql.errors import FeatsqlError

# Version of what the registry stores. 2: logical types decided at apply (featsql.types).
FORMAT = 2


@dataclass
class Registered:
    version: int
    spec: dict[str, Any]


@dataclass
class RegistryState:
    project: str
    objects: dict[str, dict[str, Registered]] = field(default_factory=lambda: {k: {} for k in KINDS})
    # One row per view: the END of the last successful materialization window.
    watermarks: dict[str, datetime] = field(default_factory=dict)
    updated_at: datetime | None = None
    format: int = FORMAT
    location: str = ""
    # Commits so far when this state was loaded: what commit checks (optimistic concurrency).
    version: int = 0
    # Views whose watermark this state's commit removes (set by featsql.plan.make_plan).
    dropped_watermarks: set[str] = field(default_factory=set)
    # Sharded materialization runs in progress: run key -> the shards that finished.
    shards: dict[str, list[int]] = field(default_factory=dict)

    def view_watermarks(self, view: str) -> list[str]:
        """The watermark keys of `view`: `view@<online store>` (and a bare `view` of older
        registries, which no store claims: its next incremental run starts from the oldest row)."""
        return [k for k in self.watermarks if k == view or k.startswith(f"{view}@")]

    def view_version(self, view: str) -> int | None:
        registered = self.objects.get("feature_views", {}).get(view)
        return registered.version if registered is not None else None

    def definitions(self, upgrade: bool = False) -> Definitions:
        """The registered objects. A registry an older featsql wrote is refused with one line
        naming the fix (`featsql apply` rewrites it), unless `upgrade` (what apply itself reads:
        the old objects, made readable, only to diff against and to drop)."""
        if self.format < FORMAT and not self.is_empty():
            if not upgrade:
                raise FeatsqlError(f"{self.location or 'registry'}: written by an older featsql"
                                   f" (format {self.format}); run `featsql apply` to upgrade it")
            return Definitions(**{
                kind: {name: KINDS[kind].model_validate(_upgrade(kind, r.spec))
                       for name, r in objs.items()}
                for kind, objs in self.objects.items()
            })
        return Definitions(**{
            kind: {name: KINDS[kind].model_validate(r.spec) for name, r in objs.items()}
            for kind, objs in self.objects.items()
        })

    def is_empty(self) -> bool:
        return not any(self.objects.values())


class RegistryConflict(FeatsqlError):
    """Another apply committed after this one read the registry."""


class Registry(ABC):
    @abstractmethod
    def load(self) -> RegistryState:
        """The current state; an empty state when nothing was applied yet."""

    @abstractmethod
    def commit(self, state: RegistryState) -> None:
        """Write an apply's objects atomically (readers see the old or the new state), if the
        registry is still at `state.version`; else raise RegistryConflict (module docstring)."""

    @abstractmethod
    def set_watermark(self, view: str, end: datetime, view_version: int | None = None) -> bool:
        """Record that `view` (a watermark key, `view@<online store>`) is materialized up to `end`
        if that is later than its watermark and (given `view_version`) the view is still that
        version; False when the view changed."""

    @abstractmethod
    def shard_done(self, run: str, shard: int, shards: int) -> int:
        """Record that shard `shard` of a sharded run (a key naming view, store, START, END and
        the shard count) finished; return how many distinct shards of it have. The caller
        advances the watermark when that is all of them and then calls `forget_run`."""

    @abstractmethod
    def forget_run(self, run: str) -> None:
        """Drop a finished run's shard records."""

    @abstractmethod
    def delete(self) -> bool:
        """Remove the registry entirely (teardown); True if there was one."""

    @property
    @abstractmethod
    def location(self) -> str:
        """Where it lives, for messages."""


def _upgrade(kind: str, spec: dict[str, Any]) -> dict[str, Any]:
    """A format-1 object as format 2 (types the old way; apply replaces them from the warehouse)."""
    if kind != "feature_views":
        return spec
    spec = dict(spec)
    aware = {True: "timestamp_tz", False: "timestamp"}

    def zoned(warehouse_type: str) -> bool:
        t = (warehouse_type or "").upper().replace(" ", "")
        return "TZ" in t or "WITHTIMEZONE" in t

    ts_type = spec.pop("timestamp_type", "")
    created_type = spec.pop("created_timestamp_type", "")
    spec["timestamp_dtype"] = aware[zoned(ts_type)]
    if spec.get("created_timestamp_field"):
        spec["created_timestamp_dtype"] = aware[zoned(created_type)]
    spec["features"] = [
        {**f, "dtype": aware[zoned(f.get("warehouse_type", ""))]} if f.get("dtype") == "timestamp" else f
        for f in spec.get("features", [])]
    spec["join_key_types"] = ["int" if t == "decimal" else t for t in spec.get("join_key_types", [])]
    return spec
