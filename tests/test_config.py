"""featsql.yml: defaults, env_var() rendering as in dbt, and one clear line per mistake."""
from __future__ import annotations

from pathlib import Path

import pytest

from featsql.config import load_config, render_env
from featsql.errors import FeatsqlError
from tests.support import featsql, invoke


def write(tmp_path: Path, text: str, name: str = "featsql.yml") -> Path:
    path = tmp_path / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


def test_defaults(tmp_path: Path) -> None:
    write(tmp_path, "project: driver_ranking\n")
    config = load_config(tmp_path)
    assert config.project == "driver_ranking"
    assert config.registry == "data/registry.json"
    assert config.online_store.type == "sqlite" and config.online_store.path == "data/online.db"
    assert config.dbt.project_dir == "." and config.dbt.profiles_dir is None
    assert config.dbt.target is None
    assert config.dbt_project_dir == tmp_path.resolve()
    assert config.path(config.registry) == tmp_path.resolve() / "data" / "registry.json"


def test_paths_resolve_against_the_file_not_the_cwd(tmp_path: Path) -> None:
    path = write(tmp_path, "project: p\ndbt: {project_dir: .., profiles_dir: ../profiles}\n"
                           "registry: state/r.json\n", "envs/prod/featsql.yml")
    config = load_config(config_path=path)
    assert config.dbt_project_dir == (tmp_path / "envs").resolve()
    assert config.dbt_profiles_dir == (tmp_path / "envs" / "profiles").resolve()
    assert config.path(config.registry) == (tmp_path / "envs" / "prod" / "state" / "r.json").resolve()


@pytest.mark.parametrize(("text", "kind", "fields"), [
    ("online_store: {type: redis, connection_string: 'redis://h:1/2', key_ttl_seconds: 60}",
     "redis", {"connection_string": "redis://h:1/2", "key_ttl_seconds": 60}),
    ("online_store: {type: dynamodb, region: eu-west-1, endpoint_url: 'http://localhost:8000'}",
     "dynamodb", {"region": "eu-west-1", "endpoint_url": "http://localhost:8000"}),
    ("online_store: {path: x.db}", "sqlite", {"path": "x.db"}),
])
def test_online_store_types(tmp_path: Path, text: str, kind: str, fields: dict) -> None:
    write(tmp_path, f"project: p\n{text}\n")
    store = load_config(tmp_path).online_store
    assert store.type == kind
    assert {k: getattr(store, k) for k in fields} == fields


def test_env_var_renders_in_every_string(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FS_PROJECT", "from_env")
    monkeypatch.setenv("FS_PORT", "6380")
    write(tmp_path, "project: \"{{ env_var('FS_PROJECT') }}\"\n"
                    "dbt: {target: \"{{ env_var('FS_TARGET', 'dev') }}\"}\n"
                    "online_store:\n  type: redis\n"
                    "  connection_string: \"redis://localhost:{{ env_var('FS_PORT') }}/0\"\n"
                    "  key_ttl_seconds: \"{{ env_var('FS_TTL', 3600) }}\"\n")
    config = load_config(tmp_path)
    assert config.project == "from_env"
    assert config.dbt.target == "dev"
    assert config.online_store.connection_string == "redis://localhost:6380/0"
    assert config.online_store.key_ttl_seconds == 3600


def test_dbt_type_filters(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FS_TTL", "60")
    write(tmp_path, "project: p\nonline_store:\n  type: redis\n"
                    "  key_ttl_seconds: \"{{ env_var('FS_TTL') | as_number }}\"\n"
                    "registry: \"{{ env_var('FS_REG', 'r.json') | as_text }}\"\n")
    config = load_config(tmp_path)
    assert config.online_store.key_ttl_seconds == 60 and config.registry == "r.json"


def test_render_env_leaves_non_templates_alone() -> None:
    assert render_env({"a": [1, "x", {"b": None}], "c": True}) == {"a": [1, "x", {"b": None}], "c": True}


ERRORS = [
    pytest.param("dbt: {target: dev}\n", "featsql.yml: missing required key 'project'", id="missing-project"),
    pytest.param("project: p\nonline_store: {type: rediss}\n",
                 "featsql.yml: online_store: unknown online store type 'rediss' (did you mean 'redis'?);"
                 " expected one of sqlite, redis, dynamodb", id="unknown-online-store-type"),
    pytest.param("project: p\nregistry: \"{{ env_var('FEATSQL_TEST_UNSET') }}\"\n",
                 "featsql.yml: registry: env var 'FEATSQL_TEST_UNSET' is not set and env_var() has no"
                 " default", id="env-var-unset"),
    pytest.param("project: p\nonline_store: {type: redis, connection_string: \"{{ env_var('X' }}\"}\n",
                 "featsql.yml: online_store.connection_string: cannot render \"{{ env_var('X' }}\":"
                 " unexpected '}', expected ')'", id="env-var-syntax"),
    pytest.param("project: p\nregisty: r.json\n",
                 "featsql.yml: unknown key 'registy' (did you mean 'registry'?)", id="unknown-key"),
    pytest.param("project: p\ndbt: {profile_dir: .}\n",
                 "featsql.yml: unknown key 'dbt.profile_dir' (did you mean 'profiles_dir'?)",
                 id="unknown-dbt-key"),
    pytest.param("project: p\nonline_store: {type: redis, conection_string: x}\n",
                 "featsql.yml: unknown key 'online_store.conection_string' (did you mean"
                 " 'connection_string'?)", id="unknown-store-key"),
    pytest.param("project: my-project\n",
                 "featsql.yml: project: 'my-project' is not a valid name: use letters, digits and"
                 " underscores, not starting with a digit", id="bad-project-name"),
    pytest.param("- project: p\n", "featsql.yml: expected a mapping at the top level", id="not-a-mapping"),
    pytest.param("project: p\n  registry: [\n",
                 "featsql.yml: not valid YAML (line 2, column 11): mapping values are not allowed here",
                 id="bad-yaml"),
]


@pytest.mark.parametrize(("text", "message"), ERRORS)
def test_config_errors_are_one_clear_line(tmp_path: Path, text: str, message: str) -> None:
    write(tmp_path, text)
    with pytest.raises(FeatsqlError) as err:
        load_config(tmp_path)
    assert str(err.value) == f"{tmp_path / 'featsql.yml'}: {message.removeprefix('featsql.yml: ')}"
    # and through the CLI: exactly that one line on stderr, exit 1, no traceback
    result = invoke("list", "entities", cwd=tmp_path)
    assert result.exit_code == 1
    assert result.stdout == ""
    assert result.stderr.splitlines() == [f"error: {message}"]


def test_config_error_through_the_real_cli(tmp_path: Path) -> None:
    write(tmp_path, "project: p\nonline_store: {type: memcached}\n", "staging/featsql.yml")
    result = featsql("-f", "staging/featsql.yml", "list", "entities", cwd=tmp_path)
    assert result.returncode == 1
    assert result.stdout == ""
    assert result.stderr.splitlines() == [
        "error: staging/featsql.yml: online_store: unknown online store type 'memcached';"
        " expected one of sqlite, redis, dynamodb"]


def test_missing_file(tmp_path: Path) -> None:
    result = invoke("plan", cwd=tmp_path)
    assert result.exit_code == 1
    assert result.stderr.splitlines() == [
        "error: featsql.yml: no such file (featsql.yml sits beside dbt_project.yml)"]
