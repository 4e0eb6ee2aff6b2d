"""Client and AsyncClient have the same public methods with the same signatures."""

from __future__ import annotations

import inspect
import subprocess
import sys
from pathlib import Path

from shoal import AsyncClient, Client

ROOT = Path(__file__).resolve().parents[2]
SYNC_ONLY_DUNDERS = {"__enter__", "__exit__"}
ASYNC_ONLY_DUNDERS = {"__aenter__", "__aexit__"}


def public_methods(cls: type) -> dict[str, inspect.Signature]:
    return {
        name: inspect.signature(fn)
        for name, fn in inspect.getmembers(cls, inspect.isfunction)
        if not name.startswith("_") or name == "__init__"
    }


def test_same_public_methods_and_signatures() -> None:
    sync, asyn = public_methods(Client), public_methods(AsyncClient)
    assert sync.keys() == asyn.keys()
    for name in sync:
        assert str(sync[name]).replace("AsyncClient", "Client") == str(asyn[name]).replace(
            "AsyncClient", "Client"
        ), name
    # Every API method of the async client is a coroutine function; none of the sync one is.
    for name in asyn:
        if name != "__init__":
            assert inspect.iscoroutinefunction(getattr(AsyncClient, name)), name
            assert not inspect.iscoroutinefunction(getattr(Client, name)), name


def test_context_manager_protocols() -> None:
    assert all(hasattr(Client, n) for n in SYNC_ONLY_DUNDERS)
    assert all(hasattr(AsyncClient, n) for n in ASYNC_ONLY_DUNDERS)


def test_api_covers_design_table() -> None:
    wanted = {
        "create_collection", "delete_collection", "collection_exists", "get_collection",
        "get_collections", "upsert", "delete", "retrieve", "scroll", "count", "query_points",
        "query_batch_points", "set_payload", "overwrite_payload", "delete_payload",
        "clear_payload", "create_payload_index", "delete_payload_index", "close",
    }  # fmt: skip
    assert wanted <= public_methods(AsyncClient).keys()


def test_generated_sync_client_is_up_to_date() -> None:
    out = subprocess.run(
        [sys.executable, str(ROOT / "tools" / "gen_sync.py"), "--check"],
        capture_output=True,
        text=True,
    )
    assert out.returncode == 0, out.stdout + out.stderr
    header = (ROOT / "src/shoal/client/_sync/client.py").read_text().splitlines()[0]
    assert "DO NOT EDIT" in header
