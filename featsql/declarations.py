"""Raw `featsql` meta + the warehouse's columns -> validated definitions.

Every problem is collected (not just the first), each as one line naming the YAML file, the
model or exposure, and the key, so one `featsql apply` shows everything to fix.
"""
from __future__ import annotations

from typing import Any, Callable

from sqlglot import exp

from featsql.definitions import (
    Definitions,
    Entity,
    Feature,
    FeatureService,
    FeatureView,
    Relation,
    RequestColumn,
    RequestFeature,
    ViewProjection,
)
from featsql.durations import parse_duration
from featsql.errors import FeatsqlError, ValidationError, did_you_mean
from featsql.manifest import Declared
from featsql.types import TIME_TYPES, ValueType, logical_type, type_kind

VIEW_KEYS = {"entities", "timestamp_field", "created_timestamp_field", "timestamp_offset", "ttl",
             "online", "features", "latest_table", "description"}
SERVICE_KEYS = {"features", "description", "request"}
REQUEST_KEYS = {"name", "type"}
COMPUTED_KEYS = {"name", "sql", "type", "description"}
PROJECTION_KEYS = {"view", "alias", "join_key_map", "features"}
ENTITY_KEYS = {"name", "join_key", "description"}
DEFAULT_TIMESTAMP = "event_timestamp"

ColumnsOf = Callable[[Relation], "dict[str, str] | None"]
TypeOf = Callable[[str], exp.DataType]



def value_type(dtype: exp.DataType) -> ValueType:
    return logical_type(dtype)[0]


def _whole_seconds(problems: _Problems, d: Declared, key: str, raw: Any) -> int | None:
    """A duration key as whole seconds; a fraction of a second is refused, not truncated."""
    try:
        td = parse_duration(raw)
    except ValueError as e:
        problems.add(d, "model", key, str(e))
        return None
    if td is None:
        return None
    if td.total_seconds() != int(td.total_seconds()):
        problems.add(d, "model", key, f"{raw!r} is not a whole number of seconds")
        return None
    return int(td.total_seconds())


class _Problems:
    def __init__(self) -> None:
        self.lines: list[str] = []

    def add(self, d: Declared, kind: str, key: str, msg: str) -> None:
        self.lines.append(f"{d.yaml_file}: {kind} '{d.name}': {key}: {msg}")


def _unknown(problems: _Problems, d: Declared, kind: str, prefix: str, data: dict, known: set) -> None:
    for key in data:
        if key not in known:
            problems.add(d, kind, f"{prefix}.{key}", f"unknown key{did_you_mean(str(key), known)}")


def _entities(problems: _Problems, d: Declared, raw: Any) -> list[Entity]:
    if raw is None:
        problems.add(d, "model", "featsql.entities", "required: a list of entities or join keys"
                     " ([] for a view whose rows apply to every entity)")
        return []
    if not isinstance(raw, list):
        raw = [raw]
    out = []
    for i, item in enumerate(raw):
        key = f"featsql.entities[{i}]"
        if isinstance(item, str):
            out.append(Entity(name=item, join_key=item))
        elif isinstance(item, dict):
            _unknown(problems, d, "model", key, item, ENTITY_KEYS)
            name, join_key = item.get("name"), item.get("join_key") or item.get("name")
            if not name:
                problems.add(d, "model", f"{key}.name", "required")
                continue
            out.append(Entity(name=str(name), join_key=str(join_key),
                              description=str(item.get("description") or "")))
        else:
            problems.add(d, "model", key, f"expected a join key name or {{name, join_key}}, got {item!r}")
    return out


