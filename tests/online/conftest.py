"""Online-store fixtures: `online_kind` runs a test against SQLite, a real Redis and moto's
DynamoDB server (started here on a free port); `make_store` builds a fresh repo for it."""
from __future__ import annotations

import os
import zlib
from pathlib import Path
from typing import Callable, Iterator

import pytest

from featsql.store import FeatureStore
from tests.online.stores import free_port, make_repo, store_section

KINDS = ["sqlite", pytest.param("redis", marks=pytest.mark.redis),
         pytest.param("dynamodb", marks=pytest.mark.dynamodb)]


@pytest.fixture(scope="session")
def moto_url() -> Iterator[str]:
    """moto's DynamoDB server on a free local port, for the whole session."""
    server_mod = pytest.importorskip("moto.server")
    port = free_port()
    server = server_mod.ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    yield f"http://127.0.0.1:{port}"
    server.stop()


@pytest.fixture
def aws_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for key, value in {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing",
                       "AWS_SESSION_TOKEN": "testing", "AWS_DEFAULT_REGION": "us-east-1"}.items():
        monkeypatch.setenv(key, value)


@pytest.fixture(params=KINDS)
def online_kind(request: pytest.FixtureRequest) -> str:
    return request.param


@pytest.fixture
def make_store(online_kind: str, tmp_path: Path, request: pytest.FixtureRequest
               ) -> Iterator[Callable[..., FeatureStore]]:
    """make_store(name="repo") -> a FeatureStore on a fresh repo using `online_kind`."""
    dynamo_url = None
    if online_kind == "redis":
        request.getfixturevalue("redis_db")
    elif online_kind == "dynamodb":
        request.getfixturevalue("aws_env")
        dynamo_url = request.getfixturevalue("moto_url")
    stores: list[FeatureStore] = []

    def make(name: str = "repo", project: str | None = None) -> FeatureStore:
        # A distinct project per test keeps moto's tables (shared by the session) apart.
        project = project or f"p{os.getpid()}_{zlib.crc32(f'{request.node.nodeid}/{name}'.encode())}"
        path = make_repo(tmp_path / name, store_section(online_kind, tmp_path / name, dynamo_url),
                         project=project)
        store = FeatureStore(repo_path=path)
        stores.append(store)
        return store

    yield make
    for s in stores:
        try:
            s.online_store.drop(s.list_feature_views())  # Redis: this project's keys only
        except Exception:  # noqa: BLE001 - cleanup only
            pass
        s.close()
