"""Shared fixtures. The expensive one, `built_repo`, runs `featsql init` + `dbt seed` + `dbt run`
once per session; tests get cheap writable copies of it through `repo`.
"""
from __future__ import annotations

import os
import subprocess
from pathlib import Path
from typing import Callable, Iterator

import pytest

from tests.support import (
    QUIET_ENV,
    SCRUBBED_ENV,
    copy_repo,
    dbt,
    featsql,
)
from tests.support import require_service as _require_service

PROJECT = "driver_ranking"


def pytest_configure(config: pytest.Config) -> None:
    # In-process dbt (featsql runs `dbt parse` itself) must not phone home or colour output.
    for key, value in QUIET_ENV.items():
        os.environ.setdefault(key, value)


@pytest.fixture(autouse=True)
def _isolated_env(monkeypatch: pytest.MonkeyPatch) -> None:
    """A developer's FEATSQL_* / DBT_* variables must not change what a test sees."""
    for key in SCRUBBED_ENV:
        monkeypatch.delenv(key, raising=False)


@pytest.fixture(scope="session")
def _built(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict]:
    base = tmp_path_factory.mktemp("built")
    log = {"init": featsql("init", PROJECT, cwd=base)}
    if log["init"].returncode != 0:
        pytest.fail(f"featsql init failed:\n{log['init'].stdout}\n{log['init'].stderr}")
    log["seed"] = dbt("seed", cwd=base / PROJECT)
    log["run"] = dbt("run", cwd=base / PROJECT)
    return base / PROJECT, log


@pytest.fixture(scope="session")
def built_repo(_built: tuple[Path, dict]) -> Path:
    """The example repo made the way a user does, once per session: `featsql init
    driver_ranking`, then `dbt seed` and `dbt run` in it (DuckDB warehouse in data/, a fresh
    target/manifest.json, nothing applied). READ-ONLY: use `repo` for a writable copy."""
    return _built[0]


@pytest.fixture(scope="session")
def build_log(_built: tuple[Path, dict]) -> dict[str, subprocess.CompletedProcess[str]]:
    """The completed `featsql init`, `dbt seed` and `dbt run` processes behind `built_repo`."""
    return _built[1]


@pytest.fixture
def repo(built_repo: Path, tmp_path: Path) -> Path:
    """A private, writable copy of `built_repo` (DuckDB file and manifest included), not applied."""
    return copy_repo(built_repo, tmp_path / PROJECT)


@pytest.fixture
def applied_repo(repo: Path) -> Path:
    """`repo` after `featsql apply` (registry and SQLite online tables created)."""
    from featsql.store import FeatureStore

    store = FeatureStore(repo_path=repo)
    try:
        store.apply(parse=False)
    finally:
        store.close()
    return repo


@pytest.fixture
def feature_store(applied_repo: Path) -> Iterator[object]:
    """A FeatureStore on `applied_repo`, closed after the test."""
    from featsql.store import FeatureStore

    store = FeatureStore(repo_path=applied_repo)
    yield store
    store.close()


@pytest.fixture
def require_service() -> Callable:
    """`require_service(name, check)` as a fixture, for modules that prefer not to import it."""
    return _require_service


def _redis_client():
    import redis

    from tests.online.stores import REDIS_URL

    client = redis.Redis.from_url(REDIS_URL, socket_connect_timeout=1)
    client.ping()
    return client


@pytest.fixture
def redis_db() -> Iterator[object]:
    """A dedicated Redis db (13). Not flushed: test runs may overlap (several checkouts, one
    server), so each test uses its own project (key prefix) and removes its keys at the end."""
    client = _require_service("redis", _redis_client)
    yield client
    client.close()
