"""Registry interface. A file registry implements it today; a SQL registry only needs the same
three operations (load, commit a whole state atomically, advance one view's watermark)."""
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


class Registry(ABC):
    @abstractmethod
    def load(self) -> RegistryState:
        """The current state; an empty state when nothing was applied yet."""

    @abstractmethod
    def commit(self, state: RegistryState) -> None:
        """Replace the whole state atomically: readers see the old or the new state, never half."""

    @abstractmethod
    def set_watermark(self, view: str, end: datetime) -> None:
        """Record that `view` is materialized up to `end` (one row per view, overwritten)."""

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
