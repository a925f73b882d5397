"""`featsql serve`: Feast's feature server, on Starlette and uvicorn.

    POST /get-online-features     Feast's body and response (column-oriented, join keys first)
    POST /push                    {"push_source_name": VIEW, "df": {column: [values]}, "to": "online"}
    POST /write-to-online-store   {"feature_view_name": VIEW, "df": {column: [values]}}
    POST /materialize             {"start_ts": ..., "end_ts": ..., "feature_views": [...]}
    POST /materialize-incremental {"end_ts": ..., "feature_views": [...]}
    GET  /health                  the process answers
    GET  /ready                   the online store answers (503 when it does not)
    GET  /metrics                 Prometheus text
    GET  /docs, /openapi.json     what the endpoints take

One FeatureStore per worker process serves every request: feature lists are resolved once per
registry version (read-plan cache), and the registry is re-read in the background at most every
`server.registry_ttl_seconds`, never per request. Every bad request gets a status and a one-line
JSON body `{"error": "..."}`, and the server keeps serving. A bearer token (`server.auth`, or
FEATSQL_SERVER_TOKEN) is required on every endpoint but /health and /ready when set, and always
when the server binds to anything other than loopback.
"""
from __future__ import annotations

import asyncio
import ipaddress
import json
import logging
import os
import time
from typing import Any, Awaitable, Callable

from featsql.errors import FeatsqlError
from featsql.serving import server_json

log = logging.getLogger("featsql.server")
TOKEN_ENV = "FEATSQL_SERVER_TOKEN"
CONFIG_ENV = "FEATSQL_SERVE_CONFIG"  # how `--workers N` processes find featsql.yml


class HTTPError(Exception):
    """A request answered with `status` and {"error": message}."""

    def __init__(self, status: int, message: str):
        super().__init__(message)
        self.status = status
        self.message = message


# -- request bodies ----------------------------------------------------------------------------------
def _field(body: dict[str, Any], name: str, kind: type, default: Any = None,
           required: bool = False) -> Any:
    """body[name], of type `kind` (a bool is not taken for a number, nor a number for a bool)."""
    value = body.get(name)
    if value is None:
        if required:
            raise HTTPError(400, f"'{name}' is required")
        return default
    ok = isinstance(value, bool) if kind is bool else (isinstance(value, kind) and not isinstance(value, bool))
    if not ok:
        want = {str: "a string", bool: "true or false", list: "a list", dict: "an object"}.get(kind, kind.__name__)
        raise HTTPError(400, f"'{name}' must be {want}, got {type(value).__name__}")
    return value


def _strings(value: Any, name: str) -> list[str] | None:
    if value is None:
        return None
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise HTTPError(400, f"'{name}' must be a list of strings")
    return value


def _frame(body: dict[str, Any]) -> Any:
    """A push's `df` ({column: [values]}) as a pandas DataFrame."""
    import pandas as pd

    df = _field(body, "df", dict, required=True)
    if not df or not all(isinstance(v, list) for v in df.values()):
        raise HTTPError(400, "'df' must be an object of column -> list of values")
    if len({len(v) for v in df.values()}) != 1:
        raise HTTPError(400, "every list in 'df' must have the same length")
    return pd.DataFrame(df)


