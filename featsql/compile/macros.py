"""The dbt macros' SQL, compiled by featsql's own compiler: one source of truth.

`featsql apply` writes `featsql_compiled.sql` into the dbt project's macro path. For every
`featsql.training_set(...)` call in the project's models (found in their raw code: the arguments
after the entity must be literals) and for every feature view's latest values, it holds one
macro per warehouse (`<adapter>__featsql_...`, picked by adapter.dispatch) whose body is the SQL
this compiler produces for that warehouse, with holes filled by dbt at run time:

    the entity relation          {{ entity }}
    each feature view            {{ ref('view') }}: dbt lineage (`dbt run -s +model`) and unit-test
                                 fixtures (`given:` rows) work as for any ref
    latest-values window bounds  {{ start }} / {{ end }}: SQL expressions, or no bound

The package's featsql.training_set / featsql.latest_values only find and return those macros
(macros/), so the SQL of `dbt run` and of the SDK cannot drift. `featsql_compiled_state()` records
a fingerprint of the featsql meta of every view and service each entry was compiled from; the
package macros compare it with dbt's graph at run time and fail in one line when it is stale,
and an apply that rejects a declaration leaves that message for the macros to raise.
"""
from __future__ import annotations

import hashlib
import json
import os
import re
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from sqlglot import exp

from featsql.compile.latest import latest_values
from featsql.compile.pit import EntitySet, compile_pit
from featsql.compile.request import Computed, computed_features
from featsql.definitions import Definitions, FeatureService, FeatureView, Relation
from featsql.errors import FeatsqlError
from featsql.refs import ViewRequest, resolve

FILE_NAME = "featsql_compiled.sql"
FORMAT = 1
ARGUMENTS = ("entity", "features", "full_feature_names", "timestamp_column",
             "filter_by_created_timestamp")
# No bound given to featsql.latest_values: these, as SQL string literals, through the same cast.
NO_START, NO_END = "'0001-01-01 00:00:00'", "'9999-12-31 23:59:59'"
_HOLE = "featsqlhole"  # prefix of the placeholders the holes are compiled as


def _md5(text: str) -> str:
    return hashlib.md5(text.encode("utf-8")).hexdigest()


def fingerprint(meta: Any) -> str:
    """md5 of the featsql meta as dbt's `tojson(meta, sort_keys=true)` writes it (json.dumps)."""
    return _md5(json.dumps(meta, sort_keys=True))


def request_key(features: Any, full_feature_names: bool = False,
                timestamp_column: str = "event_timestamp",
                filter_by_created_timestamp: bool = False) -> str:
    """The key both sides compute for a training_set call: md5 of its arguments as JSON."""
    return _md5(json.dumps([features, full_feature_names, timestamp_column,
                            filter_by_created_timestamp], sort_keys=True))


@dataclass(frozen=True)
class TrainingCall:
    """One `featsql.training_set(entity, ...)` call in a model, its literal arguments."""

    model: str
    path: str
    features: Any
    full_feature_names: bool = False
    timestamp_column: str = "event_timestamp"
    filter_by_created_timestamp: bool = False

    @property
    def key(self) -> str:
        return request_key(self.features, self.full_feature_names, self.timestamp_column,
                           self.filter_by_created_timestamp)

    def where(self) -> str:
        return f"{self.path}: model '{self.model}': featsql.training_set"