def _view(problems: _Problems, d: Declared, columns_of: ColumnsOf, type_of: TypeOf) -> FeatureView | None:
    meta = d.meta
    if not isinstance(meta, dict):
        problems.add(d, "model", "featsql", f"expected a mapping, got {meta!r}")
        return None
    before = len(problems.lines)
    _unknown(problems, d, "model", "featsql", meta, VIEW_KEYS)
    entities = _entities(problems, d, meta.get("entities"))
    ttl = _whole_seconds(problems, d, "featsql.ttl", meta.get("ttl"))
    offset = _whole_seconds(problems, d, "featsql.timestamp_offset", meta.get("timestamp_offset"))
    online = meta.get("online", True)
    if not isinstance(online, bool):
        problems.add(d, "model", "featsql.online", f"expected true or false, got {online!r}")

    database, schema, identifier = d.relation  # type: ignore[misc]
    relation = Relation(database=database, schema_name=schema, identifier=identifier)
    columns = columns_of(relation)
    if columns is None:
        problems.add(d, "model", "relation", f"{'.'.join(relation.parts())} does not exist in the"
                     " warehouse; run `dbt run` first")
        return None
    lower = {c.lower(): c for c in columns}

    def column(name: Any, key: str) -> str | None:
        if not isinstance(name, str) or not name:
            problems.add(d, "model", key, f"expected a column name, got {name!r}")
            return None
        if name in columns:
            return name
        if name.lower() in lower:
            return lower[name.lower()]
        problems.add(d, "model", key, f"'{name}' is not a column of {'.'.join(relation.parts())}"
                     f"{did_you_mean(name, set(columns))}")
        return None

    ts_raw = meta.get("timestamp_field")
    if ts_raw is None and DEFAULT_TIMESTAMP not in lower:  # Snowflake upper-cases names
        problems.add(d, "model", "featsql.timestamp_field",
                     f"required: the model has no '{DEFAULT_TIMESTAMP}' column to default to")
        ts = None
    else:
        ts = column(ts_raw or DEFAULT_TIMESTAMP, "featsql.timestamp_field")
    created = column(meta["created_timestamp_field"], "featsql.created_timestamp_field") \
        if meta.get("created_timestamp_field") else None
    for i, e in enumerate(entities):
        column(e.join_key, f"featsql.entities[{i}].join_key")
    time_types: dict[str, ValueType] = {}
    for key, col in (("featsql.timestamp_field", ts), ("featsql.created_timestamp_field", created)):
        if not col:
            continue
        time_types[col] = kind = value_type(type_of(columns[col]))
        if kind == "date" and key == "featsql.timestamp_field" and not offset:
            problems.add(d, "model", key, f"column '{col}' is {columns[col]}: a row stamped with"
                         " its day would be visible from 00:00 that day, before the day's data"
                         " existed; say when a row becomes known with featsql.timestamp_offset"
                         " (1d for a daily aggregate stamped with its day)")
        elif kind not in TIME_TYPES and not (kind == "date" and key == "featsql.timestamp_field"):
            problems.add(d, "model", key, f"column '{col}' is {columns[col]}, not a timestamp")

    reserved = {e.join_key.lower() for e in entities} | {c.lower() for c in (ts, created) if c}
    raw_features = meta.get("features")
    if raw_features is None:
        names = [c for c in columns if c.lower() not in reserved]
    elif isinstance(raw_features, list):
        names = []
        for i, f in enumerate(raw_features):
            n = column(f, f"featsql.features[{i}]")
            if n in names:
                problems.add(d, "model", f"featsql.features[{i}]", f"'{f}' is listed twice")
            elif n:
                names.append(n)
    else:
        problems.add(d, "model", "featsql.features", f"expected a list of columns, got {raw_features!r}")
        names = []
    if not names and raw_features is None:
        problems.add(d, "model", "featsql.features", "the model has no feature columns")

    latest = None
    if meta.get("latest_table"):
        parts = str(meta["latest_table"]).split(".")
        if len(parts) > 3:
            problems.add(d, "model", "featsql.latest_table", "expected [database.][schema.]table")
        else:
            parts = [None] * (3 - len(parts)) + parts
            latest = Relation(database=parts[0] or database, schema_name=parts[1] or schema,
                              identifier=parts[2])
            if columns_of(latest) is None:
                problems.add(d, "model", "featsql.latest_table", f"{'.'.join(latest.parts())} does"
                             " not exist in the warehouse; build it with the featsql.latest_values"
                             " macro (dbt run) first")
    if len(problems.lines) > before or ts is None:
        return None
    keys = [column(e.join_key, "") or e.join_key for e in entities]

    def feature(n: str) -> Feature:
        dtype, precision, scale = logical_type(type_of(columns[n]))
        return Feature(name=n, dtype=dtype, precision=precision, scale=scale,
                       warehouse_type=columns[n], description=d.column_docs.get(n, ""))

    return FeatureView(
        name=d.name,
        entities=tuple(Entity(name=e.name, join_key=k, description=e.description)
                       for e, k in zip(entities, keys)),
        timestamp_field=ts,
        created_timestamp_field=created,
        timestamp_dtype=time_types[ts],
        created_timestamp_dtype=time_types[created] if created else None,
        timestamp_offset_seconds=offset,
        ttl_seconds=ttl,
        online=online,
        features=tuple(feature(n) for n in names),
        relation=relation,
        latest_table=latest,
        join_key_types=tuple(type_kind(type_of(columns[k])) for k in keys),
        join_key_sql_types=tuple(columns[k] for k in keys),
        description=str(meta.get("description") or d.description),
        unique_id=d.unique_id,
        yaml_file=d.yaml_file,
    )


