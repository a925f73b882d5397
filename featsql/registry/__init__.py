"""The registry: what was applied (definitions with versions) and per-view watermarks."""
from __future__ import annotations

from featsql.registry.base import Registry, RegistryConflict, RegistryState
from featsql.registry.file import FileRegistry

__all__ = ["Registry", "RegistryConflict", "RegistryState", "FileRegistry", "open_registry", "migrate"]


def open_registry(config) -> Registry:
    """A registry from featsql.yml's `registry:` value: a file path, or a SQLAlchemy URL
    (postgresql://, mysql+pymysql://, sqlite:///relative/or/absolute.db)."""
    location = config.registry
    if "://" in location:
        from featsql.registry.sql import SqlRegistry

        if location.startswith("sqlite:///") and not location.startswith("sqlite:////"):
            location = "sqlite:///" + str(config.path(location[len("sqlite:///"):]))  # beside featsql.yml
        return SqlRegistry(location, project=config.project)
    return FileRegistry(config.path(location), project=config.project)


def migrate(source: Registry, target: Registry) -> int:
    """Copy every object and watermark of `source` into an empty `target`; returns the objects."""
    from featsql.errors import FeatsqlError

    state = source.load()
    if not target.load().is_empty():
        raise FeatsqlError(f"registry {target.location} already holds project '{state.project}';"
                           " migrate only into an empty one")
    marks = dict(state.watermarks)
    state.version = 0
    state.dropped_watermarks = set()
    target.commit(state)
    for view, end in marks.items():
        target.set_watermark(view, end)
    return sum(len(objs) for objs in state.objects.values())
