"""`featsql serve`: Feast feature-server JSON over HTTP."""
from __future__ import annotations

import json
import threading
import urllib.error
import urllib.request
from datetime import timedelta

import pytest

from featsql.server import make_server
from tests.online.data import BASE
from tests.online.test_stores import _setup


def _post(url: str, doc: dict) -> tuple[int, dict]:
    req = urllib.request.Request(url, data=json.dumps(doc).encode(), method="POST",
                                 headers={"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(req, timeout=10) as r:
            return r.status, json.loads(r.read())
    except urllib.error.HTTPError as e:
        return e.code, json.loads(e.read())


@pytest.mark.parametrize("online_kind", ["sqlite"])
def test_get_online_features_over_http(make_store) -> None:
    store, _ = _setup(make_store)
    store.materialize(BASE, BASE + timedelta(days=10))
    server = make_server(store, "127.0.0.1", 0)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    base = f"http://127.0.0.1:{server.server_port}"
    try:
        with urllib.request.urlopen(f"{base}/health", timeout=10) as r:
            assert json.loads(r.read()) == {"status": "ok"}
        code, doc = _post(f"{base}/get-online-features",
                          {"features": ["stats:trips", "stats:note"], "entities": {"driver_id": [1001, 99]}})
        assert code == 200
        assert doc["metadata"]["feature_names"] == ["driver_id", "trips", "note"]
        keys, trips, note = doc["results"]
        assert keys["values"] == [1001, 99]
        assert trips["statuses"] == ["PRESENT", "NOT_FOUND"] and trips["values"][1] is None
        direct = store.get_online_features(["stats:trips"], [{"driver_id": 1001}])
        assert trips["values"][0] == direct.to_dict()["trips"][0]
        assert trips["event_timestamps"][0] == direct.event_timestamps["trips"][0].isoformat()
        code, doc = _post(f"{base}/get-online-features", {"features": ["stats:trip"], "entities": {"driver_id": [1]}})
        assert code == 400 and "did you mean 'trips'" in doc["error"]
        code, doc = _post(f"{base}/get-online-features", {"entities": {"driver_id": [1]}})
        assert code == 400 and "exactly one of" in doc["error"]
        code, doc = _post(f"{base}/get-online-features", {"features": ["stats:trips"], "entities":
                          {"driver_id": [1]}, "full_feature_names": "no"})
        assert code == 400 and "'full_feature_names' must be true or false" in doc["error"]
        with pytest.raises(Exception, match="entity row 0: expected a mapping"):
            store.get_online_features(["stats:trips"], [(1001,)])
    finally:
        server.shutdown()
        server.server_close()
