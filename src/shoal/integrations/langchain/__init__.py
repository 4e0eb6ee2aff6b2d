"""LangChain integration: :class:`ShoalVectorStore` (alias :data:`Shoal`).

Needs the ``langchain`` extra (``pip install 'shoal[langchain]'``)::

    from shoal.integrations.langchain import ShoalVectorStore

    store = ShoalVectorStore(connection_args={"uri": "./data"})  # MiniLM embeddings
    await store.aadd_texts(["hello"], metadatas=[{"lang": "en"}])
    docs = await store.asimilarity_search("hi", k=1, expr="lang == 'en'")

Coming from langchain-milvus, only the import changes::

    from shoal.integrations.langchain import ShoalVectorStore as Milvus
"""

from __future__ import annotations

try:
    import langchain_core  # noqa: F401
except ImportError as exc:  # pragma: no cover - depends on the environment
    raise ImportError(
        "shoal.integrations.langchain needs langchain-core; install it with "
        "pip install 'shoal[langchain]'"
    ) from exc

from shoal.integrations.langchain.base import StoreBase
from shoal.integrations.langchain.embeddings import MiniLMEmbeddings
from shoal.integrations.langchain.store import Shoal, ShoalVectorStore

__all__ = ["MiniLMEmbeddings", "Shoal", "ShoalVectorStore", "StoreBase"]
