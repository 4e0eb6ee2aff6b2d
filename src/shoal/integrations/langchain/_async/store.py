"""The store's I/O methods, written once: writes, lookups, searches, constructors, lifecycle.

Each goes through the store's async collection (``AsyncStoreCollection``) and embedder
(``AsyncEmbedder``).
"""

from __future__ import annotations

import functools
from collections.abc import Iterable, Sequence
from typing import Any, TypeVar

import numpy as np
from langchain_core.documents import Document
from langchain_core.embeddings import Embeddings
from typing_extensions import Self

from shoal import models as m
from shoal.concurrency import run_in_thread
from shoal.integrations.langchain.base import (
    DEFAULT_BATCH_SIZE,
    DEFAULT_COLLECTION,
    Scored,
    StoreBase,
    Vector,
    as_vectors,
    check_write_kwargs,
    query_vector,
)
from shoal.integrations.langchain.filters import FilterArg, build_filter
from shoal.integrations.langchain.ids import point_id
from shoal.integrations.langchain.layout import CollectionLayout

_S = TypeVar("_S", bound=StoreBase)


async def anew_store(cls: type[_S], **kwargs: Any) -> _S:
    """``cls(**kwargs)``, as ``from_texts`` makes a store.

    Opening an embedded folder reads it from disk, and ``drop_old`` deletes a collection.
    """
    if True:  # ASYNC
        return await run_in_thread(functools.partial(cls, **kwargs))  # not on the event loop
    else:
        return cls(**kwargs)


