"""Table rows for `featsql list`."""
from __future__ import annotations

from typing import Any

from featsql.durations import format_duration


def rows(kind: str, items: list[Any]) -> tuple[list[str], list[list[str]]]:
    if kind == "entities":
        return ["NAME", "JOIN KEY", "DESCRIPTION"], [[e.name, e.join_key, e.description] for e in items]
    if kind == "feature-views":
        return ["NAME", "ENTITIES", "FEATURES", "TTL", "ONLINE", "RELATION"], [
            [v.name, ",".join(v.join_keys), ",".join(f.name for f in v.features),
             format_duration(v.ttl) or "-", "yes" if v.online else "no", ".".join(v.relation.parts())]
            for v in items
        ]
    return ["NAME", "FEATURES", "REQUEST-TIME", "OWNER"], [
        [s.name, ",".join(s.feature_refs), ",".join(c.name for c in s.computed) or "-", s.owner]
        for s in items]
