"""dbt's target/manifest.json: kept fresh (`dbt parse`) and read into raw featsql declarations."""
from __future__ import annotations

import json
import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from featsql.errors import FeatsqlError

_SOURCE_SUFFIXES = {".sql", ".yml", ".yaml", ".csv", ".py"}
_SKIP_DIRS = {"target", "dbt_packages", "logs", "data", ".venv", "node_modules", ".git"}


@dataclass
class Declared:
    """A model or exposure carrying a `featsql` meta block, with where it was declared."""

    name: str
    unique_id: str
    yaml_file: str
    meta: Any
    relation: tuple[str | None, str | None, str] | None = None
    description: str = ""
    column_docs: dict[str, str] = field(default_factory=dict)
    owner: str = ""


def manifest_path(project_dir: Path) -> Path:
    return project_dir / "target" / "manifest.json"


def is_stale(project_dir: Path) -> bool:
    """True when the manifest is missing or older than any project source file."""
    path = manifest_path(project_dir)
    if not path.is_file():
        return True
    built = path.stat().st_mtime
    for root, dirs, files in os.walk(project_dir):
        dirs[:] = [d for d in dirs if d not in _SKIP_DIRS and not d.startswith(".")]
        for f in files:
            if Path(f).suffix in _SOURCE_SUFFIXES and os.stat(os.path.join(root, f)).st_mtime > built:
                return True
    return False


def dbt_parse(config) -> None:
    """Run `dbt parse` in-process with featsql.yml's project, profiles dir and target."""
    from featsql.offline.profile import profiles_dir

    from dbt.cli.main import dbtRunner

    args = ["parse", "--quiet", "--project-dir", str(config.dbt_project_dir),
            "--profiles-dir", str(profiles_dir(config)), *_profile_args(config)]
    result = dbtRunner().invoke(args)
    if not result.success:
        # dbt has printed the full error; keep its headline (the part before the code excerpt).
        text = re.split(r"\n\s*-{3,}", str(result.exception or "see the dbt output above"), 1)[0]
        raise FeatsqlError(f"dbt parse failed in {config.dbt_project_dir}: {' '.join(text.split())}")


def _profile_args(config) -> list[str]:
    """`--profile`/`--target` only where featsql.yml differs from dbt's defaults.

    dbt hashes these flags into its partial-parse state: passing the default target explicitly
    would make every `featsql apply` after a plain `dbt run` (and the next `dbt run`) a full parse.
    """
    from featsql.offline.profile import profiles_dir, project_profile_name

    args: list[str] = []
    project_profile = project_profile_name(config.dbt_project_dir)
    name = config.dbt.profile or project_profile
    if name != project_profile:
        args += ["--profile", name]
    if config.dbt.target and config.dbt.target != _default_target(profiles_dir(config), name):
        args += ["--target", config.dbt.target]
    return args


def _default_target(directory: Path, profile: str) -> str | None:
    """The `target:` a profile selects when no --target is given, rendered as dbt renders it."""
    from dbt_common.context import set_invocation_context

    from dbt.config.profile import read_profile
    from dbt.config.renderer import ProfileRenderer

    set_invocation_context(os.environ)
    try:
        raw = (read_profile(str(directory)).get(profile) or {}).get("target")
        return str(ProfileRenderer({}).render_value(raw)) if raw else "default"
    except Exception:  # noqa: BLE001 - unknown means "pass --target", which is always correct
        return None


def load_manifest(config, parse: bool = True) -> dict:
    """The manifest, re-parsed first when it is missing or stale (unless parse=False)."""
    project_dir = config.dbt_project_dir
    if parse and is_stale(project_dir):
        dbt_parse(config)
    path = manifest_path(project_dir)
    if not path.is_file():
        raise FeatsqlError(f"{path}: no manifest; run `dbt parse` (or drop --no-parse)")
    try:
        return json.loads(path.read_text())
    except json.JSONDecodeError as e:
        raise FeatsqlError(f"{path}: not valid JSON: {e}") from None


