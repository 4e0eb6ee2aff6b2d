"""Fixtures of the client tests (written once in _async, generated into _sync)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from threaded_server import serve_in_thread

from shoal.engine import Database


@pytest.fixture(params=["embedded", "http"])
def where(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[dict[str, str]]:
    """The arguments of a client on a storage folder: the folder itself, or a server on it."""
    if request.param == "embedded":
        yield {"path": str(tmp_path)}
        return
    db = Database(tmp_path)
    try:
        with serve_in_thread(db) as url:
            yield {"url": url}
    finally:
        db.close()
