"""``ShoalVectorStore``: a LangChain vector store on Shoal, a drop-in for langchain-milvus.

Every operation has a sync method on the shared ``Client`` and a native async twin that
awaits ``AsyncClient`` (no async method runs its sync twin in a thread): ``AsyncStoreIO``
holds the async methods, ``StoreIO`` the sync ones generated from them. Where it differs
from langchain-milvus, on purpose:

- Ids are strings the caller chooses (``ids=``, else ``Document.id``, else a new UUID),
  with or without ``auto_id``; writes are idempotent upserts.
- ``similarity_search_with_score`` returns Shoal's raw score: a similarity for Cosine
  and Dot (higher is closer), a distance for Euclid and Manhattan (lower is closer).
  Relevance scores are in [0, 1]; see :mod:`shoal.integrations.langchain.scores`.
- Returned metadata is exactly what was stored (the id is ``Document.id``, not a ``pk``
  metadata key); ``get_pks`` returns those id strings.
- ``consistency_level`` is accepted and has no effect: every acknowledged write is
  visible to the next read ("Strong").
"""

from __future__ import annotations

from shoal.integrations.langchain._async.store import AsyncStoreIO
from shoal.integrations.langchain._sync.store import StoreIO


class ShoalVectorStore(AsyncStoreIO, StoreIO):
    """LangChain vector store on Shoal; takes langchain-milvus's arguments.

    Switching from langchain-milvus is changing the import::

        from shoal.integrations.langchain import ShoalVectorStore as Milvus

        store = Milvus(
            embedding_function=embeddings,
            connection_args={"uri": "./milvus_demo.db"},  # a Shoal storage folder
            auto_id=True,
            drop_old=True,
        )
        await store.aadd_documents(docs)
        await store.asimilarity_search("query", k=3, expr="category == 'a'")

    Search methods take ``expr=`` (a Milvus-style expression on metadata keys, ``pk`` for
    the document id) and/or ``filter=`` (a dict of equalities, a structured
    ``shoal.models.Filter``, or an expression), ``param=`` (Milvus search params) and
    ``score_threshold=`` (on the raw score). See :class:`StoreBase` for the arguments.
    """


#: Short name, as ``Milvus`` / ``Qdrant`` are for their stores.
Shoal = ShoalVectorStore
