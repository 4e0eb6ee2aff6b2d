"""Where a store's data lives, and the clients that reach it from any thread or event loop.

A LangChain store is created once and then used from plain threads, from several
``asyncio.run()`` calls in turn, and from inside a running loop (Jupyter). So:

- the sync ``Client`` is made at construction and serves every sync method, in whatever
  thread calls it, without an event loop (so a sync call inside a running loop cannot
  deadlock);
- for a server, an ``AsyncClient`` is made lazily for each event loop that uses the store,
  since a network client's connections belong to the loop that opened them, and it is
  closed when that loop shuts down;
- for an embedded engine, one ``AsyncClient`` made at construction serves every loop (its
  local transport keeps per-loop state itself), so no engine object is ever created or
  closed on an event loop's thread;
- an embedded storage folder is shared by every client of the process that names it
  (``Database.acquire``), so the store's clients are ordinary ``Client(path=...)`` /
  ``AsyncClient(path=...)``;
- an in-memory store's sync and async clients must reach the same engine: both are
  pointed at one private in-memory ``Database`` (see ``_memory_clients``).
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import threading
import weakref
from collections.abc import AsyncGenerator, Mapping
from dataclasses import dataclass
from typing import Any, Literal

from shoal.client import AsyncClient, Client
from shoal.client._async.local import AsyncLocalTransport
from shoal.client._sync.local import LocalTransport
from shoal.engine import Database
from shoal.errors import ClientClosed, InvalidConfig

MEMORY = ":memory:"
# Keys of langchain-milvus's connection_args that Shoal understands.
_KNOWN_KEYS = frozenset(
    {"uri", "url", "token", "api_key", "timeout", "user", "password", "db_name", "host", "port"}
)


@dataclass(frozen=True)
class Target:
    """A parsed ``connection_args``.

    Attributes:
        kind: ``"memory"``, ``"path"`` (an embedded storage folder) or ``"url"`` (a server).
        location: the absolute folder path or the URL; ``":memory:"`` for memory.
        api_key: the server's api key.
        timeout: request timeout in seconds for a server.
    """

    kind: Literal["memory", "path", "url"]
    location: str
    api_key: str | None = None
    timeout: float | None = None


def parse_connection_args(connection_args: Mapping[str, Any] | None) -> Target:
    """Read langchain-milvus style ``connection_args``.

    Args:
        connection_args: ``{"uri": ...}`` where the uri is ``":memory:"``, a local path
            (an embedded, durable store; a Milvus Lite file name such as ``"./milvus.db"``
            becomes a Shoal storage folder of that name) or an ``http(s)://`` server URL;
            plus optional ``token`` / ``api_key`` and ``timeout``. ``host`` and ``port``
            (older Milvus style) build an http URL. None means ``":memory:"``.

    Returns:
        The target.

    Raises:
        InvalidConfig: an unknown key, an unsupported URL scheme, user/password
            credentials (Shoal servers take an api key: pass it as ``token``), or a
            ``db_name`` other than the default.
    """
    args = dict(connection_args or {})
    unknown = sorted(set(args) - _KNOWN_KEYS)
    if unknown:
        raise InvalidConfig(
            f"unknown connection_args {unknown}: Shoal understands uri, token (or api_key) "
            "and timeout"
        )
    if args.get("user") or args.get("password"):
        raise InvalidConfig(
            "connection_args user/password are not supported: Shoal servers authenticate "
            "with an api key; pass it as token= (or api_key=)"
        )
    if args.get("db_name") not in (None, "", "default"):
        raise InvalidConfig(
            f"connection_args db_name={args['db_name']!r}: Shoal has no databases; use "
            "collection_name (or another uri) to keep data apart"
        )
    token, api_key = args.get("token") or None, args.get("api_key") or None
    if token and api_key and token != api_key:
        raise InvalidConfig("connection_args token and api_key differ; give one of them")
    key = token or api_key
    timeout = args.get("timeout")
    uri = args.get("uri") or args.get("url")
    if uri is None and args.get("host"):
        uri = f"http://{args['host']}:{args.get('port') or 6333}"
    if uri is None or uri == MEMORY:
        return Target("memory", MEMORY)
    uri = os.fspath(uri)
    if uri.startswith(("http://", "https://")):
        return Target("url", uri, key, None if timeout is None else float(timeout))
    if "://" in uri:
        raise InvalidConfig(
            f"connection_args uri {uri!r}: expected ':memory:', a local folder path or an "
            "http(s):// URL of a Shoal (or Qdrant-protocol) server"
        )
    return Target("path", os.path.realpath(os.path.expanduser(uri)))


def _memory_clients() -> tuple[Client, AsyncClient]:
    # Two ":memory:" clients would be two databases. Point both local transports at one
    # engine instead; the transports open lazily, so nothing else was created yet.
    db = Database(None)
    client, aclient = Client(MEMORY), AsyncClient(MEMORY)
    for c in (client, aclient):
        transport = c._transport
        if not isinstance(transport, (LocalTransport, AsyncLocalTransport)):  # pragma: no cover
            raise RuntimeError("shoal's ':memory:' clients no longer use a local transport")
        if transport._db is not None:
            transport._db.release()
        transport._db = db
    return client, aclient


def _release(target: Target, client: Client, aclient: AsyncClient | None) -> None:
    """Let go of a connection's resources; runs once, from close() or at garbage collection.

    Closing a path client releases its share of the folder's engine; the in-memory pair
    shares one engine: the first release closes it, the second does nothing.
    """
    client.close()
    if aclient is not None:
        transport = aclient._transport
        aclient._transport = None
        if isinstance(transport, AsyncLocalTransport):
            transport._release()


async def _close_at_loop_shutdown(client: AsyncClient) -> AsyncGenerator[None, None]:
    """Closes ``client`` when its event loop shuts down.

    Primed once inside the loop, this async generator is registered with the loop (the
    loop's first-iteration hook), and ``asyncio.run()`` / ``asyncio.Runner`` close every
    registered generator before closing the loop, while it can still run the ``await``.
    A network client thus closes its connections with the loop that owns them, even if
    the store outlives the loop.
    """
    try:
        yield
    finally:
        await client.close()


def _register_closer(client: AsyncClient) -> AsyncGenerator[None, None]:
    closer = _close_at_loop_shutdown(client)
    # Advance it to its first yield by hand (no await needed before it): this runs the
    # running loop's first-iteration hook, which is what registers it with the loop.
    step = closer.asend(None)
    with contextlib.suppress(StopIteration):
        step.send(None)
    return closer


@dataclass
class _LoopState:
    client: AsyncClient
    # Serialises collection creation among the coroutines of this loop. asyncio.Lock binds
    # to the first loop that waits on it, hence one per loop.
    creation_lock: asyncio.Lock


class Connection:
    """The clients of one store: a sync ``Client``, and ``AsyncClient`` for event loops.

    Args:
        target: where the data lives.

    Raises:
        StorageLocked: the folder is open in another process.
        BadRequest: the server URL cannot be used (e.g. no HTTP transport in this build).
    """

    def __init__(self, target: Target) -> None:
        self.target = target
        self._lock = threading.Lock()
        self._loops: dict[asyncio.AbstractEventLoop, _LoopState] = {}
        self._last: tuple[asyncio.AbstractEventLoop, _LoopState] | None = None
        # Closers of network clients, each held until its loop is closed: the loop keeps
        # only a weak reference, and one collected early would be finalised on a dead loop.
        self._closers: list[tuple[asyncio.AbstractEventLoop, AsyncGenerator[None, None]]] = []
        self._closed = False
        self._embedded_async: AsyncClient | None = None
        # Serialises collection creation among threads (each loop has its own lock too).
        self._creation_lock = threading.Lock()
        if target.kind == "url":
            self._client = Client(target.location, api_key=target.api_key, timeout=target.timeout)
        elif target.kind == "path":
            self._client = Client(path=target.location)
            self._embedded_async = AsyncClient(path=target.location)
        else:
            self._client, self._embedded_async = _memory_clients()
        # Runs at close() or when the store is garbage collected, whichever comes first; it
        # holds no reference to self, so it does not keep the store alive.
        self._finalizer = weakref.finalize(
            self, _release, target, self._client, self._embedded_async
        )

    @property
    def embedded(self) -> bool:
        """Whether the engine runs in this process."""
        return self._embedded_async is not None

    def _state(self) -> _LoopState:
        loop = asyncio.get_running_loop()
        # Every async call asks: the last loop's state is read without the lock (a tuple
        # swap is atomic, and close() clears it under the lock before anything else).
        last = self._last
        if last is not None and last[0] is loop:
            return last[1]
        with self._lock:
            if self._closed:
                raise ClientClosed()
            state = self._loops.get(loop)
            if state is None:
                # Loops that asyncio.run() has finished can never be used again.
                for old in [lp for lp in self._loops if lp.is_closed()]:
                    del self._loops[old]
                self._closers = [(lp, c) for lp, c in self._closers if not lp.is_closed()]
                client = self._embedded_async
                if client is None:
                    client = AsyncClient(
                        self.target.location,
                        api_key=self.target.api_key,
                        timeout=self.target.timeout,
                    )
                    self._closers.append((loop, _register_closer(client)))
                state = self._loops[loop] = _LoopState(client, asyncio.Lock())
            self._last = (loop, state)
            return state

    def client(self) -> Client:
        """The sync client, shared by every thread."""
        return self._client

    def aclient(self) -> AsyncClient:
        """The async client for the running event loop (a server's is made on first use).

        Raises:
            RuntimeError: no event loop is running in this thread.
            ClientClosed: the connection is closed.
        """
        return self._state().client

    def creation_lock(self) -> threading.Lock:
        """The lock that serialises collection creation among threads."""
        return self._creation_lock

    def acreation_lock(self) -> asyncio.Lock:
        """The running loop's lock that serialises collection creation among its coroutines.

        Raises:
            RuntimeError: no event loop is running in this thread.
        """
        return self._state().creation_lock

    async def aclose(self) -> None:
        """Close the running loop's server connections, if it has any."""
        loop = asyncio.get_running_loop()
        with self._lock:
            state = self._loops.pop(loop, None)
            if self._last is not None and self._last[0] is loop:
                self._last = None
        if state is not None and self._embedded_async is None:
            await state.client.close()

    def close(self) -> None:
        """Release the clients and, for an embedded store, the shared ``Database``.

        Idempotent. A server's async clients are closed by their loops' shutdown.
        """
        with self._lock:
            self._last = None
            self._closed = True
            self._loops = {}
        self._finalizer()
