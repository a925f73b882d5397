"""Feature references ("view:feature", "view:*", or a feature service) resolved against the registry.

Shared by training sets and online reads, so both name columns and report errors the same way.
"""
from __future__ import annotations

from dataclasses import dataclass

from featsql.definitions import Definitions, FeatureService, FeatureView
from featsql.errors import FeatsqlError, did_you_mean


@dataclass(frozen=True)
class ViewRequest:
    """One view (maybe aliased) and the features wanted from it, with output column names."""

    name: str  # alias or view name; the prefix of full feature names
    view: FeatureView
    features: tuple[str, ...]
    join_key_map: tuple[tuple[str, str], ...] = ()  # view join key -> entity-set column

    def entity_column(self, join_key: str) -> str:
        return dict(self.join_key_map).get(join_key, join_key)

    @property
    def entity_columns(self) -> list[str]:
        return [self.entity_column(k) for k in self.view.join_keys]

    def output_name(self, feature: str, full: bool) -> str:
        return f"{self.name}__{feature}" if full else feature


def resolve(features: list[str] | FeatureService, defs: Definitions,
            full_feature_names: bool = False) -> list[ViewRequest]:
    """Group references by view in request order; unknown names and collisions are errors."""
    views = defs.feature_views
    out: dict[str, ViewRequest] = {}
    if isinstance(features, FeatureService):
        for p in features.projections:
            view = _view(p.view, views)
            out[p.name] = ViewRequest(p.name, view, tuple(p.features), tuple(sorted(p.join_key_map.items())))
    else:
        if isinstance(features, str):
            features = [f.strip() for f in features.split(",") if f.strip()]
        if not features:
            raise FeatsqlError("no features requested")
        for ref in features:
            if not isinstance(ref, str) or ":" not in ref:
                raise FeatsqlError(f"feature reference {ref!r}: expected 'view:feature' or 'view:*'")
            vname, fname = ref.split(":", 1)
            view = _view(vname, views)
            names = [f.name for f in view.features]
            if fname == "*":
                wanted = names
            elif fname in names:
                wanted = [fname]
            else:
                raise FeatsqlError(f"unknown feature '{ref}'{did_you_mean(fname, set(names))}"
                                   f"; '{vname}' has {', '.join(names)}")
            prev = out.get(vname)
            merged = (list(prev.features) if prev else []) + [
                f for f in wanted if not prev or f not in prev.features]
            out[vname] = ViewRequest(vname, view, tuple(merged))
    requests = list(out.values())
    if not full_feature_names:
        seen: dict[str, str] = {}
        for r in requests:
            for f in r.features:
                if f in seen:
                    raise FeatsqlError(
                        f"feature name '{f}' is requested from both '{seen[f]}' and '{r.name}';"
                        " use full_feature_names=True (--full-feature-names) to get view__feature columns"
                    )
                seen[f] = r.name
    return requests


def _view(name: str, views: dict[str, FeatureView]) -> FeatureView:
    if name not in views:
        raise FeatsqlError(f"unknown feature view '{name}'{did_you_mean(name, set(views))}"
                           + ("" if views else "; run `featsql apply` first"))
    return views[name]
