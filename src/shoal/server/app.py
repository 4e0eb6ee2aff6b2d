"""The ASGI application: Qdrant's REST endpoints over one ``Database``.

Every endpoint goes through one wrapper that checks the api key, times the request, turns
Shoal's typed errors into Qdrant's error envelope with the error's status, and records
metrics. A failure of the server itself (a 5xx) is logged with its traceback under an
incident id, and its body names only that id: an exception's text can name server paths.
Unknown paths answer 404 (401 first when a key is required and missing): no trailing-slash
redirect, whose ``Location`` would echo the request's ``Host``. The database is opened
(unless one is handed in) and closed in the lifespan, so a SIGTERM that stops uvicorn
flushes every pending write before the process exits; before closing it, every request
still in flight is told to stop (``InFlight.abort_all``).
"""

from __future__ import annotations

import asyncio
import functools
import hmac
import logging
import secrets
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from typing import Any

import orjson
from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.routing import Route

from shoal import models as m
from shoal.concurrency import run_in_thread
from shoal.engine import Database
from shoal.errors import CollectionNotFound, Forbidden, ShoalError, Unauthorized
from shoal.server import wire
from shoal.server.config import ServerConfig
from shoal.server.inflight import InFlight
from shoal.server.metrics import Metrics
from shoal.server.routes import OPERATIONS, Call, Handler, Operation
from shoal.server.single_node import SINGLE_NODE
from shoal.version import __version__

logger = logging.getLogger("shoal.server")

# The Qdrant release whose REST API this server speaks. qdrant-client warns when the server
# is more than one minor version away from it, so this tracks the pinned client (1.20).
QDRANT_VERSION = "1.20.0"
# Threads the served engine calls run on (anyio's default, which served them before).
ENGINE_THREADS = 40
VERSION_INFO = {"title": "qdrant - vector search engine", "version": QDRANT_VERSION}


class Auth:
    """Api-key checks: a full key, and optionally a read-only one.

    Args:
        api_key: the key that may do everything; None leaves the server open.
        read_only_api_key: a key that may only read.
    """

    def __init__(self, api_key: str | None, read_only_api_key: str | None) -> None:
        self.api_key = api_key.encode() if api_key else None
        self.read_only = read_only_api_key.encode() if read_only_api_key else None

    def check(self, headers: Mapping[str, str], write: bool) -> None:
        """Let the request through, or raise.

        Args:
            headers: the request headers (``api-key``, or ``Authorization: Bearer <key>``).
            write: whether the operation changes data.

        Raises:
            Unauthorized: a key is required and none, or a wrong one, was given.
            Forbidden: the read-only key was used for a write.
        """
        if self.api_key is None:
            return
        presented = headers.get("api-key")
        if presented is None:
            scheme, _, token = headers.get("authorization", "").partition(" ")
            presented = token.strip() if scheme.lower() == "bearer" else None
        if not presented:
            raise Unauthorized("Must provide an API key or an Authorization bearer token")
        key = presented.encode()
        # Constant-time comparison: response timing must not reveal how much of a key matched.
        if hmac.compare_digest(key, self.api_key):
            return
        if self.read_only is not None and hmac.compare_digest(key, self.read_only):
            if write:
                raise Forbidden("Forbidden: write access denied for the read-only api key")
            return
        raise Unauthorized("Invalid API key or JWT")


class ServerState:
    """What the endpoints share: settings, the database, auth and metrics."""

    def __init__(self, config: ServerConfig, db: Database | None, close_db: bool) -> None:
        self.config = config
        self.db = db
        self.close_db = close_db
        self.ready = False
        self.auth = Auth(config.api_key, config.read_only_api_key)
        self.metrics = Metrics("shoal", __version__)
        self.inflight = InFlight(config.request_timeout)


def _wrap(
    state: ServerState,
    method: str,
    path: str,
    handler: Handler,
    *,
    write: bool,
    auth: bool = True,
) -> Callable[[Request], Awaitable[Response]]:
    """An endpoint around ``handler``: auth, timing, error envelope and metrics."""

    async def endpoint(request: Request) -> Response:
        start = time.perf_counter()
        call = Call(request, state.db, state.config.max_body_bytes, state.inflight)
        try:
            if auth:
                state.auth.check(request.headers, write)
            result = await handler(call)
            elapsed = time.perf_counter() - start
            response = result if isinstance(result, Response) else wire.ok(result, elapsed)
        except ShoalError as exc:
            if exc.status_code >= 500 and not isinstance(exc, wire.ServiceUnavailable):
                response = _internal_error(request, exc, start)
            else:
                response = _client_error(exc, start)
        except Exception as exc:  # a bug, not a bad request: answer 500 and keep serving
            response = _internal_error(request, exc, start)
        finally:
            call.finish()
        state.metrics.observe(method, path, response.status_code, time.perf_counter() - start)
        return response

    return endpoint


def _client_error(exc: ShoalError, start: float) -> Response:
    extra = {"WWW-Authenticate": "Bearer"} if isinstance(exc, Unauthorized) else None
    return wire.error(exc, time.perf_counter() - start, extra)


