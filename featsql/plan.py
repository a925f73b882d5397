"""What an apply would change: per object, added / changed (which fields) / removed."""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from featsql.definitions import KINDS, Definitions
from featsql.registry.base import Registered, RegistryState

LABELS = {"entities": "entity", "feature_views": "feature view", "feature_services": "feature service"}


@dataclass
class Change:
    kind: str  # entities | feature_views | feature_services
    name: str
    action: str  # added | changed | removed | unchanged
    fields: list[str] = field(default_factory=list)
    # A view whose online rows change form: its online table is rebuilt, its watermarks dropped.
    rebuilds_online: bool = False

    def line(self) -> str:
        mark = {"added": "+", "changed": "~", "removed": "-", "unchanged": " "}[self.action]
        detail = f" ({', '.join(self.fields)})" if self.fields else ""
        rebuilt = "; online table rebuilt, incremental restarts from the oldest row" if self.rebuilds_online else ""
        return f"{mark} {LABELS[self.kind]} {self.name}: {self.action}{detail}{rebuilt}"


@dataclass
class Plan:
    changes: list[Change]
    new_state: RegistryState
    # The dbt macros' compiled SQL file: rewritten by apply / out of date (plan).
    macros_written: Path | None = None
    macros_stale: Path | None = None

    @property
    def effective(self) -> list[Change]:
        return [c for c in self.changes if c.action != "unchanged"]

    def summary(self) -> str:
        counts = {a: sum(c.action == a for c in self.changes) for a in ("added", "changed", "removed")}
        return ", ".join(f"{n} {a}" for a, n in counts.items())

    def as_dict(self) -> dict[str, Any]:
        return {"changes": [c.__dict__ for c in self.effective], "summary": self.summary()}


def _spec(obj: Any) -> dict[str, Any]:
    return obj.model_dump(mode="json")


def _changed_fields(old: dict, new: dict) -> list[str]:
    out = []
    for key in sorted(set(old) | set(new)):
        a, b = old.get(key), new.get(key)
        if a == b:
            continue
        if key == "features" and isinstance(a, list) and isinstance(b, list):
            olds, news = {f["name"]: f for f in a}, {f["name"]: f for f in b}
            out += [f"features +{n}" for n in news if n not in olds]
            out += [f"features -{n}" for n in olds if n not in news]
            out += [f"features ~{n}" for n in news if n in olds and news[n] != olds[n]]
            if not any(s.startswith("features") for s in out):
                out.append("features order")
        else:
            out.append(key)
    return out


_ONLINE_SHAPE = ("features", "entities", "join_key_types", "relation", "timestamp_field",
                 "created_timestamp_field", "latest_table")


def _reshapes_online_rows(fields: list[str]) -> bool:
    return any(f.split(" ")[0] in _ONLINE_SHAPE for f in fields if f != "features order")


def make_plan(current: RegistryState, wanted: Definitions) -> Plan:
    """Diff the registry against freshly built definitions; bump versions of changed objects."""
    new = RegistryState(project=current.project, watermarks=dict(current.watermarks),
                        location=current.location, version=current.version)
    changes: list[Change] = []
    for kind in KINDS:
        old_objs = current.objects.get(kind, {})
        for name, obj in getattr(wanted, kind).items():
            spec = _spec(obj)
            old = old_objs.get(name)
            if old is None:
                changes.append(Change(kind, name, "added"))
                new.objects[kind][name] = Registered(1, spec)
            elif old.spec != spec:
                change = Change(kind, name, "changed", _changed_fields(old.spec, spec))
                changes.append(change)
                new.objects[kind][name] = Registered(old.version + 1, spec)
                if kind == "feature_views" and _reshapes_online_rows(change.fields):
                    # What the online store holds no longer matches: the next incremental
                    # materialization starts again from the oldest row.
                    change.rebuilds_online = bool(spec.get("online", True))
                    for key in new.view_watermarks(name):
                        new.watermarks.pop(key)
                        new.dropped_watermarks.add(key)
            else:
                changes.append(Change(kind, name, "unchanged"))
                new.objects[kind][name] = old
        for name in old_objs:
            if name not in getattr(wanted, kind):
                changes.append(Change(kind, name, "removed"))
                if kind == "feature_views":
                    for key in new.view_watermarks(name):
                        new.watermarks.pop(key)
                        new.dropped_watermarks.add(key)
    return Plan(changes, new)
