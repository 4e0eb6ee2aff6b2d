"""``ShoalVectorStore``: a LangChain vector store on Shoal, a drop-in for langchain-milvus.

Every operation has a sync method on the shared ``Client`` and a native async twin that
awaits ``AsyncClient`` (no async method runs its sync twin in a thread). Where it differs
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

import asyncio
from typing import Any

from langchain_core.documents import Document
from langchain_core.embeddings import Embeddings
from typing_extensions import Self

from shoal.integrations.langchain.base import DEFAULT_COLLECTION, Vector
from shoal.integrations.langchain.layout import CollectionLayout
from shoal.integrations.langchain.lookups import StoreLookups

Scored = list[tuple[Document, float]]


def _query_vector(embedding: Vector) -> list[float]:
    # The client validates the numbers (numpy scalars included): no per-item copy here.
    if isinstance(embedding, list):
        return embedding
    tolist = getattr(embedding, "tolist", None)
    return tolist() if tolist is not None else list(embedding)


class ShoalVectorStore(StoreLookups):
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

    # ----------------------------------------------------------- vector search

    def _search(
        self,
        method: str,
        embedding: Vector,
        k: int,
        param: Any,
        expr: str | None,
        kw: dict[str, Any],
    ) -> tuple[Scored, CollectionLayout | None]:
        flt, params, threshold = self._search_request(method, param, expr, kw)
        points, layout = self._collection.query(_query_vector(embedding), k, flt, params, threshold)
        return self._scored(points), layout

    async def _asearch(
        self,
        method: str,
        embedding: Vector,
        k: int,
        param: Any,
        expr: str | None,
        kw: dict[str, Any],
    ) -> tuple[Scored, CollectionLayout | None]:
        flt, params, threshold = self._search_request(method, param, expr, kw)
        vector = _query_vector(embedding)
        points, layout = await self._collection.aquery(vector, k, flt, params, threshold)
        return self._scored(points), layout

    def similarity_search(
        self,
        query: str,
        k: int = 4,
        param: dict[str, Any] | None = None,
        expr: str | None = None,
        timeout: float | None = None,
        **kwargs: Any,
    ) -> list[Document]:
        """The ``k`` documents closest to a query text.

        Args:
            query: the text.
            k: how many.
            param: Milvus-style search params (``{"params": {"ef": 64}}``).
            expr: a Milvus-style filter expression.
            timeout: accepted for compatibility.
            **kwargs: ``filter=`` (dict, ``Filter`` or expression), ``score_threshold=``
                (on the raw score).

        Returns:
            Documents, closest first; ``[]`` when the collection does not exist yet.

        Raises:
            InvalidFilter: a malformed filter.
            TypeError: an unknown keyword argument.
        """
        vector = self.embedding_func.embed_query(query)
        pairs, _ = self._search("similarity_search", vector, k, param, expr, kwargs)
        return [doc for doc, _ in pairs]

    async def asimilarity_search(
        self,
        query: str,
        k: int = 4,
        param: dict[str, Any] | None = None,
        expr: str | None = None,
        timeout: float | None = None,
        **kwargs: Any,
    ) -> list[Document]:
        """Async :meth:`similarity_search`.

        Args:
            query: the text.
            k: how many.
            param: Milvus-style search params.
            expr: a Milvus-style filter expression.
            timeout: accepted for compatibility.
            **kwargs: ``filter=``, ``score_threshold=``.

        Returns:
            Documents, closest first.

        Raises:
            InvalidFilter, TypeError: as :meth:`similarity_search`.
        """
        # Straight to the search (not through asimilarity_search_with_score): each awaited
        # layer is a coroutine object per call, garbage the collector must walk under load.
        vector = await self._embedder.query(query)
        pairs, _ = await self._asearch("asimilarity_search", vector, k, param, expr, kwargs)
        return [doc for doc, _ in pairs]

    def similarity_search_by_vector(
        self,
        embedding: list[float],
        k: int = 4,
        param: dict[str, Any] | None = None,
        expr: str | None = None,
        timeout: float | None = None,
        **kwargs: Any,
    ) -> list[Document]:
        """The ``k`` documents closest to a vector.

        Args:
            embedding: the query vector.
            k: how many.
            param: Milvus-style search params.
            expr: a Milvus-style filter expression.
            timeout: accepted for compatibility.
            **kwargs: ``filter=``, ``score_threshold=``.

        Returns:
            Documents, closest first.

        Raises:
            WrongVectorSize: the vector has the wrong length.
            InvalidFilter, TypeError: as :meth:`similarity_search`.
        """
        pairs, _ = self._search("similarity_search_by_vector", embedding, k, param, expr, kwargs)
        return [doc for doc, _ in pairs]

    async def asimilarity_search_by_vector(
        self,
        embedding: list[float],
        k: int = 4,
        param: dict[str, Any] | None = None,
        expr: str | None = None,
        timeout: float | None = None,
        **kwargs: Any,
    ) -> list[Document]:
        """Async :meth:`similarity_search_by_vector`.

        Args:
            embedding: the query vector.
            k: how many.
            param: Milvus-style search params.
            expr: a Milvus-style filter expression.
            timeout: accepted for compatibility.
            **kwargs: ``filter=``, ``score_threshold=``.

        Returns:
            Documents, closest first.

        Raises:
            WrongVectorSize, InvalidFilter, TypeError: as :meth:`similarity_search_by_vector`.
        """
        pairs, _ = await self._asearch(
            "asimilarity_search_by_vector", embedding, k, param, expr, kwargs
        )
        return [doc for doc, _ in pairs]

    def similarity_search_with_score(
        self,
        query: str,
        k: int = 4,
        param: dict[str, Any] | None = None,
        expr: str | None = None,
        timeout: float | None = None,
        **kwargs: Any,
    ) -> Scored:
        """The ``k`` closest documents to a query text, with their raw scores.

        Args:
            query: the text.
            k: how many.
            param: Milvus-style search params.
            expr: a Milvus-style filter expression.
            timeout: accepted for compatibility.
            **kwargs: ``filter=``, ``score_threshold=``.

        Returns:
            (document, score) pairs, closest first: cosine or dot similarity (higher is
            closer) or Euclid or Manhattan distance (lower is closer).

        Raises:
            InvalidFilter, TypeError: as :meth:`similarity_search`.
        """
        vector = self.embedding_func.embed_query(query)
        return self.similarity_search_with_score_by_vector(
            vector, k, param, expr, timeout, **kwargs
        )

    async def asimilarity_search_with_score(
        self,
        query: str,
        k: int = 4,
        param: dict[str, Any] | None = None,
        expr: str | None = None,
        timeout: float | None = None,
        **kwargs: Any,
    ) -> Scored:
        """Async :meth:`similarity_search_with_score`.

        Args:
            query: the text.
            k: how many.
            param: Milvus-style search params.
            expr: a Milvus-style filter expression.
            timeout: accepted for compatibility.
            **kwargs: ``filter=``, ``score_threshold=``.

        Returns:
            (document, raw score) pairs, closest first.

        Raises:
            InvalidFilter, TypeError: as :meth:`similarity_search`.
        """
        vector = await self._embedder.query(query)
        return await self.asimilarity_search_with_score_by_vector(
            vector, k, param, expr, timeout, **kwargs
        )

    def similarity_search_with_score_by_vector(
        self,
        embedding: list[float],
        k: int = 4,
        param: dict[str, Any] | None = None,
        expr: str | None = None,
        timeout: float | None = None,
        **kwargs: Any,
    ) -> Scored:
        """The ``k`` closest documents to a vector, with their raw scores.

        Args:
            embedding: the query vector.
            k: how many.
            param: Milvus-style search params.
            expr: a Milvus-style filter expression.
            timeout: accepted for compatibility.
            **kwargs: ``filter=``, ``score_threshold=``.

        Returns:
            (document, raw score) pairs, closest first.

        Raises:
            WrongVectorSize, InvalidFilter, TypeError: as :meth:`similarity_search_by_vector`.
        """
        method = "similarity_search_with_score_by_vector"
        return self._search(method, embedding, k, param, expr, kwargs)[0]

    async def asimilarity_search_with_score_by_vector(
        self,
        embedding: list[float],
        k: int = 4,
        param: dict[str, Any] | None = None,
        expr: str | None = None,
        timeout: float | None = None,
        **kwargs: Any,
    ) -> Scored:
        """Async :meth:`similarity_search_with_score_by_vector`.

        Args:
            embedding: the query vector.
            k: how many.
            param: Milvus-style search params.
            expr: a Milvus-style filter expression.
            timeout: accepted for compatibility.
            **kwargs: ``filter=``, ``score_threshold=``.

        Returns:
            (document, raw score) pairs, closest first.

        Raises:
            WrongVectorSize, InvalidFilter, TypeError: as :meth:`similarity_search_by_vector`.
        """
        method = "asimilarity_search_with_score_by_vector"
        return (await self._asearch(method, embedding, k, param, expr, kwargs))[0]

    def _similarity_search_with_relevance_scores(
        self, query: str, k: int = 4, **kwargs: Any
    ) -> Scored:
        # Mapped with the distance of the collection actually searched, which is known only
        # once the search has found it (an existing collection may differ from distance=).
        param, expr = kwargs.pop("param", None), kwargs.pop("expr", None)
        vector = self.embedding_func.embed_query(query)
        method = "similarity_search_with_relevance_scores"
        pairs, layout = self._search(method, vector, k, param, expr, kwargs)
        fn = self._relevance(layout)
        return [(doc, fn(score)) for doc, score in pairs]

    async def _asimilarity_search_with_relevance_scores(
        self, query: str, k: int = 4, **kwargs: Any
    ) -> Scored:
        param, expr = kwargs.pop("param", None), kwargs.pop("expr", None)
        vector = await self._embedder.query(query)
        method = "asimilarity_search_with_relevance_scores"
        pairs, layout = await self._asearch(method, vector, k, param, expr, kwargs)
        fn = self._relevance(layout)
        return [(doc, fn(score)) for doc, score in pairs]

    def similarity_search_with_relevance_scores(
        self, query: str, k: int = 4, **kwargs: Any
    ) -> Scored:
        """The ``k`` closest documents with relevance scores in [0, 1] (1 = closest).

        Args:
            query: the text.
            k: how many.
            **kwargs: ``score_threshold`` (a minimum relevance), ``expr``, ``filter``,
                ``param``.

        Returns:
            (document, relevance) pairs, closest first. The mapping from raw scores is
            documented in :mod:`shoal.integrations.langchain.scores`.

        Raises:
            InvalidFilter, TypeError: as :meth:`similarity_search`.
        """
        return super().similarity_search_with_relevance_scores(query, k, **kwargs)

    async def asimilarity_search_with_relevance_scores(
        self, query: str, k: int = 4, **kwargs: Any
    ) -> Scored:
        """Async :meth:`similarity_search_with_relevance_scores`.

        Args:
            query: the text.
            k: how many.
            **kwargs: ``score_threshold``, ``expr``, ``filter``, ``param``.

        Returns:
            (document, relevance) pairs, closest first.

        Raises:
            InvalidFilter, TypeError: as :meth:`similarity_search`.
        """
        return await super().asimilarity_search_with_relevance_scores(query, k, **kwargs)

    # -------------------------------------------------------------------- MMR

    def max_marginal_relevance_search(
        self,
        query: str,
        k: int = 4,
        fetch_k: int = 20,
        lambda_mult: float = 0.5,
        param: dict[str, Any] | None = None,
        expr: str | None = None,
        timeout: float | None = None,
        **kwargs: Any,
    ) -> list[Document]:
        """``k`` documents close to the query and different from each other.

        Args:
            query: the text.
            k: how many to return.
            fetch_k: how many nearest candidates to choose from.
            lambda_mult: 1 ranks by closeness alone, 0 by diversity alone.
            param: Milvus-style search params.
            expr: a Milvus-style filter expression.
            timeout: accepted for compatibility.
            **kwargs: ``filter=``, ``score_threshold=``.

        Returns:
            Documents in the order MMR picked them.

        Raises:
            ValueError: ``lambda_mult`` is outside [0, 1].
            InvalidFilter, TypeError: as :meth:`similarity_search`.
        """
        vector = self.embedding_func.embed_query(query)
        return self.max_marginal_relevance_search_by_vector(
            vector, k, fetch_k, lambda_mult, param, expr, timeout, **kwargs
        )

    async def amax_marginal_relevance_search(
        self,
        query: str,
        k: int = 4,
        fetch_k: int = 20,
        lambda_mult: float = 0.5,
        param: dict[str, Any] | None = None,
        expr: str | None = None,
        timeout: float | None = None,
        **kwargs: Any,
    ) -> list[Document]:
        """Async :meth:`max_marginal_relevance_search`.

        Args:
            query: the text.
            k: how many to return.
            fetch_k: how many nearest candidates to choose from.
            lambda_mult: 1 ranks by closeness alone, 0 by diversity alone.
            param: Milvus-style search params.
            expr: a Milvus-style filter expression.
            timeout: accepted for compatibility.
            **kwargs: ``filter=``, ``score_threshold=``.

        Returns:
            Documents in the order MMR picked them.

        Raises:
            ValueError, InvalidFilter, TypeError: as :meth:`max_marginal_relevance_search`.
        """
        vector = await self._embedder.query(query)
        return await self.amax_marginal_relevance_search_by_vector(
            vector, k, fetch_k, lambda_mult, param, expr, timeout, **kwargs
        )

    def max_marginal_relevance_search_by_vector(
        self,
        embedding: list[float],
        k: int = 4,
        fetch_k: int = 20,
        lambda_mult: float = 0.5,
        param: dict[str, Any] | None = None,
        expr: str | None = None,
        timeout: float | None = None,
        **kwargs: Any,
    ) -> list[Document]:
        """MMR search around a vector.

        Args:
            embedding: the query vector.
            k: how many to return.
            fetch_k: how many nearest candidates to choose from.
            lambda_mult: 1 ranks by closeness alone, 0 by diversity alone.
            param: Milvus-style search params.
            expr: a Milvus-style filter expression.
            timeout: accepted for compatibility.
            **kwargs: ``filter=``, ``score_threshold=``.

        Returns:
            Documents in the order MMR picked them.

        Raises:
            ValueError, InvalidFilter, TypeError: as :meth:`max_marginal_relevance_search`.
        """
        method = "max_marginal_relevance_search_by_vector"
        flt, params, threshold = self._search_request(method, param, expr, kwargs)
        vector = _query_vector(embedding)
        points, layout = self._collection.query(
            vector, max(k, fetch_k), flt, params, threshold, with_vectors=True
        )
        return self._mmr(vector, points, layout, k, lambda_mult)

    async def amax_marginal_relevance_search_by_vector(
        self,
        embedding: list[float],
        k: int = 4,
        fetch_k: int = 20,
        lambda_mult: float = 0.5,
        param: dict[str, Any] | None = None,
        expr: str | None = None,
        timeout: float | None = None,
        **kwargs: Any,
    ) -> list[Document]:
        """Async :meth:`max_marginal_relevance_search_by_vector`.

        Args:
            embedding: the query vector.
            k: how many to return.
            fetch_k: how many nearest candidates to choose from.
            lambda_mult: 1 ranks by closeness alone, 0 by diversity alone.
            param: Milvus-style search params.
            expr: a Milvus-style filter expression.
            timeout: accepted for compatibility.
            **kwargs: ``filter=``, ``score_threshold=``.

        Returns:
            Documents in the order MMR picked them.

        Raises:
            ValueError, InvalidFilter, TypeError: as :meth:`max_marginal_relevance_search`.
        """
        method = "amax_marginal_relevance_search_by_vector"
        flt, params, threshold = self._search_request(method, param, expr, kwargs)
        vector = _query_vector(embedding)
        points, layout = await self._collection.aquery(
            vector, max(k, fetch_k), flt, params, threshold, with_vectors=True
        )
        return self._mmr(vector, points, layout, k, lambda_mult)

    # ------------------------------------------------------- class constructors

    @classmethod
    def from_texts(
        cls,
        texts: list[str],
        embedding: Embeddings | None = None,
        metadatas: list[dict[str, Any]] | None = None,
        collection_name: str = DEFAULT_COLLECTION,
        connection_args: dict[str, Any] | None = None,
        consistency_level: str = "Session",
        index_params: dict[str, Any] | None = None,
        search_params: dict[str, Any] | None = None,
        drop_old: bool = False,
        *,
        ids: list[str] | None = None,
        auto_id: bool = False,
        **kwargs: Any,
    ) -> Self:
        """Create a store and add texts to it (langchain-milvus's argument order).

        Args:
            texts: the texts.
            embedding: the embedding model (MiniLM if None).
            metadatas: one metadata dict per text.
            collection_name, connection_args, consistency_level, index_params,
                search_params, drop_old, auto_id: as the constructor.
            ids: one id per text.
            **kwargs: other constructor arguments.

        Returns:
            The store.

        Raises:
            InvalidConfig: bad constructor arguments.
            ValueError, InvalidPayload: as :meth:`add_texts`.
        """
        store = cls(
            embedding_function=embedding,
            collection_name=collection_name,
            connection_args=connection_args,
            consistency_level=consistency_level,
            index_params=index_params,
            search_params=search_params,
            drop_old=drop_old,
            auto_id=auto_id,
            **kwargs,
        )
        store.add_texts(texts, metadatas, ids=ids)
        return store

    @classmethod
    async def afrom_texts(
        cls,
        texts: list[str],
        embedding: Embeddings | None = None,
        metadatas: list[dict[str, Any]] | None = None,
        collection_name: str = DEFAULT_COLLECTION,
        connection_args: dict[str, Any] | None = None,
        consistency_level: str = "Session",
        index_params: dict[str, Any] | None = None,
        search_params: dict[str, Any] | None = None,
        drop_old: bool = False,
        *,
        ids: list[str] | None = None,
        auto_id: bool = False,
        **kwargs: Any,
    ) -> Self:
        """Async :meth:`from_texts`: nothing blocks the event loop.

        Args:
            texts: the texts.
            embedding: the embedding model (MiniLM if None).
            metadatas: one metadata dict per text.
            collection_name, connection_args, consistency_level, index_params,
                search_params, drop_old, auto_id: as the constructor.
            ids: one id per text.
            **kwargs: other constructor arguments.

        Returns:
            The store.

        Raises:
            InvalidConfig, ValueError, InvalidPayload: as :meth:`from_texts`.
        """
        # Opening an embedded folder reads it from disk: done on a worker thread so the
        # event loop never blocks; the drop and the writes are then awaited natively.
        store = await asyncio.to_thread(
            cls,
            embedding_function=embedding,
            collection_name=collection_name,
            connection_args=connection_args,
            consistency_level=consistency_level,
            index_params=index_params,
            search_params=search_params,
            drop_old=False,
            auto_id=auto_id,
            **kwargs,
        )
        if drop_old:
            await store.adrop()
        await store.aadd_texts(texts, metadatas, ids=ids)
        return store

    @classmethod
    def from_documents(
        cls, documents: list[Document], embedding: Embeddings | None = None, **kwargs: Any
    ) -> Self:
        """Create a store and add documents to it (ids from ``ids=`` or ``Document.id``).

        Args:
            documents: the documents.
            embedding: the embedding model (MiniLM if None).
            **kwargs: :meth:`from_texts` arguments.

        Returns:
            The store.

        Raises:
            InvalidConfig, ValueError, InvalidPayload: as :meth:`from_texts`.
        """
        if "ids" not in kwargs and any(d.id for d in documents):
            kwargs["ids"] = [d.id for d in documents]
        texts = [d.page_content for d in documents]
        metadatas = [d.metadata for d in documents]
        return cls.from_texts(texts, embedding, metadatas, **kwargs)

    @classmethod
    async def afrom_documents(
        cls, documents: list[Document], embedding: Embeddings | None = None, **kwargs: Any
    ) -> Self:
        """Async :meth:`from_documents`.

        Args:
            documents: the documents.
            embedding: the embedding model (MiniLM if None).
            **kwargs: :meth:`from_texts` arguments.

        Returns:
            The store.

        Raises:
            InvalidConfig, ValueError, InvalidPayload: as :meth:`from_texts`.
        """
        if "ids" not in kwargs and any(d.id for d in documents):
            kwargs["ids"] = [d.id for d in documents]
        texts = [d.page_content for d in documents]
        metadatas = [d.metadata for d in documents]
        return await cls.afrom_texts(texts, embedding, metadatas, **kwargs)


#: Short name, as ``Milvus`` / ``Qdrant`` are for their stores.
Shoal = ShoalVectorStore