def _internal_error(request: Request, exc: Exception, start: float) -> Response:
    # The details go to the log only; the client gets an id to quote when reporting it.
    incident = secrets.token_hex(6)
    logger.error(
        "%s %s failed (incident %s)", request.method, request.url.path, incident, exc_info=exc
    )
    return wire.internal_error(exc, time.perf_counter() - start, incident)


def _plain_routes(state: ServerState) -> list[Route]:
    """Service endpoints: version, health probes and metrics (no envelope)."""

    async def root(call: Call) -> Response:
        return Response(orjson.dumps(VERSION_INFO), media_type=wire.JSON)

    async def healthz(call: Call) -> Response:
        return PlainTextResponse("healthz check passed")

    async def readyz(call: Call) -> Response:
        if not state.ready:
            raise wire.ServiceUnavailable("Service unavailable: the server is not ready")
        return PlainTextResponse("all shards are ready")

    async def metrics(call: Call) -> Response:
        sizes = await run_in_thread(_collection_sizes, call.db)
        return PlainTextResponse(
            state.metrics.render(sizes), media_type="text/plain; version=0.0.4"
        )

    # Probes answer without an api key (as Qdrant's do), so orchestrators need no secret.
    table: list[tuple[str, Handler, bool]] = [
        ("/", root, False),
        ("/healthz", healthz, False),
        ("/livez", healthz, False),
        ("/readyz", readyz, False),
        ("/metrics", metrics, True),
    ]
    return [
        Route(path, _wrap(state, "GET", path, handler, write=False, auth=auth), methods=["GET"])
        for path, handler, auth in table
    ]


def _collection_sizes(db: Database) -> dict[str, int]:
    sizes = {}
    for name in db.collection_names():
        try:
            sizes[name] = db.collection(name).count(m.CountRequest()).count
        except CollectionNotFound:  # deleted while we were counting
            continue
    return sizes


def _operation_route(state: ServerState, op: Operation) -> Route:
    endpoint = _wrap(state, op.method, op.path, op.handler, write=op.write)
    return Route(op.path, endpoint, methods=[op.method])


def _http_error_handler(state: ServerState) -> Callable[[Request, Exception], Awaitable[Response]]:
    """Unknown paths and wrong methods: Qdrant's error envelope, not Starlette's text."""

    async def http_error(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, HTTPException)
        start = time.perf_counter()
        try:
            # As in Qdrant, the key guards every path but the probes: without it a client
            # learns nothing about which endpoints exist.
            state.auth.check(request.headers, write=False)
        except Unauthorized as denied:
            return _client_error(denied, start)
        err: ShoalError
        if exc.status_code == 405:
            err = wire.MethodNotAllowed(
                f"Method {request.method} is not allowed for {request.url.path}"
            )
        else:
            err = wire.NotFoundRoute(f"Not found: no endpoint at {request.url.path}")
        err.status_code = exc.status_code
        return wire.error(err, time.perf_counter() - start, exc.headers)

    return http_error


def _lifespan(state: ServerState) -> Callable[[Starlette], AbstractAsyncContextManager[Any]]:
    """The app's lifespan: open the database (unless one was handed in), close it at the end."""
    config = state.config

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[dict[str, Any]]:
        # Engine calls run on the loop's default thread pool (``run_in_thread``): sized for
        # a server, whose concurrent searches coalesce across these threads.
        asyncio.get_running_loop().set_default_executor(
            ThreadPoolExecutor(ENGINE_THREADS, thread_name_prefix="shoal-engine")
        )
        if state.db is None:
            state.db = await run_in_thread(
                functools.partial(Database, config.storage_path, limits=config.limits)
            )
        state.ready = True
        try:
            yield {}
        finally:
            state.ready = False
            state.inflight.abort_all()  # a request still running must not hold up the close
            if state.close_db and state.db is not None:
                db, state.db = state.db, None
                await run_in_thread(db.close)
                logger.info("database closed: all writes flushed")

    return lifespan


def create_app(
    config: ServerConfig | None = None,
    *,
    database: Database | None = None,
    close_database: bool | None = None,
) -> Starlette:
    """Build the ASGI application.

    Args:
        config: server settings; defaults to an open, in-memory server.
        database: serve this database instead of opening ``config.path`` at startup.
        close_database: close the database at shutdown. Defaults to True when the app opens
            it itself and False when one is handed in (its owner closes it).

    Returns:
        A Starlette app; run it with uvicorn, or call it in-process through httpx's
        ``ASGITransport`` or Starlette's ``TestClient``.
    """
    config = config or ServerConfig()
    state = ServerState(
        config,
        database,
        close_db=database is None if close_database is None else close_database,
    )

    lifespan = _lifespan(state)
    if database is not None:
        # Without a lifespan (httpx's ASGITransport runs none) a handed-in database is ready.
        state.ready = True
    operations = OPERATIONS + SINGLE_NODE
    routes = _plain_routes(state) + [_operation_route(state, op) for op in operations]
    http_error = _http_error_handler(state)
    app = Starlette(
        routes=routes,
        lifespan=lifespan,
        exception_handlers={404: http_error, 405: http_error},
    )
    # Starlette would answer /collections/ with a 307 to a URL built from the Host header
    # (before any api-key check); Qdrant answers 404.
    app.router.redirect_slashes = False
    app.state.shoal = state
    return app