# -- the app ---------------------------------------------------------------------------------------
class Service:
    """What the endpoints share: the store, limits, the token, metrics, the registry watcher."""

    def __init__(self, store: Any, settings: Any, token: str | None):
        from featsql.server_metrics import Metrics

        self.store = store
        self.settings = settings
        self.token = token
        self.metrics = Metrics()
        self.registry_seen: Any = None
        self.busy = 0
        # Stores whose reads are not thread-safe (SQLite's one connection) are read inline, in
        # order; network stores run in the thread pool so a slow read does not stall the loop.
        self.inline_reads = not store.online_store.thread_safe_reads or store.online_store.fast_reads

    # -- plumbing --------------------------------------------------------------------------------
    async def body(self, request: Any) -> dict[str, Any]:
        limit = self.settings.max_body_bytes
        declared = request.headers.get("content-length")
        if declared is not None:
            try:
                if int(declared) > limit:
                    raise HTTPError(413, f"request body of {declared} bytes is over the limit of"
                                         f" {limit} (server.max_body_bytes)")
            except ValueError:
                raise HTTPError(400, "Content-Length is not a number") from None

        async def read() -> bytes:
            chunks, size = [], 0
            async for chunk in request.stream():
                size += len(chunk)
                if size > limit:
                    raise HTTPError(413, f"request body is over the limit of {limit} bytes"
                                         " (server.max_body_bytes)")
                chunks.append(chunk)
            return b"".join(chunks)

        try:
            if hasattr(asyncio, "timeout"):  # 3.11+: no task per request
                async with asyncio.timeout(self.settings.body_timeout_seconds):
                    raw = await read()
            else:
                raw = await asyncio.wait_for(read(), self.settings.body_timeout_seconds)
        except asyncio.TimeoutError:
            raise HTTPError(408, "the request body did not arrive in time (shorter than its"
                                 " Content-Length?)") from None
        import orjson

        try:
            doc = orjson.loads(raw or b"null")
        except (json.JSONDecodeError, UnicodeDecodeError) as e:
            raise HTTPError(400, f"request body is not JSON: {e}") from None
        if not isinstance(doc, dict):
            raise HTTPError(400, "request body must be a JSON object")
        return doc

    def authorize(self, request: Any) -> None:
        if self.token is None:
            return
        header = request.headers.get("authorization", "")
        scheme, _, given = header.partition(" ")
        import hmac

        if scheme.lower() != "bearer" or not hmac.compare_digest(given.strip(), self.token):
            raise HTTPError(401, "missing or wrong bearer token (Authorization: Bearer ...)")

    async def run(self, func: Callable[..., Any], *args: Any, inline: bool = False) -> Any:
        if inline:
            return func(*args)
        from starlette.concurrency import run_in_threadpool

        return await run_in_threadpool(func, *args)

    async def watch_registry(self) -> None:
        """Re-read the registry every registry_ttl_seconds; a new version refreshes the store."""
        while True:
            await asyncio.sleep(self.settings.registry_ttl_seconds)
            try:
                await self.run(self.check_registry)
            except Exception as e:  # noqa: BLE001 - keep serving the version we have
                log.warning("registry check failed: %s", " ".join(str(e).split()))

    def check_registry(self) -> bool:
        state = self.store.registry.load()
        seen = (state.updated_at, state.format)
        if self.registry_seen is None:
            self.registry_seen = seen
            return False
        if seen == self.registry_seen:
            return False
        self.registry_seen = seen
        self.store.refresh()
        self.metrics.set_watermarks(self.store.watermarks(state.watermarks))
        return True

    # -- endpoints -------------------------------------------------------------------------------
    async def get_online_features(self, request: Any) -> dict[str, Any]:
        # Requests in this handler, counted before the body is awaited: more than one means
        # others are waiting, and an async store read lets the loop serve them meanwhile; alone,
        # the synchronous read answers sooner (measured: about 1 ms less per request on Redis).
        self.busy += 1
        try:
            return await self._get_online_features(request)
        finally:
            self.busy -= 1

    async def _get_online_features(self, request: Any) -> dict[str, Any]:
        body = await self.body(request)
        features = body.get("features")
        service = _field(body, "feature_service", str)
        if service is not None and features not in (None, []):
            raise HTTPError(400, "give 'features' or 'feature_service', not both")
        if service is None:
            if features is None:
                raise HTTPError(400, "give 'features' (a list of view:feature) or 'feature_service'")
            features = _strings(features, "features")
        full = _field(body, "full_feature_names", bool, False)
        columns = _field(body, "entities", dict, required=True)
        first = next(iter(columns.values()), None)
        if not isinstance(first, list):
            raise HTTPError(400, "'entities' must be an object of join key -> list of values")
        count = len(first)  # the SDK checks the rest (every key a list of that length)
        if count > self.settings.max_entities:
            raise HTTPError(413, f"{count} entities is over the limit of {self.settings.max_entities}"
                                 " per request (server.max_entities)")
        store = self.store
        wanted = store.get_feature_service(service) if service is not None else features
        try:
            if store.online_store.async_reads and self.busy > 1:
                resp = await store.get_online_features_async(wanted, columns, full_feature_names=full)
            else:
                resp = await self.run(store.get_online_features, wanted, columns, full,
                                      inline=self.inline_reads)
        except FeatsqlError:
            raise
        except Exception:
            self.metrics.store_error()
            raise
        return server_json(resp)

    async def push(self, request: Any) -> dict[str, Any]:
        body = await self.body(request)
        to = _field(body, "to", str, "online")
        if to != "online":
            if to in ("offline", "online_and_offline"):
                raise HTTPError(400, f"'to': {to!r} is not supported: the warehouse is the offline"
                                     " store (load the rows there with dbt); use \"online\"")
            raise HTTPError(400, f"'to' must be \"online\", got {to!r}")
        return await self._write(body, "push_source_name")

    async def write_to_online_store(self, request: Any) -> dict[str, Any]:
        return await self._write(await self.body(request), "feature_view_name")

    async def _write(self, body: dict[str, Any], name_field: str) -> dict[str, Any]:
        name = _field(body, name_field, str, required=True)
        rows = await self.run(self.store.write_to_online_store, name, _frame(body))
        return {name_field: name, "rows": rows}

    async def materialize(self, request: Any) -> dict[str, Any]:
        body = await self.body(request)
        start = _field(body, "start_ts", str, required=True)
        end = _field(body, "end_ts", str, required=True)
        views = _strings(body.get("feature_views"), "feature_views")
        runs = await self.run(self.store.materialize, start, end, views)
        return {"feature_views": [_run_json(r) for r in runs]}

    async def materialize_incremental(self, request: Any) -> dict[str, Any]:
        body = await self.body(request)
        end = _field(body, "end_ts", str, required=True)
        views = _strings(body.get("feature_views"), "feature_views")
        runs = await self.run(self.store.materialize_incremental, end, views)
        return {"feature_views": [_run_json(r) for r in runs]}

    async def ready(self, request: Any) -> dict[str, Any]:
        try:
            await self.run(self.store.online_store.ping, inline=self.inline_reads)
        except Exception as e:  # noqa: BLE001 - not ready, whatever the reason
            self.metrics.store_error()
            raise HTTPError(503, f"online store not ready: {' '.join(str(e).split())}") from None
        return {"status": "ready"}


