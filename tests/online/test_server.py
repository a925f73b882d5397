"""`featsql serve` (featsql.server): Feast's feature-server endpoints and JSON over SQLite, Redis
and DynamoDB; every bad request answered with a status and a one-line error while the server
keeps serving; registry reload; push; a token off loopback; a bounded load test on uvicorn."""
from __future__ import annotations

import http.client
import json
import socket
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from typing import Any, Iterator

import pytest

from featsql.errors import FeatsqlError
from featsql.server import make_app, server_token
from featsql.store import FeatureStore
from tests.online.data import BASE
from tests.online.stores import ViewSpec, free_port, register
from tests.online.test_stores import _setup

END = BASE + timedelta(days=10)
FEATURES = ["stats:trips", "stats:note"]


def _client(store: FeatureStore, token: str | None = None) -> Any:
    from starlette.testclient import TestClient

    return TestClient(make_app(store, token), raise_server_exceptions=False)


@pytest.fixture
def served(make_store) -> Iterator[tuple[FeatureStore, Any]]:
    store, _ = _setup(make_store)
    store.materialize(BASE, END)
    with _client(store) as client:
        yield store, client


def _values(doc: dict, name: str) -> dict:
    return doc["results"][doc["metadata"]["feature_names"].index(name)]


def test_get_online_features_is_feasts_json(served) -> None:
    store, client = served
    r = client.post("/get-online-features", json={"features": FEATURES,
                                                  "entities": {"driver_id": ["1001", 99]}})
    assert r.status_code == 200, r.text
    doc = r.json()
    assert doc["metadata"]["feature_names"] == ["driver_id", "trips", "note"]
    keys, trips = _values(doc, "driver_id"), _values(doc, "trips")
    assert keys["values"] == [1001, 99]  # echoed with the key's registered type
    assert keys["event_timestamps"] == ["1970-01-01T00:00:00Z"] * 2
    assert trips["statuses"] == ["PRESENT", "NOT_FOUND"] and trips["values"][1] is None
    assert trips["event_timestamps"][1] == "1970-01-01T00:00:00Z"
    direct = store.get_online_features(["stats:trips"], {"driver_id": [1001]})  # columnar too
    assert trips["values"][0] == direct.to_dict()["trips"][0]
    stamp = direct.event_timestamps["trips"][0]
    assert trips["event_timestamps"][0] == stamp.strftime("%Y-%m-%dT%H:%M:%S") + "Z"
    # Feast sends a service with an empty feature list
    r = client.post("/get-online-features", json={"feature_service": "svc", "features": [],
                                                  "entities": {"driver_id": [1001]}})
    assert r.status_code == 400 and r.json()["error"].startswith("unknown feature service 'svc'")


@pytest.mark.parametrize(("body", "status", "error"), [
    (b"{not json", 400, "request body is not JSON: "),
    (b"[1, 2]", 400, "request body must be a JSON object"),
    (json.dumps({"features": {"stats:trips": 1}, "entities": {"driver_id": [1]}}), 400,
     "'features' must be a list of strings"),
    (json.dumps({"entities": {"driver_id": [1]}}), 400, "give 'features' (a list of view:feature) or"),
    (json.dumps({"features": ["stats:trip"], "entities": {"driver_id": [1]}}), 400,
     "unknown feature 'stats:trip' (did you mean 'trips'?)"),
    (json.dumps({"features": ["stats:trips"], "entities": {"driver_id": [1]},
                 "full_feature_names": "no"}), 400, "'full_feature_names' must be true or false, got str"),
    (json.dumps({"features": ["stats:trips"], "entities": [1]}), 400, "'entities' must be an object"),
    (json.dumps({"features": ["stats:trips"], "entities": {"driver_id": ["abc"]}}), 400,
     "join key 'driver_id': 'abc' is not an integer"),
    (json.dumps({"features": ["stats:trips"], "entities": {"drivr_id": [1]}}), 400,
     "unknown join key 'drivr_id' (did you mean 'driver_id'?)"),
    (json.dumps({"features": ["stats:trips"], "entities": {"driver_id": list(range(20))}}), 413,
     "20 entities is over the limit of 10 per request (server.max_entities)"),
    (json.dumps({"features": ["stats:trips"], "entities": {"driver_id": [1]}, "pad": "x" * 5000}),
     413, "request body of 5"),
])
def test_bad_requests_get_a_status_and_one_line(served, body: Any, status: int, error: str) -> None:
    store, client = served
    store.config.server.max_entities = 10
    store.config.server.max_body_bytes = 4096
    r = client.post("/get-online-features", content=body, headers={"content-type": "application/json"})
    assert r.status_code == status, r.text
    message = r.json()["error"]
    assert message.startswith(error) and "\n" not in message, message
    ok = client.post("/get-online-features", json={"features": FEATURES, "entities": {"driver_id": [1001]}})
    assert ok.status_code == 200  # still serving


