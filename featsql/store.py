"""FeatureStore: the SDK. The CLI is a thin layer over these methods."""
from __future__ import annotations

import random
import time
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any, Iterator

from featsql.config import RepoConfig, load_config
from featsql.definitions import Definitions, Entity, FeatureService, FeatureView
from featsql.errors import FeatsqlError, did_you_mean
from featsql.plan import Plan, make_plan


@dataclass
class TeardownReport:
    registry: str | None = None
    online_tables: list[str] = field(default_factory=list)

    def lines(self) -> list[str]:
        out = [f"removed online table {t}" for t in self.online_tables]
        out.append(f"removed registry {self.registry}" if self.registry else "no registry to remove")
        return out


class FeatureStore:
    def __init__(self, repo_path: str | Path = ".", config_path: str | Path | None = None,
                 config: RepoConfig | None = None):
        self.config = config or load_config(repo_path, config_path)
        self._definitions: Definitions | None = None
        self._online = None
        # Resolved online feature lists, keyed by request; rebuilt when definitions change.
        self._read_plans: dict[Any, Any] = {}

    # -- plumbing ---------------------------------------------------------------------------------
    @property
    def registry(self):
        from featsql.registry import open_registry

        return open_registry(self.config)

    @contextmanager
    def warehouse(self, read_only: bool = False) -> Iterator[Any]:
        from featsql.offline import connect

        wh = connect(self.config)
        wh.read_only = read_only
        try:
            yield wh
        finally:
            wh.close()

    @property
    def online_store(self):
        if self._online is None:
            from featsql.online import open_online_store

            self._online = open_online_store(self.config)
        return self._online

    def refresh(self) -> None:
        """Forget cached definitions (they are read from the registry once, then reused)."""
        self._definitions = None

    @property
    def definitions(self) -> Definitions:
        if self._definitions is None:
            self._definitions = self.registry.load().definitions()
        return self._definitions

    # -- apply / plan / teardown ------------------------------------------------------------------
    def build(self, parse: bool = True) -> Definitions:
        """Definitions from dbt's manifest and the built relations; raises on any bad declaration."""
        return self._build(parse)[1]

    def _build(self, parse: bool) -> tuple[dict, Definitions]:
        from featsql import manifest
        from featsql.declarations import build_definitions

        doc = manifest.load_manifest(self.config, parse=parse)
        views, services = manifest.feature_views(doc), manifest.feature_services(doc)
        with self.warehouse() as wh:
            return doc, build_definitions(views, services, wh.columns, wh.parse_type)

    def plan(self, parse: bool = True) -> Plan:
        """What apply would change; writes nothing."""
        from featsql.compile import macros

        doc, wanted = self._build(parse)
        plan = make_plan(self.registry.load(), wanted)
        project_dir = self.config.dbt_project_dir
        if macros.uses_macros(doc, project_dir):
            target = macros.path(project_dir)
            text = macros.render(macros.compile_project(doc, wanted))
            if not target.is_file() or target.read_text() != text:
                plan.macros_stale = target
        return plan

    def apply(self, parse: bool = True) -> Plan:
        """Validate everything, create online tables, then commit the registry in one write; in
        a project with the featsql dbt package, rewrite the macros' compiled SQL too."""
        from featsql.compile import macros
        from featsql.errors import ValidationError

        project_dir = self.config.dbt_project_dir
        try:
            doc, wanted = self._build(parse)
            compiled = macros.compile_project(doc, wanted) if macros.uses_macros(doc, project_dir) else None
        except ValidationError as e:
            macros.write_error(project_dir, str(e))  # the dbt macros say the same, not stale SQL
            raise
        from featsql.registry.base import RegistryConflict

        registry = self.registry
        online_views = [v for v in wanted.feature_views.values() if v.online]
        self.online_store.create(online_views)
        attempts = 10
        for attempt in range(attempts):
            # Optimistic: plan against what is registered now; if another apply commits first,
            # plan again against its result (ours is the later apply, so it wins, re-planned),
            # after a jittered pause so racing appliers spread out.
            current = registry.load()
            plan = make_plan(current, wanted)
            try:
                registry.commit(plan.new_state)
                break
            except RegistryConflict as e:
                if attempt == attempts - 1:
                    raise FeatsqlError(f"{e}; {attempts} re-plans in a row lost the race: retry") from None
                time.sleep(random.uniform(0, 0.05 * 2 ** min(attempt, 4)))
        old = current.definitions(upgrade=True)
        gone = [v for n, v in old.feature_views.items()
                if n not in wanted.feature_views or not wanted.feature_views[n].online]
        self.online_store.drop(gone)
        self._definitions = wanted
        if compiled is not None:
            plan.macros_written = macros.write(project_dir, macros.render(compiled))
        return plan

    def teardown(self) -> TeardownReport:
        """Remove what apply created: online tables of every registered view, then the registry."""
        registry = self.registry
        views = list(registry.load().definitions(upgrade=True).feature_views.values())
        report = TeardownReport(online_tables=self.online_store.drop(views))
        if registry.delete():
            report.registry = registry.location
        self._definitions = None
        return report

    def watermarks(self, marks: dict[str, datetime] | None = None) -> dict[str, datetime]:
        """View -> the END of its last materialization into the configured online store (from
        `marks`, a registry state's watermarks, when given)."""
        suffix = f"@{self.online_store.identity}"
        marks = self.registry.load().watermarks if marks is None else marks
        return {k[: -len(suffix)]: ts for k, ts in marks.items() if k.endswith(suffix)}

    def watermark(self, view: str) -> datetime | None:
        return self.watermarks().get(view)

    # -- lookups ----------------------------------------------------------------------------------
    def list_entities(self) -> list[Entity]:
        return list(self.definitions.entities.values())

    def list_feature_views(self) -> list[FeatureView]:
        return list(self.definitions.feature_views.values())

    def list_feature_services(self) -> list[FeatureService]:
        return list(self.definitions.feature_services.values())

    def get_feature_view(self, name: str) -> FeatureView:
        return _registered(self.definitions.feature_views, "feature view", name)

    def get_feature_service(self, name: str) -> FeatureService:
        return _registered(self.definitions.feature_services, "feature service", name)

    def get_entity(self, name: str) -> Entity:
        return _registered(self.definitions.entities, "entity", name)

    # -- training sets --------------------------------------------------------------------------------
    def compiler(self, dialect: str | None = None):
        """The configured warehouse, unconnected (reads the dbt profile only), or the warehouse of
        another `dialect`: what the SQL is compiled for."""
        from featsql.offline import for_dialect, warehouse_class
        from featsql.offline.profile import load_credentials

        if dialect is not None:
            return for_dialect(dialect)
        creds = load_credentials(self.config)
        return warehouse_class(creds.type)(creds, project_dir=self.config.dbt_project_dir)

    def dialect(self) -> str:
        """The sqlglot dialect of the configured warehouse (reads the dbt profile, no connection)."""
        return self.compiler().dialect

    def get_historical_features(
        self,
        entity_df: Any = None,
        features: list[str] | FeatureService | None = None,
        full_feature_names: bool = False,
        filter_by_created_timestamp: bool = False,
        timestamp_column: str = "event_timestamp",
        dialect: str | None = None,
        start_date: Any = None,
        end_date: Any = None,
    ):
        """A point-in-time correct training set (DESIGN.md section 6) as a lazy RetrievalJob.

        `entity_df` is a pandas DataFrame / Arrow table (uploaded once) or a SQL query, which may
        use ref() and source(), run in place in the warehouse. Without one, `start_date` and
        `end_date` give every entity key of the requested views with rows in that window, with
        its values as of `end_date` (Feast's date-range retrieval).
        """
        from featsql import manifest
        from featsql.definitions import Relation
        from featsql.refs import resolve
        from featsql.training import plan_date_range, plan_training_set

        if features is None:
            raise FeatsqlError("get_historical_features: features is required (a list of"
                               " 'view:feature' or a feature service)")
        from featsql.compile.request import computed_features

        requests = resolve(features, self.definitions, full_feature_names)
        computed = computed_features(features, self.definitions.feature_views)
        compiler = self.compiler(dialect)
        if entity_df is None:
            if start_date is None or end_date is None:
                raise FeatsqlError("get_historical_features: give an entity_df, or start_date and"
                                   " end_date to train on every entity with rows in that window")
            return plan_date_range(
                warehouse=compiler, requests=requests, start=start_date, end=end_date,
                open_warehouse=self.warehouse, full_feature_names=full_feature_names,
                filter_by_created_timestamp=filter_by_created_timestamp,
                timestamp_column=timestamp_column, computed=computed)
        if start_date is not None or end_date is not None:
            raise FeatsqlError("get_historical_features: start_date/end_date replace the entity_df;"
                               " give one or the other")
        doc: dict | None = None

        def render(sql: str) -> str:
            nonlocal doc
            if doc is None:
                doc = manifest.load_manifest(self.config, parse=False)
            return manifest.render_refs(sql, doc, compiler.dialect)

        def columns_of(t: Any) -> dict[str, str] | None:
            rel = Relation(database=t.catalog or None, schema_name=t.db or None, identifier=t.name)
            try:
                with self.warehouse() as wh:
                    return wh.columns(rel)
            except Exception:  # noqa: BLE001 - only a pre-check; the warehouse reports it later
                return None

        return plan_training_set(
            warehouse=compiler, requests=requests, entity_df=entity_df,
            open_warehouse=self.warehouse, render_sql=render, columns_of_table=columns_of,
            full_feature_names=full_feature_names,
            filter_by_created_timestamp=filter_by_created_timestamp, timestamp_column=timestamp_column,
            computed=computed,
        )

    def materialization_sql(self, view: str, start: Any = None, end: Any = None,
                            dialect: str | None = None, pretty: bool = True) -> str:
        """The latest-values query materialization runs for `view` over [start, end] (default:
        from the oldest row up to now), as `featsql compile --materialize` prints it."""
        from datetime import datetime, timezone

        from featsql.compile.latest import materialization_query
        from featsql.materialize import to_utc

        wh = self.compiler(dialect)
        query = materialization_query(self.get_feature_view(view),
                                      None if start is None else to_utc(start),
                                      to_utc(end) if end is not None else datetime.now(timezone.utc), wh)
        return wh.sql(query, pretty=pretty)

    # -- materialization and online reads --------------------------------------------------------
    def materialize(self, start_date: Any, end_date: Any, feature_views: list[str] | None = None,
                    progress: Any = None, shard: tuple[int, int] | None = None) -> list[Any]:
        """Latest value per entity with start <= ts <= end of each online view, into the store;
        `shard` (i, n): only partition i of n of the entities (one of n invocations)."""
        from featsql.materialize import materialize

        return materialize(self, start_date, end_date, feature_views, progress, shard)

    def materialize_incremental(self, end_date: Any, feature_views: list[str] | None = None,
                                progress: Any = None, shard: tuple[int, int] | None = None) -> list[Any]:
        """Continue each online view from its watermark (first run: its oldest row) to `end_date`."""
        from featsql.materialize import materialize_incremental

        return materialize_incremental(self, end_date, feature_views, progress, shard)

    def write_to_online_store(self, feature_view_name: str, df: Any) -> int:
        """Write rows (join keys, timestamp field, every feature; created time optional) to a
        view's online values with the newer-than rule; returns how many rows were sent."""
        from featsql.push import push_rows

        return push_rows(self.online_store, self.get_feature_view(feature_view_name), df)

    def push(self, push_source_name: str, df: Any, to: str = "online") -> int:
        """Feast's push: `push_source_name` names the feature view. Only `to="online"`: the
        warehouse is the offline store (load rows there with dbt)."""
        if to != "online":
            raise FeatsqlError(f"push to {to!r} is not supported: the warehouse is the offline store"
                               " (load the rows there with dbt); push to 'online'")
        return self.write_to_online_store(push_source_name, df)

    def get_online_features(self, features: list[str] | str | FeatureService,
                            entity_rows: list[dict[str, Any]] | dict[str, list[Any]],
                            full_feature_names: bool = False):
        """Latest values with statuses; one online-store round trip; feature lists resolved once.

        `entity_rows` is a list of {join key: value} or Feast's columnar {join key: [values]}."""
        return self._read_plan(features, full_feature_names).read(self.online_store, entity_rows)

    def _read_plan(self, features: list[str] | str | FeatureService, full_feature_names: bool):
        from featsql.serving import ReadPlan

        plans = self._read_plans
        key = (("service", features.name) if isinstance(features, FeatureService)
               else tuple(features) if isinstance(features, list) else features, full_feature_names)
        plan = plans.get(key)
        if plan is None or plan.definitions is not self.definitions:
            plan = plans[key] = ReadPlan(features, self.definitions, full_feature_names)
        return plan

    async def get_online_features_async(self, features: list[str] | str | FeatureService,
                                        entity_rows: list[dict[str, Any]] | dict[str, list[Any]],
                                        full_feature_names: bool = False):
        """get_online_features awaiting the store's async client where it has one (Redis)."""
        return await self._read_plan(features, full_feature_names).read_async(self.online_store,
                                                                              entity_rows)

    def close(self) -> None:
        if self._online is not None:
            self._online.close()
            self._online = None


def _registered(objects: dict[str, Any], kind: str, name: str) -> Any:
    """A registered object by name; an unknown name is one line with a did-you-mean."""
    if name not in objects:
        raise FeatsqlError(f"unknown {kind} '{name}'{did_you_mean(name, set(objects))}"
                           + ("" if objects else "; run `featsql apply` first"))
    return objects[name]
