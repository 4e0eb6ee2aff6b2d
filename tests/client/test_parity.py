"""The sync twins match their async sources: Client and AsyncClient, and the LangChain
store's sync and async methods, have the same public methods with the same signatures and the
same ``Args:`` sections in their docstrings (each documenting only real parameters)."""

from __future__ import annotations

import inspect
from typing import Any

from shoal import AsyncClient, Client
from shoal.integrations.langchain._async.store import AsyncStoreIO
from shoal.integrations.langchain._sync.store import StoreIO

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


def args_section(doc: str | None) -> dict[str, str]:
    """The entries of a docstring's ``Args:`` section: the names as written (``"limit,
    offset"``) -> the description, continuation lines joined."""
    entries: dict[str, str] = {}
    lines = inspect.cleandoc(doc or "").splitlines()
    if "Args:" not in lines:
        return entries
    indent, name = None, ""
    for line in lines[lines.index("Args:") + 1 :]:
        if not line.strip() or not line.startswith(" "):
            break  # a blank line or the next section ends it
        depth = len(line) - len(line.lstrip())
        indent = depth if indent is None else indent
        if depth == indent:
            name, _, text = line.strip().partition(": ")
            entries[name] = text
        else:
            entries[name] += " " + line.strip()
    return entries


def documented_names(entries: dict[str, str]) -> set[str]:
    """The parameter names an ``Args:`` section documents (``**kwargs`` as ``kwargs``)."""
    names = {n.strip().lstrip("*") for key in entries for n in key.split(",")}
    return {n for n in names if n.isidentifier()}


def check_docstring_twins(sync_fn: object, async_fn: object, where: str) -> None:
    sync_args, async_args = args_section(sync_fn.__doc__), args_section(async_fn.__doc__)
    assert sync_args == async_args, where
    params = set(inspect.signature(async_fn).parameters)  # type: ignore[arg-type]
    assert documented_names(async_args) <= params, where


def test_docstring_args_sections_match_and_name_real_parameters() -> None:
    # The constructor's arguments are documented in the class docstring.
    check_docstring_twins(Client, AsyncClient, "class")
    for name in public_methods(AsyncClient):
        if name != "__init__":
            check_docstring_twins(getattr(Client, name), getattr(AsyncClient, name), name)
    assert args_section(AsyncClient.upsert.__doc__)["wait"].startswith("True (default)")


def store_methods(cls: type) -> dict[str, Any]:
    return {
        name: fn.__func__ if isinstance(fn, classmethod) else fn
        for name, fn in vars(cls).items()
        if not name.startswith("_") and callable(getattr(cls, name))
    }


def test_langchain_store_twins_match() -> None:
    asyn, sync = store_methods(AsyncStoreIO), store_methods(StoreIO)
    # LangChain's convention: every async method is its sync twin's name with an "a" in front.
    assert {"a" + name for name in sync} == set(asyn)
    assert {"aadd_texts", "asimilarity_search", "afrom_texts", "aclose", "adrop"} <= set(asyn)
    for name, fn in sync.items():
        twin = asyn["a" + name]
        assert inspect.iscoroutinefunction(twin) and not inspect.iscoroutinefunction(fn), name
        assert inspect.signature(fn) == inspect.signature(twin), name
        check_docstring_twins(fn, twin, name)


def test_the_args_parser_reads_docstrings() -> None:
    doc = """Do it.

        Args:
            a: the first,
                continued.
            b, c: two at once.
            **kwargs: the rest.

        Returns:
            Nothing.
        """
    assert args_section(doc) == {"a": "the first, continued.", "b, c": "two at once.",
                                 "**kwargs": "the rest."}  # fmt: skip
    assert documented_names(args_section(doc)) == {"a", "b", "c", "kwargs"}
    assert args_section("No sections.") == {}


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


def test_explore_methods_take_qdrant_clients_arguments_and_defaults() -> None:
    from qdrant_client import AsyncQdrantClient

    def params(fn: Any) -> list[tuple[str, object]]:
        return [
            (p.name, p.default)
            for p in inspect.signature(fn).parameters.values()
            if p.name not in ("self", "kwargs")
        ]

    for name in ("facet", "search_matrix_pairs", "search_matrix_offsets"):
        assert params(getattr(AsyncClient, name)) == params(getattr(AsyncQdrantClient, name)), name