def test_push_then_read_and_the_newer_than_rule(served) -> None:
    store, client = served
    before = store.get_online_features(["stats:trips"], [{"driver_id": 1001}])
    newest = before.event_timestamps["trips"][0].replace(tzinfo=None)
    row = {"driver_id": [1001, 5000], "event_timestamp": [(newest + timedelta(hours=1)).isoformat()] * 2,
           "conv_rate": [0.5, 0.25], "trips": [77, 1], "active": [True, False], "note": ["pushed", None]}
    r = client.post("/push", json={"push_source_name": "stats", "df": row})
    assert r.status_code == 200, r.text
    got = store.get_online_features(["stats:trips", "stats:note"], {"driver_id": [1001, 5000]}).to_dict()
    assert got["trips"] == [77, 1] and got["note"] == ["pushed", None]
    older = dict(row, event_timestamp=[(newest - timedelta(days=30)).isoformat()] * 2, trips=[1, 2])
    assert client.post("/write-to-online-store", json={"feature_view_name": "stats", "df": older}
                       ).status_code == 200
    again = store.get_online_features(["stats:trips"], {"driver_id": [1001, 5000]}).to_dict()
    assert again["trips"] == [77, 1]  # an older pushed row never replaces a newer value
    r = client.post("/push", json={"push_source_name": "stats", "df": row, "to": "offline"})
    assert r.status_code == 400 and "the warehouse is the offline store" in r.json()["error"]
    r = client.post("/push", json={"push_source_name": "stats", "df": {"driver_id": [1]}})
    assert r.status_code == 400 and r.json()["error"].startswith(
        "rows for feature view 'stats' lack columns 'event_timestamp', 'conv_rate'")


def test_pushed_values_are_marked_in_the_store(served) -> None:
    store, client = served
    row = {"driver_id": [6001], "event_timestamp": [END.isoformat()], "conv_rate": [0.5],
           "trips": [3], "active": [True], "note": ["x"]}
    assert client.post("/push", json={"push_source_name": "stats", "df": row}).status_code == 200
    online, view = store.online_store, store.get_feature_view("stats")
    kind = store.config.online_store.type
    if kind == "sqlite":
        flags = dict(online.con.execute(
            f'SELECT driver_id, _featsql_pushed FROM "{online.table_name(view)}"'
            " WHERE driver_id IN (1001, 6001)").fetchall())
        assert flags == {1001: None, 6001: 1}
    elif kind == "redis":
        import msgpack

        raw = online.client.hget(online.key(view, (6001,)), view.name)
        assert msgpack.unpackb(raw[20:])[-1] == "featsql:pushed"
        raw = online.client.hget(online.key(view, (1001,)), view.name)
        assert len(msgpack.unpackb(raw[20:])) == len(view.features)
    else:
        item = online.client.get_item(TableName=online.table_name(view), Key={"k": {"S": "driver_id=6001"}})
        assert item["Item"]["p"] == {"BOOL": True}


def test_materialize_endpoints_health_ready_metrics_docs(served) -> None:
    store, client = served
    r = client.post("/materialize", json={"start_ts": BASE.isoformat(), "end_ts": END.isoformat()})
    assert r.status_code == 200 and r.json()["feature_views"][0]["view"] == "stats"
    r = client.post("/materialize-incremental", json={"end_ts": END.isoformat(), "feature_views": ["stats"]})
    assert r.status_code == 200, r.text
    r = client.post("/materialize-incremental", json={"end_ts": "soon"})
    assert r.status_code == 400 and "'soon' is not a timestamp" in r.json()["error"]
    assert client.get("/health").json() == {"status": "ok"}
    assert client.get("/ready").json() == {"status": "ready"}
    text = client.get("/metrics").text
    assert 'featsql_requests_total{endpoint="/materialize",status="200"} 1.0' in text
    assert "featsql_request_seconds_bucket" in text and "featsql_online_store_errors_total" in text
    assert 'featsql_view_materialized_age_seconds{view="stats"}' in text
    assert client.get("/openapi.json").json()["paths"]["/push"]["post"]
    assert "openapi.json" in client.get("/docs").text
    assert client.get("/nope").status_code == 404 and client.get("/push").status_code == 405


