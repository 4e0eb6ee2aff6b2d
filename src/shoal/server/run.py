"""Running the app under uvicorn: what ``shoal serve`` does."""

from __future__ import annotations

import errno
import logging
import signal
import socket
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from types import FrameType
from typing import Any

import uvicorn

from shoal.engine import Database
from shoal.errors import ShoalError
from shoal.server.app import create_app
from shoal.server.config import ServerConfig
from shoal.server.inflight import InFlight
from shoal.version import __version__

logger = logging.getLogger("shoal.server")


class CannotListen(ShoalError):
    """The address to serve on cannot be bound: a port in use, an unknown host."""


def bind(host: str, port: int) -> socket.socket:
    """A TCP socket bound to ``host:port``, not yet listening (uvicorn listens on it).

    Binding first, before the storage folder is touched, makes a busy port fail fast and
    leave nothing behind; handing uvicorn the bound socket leaves no window for another
    process to take the port in between.

    Args:
        host: a host name or address.
        port: a TCP port; 0 picks a free one.

    Returns:
        The bound socket.

    Raises:
        CannotListen: naming the address and why.
    """
    where = f"[{host}]:{port}" if ":" in host else f"{host}:{port}"
    try:
        family, kind, proto, _, address = socket.getaddrinfo(
            host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE
        )[0]
    except socket.gaierror as exc:
        raise CannotListen(f"cannot listen on {where}: unknown host ({exc.strerror})") from None
    sock = socket.socket(family, kind, proto)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(address)
    except OSError as exc:
        sock.close()
        if exc.errno == errno.EADDRINUSE:
            reason = "the port is in use (another server? choose one with --port)"
        else:
            reason = exc.strerror or str(exc)
        raise CannotListen(f"cannot listen on {where}: {reason}") from None
    return sock


def client_url(config: ServerConfig, port: int) -> str:
    """The URL a client on this machine uses to reach the server."""
    host = {"0.0.0.0": "127.0.0.1", "": "127.0.0.1", "::": "::1"}.get(config.host, config.host)
    return f"{config.scheme}://{f'[{host}]' if ':' in host else host}:{port}"


class _Server(uvicorn.Server):
    """uvicorn's server, which also stops the engine work of requests in flight as soon as
    its graceful shutdown starts: their deadlines move to now, each answers 503 at its
    engine's next check, and uvicorn's wait for them (and the database's close after it)
    takes as long as one chunk of work, not as long as the slowest request would run."""

    def __init__(self, config: uvicorn.Config, inflight: InFlight) -> None:
        super().__init__(config)
        self._inflight = inflight

    async def shutdown(self, sockets: list[socket.socket] | None = None) -> None:
        stopped = self._inflight.abort_all()
        if stopped:
            logger.info("shutting down: stopped %d request(s) in flight", stopped)
        await super().shutdown(sockets)


@contextmanager
def _stop_on_signals(server: uvicorn.Server) -> Iterator[None]:
    """Handle SIGTERM/SIGINT outside uvicorn's own window by asking the server to stop.

    uvicorn installs its handlers only while it runs; after its graceful shutdown it restores
    the previous ones and raises the caught signal again, which with the default handlers
    kills the process (exit status -15, or a KeyboardInterrupt traceback) after everything
    was already flushed. This handler instead sets ``should_exit``, so a signal before uvicorn
    is listening still stops it, and one re-raised after shutdown lets ``serve`` return 0.
    """

    def stop(signum: int, frame: FrameType | None) -> None:
        server.should_exit = True

    saved: dict[signal.Signals, Any] = {}
    if threading.current_thread() is threading.main_thread():
        for sig in (signal.SIGINT, signal.SIGTERM):
            saved[sig] = signal.signal(sig, stop)
    try:
        yield
    finally:
        for sig, handler in saved.items():
            signal.signal(sig, handler)


def serve(config: ServerConfig) -> int:
    """Serve the database at ``config.path`` until SIGINT or SIGTERM.

    The port is bound first and the database opened next, both before the server starts:
    a busy port or a storage folder held by another process fails fast, and a busy port
    before anything is created on disk. On SIGTERM uvicorn stops accepting connections, lets
    requests in flight finish, and the app's lifespan closes the database, flushing every
    pending write.

    Args:
        config: where the data lives, where to listen, and the api keys.

    Returns:
        The process exit status: 0 after a clean shutdown, 1 if the server never started.

    Raises:
        CannotListen: the address cannot be bound.
        StorageLocked: the storage folder is opened by another process.
    """
    sock = bind(config.host, config.port)
    port = sock.getsockname()[1]
    try:
        db = Database(config.storage_path, served_at=client_url(config, port), limits=config.limits)
    except BaseException:
        sock.close()
        raise
    try:
        app = create_app(config, database=db, close_database=True)
        uv_config = uvicorn.Config(
            app,
            host=config.host,
            port=config.port,
            ssl_certfile=config.ssl_certfile,
            ssl_keyfile=config.ssl_keyfile,
            log_level=config.log_level,
            access_log=config.access_log,
            # uvloop and httptools when installed (the server extra brings both).
            loop="auto",
            http="auto",
            lifespan="on",
            # Bound the wait for slow clients at shutdown; the lifespan still closes the db.
            timeout_graceful_shutdown=30,
        )
        server = _Server(uv_config, app.state.shoal.inflight)
        where = "memory" if config.storage_path is None else config.storage_path
        print(
            f"Shoal {__version__} serving {where} on "
            f"{config.scheme}://{config.host}:{port} (Qdrant REST API)",
            file=sys.stderr,
            flush=True,
        )
        with _stop_on_signals(server):
            server.run(sockets=[sock])
        return 0 if server.started else 1
    finally:
        db.close()  # idempotent: already closed by the lifespan after a normal shutdown
        sock.close()
