"""The registry: what was applied (definitions with versions) and per-view watermarks."""
from __future__ import annotations

from featsql.registry.base import Registry, RegistryState
from featsql.registry.file import FileRegistry

__all__ = ["Registry", "RegistryState", "FileRegistry", "open_registry"]


def open_registry(config) -> Registry:
    """A registry from featsql.yml's `registry:` value (a file path today)."""
    from featsql.errors import FeatsqlError

    location = config.registry
    if "://" in location:
        raise FeatsqlError(
            f"registry: '{location}': SQL registries are not available in this version;"
            " use a file path such as data/registry.json"
        )
    return FileRegistry(config.path(location), project=config.project)
