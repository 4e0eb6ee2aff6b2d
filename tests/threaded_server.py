"""`shoal serve` (the ASGI app under uvicorn) on a loopback port in a thread of the test.

Unlike a server process, the test can reach into the served ``Database`` (to inject a fault
or read its state). Importable from every test folder (``pythonpath`` in pyproject.toml).
"""

from __future__ import annotations

import asyncio
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager

from shoal.engine import Database


def join_version_checks(timeout: float = 10.0) -> None:
    """Wait for qdrant-client's background version checks to finish.

    Each client checks the server's version in a daemon thread; one still running when its
    server stops fails to connect and warns from that thread (an error under pytest).
    """
    for thread in threading.enumerate():
        if thread.name.endswith("(_check_compatibility)"):
            thread.join(timeout)


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


@contextmanager
def serve_in_thread(db: Database | None = None) -> Iterator[str]:
    """Serve ``db`` (a new in-memory database if None, closed afterwards) in a thread.

    Yields:
        The server's base URL.
    """
    import uvicorn

    from shoal.server import ServerConfig, create_app

    owned = db is None
    database = Database(None) if db is None else db
    port = free_port()
    app = create_app(ServerConfig(port=port), database=database)
    config = uvicorn.Config(
        app, host="127.0.0.1", port=port, log_level="warning", loop="asyncio", lifespan="on"
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=lambda: asyncio.run(server.serve()), daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            raise RuntimeError("the in-process server did not start")
        time.sleep(0.01)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        # Clients the test made (third-party stores make their own) may still be asking
        # this server for its version.
        join_version_checks()
        server.should_exit = True
        thread.join(timeout=30)
        if owned:
            database.close()
