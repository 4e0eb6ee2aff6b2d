"""LangChain integration: :class:`ShoalVectorStore` (alias :data:`Shoal`).

Needs the ``langchain`` extra (``pip install '.[langchain]'`` in a checkout of Shoal)::

    from shoal.integrations.langchain import ShoalVectorStore

    store = ShoalVectorStore(connection_args={"uri": "./data"})  # MiniLM embeddings
    await store.aadd_texts(["hello"], metadatas=[{"lang": "en"}])
    docs = await store.asimilarity_search("hi", k=1, expr="lang == 'en'")

Coming from langchain-milvus, only the import changes::

    from shoal.integrations.langchain import ShoalVectorStore as Milvus

Its hybrid form too (``BM25BuiltInFunction`` from langchain-milvus or from here)::

    store = Milvus(embedding_function=embeddings,
                   builtin_function=BM25BuiltInFunction(output_field_names="sparse"),
                   vector_field=["dense", "sparse"])
    docs = await store.asimilarity_search("query", k=3, ranker_type="rrf")
"""

from __future__ import annotations

from shoal.extras import install_hint

try:
    import langchain_core  # noqa: F401
except ImportError as exc:  # pragma: no cover - depends on the environment
    raise ImportError(
        f"shoal.integrations.langchain {install_hint('langchain', exc.name)}"
    ) from exc

from shoal.integrations.langchain.base import StoreBase
from shoal.integrations.langchain.embeddings import MiniLMEmbeddings
from shoal.integrations.langchain.functions import BM25BuiltInFunction
from shoal.integrations.langchain.store import Shoal, ShoalVectorStore

__all__ = ["BM25BuiltInFunction", "MiniLMEmbeddings", "Shoal", "ShoalVectorStore", "StoreBase"]
