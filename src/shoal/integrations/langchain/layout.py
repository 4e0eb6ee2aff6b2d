"""How a LangChain document is laid out in a Shoal point, and read back.

A document becomes one point:

- point id: derived from the document id (see ``ids``);
- vector: the named vector ``vector_field`` ("vector"), or the unnamed vector of a
  collection created elsewhere with one;
- payload: ``{text_field: page_content, primary_field: document id, **metadata}``, so a
  metadata key is a top-level payload key and ``expr="category == 'a'"`` or
  ``filter={"category": "a"}`` filter on it, as with langchain-milvus's dynamic fields.
  With ``metadata_field="meta"`` the metadata is nested instead:
  ``{..., "meta": {...}}`` (filter with ``meta["category"]`` / the dict form).

``text_field`` and ``primary_field`` are reserved: a metadata key with either name would be
silently overwritten, so it is rejected with ``InvalidPayload``.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, cast

from langchain_core.documents import Document

from shoal import models as m
from shoal.errors import InvalidConfig, InvalidPayload
from shoal.integrations.langchain.functions import SparseField


@dataclass(frozen=True)
class Fields:
    """Payload key names of the store (langchain-milvus's field arguments).

    Attributes:
        primary: key holding the document id string (Milvus's primary key field name).
        text: key holding ``page_content``.
        metadata: key under which metadata is nested, or None for top-level keys.
    """

    primary: str = "pk"
    text: str = "text"
    metadata: str | None = None

    def __post_init__(self) -> None:
        names = [self.primary, self.text] + ([self.metadata] if self.metadata else [])
        if any(not isinstance(n, str) or not n for n in names):
            raise InvalidConfig(f"field names must be non-empty strings, got {names}")
        if len(set(names)) != len(names):
            raise InvalidConfig(
                f"primary_field, text_field and metadata_field must differ, got {names}"
            )

    @functools.cached_property
    def reserved(self) -> frozenset[str]:
        """Payload keys the store writes itself."""
        return frozenset({self.primary, self.text} | ({self.metadata} if self.metadata else set()))

    def payload(self, text: str, metadata: Mapping[str, Any] | None, doc_id: str) -> m.Payload:
        """The payload of one document.

        Args:
            text: the page content.
            metadata: the document's metadata (not modified).
            doc_id: the document id string.

        Returns:
            A new dict.

        Raises:
            InvalidPayload: metadata is not a mapping, has a non-string key, or uses a
                reserved key (the message names it).
        """
        if not isinstance(text, str):
            raise InvalidPayload(f"document text must be a str, got {type(text).__name__}")
        meta = {} if metadata is None else metadata
        if not isinstance(meta, Mapping):
            raise InvalidPayload(
                f"document metadata must be a dict, got {type(meta).__name__} (id {doc_id!r})"
            )
        if self.metadata is not None:
            return {self.text: text, self.primary: doc_id, self.metadata: dict(meta)}
        for key in meta:
            if not isinstance(key, str):
                raise InvalidPayload(f"metadata key {key!r} of document {doc_id!r} is not a str")
            if key in self.reserved:
                role = "text_field" if key == self.text else "primary_field"
                raise InvalidPayload(
                    f"metadata key {key!r} of document {doc_id!r} is reserved: the store keeps "
                    f"the document's {'text' if role == 'text_field' else 'id'} under it. "
                    f"Rename the key, or create the store with another {role}= "
                    "(or with metadata_field= to nest metadata)"
                )
        return {**meta, self.text: text, self.primary: doc_id}

    def metadata_of(self, payload: Mapping[str, Any]) -> dict[str, Any]:
        """The metadata stored in a payload, reserved keys left out."""
        if self.metadata is not None:
            nested = payload.get(self.metadata)
            return dict(nested) if isinstance(nested, Mapping) else {}
        reserved = self.reserved
        return {k: v for k, v in payload.items() if k not in reserved}

    def document(
        self,
        payload: Mapping[str, Any] | None,
        point_id: m.ExtendedPointId,
        only: Sequence[str] | None = None,
    ) -> Document:
        """The LangChain document stored in a point.

        Args:
            payload: the point's payload.
            point_id: the point's id, used as the document id when the payload has none
                (points written by other clients).
            only: keep only these metadata keys.

        Returns:
            The document, ``id`` set to the original id string.
        """
        payload = payload or {}
        doc_id = payload.get(self.primary)
        text = payload.get(self.text)
        metadata = self.metadata_of(payload)
        if only is not None:
            wanted = set(only)
            metadata = {k: v for k, v in metadata.items() if k in wanted}
        return new_document(
            text if isinstance(text, str) else "" if text is None else str(text),
            metadata,
            str(doc_id) if doc_id is not None else str(point_id),
        )


# The fields ``new_document`` fills: those of the langchain-core versions Shoal supports.
_DOCUMENT_FIELDS = frozenset({"id", "metadata", "page_content", "type"})
_FAST_DOCUMENT = (
    set(Document.model_fields) == _DOCUMENT_FIELDS
    and Document.model_config.get("extra") in (None, "ignore")
    and not Document.__private_attributes__
)


def new_document(page_content: str, metadata: dict[str, Any], doc_id: str) -> Document:
    """``Document(page_content=..., metadata=..., id=...)`` for values known to be valid.

    Search results build one Document per hit, and its validation (2.3 µs) was the largest
    single cost of an async search on the event loop; this sets the fields directly, as
    pydantic's ``model_construct`` would. If a langchain-core release changes
    Document's fields, the ordinary constructor is used instead;
    ``tests/integrations/test_langchain_store.py`` checks both give equal documents.
    """
    if not _FAST_DOCUMENT:
        return Document(page_content=page_content, metadata=metadata, id=doc_id)
    values = {"id": doc_id, "metadata": metadata, "page_content": page_content, "type": "Document"}
    return m.assembled(Document, values, {"id", "metadata", "page_content"})


@dataclass(frozen=True)
class CollectionLayout:
    """Facts about the collection a store reads and writes, learned once.

    Attributes:
        vector_name: the named vector to use, or None for the unnamed vector.
        distance: the collection's distance (decides how raw scores become relevance).
        size: vector dimension.
        sparse: the BM25 sparse vectors of a hybrid store (``builtin_function``).
        dense: whether the store has a dense vector (False: BM25 fields only).
    """

    vector_name: str | None
    distance: m.Distance
    size: int
    sparse: tuple[SparseField, ...] = ()
    dense: bool = True

    @classmethod
    def from_info(
        cls,
        info: m.CollectionInfo,
        vector_field: str | None,
        sparse: tuple[SparseField, ...] = (),
        dense: bool = True,
    ) -> CollectionLayout:
        """Learn the layout of an existing collection.

        Args:
            info: ``get_collection``'s answer.
            vector_field: the vector name the store was configured with.
            sparse: the store's BM25 fields, which the collection must have.
            dense: whether the store has a dense field.

        Returns:
            The layout: the collection's unnamed vector if it has one, else the named
            vector ``vector_field``, else its only named vector.

        Raises:
            InvalidConfig: the collection has several named vectors and none is
                ``vector_field``, or lacks one of the sparse vectors.
        """
        known = set(info.config.params.sparse_vectors or {})
        missing = [f.name for f in sparse if f.name not in known]
        if missing:
            raise InvalidConfig(
                f"collection has no sparse vectors {missing} for the BM25 functions "
                f"(it has {sorted(known)}); drop_old=True re-creates it"
            )
        if not dense:
            return cls(None, m.Distance.COSINE, 0, sparse, dense=False)
        layout = cls._dense_of(info, vector_field)
        return cls(layout.vector_name, layout.distance, layout.size, sparse)

    @classmethod
    def _dense_of(cls, info: m.CollectionInfo, vector_field: str | None) -> CollectionLayout:
        vectors = info.config.params.vectors
        if isinstance(vectors, m.VectorParams):
            return cls(None, vectors.distance, vectors.size)
        named = dict(vectors or {})
        if vector_field and vector_field in named:
            params = named[vector_field]
            return cls(vector_field, params.distance, params.size)
        if len(named) == 1:
            ((name, params),) = named.items()
            return cls(name, params.distance, params.size)
        raise InvalidConfig(
            f"collection has vectors {sorted(named)} and none is vector_field={vector_field!r}; "
            "pass the one to use as vector_field="
        )

    def vectors_column(
        self, vectors: list[list[float]], texts: list[str] | None = None
    ) -> m.BatchVectorStruct:
        """The ``Batch.vectors`` value for these vectors (and, in a hybrid store, the
        texts' BM25 documents)."""
        if self.vector_name is None and not self.sparse:
            return vectors
        columns: dict[str, list[m.NamedVector]] = {}
        if self.dense:
            columns[self.vector_name or ""] = list(vectors)
        for field in self.sparse:
            columns[field.name] = [field.document(t) for t in texts or []]
        return columns

    def vector_of(self, stored: m.VectorStruct | None) -> list[float]:
        """A point's vector from a record fetched with vectors.

        Raises:
            InvalidConfig: the record carries no vector of this layout.
        """
        vec = stored.get(self.vector_name or "") if isinstance(stored, dict) else stored
        if vec is None or not isinstance(vec, list) or (vec and isinstance(vec[0], list)):
            # (a multivector is no vector of a LangChain layout)
            raise InvalidConfig(f"point has no vector {self.vector_name or '(unnamed)'!r}")
        return [float(x) for x in cast(list[float], vec)]
