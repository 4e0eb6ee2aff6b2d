"""The store's writes: add, upsert and delete."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from langchain_core.documents import Document

from shoal import models as m
from shoal.integrations.langchain.base import (
    DEFAULT_BATCH_SIZE,
    StoreBase,
    Vector,
    as_vectors,
    check_write_kwargs,
)
from shoal.integrations.langchain.ids import point_id


class AsyncWrites(StoreBase):
    """Writes of :class:`ShoalVectorStore`."""

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
        vectors = await self._embedder.documents(text_list)
        vecs = as_vectors(vectors, len(text_list))
        return await self._awrite(doc_ids, vecs, payloads, batch_size)

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
        vectors = await self._embedder.documents(texts)
        return await self._awrite(doc_ids, as_vectors(vectors, len(texts)), payloads, batch_size)

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
        vecs = as_vectors(embeddings, len(text_list))
        return await self._awrite(doc_ids, vecs, payloads, batch_size) if text_list else []

    async def _awrite(
        self, doc_ids: list[str], vectors: list[list[float]], payloads: list[m.Payload], size: int
    ) -> list[str]:
        await self._collection.aupsert([point_id(i) for i in doc_ids], vectors, payloads, size)
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
            await self._collection.adelete(selector)
        return True
