"""featsql.yml: loading, `{{ env_var() }}` rendering as dbt does it, and validation."""
from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Literal, Union

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from featsql.errors import FeatsqlError, did_you_mean

CONFIG_NAME = "featsql.yml"


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class DbtConfig(_Strict):
    project_dir: str = "."
    profiles_dir: str | None = None
    target: str | None = None
    profile: str | None = None


class SqliteStoreConfig(_Strict):
    type: Literal["sqlite"] = "sqlite"
    path: str = "data/online.db"


class RedisStoreConfig(_Strict):
    type: Literal["redis"]
    connection_string: str = "redis://localhost:6379/0"
    key_ttl_seconds: int | None = None


class DynamoStoreConfig(_Strict):
    type: Literal["dynamodb"]
    region: str = "us-east-1"
    endpoint_url: str | None = None
    table_name_template: str = "{project}.{view}"


OnlineStoreConfig = Union[SqliteStoreConfig, RedisStoreConfig, DynamoStoreConfig]
ONLINE_TYPES = {"sqlite": SqliteStoreConfig, "redis": RedisStoreConfig, "dynamodb": DynamoStoreConfig}


class AuthConfig(_Strict):
    type: Literal["token"] = "token"
    # The bearer token; default: the FEATSQL_SERVER_TOKEN environment variable.
    token: str | None = None


class ServerConfig(_Strict):
    """`featsql serve` (featsql.server)."""

    auth: AuthConfig | None = None
    # How often a running server checks for a newer registry (never per request).
    registry_ttl_seconds: float = Field(default=10.0, gt=0)
    max_body_bytes: int = Field(default=1 << 20, gt=0)
    max_entities: int = Field(default=10_000, gt=0)
    # A request body that has not fully arrived by then is answered 408.
    body_timeout_seconds: float = Field(default=10.0, gt=0)


class MaterializationConfig(_Strict):
    """How materialization runs (featsql.materialize)."""

    engine: Literal["local"] = "local"
    # Writer processes, each streaming its partition of the latest values (a hash of the keys).
    workers: int = Field(default=1, ge=1, le=64)


class RepoConfig(_Strict):
    project: str = Field(pattern=r"^[A-Za-z_][A-Za-z0-9_]*$")
    dbt: DbtConfig = DbtConfig()
    registry: str = "data/registry.json"
    online_store: OnlineStoreConfig = SqliteStoreConfig()
    server: ServerConfig = ServerConfig()
    materialization: MaterializationConfig = MaterializationConfig()
    # Where the file was read from: relative paths resolve against it.
    repo_path: Path = Path(".")
    config_file: Path | None = None

    @field_validator("online_store", mode="before")
    @classmethod
    def _pick_store(cls, value: Any) -> Any:
        if isinstance(value, dict):
            kind = value.get("type", "sqlite")
            if kind not in ONLINE_TYPES:
                raise ValueError(
                    f"unknown online store type '{kind}'{did_you_mean(str(kind), set(ONLINE_TYPES))};"
                    f" expected one of {', '.join(ONLINE_TYPES)}"
                )
            return ONLINE_TYPES[kind].model_validate(value)
        return value

    def path(self, relative: str) -> Path:
        """A path from the file, resolved against the directory featsql.yml is in."""
        p = Path(relative).expanduser()
        return p if p.is_absolute() else (self.repo_path / p)

    @property
    def dbt_project_dir(self) -> Path:
        return self.path(self.dbt.project_dir).resolve()

    @property
    def dbt_profiles_dir(self) -> Path | None:
        return self.path(self.dbt.profiles_dir).resolve() if self.dbt.profiles_dir else None


class _MissingEnv(Exception):
    pass


def _env_var(name: str, default: Any = None) -> str:
    if name in os.environ:
        return os.environ[name]
    if default is not None:
        return str(default)
    raise _MissingEnv(name)


def _as_bool(value: Any) -> bool:
    return str(value).strip().lower() in ("1", "true", "yes", "on")


def _as_native(value: Any) -> Any:
    import ast

    try:
        return ast.literal_eval(str(value))
    except (ValueError, SyntaxError):
        return value


def _as_number(value: Any) -> int | float:
    text = str(value).strip()
    try:
        return int(text)
    except ValueError:
        return float(text)


