"""The README documents only what exists: every `featsql` command and flag it shows, every
featsql.yml key and every model meta key (and all of them)."""
from __future__ import annotations

import re

import click
import pytest

from featsql.cli import main
from featsql.config import (
    AuthConfig,
    DbtConfig,
    DynamoStoreConfig,
    MaterializationConfig,
    RedisStoreConfig,
    RepoConfig,
    ServerConfig,
    SqliteStoreConfig,
)
from featsql.declarations import VIEW_KEYS
from tests.support import ROOT

README = (ROOT / "README.md").read_text()
_GLOBAL_WITH_VALUE = {"-f", "--config"}


def _code_lines() -> list[str]:
    blocks = re.findall(r"```[a-z]*\n(.*?)```", README, flags=re.S)
    lines = []
    for block in blocks:
        # join shell continuations, drop prompts and comments
        for line in block.replace("\\\n", " ").splitlines():
            line = line.split(" #", 1)[0].strip().removeprefix("$ ")
            if line.startswith("featsql "):
                lines.append(line)
    return lines


def _section(title: str) -> str:
    return README.split(f"\n## {title}\n", 1)[1].split("\n## ", 1)[0]


def _table_keys(section: str) -> list[str]:
    return [row.split("|")[1].strip() for row in section.splitlines()
            if row.startswith("| `")]


COMMAND_LINES = _code_lines()


def test_the_readme_shows_commands() -> None:
    assert len(COMMAND_LINES) >= 10


@pytest.mark.parametrize("line", COMMAND_LINES)
def test_every_command_and_flag_exists(line: str) -> None:
    words = line.split()[1:]
    i = 0
    while i < len(words) and (words[i].startswith(("-", "["))):
        i += 2 if words[i].strip("[]") in _GLOBAL_WITH_VALUE else 1
    name = words[i]
    assert name in main.commands, f"README shows `featsql {name}`, which does not exist"
    command = main.commands[name]
    if isinstance(command, click.Group):  # `featsql registry migrate ...`
        assert words[i + 1] in command.commands, f"README shows `featsql {name} {words[i + 1]}`"
        command = command.commands[words[i + 1]]
    known = {opt for p in [*main.params, *command.params] for opt in getattr(p, "opts", [])}
    for flag in re.findall(r"(?<![\w-])(--?[a-zA-Z][\w-]*)", line):
        assert flag in known, f"`featsql {name}` has no option {flag}"
    if name == "list":
        [kinds] = [p.type for p in command.params if isinstance(p.type, click.Choice)]
        assert set(words[i + 1].split("|")) <= set(kinds.choices)


def test_every_cli_command_is_in_the_reference() -> None:
    reference = _section("CLI")
    for name in main.commands:
        assert f"featsql {name}" in reference or f"] {name}" in reference, name


def test_featsql_yml_keys_exist_and_are_all_documented() -> None:
    documented = set()
    for cell in _table_keys(_section("featsql.yml")):
        names = re.findall(r"`([\w.]+)`", cell)
        parent = names[0].rsplit(".", 1)[0] if "." in names[0] else ""
        documented |= {n if "." in n or not parent else f"{parent}.{n}" for n in names}
    models = {"": RepoConfig, "dbt": DbtConfig, "server": ServerConfig, "server.auth": AuthConfig,
              "materialization": MaterializationConfig}
    fields = {f"{p + '.' if p else ''}{f}" for p, m in models.items() for f in m.model_fields}
    fields |= {f"online_store.{f}" for m in (SqliteStoreConfig, RedisStoreConfig, DynamoStoreConfig)
               for f in m.model_fields}
    fields -= {"repo_path", "config_file", "dbt", "online_store", "server", "server.auth", "materialization"}
    assert documented == fields


def test_model_meta_keys_are_all_documented() -> None:
    section = _section("Declaring features")
    documented = {cell.strip("`") for cell in _table_keys(section)}
    assert documented == VIEW_KEYS
