"""The online store interface: create/drop per view at apply/teardown, batch writes, batch reads."""
from __future__ import annotations

from abc import ABC, abstractmethod
from typing import Any

from featsql.definitions import FeatureView


class OnlineStore(ABC):
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

    def close(self) -> None:
        pass
