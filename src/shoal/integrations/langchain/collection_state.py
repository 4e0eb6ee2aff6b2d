"""What the store's two collection twins share: the collection's settings and cached layout.

The collection is created lazily, on the first write, because its vector size is the
length of the first embedding (as in langchain-milvus). Creation is race-free: within one
event loop a lock lets one coroutine create while the others wait; across threads and
loops, ``CollectionAlreadyExists`` from the loser counts as success. What the store learned
about the collection (``CollectionLayout``) is cached; when the collection disappears
underneath (dropped by another store or process) the cache is forgotten, reads return
nothing and writes re-create it once.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from shoal import models as m
from shoal.integrations.langchain.connection import Connection
from shoal.integrations.langchain.functions import SparseField
from shoal.integrations.langchain.layout import CollectionLayout

#: Points per scroll request when a read pages through all matches.
PAGE = 1000


@dataclass(frozen=True)
class QueryArgs:
    """One ``query_points`` call of a hybrid store's search (payloads always returned)."""

    query: Any
    limit: int
    using: str | None = None
    prefetch: list[m.Prefetch] | None = None
    filter: m.Filter | str | None = None
    params: m.SearchParams | None = None
    score_threshold: float | None = None

    def kwargs(self) -> dict[str, Any]:
        """The call's keyword arguments."""
        return {
            "query": self.query,
            "using": self.using,
            "prefetch": self.prefetch,
            "query_filter": self.filter,
            "search_params": self.params,
            "limit": self.limit,
            "with_payload": True,
            "score_threshold": self.score_threshold,
        }


class CollectionState:
    """One named collection, reached through a :class:`Connection`, and what is known of it.

    Shared by ``AsyncStoreCollection`` and ``StoreCollection``: what one learns (or forgets),
    the other knows.

    Args:
        connection: the clients.
        name: the collection name.
        vector_field: the vector name for a new collection ("" or None: unnamed).
        distance: the distance for a new collection.
        hnsw: HNSW settings for a new collection.
        sparse: the BM25 sparse vectors of a hybrid store.
        dense: whether the store has a dense vector.
    """

    def __init__(
        self,
        connection: Connection,
        name: str,
        vector_field: str | None,
        distance: m.Distance,
        hnsw: m.HnswConfigDiff | None,
        sparse: tuple[SparseField, ...] = (),
        dense: bool = True,
    ) -> None:
        self.connection = connection
        self.name = name
        self.vector_field = vector_field or None
        self.distance = distance
        self.hnsw = hnsw
        self.sparse = sparse
        self.dense = dense
        #: The cached layout (None if not learned yet, or forgotten).
        self.known_layout: CollectionLayout | None = None

    def forget(self) -> None:
        """Drop the cached layout (the collection was dropped or may have changed)."""
        self.known_layout = None

    def layout_of(self, info: m.CollectionInfo) -> CollectionLayout:
        """The layout of an existing collection, as this store uses it."""
        return CollectionLayout.from_info(info, self.vector_field, self.sparse, self.dense)

    def new_config(
        self, size: int
    ) -> tuple[m.VectorParams | dict[str, m.VectorParams], CollectionLayout]:
        """A new collection's vectors config for vectors of ``size``, and its layout."""
        params = m.VectorParams(size=size, distance=self.distance)
        layout = CollectionLayout(self.vector_field, self.distance, size, self.sparse, self.dense)
        if not self.dense:
            return {}, layout
        return (params if self.vector_field is None else {self.vector_field: params}), layout

    def sparse_config(self) -> dict[str, m.SparseVectorParams] | None:
        """A new collection's sparse vectors: BM25 fields, weighed by IDF."""
        if not self.sparse:
            return None
        return {f.name: m.SparseVectorParams(modifier=m.Modifier.IDF) for f in self.sparse}

    @staticmethod
    def batches(
        ids: Sequence[str],
        vectors: Sequence[list[float]],
        payloads: Sequence[m.Payload],
        layout: CollectionLayout,
        batch_size: int,
        texts: Sequence[str] = (),
    ) -> list[m.Batch]:
        """Columns of points, ``batch_size`` per batch (``texts`` feed the BM25 fields)."""
        step = max(1, batch_size)
        return [
            m.Batch(
                ids=list(ids[i : i + step]),
                vectors=layout.vectors_column(
                    list(vectors[i : i + step]), list(texts[i : i + step])
                ),
                payloads=list(payloads[i : i + step]),
            )
            for i in range(0, len(ids), step)
        ]

    @staticmethod
    def query_args(
        layout: CollectionLayout, with_vectors: bool
    ) -> tuple[str | None, m.WithVectorInterface]:
        """A query's ``using`` and ``with_vectors`` for ``layout``."""
        if not with_vectors:
            return layout.vector_name, False
        return layout.vector_name, True if layout.vector_name is None else [layout.vector_name]
