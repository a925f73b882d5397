"""The objects featsql registers: entities, feature views and feature services.

They are plain frozen pydantic models so the registry can store them as JSON and the plan
can diff them field by field.
"""
from __future__ import annotations

from datetime import timedelta

from pydantic import BaseModel, ConfigDict

from featsql.types import Kind, ValueType, describe, kind_of


class _Def(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class Relation(_Def):
    """Where a dbt model was built (database may be empty on warehouses without one)."""

    database: str | None = None
    schema_name: str | None = None
    identifier: str

    def parts(self) -> list[str]:
        return [p for p in (self.database, self.schema_name, self.identifier) if p]


class Entity(_Def):
    name: str
    join_key: str
    description: str = ""


class Feature(_Def):
    name: str
    # Logical type, decided at apply from the warehouse's column type (featsql.types).
    dtype: ValueType = "other"
    precision: int | None = None
    scale: int | None = None
    warehouse_type: str = ""
    description: str = ""

    @property
    def kind(self) -> Kind:
        """What values come out as (decimals by the policy in featsql.types)."""
        return kind_of(self.dtype, self.scale)

    @property
    def type_name(self) -> str:
        return describe(self.dtype, self.precision, self.scale)


class FeatureView(_Def):
    name: str
    entities: tuple[Entity, ...]
    timestamp_field: str
    created_timestamp_field: str | None = None
    # Logical types of the two time columns: the compiler converts zone-aware ones to UTC.
    timestamp_dtype: ValueType = "timestamp"
    created_timestamp_dtype: ValueType | None = None
    # A row becomes known at timestamp_field + this (a daily aggregate stamped with its day: 1d).
    timestamp_offset_seconds: int | None = None
    ttl_seconds: int | None = None
    online: bool = True
    features: tuple[Feature, ...]
    relation: Relation
    latest_table: Relation | None = None
    # Kind of each join key (same order as entities), so an online key read from the warehouse
    # (1001) and one typed on a command line ("1001") encode the same; and its warehouse type,
    # to which entity-set keys are cast where the kinds agree but the types do not (text vs uuid).
    join_key_types: tuple[Kind, ...] = ()
    join_key_sql_types: tuple[str, ...] = ()
    description: str = ""
    # Where it is declared, for messages.
    unique_id: str = ""
    yaml_file: str = ""

    @property
    def join_keys(self) -> list[str]:
        return [e.join_key for e in self.entities]

    @property
    def ttl(self) -> timedelta | None:
        return timedelta(seconds=self.ttl_seconds) if self.ttl_seconds else None

    def feature(self, name: str) -> Feature | None:
        return next((f for f in self.features if f.name == name), None)


class ViewProjection(_Def):
    """A view as a service uses it: a subset of features, maybe aliased, keys maybe mapped."""

    view: str
    alias: str | None = None
    features: tuple[str, ...]
    join_key_map: dict[str, str] = {}

    @property
    def name(self) -> str:
        return self.alias or self.view


class RequestColumn(_Def):
    """A value the caller sends with each entity row (Feast's request data)."""

    name: str
    type: Kind


class RequestFeature(_Def):
    """A feature computed at request time: a SQL expression over the service's request columns
    and features (featsql.compile.request), run by the warehouse offline and in-process online."""

    name: str
    sql: str
    type: Kind
    description: str = ""


class FeatureService(_Def):
    name: str
    projections: tuple[ViewProjection, ...]
    request: tuple[RequestColumn, ...] = ()
    computed: tuple[RequestFeature, ...] = ()
    description: str = ""
    owner: str = ""
    unique_id: str = ""
    yaml_file: str = ""

    @property
    def feature_refs(self) -> list[str]:
        return [f"{p.name}:{f}" for p in self.projections for f in p.features]


KINDS = {"entities": Entity, "feature_views": FeatureView, "feature_services": FeatureService}


class Definitions(BaseModel):
    """Everything one apply registers, keyed by name."""

    entities: dict[str, Entity] = {}
    feature_views: dict[str, FeatureView] = {}
    feature_services: dict[str, FeatureService] = {}
