"""Reads without vector search: documents by id, by metadata filter, and their ids."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from langchain_core.documents import Document

from shoal.integrations.langchain.base import StoreBase
from shoal.integrations.langchain.filters import FilterArg, build_filter
from shoal.integrations.langchain.ids import point_id


class AsyncLookups(StoreBase):
    """Lookups of :class:`ShoalVectorStore`."""

    async def aget_by_ids(self, ids: Sequence[str], /) -> list[Document]:
        """Documents by id, in the order given; missing ids are skipped.

        Args:
            ids: document ids.

        Returns:
            The documents found.
        """
        records = await self._collection.aretrieve([point_id(str(i)) for i in ids])
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
        records = await self._collection.ascroll(flt, limit, True)
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
        records = await self._collection.ascroll(flt, None, [self._fields.primary])
        return [self._pk_of(r) for r in records]
