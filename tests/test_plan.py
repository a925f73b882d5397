"""The plan: added / changed (which fields) / removed per object, versions bumped only on change."""
from __future__ import annotations

from featsql.definitions import Definitions, Entity, Feature, FeatureView, Relation
from featsql.plan import make_plan
from featsql.registry.base import RegistryState

DRIVER = Entity(name="driver", join_key="driver_id")


def view(*features: Feature, **kw) -> FeatureView:
    return FeatureView(name="v", entities=(DRIVER,), timestamp_field="ts", features=features,
                       relation=Relation(identifier="v"), **kw)


def f(name: str, dtype: str = "float") -> Feature:
    return Feature(name=name, dtype=dtype)


def state_with(*views: FeatureView) -> RegistryState:
    wanted = Definitions(entities={"driver": DRIVER}, feature_views={v.name: v for v in views})
    return make_plan(RegistryState(project="p"), wanted).new_state


def lines(old: FeatureView, new: FeatureView) -> list[str]:
    plan = make_plan(state_with(old), Definitions(entities={"driver": DRIVER},
                                                  feature_views={new.name: new}))
    return [c.line() for c in plan.effective]


def test_feature_changes_are_named() -> None:
    assert lines(view(f("a"), f("b")), view(f("a"), f("c"))) == [
        "~ feature view v: changed (features +c, features -b); online table rebuilt, incremental"
        " restarts from the oldest row"]
    assert lines(view(f("a")), view(f("a", "int"))) == ["~ feature view v: changed (features ~a); online table rebuilt, incremental restarts"
        " from the oldest row"]
    assert lines(view(f("a"), f("b")), view(f("b"), f("a"))) == [
        "~ feature view v: changed (features order)"]
    assert lines(view(f("a")), view(f("a"), ttl_seconds=60, online=False)) == [
        "~ feature view v: changed (online, ttl_seconds)"]


def test_unchanged_objects_keep_their_version_and_changed_ones_bump_it() -> None:
    first = state_with(view(f("a")))
    plan = make_plan(first, Definitions(entities={"driver": DRIVER},
                                        feature_views={"v": view(f("a"), f("b"))}))
    assert plan.new_state.objects["feature_views"]["v"].version == 2
    assert plan.new_state.objects["entities"]["driver"].version == 1
    assert plan.summary() == "0 added, 1 changed, 0 removed"
    assert plan.as_dict()["changes"] == [
        {"kind": "feature_views", "name": "v", "action": "changed", "fields": ["features +b"],
         "rebuilds_online": True}]


def test_removed_objects_leave_the_state() -> None:
    plan = make_plan(state_with(view(f("a"))), Definitions())
    assert [c.line() for c in plan.effective] == ["- entity driver: removed",
                                                  "- feature view v: removed"]
    assert plan.new_state.is_empty()


def test_a_reshaped_view_restarts_incremental_materialization() -> None:
    from datetime import datetime, timezone

    old = state_with(view(f("a")))
    end = datetime(2025, 1, 8, tzinfo=timezone.utc)
    old.watermarks["v"] = end

    def after(new: FeatureView) -> dict:
        wanted = Definitions(entities={"driver": DRIVER}, feature_views={new.name: new})
        return make_plan(old, wanted).new_state.watermarks

    assert after(view(f("a"), f("b"))) == {}                      # a new feature: from the oldest row
    assert after(view(f("a"), ttl_seconds=60)) == {"v": end}      # only the ttl: keep going
    assert after(view(f("a"), description="x")) == {"v": end}
