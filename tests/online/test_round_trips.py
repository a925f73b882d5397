"""One round trip per store per call, and clear errors when a store cannot be reached."""
from __future__ import annotations

from datetime import timedelta

import pyarrow as pa
import pytest

from featsql.errors import FeatsqlError
from featsql.store import FeatureStore
from tests.online.data import BASE, driver_stats
from tests.online.stores import ViewSpec, free_port, load_table, make_repo, register

END = BASE + timedelta(days=30)


def _two_views(store: FeatureStore) -> None:
    load_table(store, "driver_stats", driver_stats(n_entities=120, rows_per_entity=2))
    other = pa.table({"driver_id": pa.array(range(1001, 1121), pa.int64()),
                      "event_timestamp": pa.array([BASE] * 120, pa.timestamp("us")),
                      "rating": pa.array([float(i) for i in range(120)])})
    load_table(store, "ratings", other)
    register(store, [ViewSpec("stats", "driver_stats", ["driver_id"]),
                     ViewSpec("ratings", "ratings", ["driver_id"], created=None)])
    store.materialize(BASE, END)


ROWS = [{"driver_id": i} for i in range(1001, 1101)]  # 100 entities
FEATURES = ["stats:conv_rate", "stats:trips", "ratings:rating"]


@pytest.mark.redis
@pytest.mark.parametrize("online_kind", ["redis"])
def test_redis_reads_100_entities_2_views_in_one_round_trip(make_store, monkeypatch):
    store = make_store()
    _two_views(store)
    import redis.connection

    sends = []
    real = redis.connection.Connection.send_packed_command

    def counting(self, command, check_health=True):
        sends.append(1)
        return real(self, command, check_health)

    monkeypatch.setattr(redis.connection.Connection, "send_packed_command", counting)
    resp = store.get_online_features(FEATURES, ROWS)
    assert len(sends) == 1
    assert resp.to_dict()["rating"][:3] == [0.0, 1.0, 2.0]


@pytest.mark.dynamodb
@pytest.mark.parametrize("online_kind", ["dynamodb"])
def test_dynamodb_reads_across_tables_in_one_batch_get(make_store, monkeypatch):
    store = make_store()
    _two_views(store)
    client = store.online_store.client
    calls = []
    real = client.batch_get_item

    def counting(**kw):
        calls.append(sorted(kw["RequestItems"]))
        return real(**kw)

    monkeypatch.setattr(client, "batch_get_item", counting)
    resp = store.get_online_features(FEATURES, ROWS[:50])  # 50 keys x 2 tables = 100 per call
    assert len(calls) == 1 and len(calls[0]) == 2
    assert resp.to_dict()["rating"][:3] == [0.0, 1.0, 2.0]


@pytest.mark.parametrize("online_kind", ["sqlite"])
def test_sqlite_reads_one_statement_per_view(make_store, monkeypatch):
    store = make_store()
    _two_views(store)
    statements: list[str] = []
    store.online_store.con.set_trace_callback(statements.append)
    store.get_online_features(FEATURES, ROWS)
    assert len(statements) == 2


def test_redis_unreachable_names_host_and_port(tmp_path):
    port = free_port()
    repo = make_repo(tmp_path, {"type": "redis", "connection_string": f"redis://127.0.0.1:{port}/0"})
    store = FeatureStore(repo_path=repo)
    with pytest.raises(FeatsqlError, match=f"redis at 127.0.0.1:{port} is unreachable"):
        store.online_store.create([])


def test_dynamodb_unreachable_names_endpoint(tmp_path, aws_env):
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    repo = make_repo(tmp_path, {"type": "dynamodb", "region": "us-east-1", "endpoint_url": url})
    store = FeatureStore(repo_path=repo)
    with pytest.raises(FeatsqlError, match=f"dynamodb at {url} is unreachable"):
        store.online_store.create([])


@pytest.mark.redis
@pytest.mark.parametrize("online_kind", ["redis"])
def test_redis_key_ttl_seconds(make_store, tmp_path):
    store = make_store()
    _two_views(store)
    cfg = store.config.online_store.model_copy(update={"key_ttl_seconds": 3600})
    store2 = FeatureStore(config=store.config.model_copy(update={"online_store": cfg}))
    store2.materialize(BASE, END + timedelta(days=1))  # nothing newer: no write, no ttl yet
    key = store2.online_store.key(store2.get_feature_view("stats"), (1001,))
    assert store2.online_store.client.ttl(key) == -1
    load_table(store2, "ratings", pa.table({
        "driver_id": pa.array([1001], pa.int64()),
        "event_timestamp": pa.array([BASE + timedelta(days=1)], pa.timestamp("us")),
        "rating": pa.array([9.0])}))
    store2.materialize(BASE, END)
    assert 3500 < store2.online_store.client.ttl(key) <= 3600
    assert store2.get_online_features(["ratings:rating"], [{"driver_id": 1001}]).to_dict()["rating"] == [9.0]
    store2.close()


@pytest.mark.parametrize("online_kind", ["sqlite"])
def test_materialize_before_apply_is_a_clear_error(make_store):
    store = make_store()
    _two_views(store)
    store.online_store.drop(store.list_feature_views())
    with pytest.raises(FeatsqlError, match="no such table.*run `featsql apply` first"):
        store.materialize(BASE, END)