# dbt's type filters; the rendered text is then validated (and coerced) by the config models.
_DBT_FILTERS = {"as_text": str, "as_bool": _as_bool, "as_native": _as_native, "as_number": _as_number}


def render_env(value: Any, where: str = "") -> Any:
    """Render `{{ env_var('X', 'default') }}` in every string, recursively, like dbt."""
    if isinstance(value, dict):
        return {k: render_env(v, f"{where}.{k}" if where else str(k)) for k, v in value.items()}
    if isinstance(value, list):
        return [render_env(v, f"{where}[{i}]") for i, v in enumerate(value)]
    if not isinstance(value, str) or "{{" not in value and "{%" not in value:
        return value
    import jinja2

    env = jinja2.Environment(undefined=jinja2.StrictUndefined)
    env.filters.update(_DBT_FILTERS)  # `{{ env_var('PORT') | as_number }}` works as in dbt
    try:
        return env.from_string(value).render(env_var=_env_var)
    except _MissingEnv as e:
        raise FeatsqlError(
            f"{where}: env var '{e.args[0]}' is not set and env_var() has no default"
        ) from None
    except jinja2.TemplateError as e:
        raise FeatsqlError(f"{where}: cannot render {value!r}: {e}") from None


def find_config(repo_path: str | Path = ".", config_path: str | Path | None = None) -> Path:
    path = Path(config_path) if config_path else Path(repo_path) / CONFIG_NAME
    if not path.is_file():
        raise FeatsqlError(f"{path}: no such file (featsql.yml sits beside dbt_project.yml)")
    return path


def load_config(repo_path: str | Path = ".", config_path: str | Path | None = None) -> RepoConfig:
    """Read, render and validate featsql.yml; every problem is one line naming file and key."""
    path = find_config(repo_path, config_path)
    try:
        raw = yaml.safe_load(path.read_text()) or {}
    except yaml.YAMLError as e:
        raise FeatsqlError(f"{path}: not valid YAML{_yaml_problem(e)}") from None
    if not isinstance(raw, dict):
        raise FeatsqlError(f"{path}: expected a mapping at the top level")
    try:
        rendered = render_env(raw)
    except FeatsqlError as e:
        raise FeatsqlError(f"{path}: {e}") from None
    try:
        return RepoConfig.model_validate({**rendered, "repo_path": path.parent.resolve(),
                                          "config_file": path.resolve()})
    except ValidationError as e:
        raise FeatsqlError(f"{path}: {_first_error(e, rendered)}") from None


def _yaml_problem(e: yaml.YAMLError) -> str:
    """' (line L, column C): problem' on one line; PyYAML's own text spans several."""
    mark, problem = getattr(e, "problem_mark", None), getattr(e, "problem", None)
    where = f" (line {mark.line + 1}, column {mark.column + 1})" if mark else ""
    return f"{where}: {problem or ' '.join(str(e).split())}"


def _first_error(err: ValidationError, raw: dict) -> str:
    e = err.errors()[0]
    loc = [str(p) for p in e["loc"] if not str(p).endswith("Config")]
    key = ".".join(loc)
    if e["type"] == "missing":
        return f"missing required key '{key}'"
    if key == "project" and e["type"] == "string_pattern_mismatch":
        return (f"project: '{e['input']}' is not a valid name: use letters, digits and underscores,"
                " not starting with a digit")
    if e["type"] == "extra_forbidden":
        parent = raw
        for p in loc[:-1]:
            parent = parent.get(p, {}) if isinstance(parent, dict) else {}
        known = set(RepoConfig.model_fields) - {"repo_path"}
        if len(loc) > 1:
            known = _fields_at(loc[:-1], parent)
        return f"unknown key '{key}'{did_you_mean(loc[-1], known)}"
    msg = e["msg"].removeprefix("Value error, ")
    return f"{key}: {msg}"


def _fields_at(loc: list[str], parent: Any) -> set[str]:
    if loc[0] == "dbt":
        return set(DbtConfig.model_fields)
    if loc[0] == "online_store" and isinstance(parent, dict):
        model = ONLINE_TYPES.get(parent.get("type", "sqlite"), SqliteStoreConfig)
        return set(model.model_fields)
    return set()