def test_a_token_is_required_when_set_and_off_loopback(served, monkeypatch) -> None:
    store, _ = served
    body = {"features": FEATURES, "entities": {"driver_id": [1001]}}
    with _client(store, token="s3cret") as client:
        r = client.post("/get-online-features", json=body)
        assert r.status_code == 401 and r.json() == {
            "error": "missing or wrong bearer token (Authorization: Bearer ...)"}
        assert client.post("/get-online-features", json=body,
                           headers={"Authorization": "Bearer wrong"}).status_code == 401
        assert client.post("/get-online-features", json=body,
                           headers={"Authorization": "Bearer s3cret"}).status_code == 200
        assert client.get("/health").status_code == 200  # probes need no token
        assert client.get("/metrics").status_code == 401
    monkeypatch.delenv("FEATSQL_SERVER_TOKEN", raising=False)
    with pytest.raises(FeatsqlError, match="serving on 0.0.0.0 needs a token"):
        server_token(store.config, "0.0.0.0")
    assert server_token(store.config, "127.0.0.1") is None
    monkeypatch.setenv("FEATSQL_SERVER_TOKEN", "t")
    assert server_token(store.config, "0.0.0.0") == "t"


@pytest.mark.parametrize("online_kind", ["sqlite"])
def test_a_service_added_by_apply_is_served_after_the_reload_interval(make_store) -> None:
    store, _ = _setup(make_store)
    store.materialize(BASE, END)
    store.config.server.registry_ttl_seconds = 0.2
    body = {"feature_service": "svc", "entities": {"driver_id": [1001]}}
    with _client(store) as client:
        assert client.post("/get-online-features", json=body).status_code == 400
        other = FeatureStore(config=store.config)  # another process's apply
        from featsql.definitions import FeatureService, ViewProjection
        from featsql.plan import make_plan

        defs = other.definitions
        service = FeatureService(name="svc", projections=(ViewProjection(view="stats", features=("trips",)),))
        wanted = defs.model_copy(update={"feature_services": {"svc": service}})
        other.registry.commit(make_plan(other.registry.load(), wanted).new_state)
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline:
            r = client.post("/get-online-features", json=body)
            if r.status_code == 200:
                break
            time.sleep(0.1)
        assert r.status_code == 200, r.text
        assert r.json()["metadata"]["feature_names"] == ["driver_id", "trips"]


@pytest.mark.parametrize("online_kind", ["sqlite"])
def test_a_dropped_feature_is_never_served_as_its_own_name(make_store) -> None:
    """A server still planning a feature that apply removed (SQLite rebuilt the table) must not
    read its quoted name as a string literal: a clear error, never PRESENT 'note'."""
    store, _ = _setup(make_store)
    store.materialize(BASE, END)
    with _client(store) as client:
        body = {"features": ["stats:note"], "entities": {"driver_id": [1001]}}
        assert client.post("/get-online-features", json=body).status_code == 200
        view = store.get_feature_view("stats")
        smaller = view.model_copy(update={"features": tuple(f for f in view.features if f.name != "note")})
        FeatureStore(config=store.config).online_store.create([smaller])  # apply in another process
        r = client.post("/get-online-features", json=body)
        assert r.status_code == 400 and "no such column" in r.json()["error"], r.text


# -- the real server: uvicorn on a loopback port ----------------------------------------------------
@pytest.fixture
def uvicorn_server(make_store) -> Iterator[tuple[FeatureStore, int]]:
    import uvicorn

    store, _ = _setup(make_store)
    store.materialize(BASE, END)
    store.config.server.body_timeout_seconds = 0.5
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(make_app(store), host="127.0.0.1", port=port,
                                           log_level="warning", backlog=4096))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started and time.monotonic() < deadline:
        time.sleep(0.02)
    yield store, port
    server.should_exit = True
    thread.join(10)