def training_calls(manifest: dict) -> tuple[list[TrainingCall], list[str]]:
    """The training_set calls in the project's models, and one problem line per call featsql
    cannot compile (arguments that are not literals, unknown arguments)."""
    import jinja2
    from jinja2 import nodes

    env = jinja2.Environment(extensions=["jinja2.ext.do"])
    calls: list[TrainingCall] = []
    problems: list[str] = []
    for _, node in sorted(manifest.get("nodes", {}).items()):
        code = node.get("raw_code") or ""
        if node.get("resource_type") != "model" or "training_set" not in code:
            continue
        path = node.get("original_file_path", "")
        try:
            tree = env.parse(code)
        except jinja2.TemplateSyntaxError:
            continue  # dbt itself reports a model it cannot parse
        for call in tree.find_all(nodes.Call):
            f = call.node
            if not (isinstance(f, nodes.Getattr) and f.attr == "training_set"
                    and isinstance(f.node, nodes.Name) and f.node.name == "featsql"):
                continue
            where = f"{path}: model '{node['name']}': featsql.training_set"
            given: dict[str, Any] = dict(zip(ARGUMENTS, call.args))
            for kw in call.kwargs:
                if kw.key not in ARGUMENTS:
                    problems.append(f"{where}: unknown argument '{kw.key}'; expected"
                                    f" {', '.join(ARGUMENTS)}")
                given[kw.key] = kw.value
            values: dict[str, Any] = {}
            for name in ARGUMENTS[1:]:
                if name not in given:
                    continue
                try:
                    values[name] = given[name].as_const()
                except nodes.Impossible:
                    problems.append(f"{where}: {name} must be a literal (a list of 'view:feature',"
                                    " a feature-service name, true/false) for featsql apply to"
                                    " compile it")
            if "features" not in given:
                problems.append(f"{where}: features is required")
            elif "features" in values:
                calls.append(TrainingCall(node["name"], path, **values))
    return calls, problems


def _requested(call: TrainingCall, defs: Definitions) -> list[str] | FeatureService:
    features = call.features
    if isinstance(features, str) and ":" not in features:
        if features not in defs.feature_services:
            from featsql.errors import did_you_mean

            raise FeatsqlError(f"features='{features}' is not a feature service (an exposure of"
                               f" type ml with featsql meta){did_you_mean(features, set(defs.feature_services))}")
        return defs.feature_services[features]
    if isinstance(features, (list, tuple)) and not all(isinstance(f, str) for f in features):
        raise FeatsqlError("features: give 'view:feature' strings; aliased views and"
                           " join_key_map belong in a feature service (an ml exposure)")
    if not isinstance(features, (str, list, tuple)):
        raise FeatsqlError(f"features must be a list of 'view:feature' or a feature-service name,"
                           f" got {features!r}")
    return list(features) if not isinstance(features, str) else features


# -- SQL with holes ------------------------------------------------------------------------------

def _with_holes(query: exp.Query) -> exp.Query:
    """Placeholder tables (prefix _HOLE) as bare lower-case names, so the text can be split."""
    for t in query.find_all(exp.Table):
        token = t.name.lower()
        if token.startswith(_HOLE):
            t.set("this", exp.to_identifier(token, quoted=False))
            t.set("db", None)
            t.set("catalog", None)
    return query


def _raw(text: str) -> str:
    if not text:
        return ""
    if "endraw" in text:
        raise FeatsqlError("compiled SQL contains 'endraw', which a dbt macro cannot hold")
    return "{% raw %}" + text + "{% endraw %}"


def _jinja(sql: str, fills: dict[str, str]) -> str:
    """The SQL as a macro body: literal text in raw blocks, each hole token its Jinja."""
    pattern = re.compile("|".join(re.escape(t) for t in sorted(fills, key=len, reverse=True)),
                         re.IGNORECASE)
    out, pos, seen = [], 0, set()
    for m in pattern.finditer(sql):
        out.append(_raw(sql[pos:m.start()]))
        token = m.group(0).lower()
        out.append(fills[token])
        seen.add(token)
        pos = m.end()
    out.append(_raw(sql[pos:]))
    missing = set(fills) - seen
    if missing:  # a hole the dialect's SQL lost: never ship a macro without it
        raise FeatsqlError(f"compiled SQL lost its placeholders {sorted(missing)}")
    return "".join(out)


def _ref(view: FeatureView, root_project: str) -> str:
    """`{{ ref('view') }}`, with the package for a view defined in another dbt package."""
    parts = view.unique_id.split(".")
    package = parts[1] if len(parts) >= 3 else root_project
    args = [view.name] if package == root_project else [package, view.name]
    return "{{ ref(" + ", ".join(json.dumps(a) for a in args) + ") }}"


def _holed_requests(requests: list[ViewRequest]) -> tuple[list[ViewRequest], dict[str, FeatureView]]:
    """Requests whose views read placeholder relations, one per distinct view."""
    holes: dict[str, FeatureView] = {}
    by_view: dict[str, str] = {}
    out = []
    for r in requests:
        token = by_view.setdefault(r.view.name, f"{_HOLE}ref{len(by_view)}")
        holes[token] = r.view
        relation = Relation(identifier=token)
        out.append(replace(r, view=r.view.model_copy(update={"relation": relation, "latest_table": None})))
    return out, holes


