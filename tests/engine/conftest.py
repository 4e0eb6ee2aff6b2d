"""Fixtures shared by the engine tests."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from threaded_server import serve_in_thread

from shoal import Client
from shoal.engine import Database, ann
from shoal.index import HnswIndex


class _OneThreadHnsw(HnswIndex):
    """An index whose batch inserts run on one thread."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **{**kwargs, "threads": 1})


@pytest.fixture
def one_insert_thread(monkeypatch: pytest.MonkeyPatch) -> None:
    """Build the engine's HNSW indexes with one insert thread, so a graph depends on the
    data only. usearch 2.26's parallel ``add`` can leave nodes no search reaches, depending
    on how the OS schedules its threads (unum-cloud/USearch#735): under load, one preempted
    insert thread left 5 of a query's 10 nearest points unreachable, failing recall bounds
    now and then. Tests of answers that depend on the graph use this."""
    monkeypatch.setattr(ann, "HnswIndex", _OneThreadHnsw)


@pytest.fixture(scope="module", params=["embedded", "http"])
def memory_client(request: pytest.FixtureRequest) -> Iterator[Client]:
    """A client of an in-memory database: embedded, or over HTTP to a server in a thread
    (one per test module and kind; tests clean up the collections they make)."""
    if request.param == "embedded":
        with Client() as client:
            yield client
        return
    db = Database(None)
    try:
        with serve_in_thread(db) as url, Client(url) as client:
            yield client
    finally:
        db.close()