def _run_json(run: Any) -> dict[str, Any]:
    return {"view": run.view, "rows": run.rows, "skipped": run.skipped,
            "start": run.start.isoformat() if run.start else None, "end": run.end.isoformat()}


def make_app(store: Any, token: str | None = None) -> Any:
    """The Starlette app serving `store` (settings from its featsql.yml `server:` section)."""
    from contextlib import asynccontextmanager

    from starlette.applications import Starlette
    from starlette.requests import Request
    from starlette.responses import HTMLResponse, JSONResponse, Response
    from starlette.routing import Route

    import orjson  # NaN -> null, as JSON has no NaN

    settings = store.config.server
    service = Service(store, settings, token)
    try:
        service.check_registry()
        service.metrics.set_watermarks(store.watermarks())
    except FeatsqlError as e:
        log.warning("%s", e)

    def endpoint(name: str, handler: Callable[[Any], Awaitable[Any]], auth: bool = True) -> Callable:
        async def route(request: Request) -> Response:
            started = time.perf_counter()
            status = 200
            try:
                if auth:
                    service.authorize(request)
                doc = await handler(request)
                response: Response = Response(orjson.dumps(doc), media_type="application/json")
            except HTTPError as e:
                status = e.status
                response = JSONResponse({"error": e.message}, status_code=status)
            except FeatsqlError as e:
                status = 400
                response = JSONResponse({"error": " ".join(str(e).split())}, status_code=status)
            except (ValueError, TypeError) as e:  # a bad value in a push
                status = 400
                response = JSONResponse({"error": " ".join(str(e).split())}, status_code=status)
            except Exception as e:  # noqa: BLE001 - one line to the client, the traceback to the log
                status = 500
                log.exception("%s failed", name)
                response = JSONResponse({"error": f"internal error: {type(e).__name__}:"
                                                  f" {' '.join(str(e).split())}"}, status_code=status)
            service.metrics.observe(name, status, time.perf_counter() - started)
            return response
        return route

    async def health(_: Request) -> dict[str, Any]:
        return {"status": "ok"}

    async def metrics(request: Request) -> Response:
        try:
            service.authorize(request)
        except HTTPError as e:
            return JSONResponse({"error": e.message}, status_code=e.status)
        body, content_type = service.metrics.render()
        return Response(body, media_type=content_type)

    routes = [
        Route("/get-online-features", endpoint("/get-online-features", service.get_online_features),
              methods=["POST"]),
        Route("/push", endpoint("/push", service.push), methods=["POST"]),
        Route("/write-to-online-store", endpoint("/write-to-online-store",
                                                 service.write_to_online_store), methods=["POST"]),
        Route("/materialize", endpoint("/materialize", service.materialize), methods=["POST"]),
        Route("/materialize-incremental", endpoint("/materialize-incremental",
                                                   service.materialize_incremental), methods=["POST"]),
        Route("/health", endpoint("/health", health, auth=False), methods=["GET"]),
        Route("/ready", endpoint("/ready", service.ready, auth=False), methods=["GET"]),
        Route("/metrics", metrics, methods=["GET"]),
        Route("/openapi.json", lambda _: JSONResponse(openapi()), methods=["GET"]),
        Route("/docs", lambda _: HTMLResponse(docs_html()), methods=["GET"]),
    ]

    @asynccontextmanager
    async def lifespan(_: Any):
        watcher = asyncio.create_task(service.watch_registry())
        try:
            yield
        finally:
            watcher.cancel()
            closer = getattr(store.online_store, "aclose_async", None)
            if closer is not None:
                await closer()
            store.close()

    async def not_found(request: Request, exc: Exception) -> Response:
        code = getattr(exc, "status_code", 404)
        message = {404: f"no route {request.url.path}",
                   405: f"{request.method} is not allowed on {request.url.path}"}.get(code, str(exc))
        return JSONResponse({"error": message}, status_code=code)

    app = Starlette(routes=routes, lifespan=lifespan,
                    exception_handlers={404: not_found, 405: not_found})
    app.state.service = service
    return app


