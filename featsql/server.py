"""`featsql serve`: Feast's feature-server JSON over HTTP, on the standard library alone.

POST /get-online-features  {"features": [...] | "feature_service": "name",
                            "entities": {"driver_id": [1001, 1002]}, "full_feature_names": false}
  -> {"metadata": {"feature_names": [...]}, "results": [{"values", "statuses",
      "event_timestamps"}, ...]}   (column-oriented, join keys first, as Feast answers)
GET /health -> {"status": "ok"}

One FeatureStore serves every request, so feature lists are resolved once (read-plan cache);
stores whose reads are not thread-safe (SQLite's one connection) are read under a lock.
"""
from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from featsql.errors import FeatsqlError

MAX_BODY = 16 * 2**20


def rows_from_columns(entities: Any) -> list[dict[str, Any]]:
    """{"driver_id": [1, 2], "x": [3, 4]} -> [{"driver_id": 1, "x": 3}, ...]."""
    if not isinstance(entities, dict) or not entities:
        raise FeatsqlError("'entities' must be an object of join key -> list of values")
    columns = {k: (v if isinstance(v, list) else [v]) for k, v in entities.items()}
    lengths = {len(v) for v in columns.values()}
    if len(lengths) != 1:
        raise FeatsqlError("every list in 'entities' must have the same length")
    names = list(columns)
    return [dict(zip(names, values)) for values in zip(*columns.values())]


def handle(store: Any, body: dict[str, Any], lock: threading.Lock | None) -> dict[str, Any]:
    from featsql.serving import server_json

    if not isinstance(body, dict):
        raise FeatsqlError("request body must be a JSON object")
    if ("features" in body) == ("feature_service" in body):
        raise FeatsqlError("give exactly one of 'features' or 'feature_service'")
    features = body.get("features")
    if "feature_service" in body:
        features = store.get_feature_service(str(body["feature_service"]))
    rows = rows_from_columns(body.get("entities"))
    full = body.get("full_feature_names", False)
    if not isinstance(full, bool):
        raise FeatsqlError("'full_feature_names' must be true or false")
    if lock is None:
        resp = store.get_online_features(features, rows, full_feature_names=full)
    else:
        with lock:
            resp = store.get_online_features(features, rows, full_feature_names=full)
    return server_json(resp)


def make_server(store: Any, host: str = "127.0.0.1", port: int = 6566) -> ThreadingHTTPServer:
    lock = None if store.online_store.thread_safe_reads else threading.Lock()

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, fmt: str, *args: Any) -> None:  # quiet: one line per error only
            pass

        def _send(self, code: int, doc: dict[str, Any]) -> None:
            data = json.dumps(doc).encode()
            self.send_response(code)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def do_GET(self) -> None:  # noqa: N802 - http.server's naming
            if self.path.rstrip("/") == "/health":
                self._send(200, {"status": "ok"})
            else:
                self._send(404, {"error": f"no route {self.path}"})

        def do_POST(self) -> None:  # noqa: N802
            if self.path.rstrip("/") != "/get-online-features":
                self._send(404, {"error": f"no route {self.path}"})
                return
            length = int(self.headers.get("Content-Length") or 0)
            if length > MAX_BODY:
                self._send(413, {"error": "request body too large"})
                return
            try:
                body = json.loads(self.rfile.read(length) or b"null")
                self._send(200, handle(store, body, lock))
            except json.JSONDecodeError as e:
                self._send(400, {"error": f"request body is not JSON: {e}"})
            except FeatsqlError as e:
                self._send(400, {"error": str(e)})

    return ThreadingHTTPServer((host, port), Handler)
