"""The store's collection: every operation sync (``_sync``) and async (``_async``), from one
source (see ``collection_base`` for how it is created and cached)."""

from __future__ import annotations

from shoal.integrations.langchain._async.collection import AsyncCollectionIO
from shoal.integrations.langchain._sync.collection import SyncCollectionIO
from shoal.integrations.langchain.collection_base import PAGE


class StoreCollection(AsyncCollectionIO, SyncCollectionIO):
    """One named collection, used sync (``query``...) or async (``aquery``...)."""


__all__ = ["PAGE", "StoreCollection"]