def _service(problems: _Problems, d: Declared, views: dict[str, FeatureView],
             all_views: set[str]) -> FeatureService | None:
    meta = d.meta
    if not isinstance(meta, dict):
        problems.add(d, "exposure", "featsql", f"expected a mapping, got {meta!r}")
        return None
    before = len(problems.lines)
    _unknown(problems, d, "exposure", "featsql", meta, SERVICE_KEYS)
    items = meta.get("features")
    if not isinstance(items, list) or not items:
        problems.add(d, "exposure", "featsql.features", "required: a list of view:feature references")
        return None
    order: list[str] = []
    chosen: dict[str, ViewProjection] = {}

    def view_of(name: Any, key: str) -> FeatureView | None:
        if name in views:
            return views[name]
        if name not in all_views:  # an invalid view reports its own problem
            problems.add(d, "exposure", key, f"unknown feature view '{name}'{did_you_mean(str(name), all_views)}")
        return None

    def features_of(view: FeatureView, wanted: list, key: str) -> list[str]:
        names = [f.name for f in view.features]
        if wanted == ["*"]:
            return names
        out = []
        for f in wanted:
            if f in names:
                out.append(f)
            else:
                problems.add(d, "exposure", key, f"'{view.name}:{f}' is not a feature"
                             f"{did_you_mean(str(f), set(names))}")
        return out

    computed: list[tuple[int, dict]] = []
    for i, item in enumerate(items):
        key = f"featsql.features[{i}]"
        if isinstance(item, dict) and "sql" in item:
            computed.append((i, item))  # checked once every stored feature is known
            continue
        if isinstance(item, str):
            if ":" not in item:
                problems.add(d, "exposure", key, f"expected 'view:feature' or 'view:*', got '{item}'")
                continue
            vname, fname = item.split(":", 1)
            view = view_of(vname, key)
            if view is None:
                continue
            feats = features_of(view, [fname], key)
            proj = chosen.get(vname) or ViewProjection(view=vname, features=())
            merged = list(proj.features) + [f for f in feats if f not in proj.features]
            if vname not in chosen:
                order.append(vname)
            chosen[vname] = proj.model_copy(update={"features": tuple(merged)})
        elif isinstance(item, dict):
            _unknown(problems, d, "exposure", key, item, PROJECTION_KEYS)
            view = view_of(item.get("view"), f"{key}.view")
            if view is None:
                continue
            alias = item.get("alias")
            jkm = item.get("join_key_map") or {}
            if not isinstance(jkm, dict):
                problems.add(d, "exposure", f"{key}.join_key_map", "expected a mapping of join key -> column")
                jkm = {}
            for k in jkm:
                if k not in view.join_keys:
                    problems.add(d, "exposure", f"{key}.join_key_map", f"'{k}' is not a join key of "
                                 f"'{view.name}'{did_you_mean(str(k), set(view.join_keys))}")
            wanted = item.get("features", ["*"])
            wanted = wanted if isinstance(wanted, list) else [wanted]
            proj = ViewProjection(view=view.name, alias=alias, join_key_map=jkm,
                                  features=tuple(features_of(view, wanted, f"{key}.features")))
            if proj.name in chosen:
                problems.add(d, "exposure", key, f"'{proj.name}' is used twice; give one an alias")
                continue
            order.append(proj.name)
            chosen[proj.name] = proj
        else:
            problems.add(d, "exposure", key, f"expected 'view:feature' or a mapping, got {item!r}")
    projections = tuple(chosen[n] for n in order)
    request = _request_columns(problems, d, meta.get("request"))
    features = _computed(problems, d, computed, projections, views, request)
    if len(problems.lines) > before:
        return None
    return FeatureService(
        name=d.name, projections=projections, description=d.description,
        owner=d.owner, unique_id=d.unique_id, yaml_file=d.yaml_file,
        request=tuple(request), computed=tuple(features),
    )