class AsyncStoreIO(StoreBase):
    """The I/O methods of :class:`ShoalVectorStore`."""

    # ----------------------------------------------------------------- lifecycle

    async def aclose(self) -> None:
        """Release the clients, and an embedded folder once no store uses it (closing its
        ``Database`` flushes and syncs it to disk). Idempotent."""
        if True:  # ASYNC
            # The running loop's server connections first; the release then runs on a
            # worker thread, as closing a Database syncs to disk.
            await self._connection.aclose()
            await run_in_thread(self._connection.close)
        else:
            self._connection.close()

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    async def adrop(self) -> None:
        """Delete the collection and everything in it (it is re-created by the next write)."""
        await self._acollection.drop()

    # -------------------------------------------------------------------- writes

    async def aadd_texts(
        self,
        texts: Iterable[str],
        metadatas: list[dict[str, Any]] | None = None,
        timeout: float | None = None,
        batch_size: int = DEFAULT_BATCH_SIZE,
        *,
        ids: list[str] | None = None,
        **kwargs: Any,
    ) -> list[str]:
        """Embed texts and store them (insert, or replace documents with the same id).

        Args:
            texts: the texts.
            metadatas: one metadata dict per text.
            timeout: accepted for compatibility.
            batch_size: points per write request.
            ids: one id per text; missing ones become new UUID strings.

        Returns:
            The document ids, in order.

        Raises:
            ValueError: ``metadatas`` or ``ids`` has the wrong length.
            InvalidPayload: a metadata key is reserved, or a value is not JSON.
            WrongVectorSize: the embedding's length differs from the collection's.
        """
        check_write_kwargs("aadd_texts", kwargs)
        text_list, doc_ids, payloads = self._prepare(texts, metadatas, ids)
        if not text_list:
            return []
        vecs = await self._aembed_documents(text_list)
        return await self._awrite(doc_ids, vecs, payloads, batch_size, text_list)

    async def aadd_documents(self, documents: list[Document], **kwargs: Any) -> list[str]:
        """Embed documents and store them; ids from ``ids=``, else ``Document.id``.

        Args:
            documents: the documents (not modified).
            **kwargs: ``ids``, ``batch_size``, ``timeout``.

        Returns:
            The document ids, in order.

        Raises:
            ValueError, InvalidPayload, WrongVectorSize: as :meth:`add_texts`.
        """
        ids = kwargs.pop("ids", None)
        batch_size = kwargs.pop("batch_size", DEFAULT_BATCH_SIZE)
        check_write_kwargs("aadd_documents", kwargs)
        texts = [d.page_content for d in documents]
        _, doc_ids, payloads = self._prepare(texts, [d.metadata for d in documents], ids, documents)
        if not texts:
            return []
        vecs = await self._aembed_documents(texts)
        return await self._awrite(doc_ids, vecs, payloads, batch_size, texts)

    async def aadd_embeddings(
        self,
        texts: list[str],
        embeddings: Sequence[Vector],
        metadatas: list[dict[str, Any]] | None = None,
        timeout: float | None = None,
        batch_size: int = DEFAULT_BATCH_SIZE,
        *,
        ids: list[str] | None = None,
        **kwargs: Any,
    ) -> list[str]:
        """Store texts with vectors computed elsewhere.

        Args:
            texts: the texts.
            embeddings: one vector per text.
            metadatas: one metadata dict per text.
            timeout: accepted for compatibility.
            batch_size: points per write request.
            ids: one id per text; missing ones become new UUID strings.

        Returns:
            The document ids, in order.

        Raises:
            ValueError: a list has the wrong length.
            InvalidPayload, WrongVectorSize: as :meth:`add_texts`.
        """
        check_write_kwargs("aadd_embeddings", kwargs)
        text_list, doc_ids, payloads = self._prepare(texts, metadatas, ids)
        if not text_list:
            return []
        vecs = as_vectors(embeddings, len(text_list))
        return await self._awrite(doc_ids, vecs, payloads, batch_size, text_list)

    async def _aembed_documents(self, texts: list[str]) -> list[list[float]]:
        """The texts' dense vectors (none in a store with BM25 fields only)."""
        if self._hybrid is not None and self._hybrid.dense is None:
            return []
        return as_vectors(await self._aembedder.documents(texts), len(texts))

    async def _awrite(
        self,
        doc_ids: list[str],
        vectors: list[list[float]],
        payloads: list[m.Payload],
        size: int,
        texts: list[str],
    ) -> list[str]:
        ids = [point_id(i) for i in doc_ids]
        await self._acollection.upsert(ids, vectors, payloads, size, texts)
        return doc_ids

    async def aupsert(
        self,
        ids: list[str] | list[Document] | None = None,
        documents: list[Document] | None = None,
        batch_size: int = DEFAULT_BATCH_SIZE,
        timeout: float | None = None,
        **kwargs: Any,
    ) -> list[str]:
        """Insert documents or replace those with the same ids (langchain-milvus's upsert).

        Args:
            ids: the ids (else ``Document.id``, else new ones). A list of documents given
                here, LangChain's older ``upsert(documents)`` call, is taken as ``documents``.
            documents: the documents.
            batch_size: points per write request.
            timeout: accepted for compatibility.

        Returns:
            The document ids.

        Raises:
            ValueError, InvalidPayload, WrongVectorSize: as :meth:`add_documents`.
        """
        if ids and documents is None and isinstance(ids[0], Document):
            documents, ids = [d for d in ids if isinstance(d, Document)], None
        if not documents:
            return []
        str_ids = [str(i) for i in ids] if ids else None
        return await self.aadd_documents(documents, ids=str_ids, batch_size=batch_size, **kwargs)

    async def adelete(
        self, ids: list[str] | None = None, expr: str | None = None, **kwargs: Any
    ) -> bool | None:
        """Delete documents by id, or those matching an expression or filter.

        Missing ids, and a collection that does not exist yet, are not errors.

        Args:
            ids: document ids; when given, ``expr`` / ``filter`` are ignored (as Milvus).
            expr: a Milvus-style expression, e.g. ``"id == 'doc_1'"`` (``id`` being a
                metadata key) or ``"pk in ['a', 'b']"`` (the document ids).
            **kwargs: ``filter=`` (a dict of equalities, a ``Filter`` or an expression).

        Returns:
            True.

        Raises:
            BadRequest: neither ids nor a filter is given.
            InvalidFilter: the expression or filter is malformed.
        """
        selector = self._delete_selector(ids, expr, kwargs)
        if selector is not None:
            await self._acollection.delete(selector)
        return True

    # ------------------------------------------------------------------- lookups

    async def aget_by_ids(self, ids: Sequence[str], /) -> list[Document]:
        """Documents by id, in the order given; missing ids are skipped.

        Args:
            ids: document ids.

        Returns:
            The documents found.
        """
        records = await self._acollection.retrieve([point_id(str(i)) for i in ids])
        return [self._fields.document(r.payload, r.id) for r in records]

    async def asearch_by_metadata(
        self, expr: FilterArg | None, fields: list[str] | None = None, limit: int | None = 10
    ) -> list[Document]:
        """Documents whose metadata match a filter, without vector search.

        Args:
            expr: a Milvus-style expression (``"city == 'Seoul'"``), a dict of
                equalities or a ``Filter``; None or "" matches every document.
            fields: metadata keys to return (all by default).
            limit: at most this many documents (None: all), in id order.

        Returns:
            The documents.

        Raises:
            InvalidFilter: a malformed filter.
        """
        flt = build_filter(None, expr or None, self._fields.metadata)
        records = await self._acollection.scroll(flt, limit, True)
        return [self._fields.document(r.payload, r.id, fields) for r in records]

    async def aget_pks(self, expr: FilterArg, **kwargs: Any) -> list[str]:
        """Ids of every document matching a filter (langchain-milvus's ``get_pks``).

        Args:
            expr: a Milvus-style expression, a dict of equalities or a ``Filter``.
            **kwargs: accepted for compatibility (``timeout``).

        Returns:
            Document id strings, in point id order; ``[]`` if there is no collection.

        Raises:
            InvalidFilter: a malformed filter.
        """
        flt = build_filter(None, expr or None, self._fields.metadata)
        records = await self._acollection.scroll(flt, None, [self._fields.primary])
        return [self._pk_of(r) for r in records]

    # ------------------------------------------------------------------ searches

    async def _asearch(
        self,
        method: str,
        embedding: Vector,
        k: int,
        param: Any,
        expr: str | None,
        kw: dict[str, Any],
    ) -> tuple[Scored, CollectionLayout | None]:
        self._dense_only(method)
        flt, params, threshold = self._search_request(method, param, expr, kw)
        vector = query_vector(embedding)
        points, layout = await self._acollection.query(vector, k, flt, params, threshold)
        return self._scored(points), layout

    async def _ahybrid_search(
        self, method: str, query: str, k: int, param: Any, expr: str | None, kw: dict[str, Any]
    ) -> Scored:
        """A search of every field of a hybrid store, ranked (``shoal.integrations.
        langchain.rankers``): one fused query, or one per field for the weighted ranker."""
        hybrid, ranker, fetch, (flt, params, threshold) = self._hybrid_request(
            method, k, param, expr, kw
        )
        vector = await self._aembedder.query(query) if hybrid.dense else None
        requests = hybrid.requests(ranker, vector, query, k, fetch, flt, params, threshold)
        results, layout = await self._acollection.queries(requests)
        return self._scored(hybrid.combine(ranker, results, layout, k, threshold))

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
        if self._hybrid is not None:
            method = "asimilarity_search"
            pairs = await self._ahybrid_search(method, query, k, param, expr, kwargs)
            return [doc for doc, _ in pairs]
        # Straight to the search, not through asimilarity_search_with_score: searches are
        # the hot path, and each layer costs every call one more object to make and collect.
        vector = await self._aembedder.query(query)
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
        if self._hybrid is not None:
            method = "asimilarity_search_with_score"
            return await self._ahybrid_search(method, query, k, param, expr, kwargs)
        vector = await self._aembedder.query(query)
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
        method = "asimilarity_search_with_relevance_scores"
        if self._hybrid is not None:
            hybrid_fn = self._hybrid_relevance()
            scored = await self._ahybrid_search(method, query, k, param, expr, kwargs)
            return [(doc, hybrid_fn(score)) for doc, score in scored]
        vector = await self._aembedder.query(query)
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
            NotSupported: a hybrid store without a dense field.
        """
        self._dense_only("amax_marginal_relevance_search")
        vector = await self._aembedder.query(query)
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
        if self._hybrid is not None:
            # The engine's MMR over the dense field: one coalesced query, no vectors sent.
            request = self._search_request(method, self._hybrid.dense_param(param), expr, kwargs)
            mmr = self._hybrid.mmr(embedding, k, fetch_k, lambda_mult, *request)
            (points,), _ = await self._acollection.queries([mmr])
            return [doc for doc, _ in self._scored(points)]
        flt, params, threshold = self._search_request(method, param, expr, kwargs)
        vector = query_vector(embedding)
        points, layout = await self._acollection.query(
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