@pytest.mark.parametrize("online_kind", ["sqlite", pytest.param("redis", marks=pytest.mark.redis)])
def test_64_concurrent_keep_alive_clients_get_no_errors(uvicorn_server) -> None:
    """A bounded load test (loopback, a few seconds): 64 clients, each on one keep-alive
    connection, every answer 200 with the same values as the SDK."""
    store, port = uvicorn_server
    body = json.dumps({"features": FEATURES, "entities": {"driver_id": list(range(1001, 1011))}})
    want = store.get_online_features(FEATURES, {"driver_id": list(range(1001, 1011))}).to_dict()["trips"]
    stop = time.monotonic() + 3

    def client(_: int) -> tuple[int, list[str]]:
        con = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
        done, errors = 0, []
        try:
            while time.monotonic() < stop and done < 200:
                try:
                    con.request("POST", "/get-online-features", body, {"Content-Type": "application/json"})
                    r = con.getresponse()
                    doc = json.loads(r.read())
                    if r.status != 200 or _values(doc, "trips")["values"] != want:
                        errors.append(f"{r.status} {doc}")
                    done += 1
                except Exception as e:  # noqa: BLE001 - counted, reported
                    errors.append(f"{type(e).__name__}: {e}")
                    return done, errors
        finally:
            con.close()
        return done, errors

    with ThreadPoolExecutor(64) as pool:
        results = list(pool.map(client, range(64)))
    errors = [e for _, es in results for e in es]
    assert not errors, errors[:5]
    assert sum(n for n, _ in results) >= 64


@pytest.mark.parametrize("online_kind", ["sqlite"])
def test_a_body_shorter_than_its_content_length_gets_408(uvicorn_server) -> None:
    _, port = uvicorn_server
    with socket.create_connection(("127.0.0.1", port), timeout=10) as s:
        s.sendall(b"POST /get-online-features HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                  b"Content-Length: 100\r\n\r\n{\"features\":")
        reply = s.recv(65536).decode()
    assert reply.startswith("HTTP/1.1 408"), reply
    assert '{"error":"the request body did not arrive in time (shorter than its Content-Length?)"}' in reply
    con = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    con.request("GET", "/health")
    assert con.getresponse().status == 200


@pytest.mark.slow
@pytest.mark.parametrize("online_kind", ["sqlite"])
def test_featsql_serve_two_workers_metrics_and_graceful_shutdown(make_store) -> None:
    """The real command: two uvicorn workers, /metrics summed across them, SIGTERM ends it
    cleanly (exit 0)."""
    import signal
    import subprocess
    import sys
    from pathlib import Path

    store, _ = _setup(make_store)
    store.materialize(BASE, END)
    store.close()
    port = free_port()
    command = [str(Path(sys.executable).parent / "featsql"), "-f", str(store.config.config_file),
               "serve", "--port", str(port), "--workers", "2"]
    proc = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                con = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
                con.request("GET", "/ready")
                if con.getresponse().status == 200:
                    break
            except OSError:
                pass
            assert proc.poll() is None, proc.communicate()
            assert time.monotonic() < deadline, "server did not start"
            time.sleep(0.2)
        body = json.dumps({"features": FEATURES, "entities": {"driver_id": [1001]}})
        for _ in range(20):
            con = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
            con.request("POST", "/get-online-features", body)
            assert con.getresponse().status == 200
        con = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
        con.request("GET", "/metrics")
        text = con.getresponse().read().decode()
        assert 'featsql_requests_total{endpoint="/get-online-features",status="200"} 20.0' in text
    finally:
        proc.send_signal(signal.SIGTERM)
        out, err = proc.communicate(timeout=30)
    assert proc.returncode == 0, err
    assert out.startswith(f"Serving on http://127.0.0.1:{port} (2 workers;")


@pytest.mark.parametrize("online_kind", ["sqlite"])
def test_https_with_the_tls_options(make_store, tmp_path) -> None:
    """--ssl-certfile / --ssl-keyfile: uvicorn's TLS, here with a self-signed certificate."""
    import datetime as dt
    import ssl

    import uvicorn
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = dt.datetime.now(dt.timezone.utc)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
            .serial_number(1).not_valid_before(now).not_valid_after(now + dt.timedelta(days=1))
            .sign(key, hashes.SHA256()))
    certfile, keyfile = tmp_path / "cert.pem", tmp_path / "key.pem"
    certfile.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    keyfile.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                          serialization.NoEncryption()))
    store, _ = _setup(make_store)
    store.materialize(BASE, END)
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(make_app(store), host="127.0.0.1", port=port, log_level="warning",
                                           ssl_certfile=str(certfile), ssl_keyfile=str(keyfile)))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    try:
        deadline = time.monotonic() + 10
        while not server.started and time.monotonic() < deadline:
            time.sleep(0.02)
        context = ssl.create_default_context(cafile=str(certfile))
        context.check_hostname = False
        con = http.client.HTTPSConnection("127.0.0.1", port, context=context, timeout=10)
        con.request("POST", "/get-online-features",
                    json.dumps({"features": FEATURES, "entities": {"driver_id": [1001]}}))
        r = con.getresponse()
        assert r.status == 200 and json.loads(r.read())["metadata"]["feature_names"][0] == "driver_id"
    finally:
        server.should_exit = True
        thread.join(10)
