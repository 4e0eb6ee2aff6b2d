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

from shoal import models as m
from shoal.integrations.langchain.connection import Connection
from shoal.integrations.langchain.layout import CollectionLayout

#: Points per scroll request when a read pages through all matches.
PAGE = 1000


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
    """

    def __init__(
        self,
        connection: Connection,
        name: str,
        vector_field: str | None,
        distance: m.Distance,
        hnsw: m.HnswConfigDiff | None,
    ) -> None:
        self.connection = connection
        self.name = name
        self.vector_field = vector_field or None
        self.distance = distance
        self.hnsw = hnsw
        #: The cached layout (None if not learned yet, or forgotten).
        self.known_layout: CollectionLayout | None = None

    def forget(self) -> None:
        """Drop the cached layout (the collection was dropped or may have changed)."""
        self.known_layout = None

    def new_config(
        self, size: int
    ) -> tuple[m.VectorParams | dict[str, m.VectorParams], CollectionLayout]:
        """A new collection's vectors config for vectors of ``size``, and its layout."""
        params = m.VectorParams(size=size, distance=self.distance)
        layout = CollectionLayout(self.vector_field, self.distance, size)
        return (params if self.vector_field is None else {self.vector_field: params}), layout

    @staticmethod
    def batches(
        ids: Sequence[str],
        vectors: Sequence[list[float]],
        payloads: Sequence[m.Payload],
        layout: CollectionLayout,
        batch_size: int,
    ) -> list[m.Batch]:
        """Columns of points, ``batch_size`` per batch."""
        step = max(1, batch_size)
        return [
            m.Batch(
                ids=list(ids[i : i + step]),
                vectors=layout.vectors_column(list(vectors[i : i + step])),
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
