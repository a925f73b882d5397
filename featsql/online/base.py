"""The online store interface: create/drop per view at apply/teardown, batch writes, batch reads.

Stores differ in a few capability constants (how many write batches may be in flight, how many
rows one warehouse batch should hold) and in three methods (create/drop, write, read). Values
cross this interface in the storage form of featsql.online.codec.
"""
from __future__ import annotations

from abc import ABC, abstractmethod
from typing import Any, ClassVar

from featsql.definitions import FeatureView
from featsql.online.codec import Key, Rows

# What a read returns per key: (event time in UTC micros, every feature of the view in storage
# form, in view.features order), or None when the store has no value for the key.
Record = tuple[int, list[Any]]
Lookup = tuple[FeatureView, list[Key]]


class OnlineStore(ABC):
    # Writes of several batches at once (threads); 1 for stores that serialize writes anyway.
    max_in_flight: ClassVar[int] = 1
    # Rows per record batch pulled from the warehouse: bounds memory per batch in flight.
    batch_rows: ClassVar[int] = 50_000
    # Reads may run on several threads at once (`featsql serve`); else they are serialized.
    thread_safe_reads: ClassVar[bool] = True
    # Reads take well under a millisecond: `featsql serve` calls them on its event loop instead
    # of handing each to a thread (which costs more than the read).
    fast_reads: ClassVar[bool] = False

    def __init__(self, config: Any):
        self.config = config
        self.project: str = config.project
        self.store_config = config.online_store

    @abstractmethod
    def create(self, views: list[FeatureView]) -> list[str]:
        """Create what `views` need (idempotent); return the names of what was created."""

    @abstractmethod
    def drop(self, views: list[FeatureView]) -> list[str]:
        """Remove what `views` use; return the names of what was removed."""

    @abstractmethod
    def write(self, view: FeatureView, rows: Rows) -> int:
        """Upsert rows; a row lands only if its (event ts, created ts) is newer than the stored
        one. Returns how many rows were sent (landed or not). Must be safe to call from threads."""

    @abstractmethod
    def read(self, lookups: list[Lookup]) -> list[list[Record | None]]:
        """For each (view, keys): one Record or None per key, in one round trip if the store can."""

    # read_async awaits the store's own async client (`featsql serve` overlaps round trips).
    async_reads: ClassVar[bool] = False

    async def read_async(self, lookups: list[Lookup]) -> list[list[Record | None]]:
        """`read` for an event loop; stores without an async client read synchronously."""
        return self.read(lookups)

    @abstractmethod
    def ping(self) -> None:
        """Raise a FeatsqlError naming the store unless it answers (`featsql serve`'s /ready)."""

    @property
    def location(self) -> str:
        """Where the store is, for messages."""
        return self.store_config.type

    @property
    @abstractmethod
    def identity(self) -> str:
        """Which store this is (kind, place, namespace): a watermark belongs to one store, so
        switching stores starts each view's incremental runs from its oldest row."""

    @abstractmethod
    def has_marker(self, view: FeatureView) -> bool:
        """Whether the store holds the marker a completed materialization of `view` leaves; gone
        with the data (a deleted file, a flushed Redis, a rebuilt table): then the watermark lies."""

    @abstractmethod
    def set_marker(self, view: FeatureView) -> None:
        """Leave that marker (after `view`'s rows were written)."""

    def close(self) -> None:
        pass