def openapi() -> dict[str, Any]:
    """What each endpoint takes and answers (OpenAPI 3), served at /openapi.json."""
    def post(summary: str, properties: dict[str, Any], required: list[str]) -> dict[str, Any]:
        return {"post": {"summary": summary, "requestBody": {"required": True, "content": {
            "application/json": {"schema": {"type": "object", "properties": properties,
                                            "required": required}}}},
            "responses": {"200": {"description": "OK"}, "400": {"description": "bad request"},
                          "401": {"description": "missing or wrong token"},
                          "413": {"description": "body or entity count over the limit"}}}}

    strings = {"type": "array", "items": {"type": "string"}}
    columns = {"type": "object", "additionalProperties": {"type": "array"}}
    return {"openapi": "3.0.3", "info": {"title": "featsql feature server", "version": "1"},
            "paths": {
                "/get-online-features": post("Latest feature values (Feast's request and response)",
                                             {"features": strings, "feature_service": {"type": "string"},
                                              "entities": columns,
                                              "full_feature_names": {"type": "boolean"}},
                                             ["entities"]),
                "/push": post("Write rows to a feature view's online values (newer-than rule)",
                              {"push_source_name": {"type": "string"}, "df": columns,
                               "to": {"type": "string", "enum": ["online"]}},
                              ["push_source_name", "df"]),
                "/write-to-online-store": post("Write rows to a feature view's online values",
                                               {"feature_view_name": {"type": "string"}, "df": columns},
                                               ["feature_view_name", "df"]),
                "/materialize": post("Materialize [start_ts, end_ts]",
                                     {"start_ts": {"type": "string"}, "end_ts": {"type": "string"},
                                      "feature_views": strings}, ["start_ts", "end_ts"]),
                "/materialize-incremental": post("Materialize from each view's watermark to end_ts",
                                                 {"end_ts": {"type": "string"}, "feature_views": strings},
                                                 ["end_ts"]),
                "/health": {"get": {"summary": "The process answers", "responses": {"200": {"description": "OK"}}}},
                "/ready": {"get": {"summary": "The online store answers",
                                   "responses": {"200": {"description": "ready"}, "503": {"description": "not ready"}}}},
                "/metrics": {"get": {"summary": "Prometheus metrics", "responses": {"200": {"description": "OK"}}}},
            }}


