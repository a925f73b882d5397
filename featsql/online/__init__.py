"""Online stores behind one interface, chosen by `online_store.type` in featsql.yml."""
from __future__ import annotations

from featsql.online.base import OnlineStore

__all__ = ["OnlineStore", "open_online_store"]


def open_online_store(config) -> OnlineStore:
    kind = config.online_store.type
    if kind == "sqlite":
        from featsql.online.sqlite import SqliteOnlineStore as cls
    elif kind == "redis":
        from featsql.online.redis import RedisOnlineStore as cls  # type: ignore[no-redef]
    else:
        from featsql.online.dynamodb import DynamoOnlineStore as cls  # type: ignore[no-redef]
    return cls(config)
