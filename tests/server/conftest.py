"""Fixtures of the server tests (helpers live in server_support.py)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator

import httpx
import pytest
from server_support import IN_PROCESS_URL, SPEC_PATH, OpenApi, Recorder, ServerProcess, run_server
from starlette.testclient import TestClient

from shoal.engine import Database
from shoal.server import ServerConfig, create_app


@pytest.fixture(scope="session")
def openapi() -> OpenApi:
    return OpenApi(SPEC_PATH)


@pytest.fixture
def recorder(openapi: OpenApi) -> Iterator[Recorder]:
    rec = Recorder()
    yield rec
    # Every test that records has all its bodies checked, even if it forgot to ask.
    rec.validate(openapi)


@pytest.fixture(scope="session")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    """One `shoal serve` for the session; each test uses its own collection names."""
    with run_server(tmp_path_factory.mktemp("served") / "data") as server:
        yield server


@pytest.fixture
def app_db() -> Iterator[Database]:
    db = Database(None)
    try:
        yield db
    finally:
        db.close()


@pytest.fixture
def test_client(app_db: Database) -> Iterator[TestClient]:
    """Starlette's TestClient over an in-process app (sync, lifespan included)."""
    with TestClient(create_app(ServerConfig(), database=app_db)) as tc:
        yield tc


@pytest.fixture
async def asgi_client(app_db: Database) -> AsyncIterator[httpx.AsyncClient]:
    """An httpx AsyncClient over an in-process app through ASGITransport."""
    transport = httpx.ASGITransport(app=create_app(ServerConfig(), database=app_db))
    async with httpx.AsyncClient(transport=transport, base_url=IN_PROCESS_URL) as http:
        yield http
