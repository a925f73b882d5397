"""Registry interface. A file registry implements it today; a SQL registry only needs the same
three operations (load, commit a whole state atomically, advance one view's watermark)."""
from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from featsql.definitions import KINDS, Definitions


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

    def definitions(self) -> Definitions:
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
