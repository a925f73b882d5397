"""Helpers shared by every test module: paths, running the real CLIs, and service checks.

Import as `from tests.support import ...` (tests/ is a package so the name is unambiguous).
"""
from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Callable, Iterator, TypeVar

import pytest

ROOT = Path(__file__).resolve().parent.parent
EXAMPLE = ROOT / "models_example"
# The interpreter running pytest lives in the venv whose console scripts we test.
BIN = Path(sys.executable).parent

# Environment that would make a test depend on the developer's shell.
SCRUBBED_ENV = ("FEATSQL_TARGET", "FEATSQL_DUCKDB_PATH", "DBT_PROFILES_DIR", "DBT_PROJECT_DIR",
                "DBT_TARGET_PATH", "DBT_PROFILE", "DBT_TARGET")
QUIET_ENV = {"DBT_SEND_ANONYMOUS_USAGE_STATS": "false", "DO_NOT_TRACK": "1",
             "DBT_USE_COLORS": "false", "NO_COLOR": "1"}
REQUIRE_SERVICES_ENV = "FEATSQL_REQUIRE_SERVICES"

# What a repo copy leaves out: dbt logs and dbt's per-user id file.
_COPY_IGNORE = shutil.ignore_patterns("logs", ".user.yml", "__pycache__")

T = TypeVar("T")


def exe(name: str) -> str:
    """A console script from the test venv (featsql, dbt), else from PATH."""
    local = BIN / name
    if local.is_file():
        return str(local)
    found = shutil.which(name)
    if not found:
        pytest.fail(f"'{name}' is not installed in {BIN} nor on PATH")
    return found


def clean_env(**extra: str) -> dict[str, str]:
    """os.environ without featsql/dbt overrides, with dbt telemetry and colours off."""
    env = {k: v for k, v in os.environ.items() if k not in SCRUBBED_ENV}
    env.update(QUIET_ENV)
    env["PATH"] = f"{BIN}{os.pathsep}{env.get('PATH', '')}"
    env.update(extra)
    return env


def run(cmd: list[str], cwd: Path, env: dict[str, str] | None = None,
        timeout: float = 300) -> subprocess.CompletedProcess[str]:
    """Run a command, capturing text output; never raises on a non-zero exit."""
    return subprocess.run(cmd, cwd=cwd, env=env or clean_env(), capture_output=True, text=True,
                          timeout=timeout)


def featsql(*args: str, cwd: Path, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    """The real `featsql` console script (a subprocess, as a user runs it)."""
    return run([exe("featsql"), *args], cwd=cwd, env=env)


def dbt(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    """The real `dbt` CLI; fails the test with dbt's output when dbt fails."""
    result = run([exe("dbt"), *args], cwd=cwd)
    if result.returncode != 0:
        pytest.fail(f"dbt {' '.join(args)} failed in {cwd}:\n{result.stdout}\n{result.stderr}")
    return result


def copy_repo(src: Path, dest: Path) -> Path:
    """Copy a feature repo keeping mtimes, so its dbt manifest stays fresh (no re-parse)."""
    shutil.copytree(src, dest, ignore=_COPY_IGNORE, symlinks=True)
    return dest


@contextmanager
def chdir(path: Path) -> Iterator[Path]:
    old = Path.cwd()
    os.chdir(path)
    try:
        yield path
    finally:
        os.chdir(old)


def invoke(*args: str, cwd: Path) -> Any:
    """Run the CLI in-process (click's CliRunner): fast, exit code and stderr kept apart."""
    from click.testing import CliRunner

    from featsql.cli import main

    with chdir(cwd):
        return CliRunner().invoke(main, list(args), catch_exceptions=False)


# -- services -------------------------------------------------------------------------------------

def services_required() -> bool:
    """True in CI (FEATSQL_REQUIRE_SERVICES=1): a missing server fails instead of skipping."""
    return os.environ.get(REQUIRE_SERVICES_ENV, "").strip().lower() in ("1", "true", "yes")


def require_service(name: str, check: Callable[[], T] | bool) -> T | bool:
    """Return check()'s result when the service answers; else skip, or fail when it is required.

    `check` is a callable that returns something truthy (a client, a URL) or raises; a plain
    bool works too. Example: `client = require_service("redis", lambda: redis_client(url))`.
    """
    error = ""
    try:
        result = check() if callable(check) else check
    except Exception as e:  # noqa: BLE001 - any failure to reach the service means "missing"
        result, error = None, f": {type(e).__name__}: {e}"
    if result:
        return result
    message = f"{name} is not available{error}"
    if services_required():
        pytest.fail(f"{message} ({REQUIRE_SERVICES_ENV}=1 requires it)", pytrace=False)
    pytest.skip(f"{message} (set {REQUIRE_SERVICES_ENV}=1 to make this a failure)")
    raise AssertionError("unreachable")


def port_open(host: str, port: int, timeout: float = 0.5) -> bool:
    """A cheap liveness check for `require_service`."""
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return True
    except OSError:
        return False


# -- editing the example's declarations -----------------------------------------------------------

def edit_schema(repo: Path, change: Callable[[dict], Any], file: str = "models/schema.yml") -> None:
    """Load a dbt YAML file, let `change` mutate it, write it back (its mtime makes the manifest
    stale, so the next apply/plan re-runs `dbt parse`)."""
    import yaml

    path = repo / file
    doc = yaml.safe_load(path.read_text())
    change(doc)
    path.write_text(yaml.safe_dump(doc, sort_keys=False))


def model(doc: dict, name: str) -> dict:
    return next(m for m in doc["models"] if m["name"] == name)


def view_meta(doc: dict, name: str) -> dict:
    """The `featsql` meta block of model `name` in a loaded schema.yml."""
    return model(doc, name)["config"]["meta"]["featsql"]


def service_meta(doc: dict, name: str = "driver_ranking_v1") -> dict:
    return next(e for e in doc["exposures"] if e["name"] == name)["config"]["meta"]["featsql"]


def online_tables(path: Path) -> set[str]:
    """The SQLite online store's view tables (not its watermark-marker table); none if absent."""
    import sqlite3
    from contextlib import closing

    if not path.exists():
        return set()
    with closing(sqlite3.connect(path)) as con:
        return {r[0] for r in con.execute("SELECT name FROM sqlite_master WHERE type='table'")
                if not r[0].endswith("___featsql_markers")}