def docs_html() -> str:
    """/docs: the endpoints of openapi() as a page that needs nothing from the network."""
    from html import escape

    rows = []
    for path, ops in openapi()["paths"].items():
        for method, op in ops.items():
            schema = (op.get("requestBody", {}).get("content", {}).get("application/json", {})
                      .get("schema", {}))
            fields = ", ".join(f"<code>{escape(k)}</code>" + (" (required)" if k in schema.get("required", [])
                                                              else "")
                               for k in schema.get("properties", {}))
            rows.append(f"<tr><td><code>{method.upper()} {escape(path)}</code></td>"
                        f"<td>{escape(op['summary'])}</td><td>{fields}</td></tr>")
    return ("<!doctype html><html><head><meta charset='utf-8'><title>featsql feature server</title>"
            "</head><body><h1>featsql feature server</h1><p>Machine-readable: "
            "<a href='/openapi.json'>/openapi.json</a> (OpenAPI 3).</p><table border='1'"
            " cellpadding='4'><tr><th>endpoint</th><th>what</th><th>body</th></tr>"
            + "".join(rows) + "</table></body></html>")


# -- running it --------------------------------------------------------------------------------------
def is_loopback(host: str) -> bool:
    if host in ("localhost", ""):
        return host == "localhost"
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def server_token(config: Any, host: str) -> str | None:
    """The token the server requires: featsql.yml's, else FEATSQL_SERVER_TOKEN; off loopback one
    is required."""
    auth = config.server.auth
    token = (auth.token if auth is not None else None) or os.environ.get(TOKEN_ENV) or None
    if auth is not None and token is None:
        raise FeatsqlError(f"server.auth: no token: set server.auth.token or {TOKEN_ENV}")
    if token is None and not is_loopback(host):
        raise FeatsqlError(f"serving on {host} needs a token: set {TOKEN_ENV} (or server.auth in"
                           " featsql.yml); clients send Authorization: Bearer <token>")
    return token


def app_factory() -> Any:
    """For uvicorn's worker processes (`--workers N`): the app for $FEATSQL_SERVE_CONFIG."""
    from featsql.store import FeatureStore

    path, host = os.environ[CONFIG_ENV], os.environ.get(CONFIG_ENV + "_HOST", "127.0.0.1")
    store = FeatureStore(config_path=path)
    return make_app(store, server_token(store.config, host))


def run(store: Any, host: str = "127.0.0.1", port: int = 6566, *, workers: int = 1,
        ssl_certfile: str | None = None, ssl_keyfile: str | None = None,
        announce: Callable[[str], None] = print) -> None:
    """Serve until SIGINT/SIGTERM (in-flight requests finish: graceful shutdown)."""
    import tempfile

    import uvicorn

    token = server_token(store.config, host)
    scheme = "https" if ssl_certfile else "http"
    options: dict[str, Any] = dict(host=host, port=port, log_level="warning", access_log=False,
                                   backlog=4096, timeout_keep_alive=30, timeout_graceful_shutdown=10,
                                   ssl_certfile=ssl_certfile, ssl_keyfile=ssl_keyfile)
    announce(f"Serving on {scheme}://{host}:{port} ({workers} worker{'s' if workers > 1 else ''};"
             f" POST /get-online-features, /push, /write-to-online-store, /materialize,"
             f" /materialize-incremental; GET /health, /ready, /metrics, /docs)"
             + ("; bearer token required" if token else ""))
    if workers == 1:
        uvicorn.run(make_app(store, token), **options)
        return
    # Workers are fresh processes: each builds its app from featsql.yml (app_factory), and
    # Prometheus counts go through one multiprocess directory so /metrics sums them.
    store.close()
    with tempfile.TemporaryDirectory(prefix="featsql-metrics-") as metrics_dir:
        os.environ["PROMETHEUS_MULTIPROC_DIR"] = metrics_dir
        os.environ[CONFIG_ENV] = str(store.config.config_file or store.config.repo_path / "featsql.yml")
        os.environ[CONFIG_ENV + "_HOST"] = host
        if token:
            os.environ[TOKEN_ENV] = token
        uvicorn.run("featsql.server:app_factory", factory=True, workers=workers, **options)
