"""Vector search (plain, with scores, with relevance scores, MMR) and class constructors."""

from __future__ import annotations

from typing import Any

import numpy as np
from langchain_core.documents import Document
from langchain_core.embeddings import Embeddings
from typing_extensions import Self

from shoal.integrations.langchain.base import (
    DEFAULT_COLLECTION,
    Scored,
    StoreBase,
    Vector,
    anew_store,
    query_vector,
)
from shoal.integrations.langchain.layout import CollectionLayout


class AsyncSearch(StoreBase):
    """Searches and constructors of :class:`ShoalVectorStore`."""

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
        vector = query_vector(embedding)
        points, layout = await self._collection.aquery(vector, k, flt, params, threshold)
        return self._scored(points), layout

    async def asimilarity_search(
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
        # Straight to the search, not through asimilarity_search_with_score: on the async
        # side each layer is one more coroutine object per call for the collector to walk.
        vector = await self._embedder.query(query)
        pairs, _ = await self._asearch("asimilarity_search", vector, k, param, expr, kwargs)
        return [doc for doc, _ in pairs]

    async def asimilarity_search_by_vector(
        self,
        embedding: list[float] | np.ndarray,
        k: int = 4,
        param: dict[str, Any] | None = None,
        expr: str | None = None,
        timeout: float | None = None,
        **kwargs: Any,
    ) -> list[Document]:
        """The ``k`` documents closest to a vector.

        Args:
            embedding: the query vector (a list, or a numpy array).
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
        pairs, _ = await self._asearch(
            "asimilarity_search_by_vector", embedding, k, param, expr, kwargs
        )
        return [doc for doc, _ in pairs]

    async def asimilarity_search_with_score(
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
        vector = await self._embedder.query(query)
        return await self.asimilarity_search_with_score_by_vector(
            vector, k, param, expr, timeout, **kwargs
        )

    async def asimilarity_search_with_score_by_vector(
        self,
        embedding: list[float] | np.ndarray,
        k: int = 4,
        param: dict[str, Any] | None = None,
        expr: str | None = None,
        timeout: float | None = None,
        **kwargs: Any,
    ) -> Scored:
        """The ``k`` closest documents to a vector, with their raw scores.

        Args:
            embedding: the query vector (a list, or a numpy array).
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

    async def _asimilarity_search_with_relevance_scores(
        self, query: str, k: int = 4, **kwargs: Any
    ) -> Scored:
        param, expr = kwargs.pop("param", None), kwargs.pop("expr", None)
        vector = await self._embedder.query(query)
        method = "asimilarity_search_with_relevance_scores"
        pairs, layout = await self._asearch(method, vector, k, param, expr, kwargs)
        fn = self._relevance(layout)
        return [(doc, fn(score)) for doc, score in pairs]

    async def asimilarity_search_with_relevance_scores(
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
        return await super().asimilarity_search_with_relevance_scores(query, k, **kwargs)

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
        vector = await self._embedder.query(query)
        return await self.amax_marginal_relevance_search_by_vector(
            vector, k, fetch_k, lambda_mult, param, expr, timeout, **kwargs
        )

    async def amax_marginal_relevance_search_by_vector(
        self,
        embedding: list[float] | np.ndarray,
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
            embedding: the query vector (a list, or a numpy array).
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
        vector = query_vector(embedding)
        points, layout = await self._collection.aquery(
            vector, max(k, fetch_k), flt, params, threshold, with_vectors=True
        )
        return self._mmr(vector, points, layout, k, lambda_mult)

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
        store = await anew_store(
            cls,
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
        await store.aadd_texts(texts, metadatas, ids=ids)
        return store

    @classmethod
    async def afrom_documents(
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
        return await cls.afrom_texts(texts, embedding, metadatas, **kwargs)