def training_set_body(wh: Any, requests: list[ViewRequest], call: TrainingCall,
                      root_project: str, computed: list[Computed] | None = None) -> str:
    """The body of `<adapter>__featsql_ts_<key>(entity)`: the compiler's point-in-time query
    (with the service's request-time features, `computed`)."""
    from featsql.training import key_casts

    holed, holes = _holed_requests(requests)
    entity = EntitySet(source=exp.Table(this=exp.to_identifier(f"{_HOLE}entity")),
                       timestamp_column=call.timestamp_column, casts=key_casts(wh, requests))
    query = _with_holes(compile_pit(wh, entity, holed, call.full_feature_names,
                                    call.filter_by_created_timestamp, computed))
    fills = {f"{_HOLE}entity": "{{ entity }}"}
    fills.update({t: _ref(v, root_project) for t, v in holes.items()})
    return "(\n" + _jinja(query.sql(dialect=wh.dialect, pretty=True), fills) + "\n) as featsql_training_set"


def latest_values_body(wh: Any, view: FeatureView, root_project: str) -> str:
    """The body of `<adapter>__featsql_latest__<view>(start, end)`: the latest row per entity, in
    the view's own columns, bounds as given (or none)."""
    token = f"{_HOLE}ref0"
    holed = view.model_copy(update={"relation": Relation(identifier=token), "latest_table": None})
    start, end = (wh.utc_naive(exp.column(f"{_HOLE}{b}")) for b in ("start", "end"))
    query = _with_holes(latest_values(holed, start, end, wh, view_columns=True))
    fills = {token: _ref(view, root_project),
             f"{_HOLE}start": "{{ start if start is not none else \"" + NO_START + "\" }}",
             f"{_HOLE}end": "{{ end if end is not none else \"" + NO_END + "\" }}"}
    return "(\n" + _jinja(query.sql(dialect=wh.dialect, pretty=True), fills) + "\n) as featsql_latest"


# -- the file ------------------------------------------------------------------------------------

@dataclass
class Compiled:
    """What the file holds: entries by macro name, each with its per-warehouse bodies."""

    entries: dict[str, dict[str, Any]]
    bodies: dict[str, dict[str, str]]  # macro name -> adapter type -> body
    relations: dict[str, str]  # lower-case relation identifier -> view name
    error: str = ""


def _meta_of(manifest: dict) -> dict[str, Any]:
    from featsql.manifest import _meta

    out = {uid: _meta(n) for uid, n in manifest.get("nodes", {}).items()}
    out.update({uid: _meta(n) for uid, n in manifest.get("exposures", {}).items()})
    return out


def _safe(name: str) -> str:
    return name if re.fullmatch(r"[A-Za-z0-9_]+", name) else _md5(name)[:16]


def latest_macro(view_name: str) -> str:
    return f"featsql_latest__{_safe(view_name)}"


def compile_project(manifest: dict, defs: Definitions) -> Compiled:
    """Every training_set call and every view's latest values, for every warehouse; a bad call
    raises ValidationError (one line per problem, like a bad declaration)."""
    from featsql.errors import ValidationError
    from featsql.offline.base import warehouse_classes

    root = (manifest.get("metadata") or {}).get("project_name") or ""
    metas = _meta_of(manifest)
    calls, problems = training_calls(manifest)
    entries: dict[str, dict[str, Any]] = {}
    bodies: dict[str, dict[str, str]] = {}
    warehouses = [cls() for cls in warehouse_classes()]
    for call in calls:
        name = f"featsql_ts_{call.key}"
        if name in entries:
            continue
        try:
            wanted = _requested(call, defs)
            requests = resolve(wanted, defs, call.full_feature_names)
        except FeatsqlError as e:
            problems.append(f"{call.where()}: {e}")
            continue
        deps = [[r.view.unique_id, fingerprint(metas.get(r.view.unique_id)), f"feature view '{r.view.name}'"]
                for r in requests]
        if isinstance(wanted, FeatureService):
            deps.append([wanted.unique_id, fingerprint(metas.get(wanted.unique_id)),
                         f"feature service '{wanted.name}'"])
        entries[name] = {"what": f"featsql.training_set(features={json.dumps(call.features)})",
                         "deps": sorted({tuple(d): d for d in deps}.values())}
        computed = computed_features(wanted, defs.feature_views)
        bodies[name] = {wh.adapter_type: training_set_body(wh, requests, call, root, computed)
                        for wh in warehouses}
    if problems:
        raise ValidationError(problems)
    relations: dict[str, str] = {}
    for view in defs.feature_views.values():
        name = latest_macro(view.name)
        entries[name] = {"what": f"featsql.latest_values('{view.name}')",
                         "deps": [[view.unique_id, fingerprint(metas.get(view.unique_id)),
                                   f"feature view '{view.name}'"]]}
        bodies[name] = {wh.adapter_type: latest_values_body(wh, view, root) for wh in warehouses}
        relations[view.relation.identifier.lower()] = view.name
    return Compiled(entries=dict(sorted(entries.items())), bodies=bodies, relations=relations)