def _meta(node: dict) -> Any:
    """`featsql` meta: config.meta first (dbt >= 1.10 puts it there), then top-level meta."""
    for meta in ((node.get("config") or {}).get("meta"), node.get("meta")):
        if isinstance(meta, dict) and "featsql" in meta:
            return meta["featsql"]
    return None


def _yaml_file(node: dict) -> str:
    patch = node.get("patch_path")
    if patch:
        return patch.split("://", 1)[-1]
    return node.get("original_file_path", "")


def feature_views(manifest: dict) -> list[Declared]:
    out = []
    for uid, node in sorted(manifest.get("nodes", {}).items()):
        if node.get("resource_type") != "model":
            continue
        meta = _meta(node)
        if meta is None:
            continue
        out.append(Declared(
            name=node["name"],
            unique_id=uid,
            yaml_file=_yaml_file(node),
            meta=meta,
            relation=(node.get("database"), node.get("schema"), node.get("alias") or node["name"]),
            description=node.get("description") or "",
            column_docs={c: (v or {}).get("description") or "" for c, v in (node.get("columns") or {}).items()},
        ))
    return out


def feature_services(manifest: dict) -> list[Declared]:
    out = []
    for uid, node in sorted(manifest.get("exposures", {}).items()):
        meta = _meta(node)
        if node.get("type") != "ml" or meta is None:
            continue
        owner = node.get("owner") or {}
        out.append(Declared(
            name=node["name"],
            unique_id=uid,
            yaml_file=node.get("original_file_path", ""),
            meta=meta,
            description=node.get("description") or "",
            owner=owner.get("name") or owner.get("email") or "",
        ))
    return out


def relation_sql(node: dict, dialect: str | None) -> str:
    """A manifest node's relation as `dialect` spells it (featsql.sql.stored_name), so a ref()
    resolves in the warehouse featsql compiles for; dbt's relation_name where parts are missing."""
    from featsql.definitions import Relation
    from featsql.sql import table

    identifier = node.get("alias") or node.get("identifier") or node.get("name")
    if dialect is None or not identifier or not node.get("schema"):
        return node["relation_name"]
    relation = Relation(database=node.get("database") or None, schema_name=node["schema"],
                        identifier=identifier)
    return table(relation, dialect).sql(dialect=dialect)


def render_refs(sql: str, manifest: dict, dialect: str | None = None) -> str:
    """Resolve `{{ ref('m') }}` / `{{ source('s', 't') }}` in user SQL to the built relations,
    spelled for `dialect`."""
    if "{{" not in sql and "{%" not in sql:
        return sql
    import jinja2

    nodes = [n for n in manifest.get("nodes", {}).values() if n.get("relation_name")]
    sources = list(manifest.get("sources", {}).values())

    def ref(*args: str, **kwargs: Any) -> str:
        name, package = args[-1], (args[0] if len(args) > 1 else kwargs.get("package"))
        for n in nodes:
            if n["name"] == name and (package is None or n.get("package_name") == package):
                return relation_sql(n, dialect)
        known = sorted({n["name"] for n in nodes})
        from featsql.errors import did_you_mean

        raise FeatsqlError(f"entity SQL: ref('{name}') is not a model or seed in the manifest"
                           f"{did_you_mean(name, known)}")

    def source(source_name: str, table_name: str) -> str:
        for s in sources:
            if s.get("source_name") == source_name and s.get("name") == table_name:
                return relation_sql(s, dialect)
        raise FeatsqlError(f"entity SQL: source('{source_name}', '{table_name}') is not in the manifest")

    env = jinja2.Environment(undefined=jinja2.StrictUndefined)
    try:
        return env.from_string(sql).render(ref=ref, source=source)
    except jinja2.TemplateError as e:
        raise FeatsqlError(f"entity SQL: cannot render: {e}") from None