def _request_columns(problems: _Problems, d: Declared, raw: Any) -> list[RequestColumn]:
    """`request: [{name, type}]`: what callers send with each entity row."""
    from featsql.compile.request import TYPES

    if raw is None:
        return []
    if not isinstance(raw, list):
        problems.add(d, "exposure", "featsql.request", "expected a list of {name, type}")
        return []
    out = []
    for i, item in enumerate(raw):
        key = f"featsql.request[{i}]"
        if not isinstance(item, dict) or not isinstance(item.get("name"), str) or not item["name"]:
            problems.add(d, "exposure", key, "expected {name, type}")
            continue
        _unknown(problems, d, "exposure", key, item, REQUEST_KEYS)
        kind = item.get("type")
        if kind not in TYPES:
            problems.add(d, "exposure", f"{key}.type", f"expected one of {', '.join(TYPES)}, got {kind!r}")
            continue
        out.append(RequestColumn(name=item["name"], type=kind))
    return out


def _computed(problems: _Problems, d: Declared, items: list[tuple[int, dict]],
              projections: tuple[ViewProjection, ...], views: dict[str, FeatureView],
              request: list[RequestColumn]) -> list[RequestFeature]:
    """Request-time features: each expression parses, names only request columns and features
    of this service, uses only the portable set, and has a type (declared or inferred)."""
    from featsql.compile import request as rt

    if not items:
        return []
    inputs = rt.service_inputs(projections, views, request)
    taken = set(inputs)
    out = []
    for i, item in items:
        key = f"featsql.features[{i}]"
        _unknown(problems, d, "exposure", key, item, COMPUTED_KEYS)
        name, sql = item.get("name"), item.get("sql")
        if not isinstance(name, str) or not name:
            problems.add(d, "exposure", f"{key}.name", "required: the request-time feature's name")
            continue
        if name in taken:
            problems.add(d, "exposure", f"{key}.name", f"'{name}' is already a feature or request column"
                         " of this service")
            continue
        if not isinstance(sql, str) or not sql.strip():
            problems.add(d, "exposure", f"{key}.sql", "expected a SQL expression")
            continue
        try:
            kind = rt.result_type(rt.parse(sql), inputs, item.get("type"))
        except FeatsqlError as e:
            problems.add(d, "exposure", f"{key}.sql", f"feature '{name}': {e}")
            continue
        taken.add(name)
        out.append(RequestFeature(name=name, sql=sql, type=kind,
                                  description=str(item.get("description") or "")))
    return out


def build_definitions(
    views: list[Declared], services: list[Declared], columns_of: ColumnsOf, type_of: TypeOf
) -> Definitions:
    """Validate every declaration; raise ValidationError listing all problems, else return them."""
    problems = _Problems()
    built: dict[str, FeatureView] = {}
    for d in views:
        v = _view(problems, d, columns_of, type_of)
        if v is not None:
            built[v.name] = v
    entities: dict[str, Entity] = {}
    first_seen: dict[str, FeatureView] = {}
    for v in built.values():
        for e in v.entities:
            if e.name in entities and entities[e.name].join_key != e.join_key:
                other = first_seen[e.name]
                problems.lines.append(
                    f"{v.yaml_file}: model '{v.name}': featsql.entities: entity '{e.name}' has join key "
                    f"'{e.join_key}' here but '{entities[e.name].join_key}' in model '{other.name}' "
                    f"({other.yaml_file})"
                )
            elif e.name not in entities:
                entities[e.name], first_seen[e.name] = e, v
    all_names = {d.name for d in views}
    fs = {}
    for d in services:
        s = _service(problems, d, built, all_names)
        if s is not None:
            fs[s.name] = s
    if problems.lines:
        raise ValidationError(problems.lines)
    return Definitions(entities=entities, feature_views=built, feature_services=fs)