HEADER = """{#- Written by `featsql apply`: the SQL featsql.training_set and featsql.latest_values return,
    compiled by featsql's compiler for every warehouse from the registered definitions. Do not
    edit; commit it with the models. When a feature view's or service's featsql meta changes,
    the macros stop with "run `featsql apply`" until this file is rewritten. -#}
"""


def render(compiled: Compiled) -> str:
    """The macro file's text (deterministic: stable diffs)."""
    state = {"format": FORMAT, "error": compiled.error, "entries": compiled.entries,
             "relations": dict(sorted(compiled.relations.items()))}
    lines = [HEADER, "{% macro featsql_compiled_state() %}{{ return(" + json.dumps(state, sort_keys=True)
             + ") }}{% endmacro %}\n"]
    for name in compiled.entries:
        params = "start, end" if name.startswith("featsql_latest__") else "entity"
        lines.append(f"\n{{% macro {name}({params}) %}}{{{{ return(adapter.dispatch('{name}')({params})) }}}}"
                     "{% endmacro %}\n")
        for adapter, body in sorted(compiled.bodies[name].items()):
            lines.append(f"{{% macro {adapter}__{name}({params}) %}}{body}{{% endmacro %}}\n")
        lines.append(f"{{% macro default__{name}({params}) %}}{{{{ exceptions.raise_compiler_error("
                     f"\"featsql: warehouse type '\" ~ target.type ~ \"' is not supported\") }}}}"
                     "{% endmacro %}\n")
    return "".join(lines)


def _project(project_dir: Path) -> dict:
    import yaml

    try:
        return yaml.safe_load((project_dir / "dbt_project.yml").read_text()) or {}
    except (OSError, yaml.YAMLError):
        return {}


def path(project_dir: Path) -> Path:
    """Where the file goes: the project's first macro path."""
    paths = _project(project_dir).get("macro-paths") or ["macros"]
    return project_dir / str(paths[0]) / FILE_NAME


def uses_macros(manifest: dict, project_dir: Path) -> bool:
    """The featsql dbt package is installed (or the file was written before)."""
    return "macro.featsql.training_set" in manifest.get("macros", {}) or path(project_dir).is_file()


def write(project_dir: Path, text: str) -> Path | None:
    """Replace the file whole; None when it already says exactly this."""
    target = path(project_dir)
    if target.is_file() and target.read_text() == text:
        return None
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.with_name(target.name + ".tmp")
    tmp.write_text(text)
    os.replace(tmp, target)
    # dbt's partial parsing re-parses a model only when a macro it calls by name changed; the
    # models calling featsql.training_set reach these macros by a computed name, so their refs
    # (lineage) would stay as first parsed: the next dbt command parses the project whole.
    target_path = str(_project(project_dir).get("target-path") or "target")
    (project_dir / target_path / "partial_parse.msgpack").unlink(missing_ok=True)
    return target


def write_error(project_dir: Path, message: str) -> None:
    """After an apply that failed validation: the macros raise its message instead of running
    SQL compiled from definitions that no longer hold."""
    if path(project_dir).is_file():
        write(project_dir, render(Compiled(entries={}, bodies={}, relations={},
                                           error=f"featsql apply failed: {message}")))
