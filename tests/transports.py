"""The three ways a congruence test reaches Shoal: the embedded engine, the server app
in-process (ASGI, through Starlette's TestClient), and the server on a real socket (uvicorn
in a thread). Importable from every test folder (``pythonpath`` in pyproject.toml).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from starlette.testclient import TestClient
from threaded_server import serve_in_thread

from shoal import Client
from shoal.client._sync.http import HttpTransport
from shoal.engine import Database
from shoal.server import ServerConfig, create_app

TRANSPORTS = ("embedded", "asgi", "socket")
_IN_PROCESS_URL = "http://testserver"


@contextmanager
def shoal_client(transport: str, folder: Path) -> Iterator[Client]:
    """A Shoal client over ``transport`` on a database stored in ``folder``.

    Args:
        transport: one of ``TRANSPORTS``.
        folder: the database's storage folder.

    Yields:
        The client (closed, and its database, afterwards).
    """
    if transport == "embedded":
        with Client(path=folder) as client:
            yield client
        return
    db = Database(folder)
    try:
        if transport == "asgi":
            with TestClient(create_app(ServerConfig(), database=db)) as http:
                client = Client(_IN_PROCESS_URL)
                client._transport.close()  # type: ignore[union-attr]
                client._transport = HttpTransport(_IN_PROCESS_URL, http_client=http)
                with client:
                    yield client
        else:
            with serve_in_thread(db) as url, Client(url) as client:
                yield client
    finally:
        db.close()


@contextmanager
def beside_local_mode(
    transport: str, folder: Path, create: Callable[..., None], *args: Any
) -> Iterator[tuple[Client, Any]]:
    """A Shoal client (see ``shoal_client``) and qdrant-client's local mode, each with the
    collections ``create(client, *args)`` makes.

    Yields:
        (Shoal's client, local mode's client); both closed afterwards.
    """
    from qdrant_client import QdrantClient

    theirs = QdrantClient(":memory:")
    try:
        create(theirs, *args)
        with shoal_client(transport, folder) as ours:
            create(ours, *args)
            yield ours, theirs
    finally:
        theirs.close()
