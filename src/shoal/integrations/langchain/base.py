"""The store's constructor and plumbing: arguments, clients, collection, shared helpers.

``ShoalVectorStore`` (``store.py``) is this base plus the I/O methods (writes, lookups,
searches, lifecycle): ``AsyncStoreIO``, written once as async code in ``_async/store.py``,
and ``StoreIO``, the sync twin ``tools/gen_sync.py`` generates from it into ``_sync``. Each
half reaches the collection through its own twin (``AsyncStoreCollection`` /
``StoreCollection``), and embeds through its own embedder (``AsyncEmbedder`` / ``Embedder``).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any

import numpy as np
from langchain_core.documents import Document
from langchain_core.embeddings import Embeddings
from langchain_core.vectorstores import VectorStore

from shoal import models as m
from shoal.client import AsyncClient, Client
from shoal.errors import BadRequest, InvalidConfig, NotSupported
from shoal.integrations.langchain._async.collection import AsyncStoreCollection
from shoal.integrations.langchain._sync.collection import StoreCollection
from shoal.integrations.langchain.coalesce import AsyncEmbedder, Embedder
from shoal.integrations.langchain.collection_state import CollectionState
from shoal.integrations.langchain.connection import Connection, parse_connection_args
from shoal.integrations.langchain.embeddings import MiniLMEmbeddings
from shoal.integrations.langchain.filters import build_filter
from shoal.integrations.langchain.functions import sparse_fields
from shoal.integrations.langchain.hybrid import HybridFields, hybrid_fields
from shoal.integrations.langchain.ids import point_id, resolve_ids
from shoal.integrations.langchain.layout import CollectionLayout, Fields
from shoal.integrations.langchain.params import check_search_kwargs, hnsw_config
from shoal.integrations.langchain.params import search_params as search_params_of
from shoal.integrations.langchain.rankers import Ranker, pop_ranker, refuse_ranker
from shoal.integrations.langchain.scores import (
    maximal_marginal_relevance,
    relevance_fn,
    resolve_distance,
)

logger = logging.getLogger(__name__)

DEFAULT_COLLECTION = "LangChainCollection"
DEFAULT_BATCH_SIZE = 1000

# langchain-milvus constructor arguments about Milvus's schema, partitions and replicas.
# Shoal payloads are schemaless and a collection is one shard, so they are accepted (so
# that existing code runs) and have no effect.
_MILVUS_ONLY_OPTIONS = frozenset(
    {
        "partition_key_field",
        "partition_names",
        "num_partitions",
        "replica_number",
        "num_shards",
        "metadata_schema",
        "vector_schema",
    }
)
# Keyword arguments of writes and deletes that only Milvus uses.
_MILVUS_WRITE_KWARGS = frozenset({"partition_name", "timeout"})

Vector = Sequence[float] | np.ndarray
Scored = list[tuple[Document, float]]
#: A search's filter, search params and score threshold.
SearchRequest = tuple[m.Filter | str | None, m.SearchParams | None, float | None]


def query_vector(embedding: Vector) -> list[float] | np.ndarray:
    """A query vector as the client takes it: a list or a numpy array as it is (the client
    validates the numbers), any other sequence as a list."""
    if isinstance(embedding, (list, np.ndarray)):
        return embedding
    return list(embedding)


def as_vectors(embeddings: Sequence[Vector], count: int) -> list[list[float]]:
    """Vectors as lists of plain floats, one per text.

    Raises:
        ValueError: not exactly ``count`` vectors.
    """
    if len(embeddings) != count:
        raise ValueError(f"got {len(embeddings)} embeddings for {count} texts")
    # Plain floats: embedding models often return numpy scalars or arrays.
    return [
        vec.tolist() if isinstance(vec, np.ndarray) else list(map(float, vec)) for vec in embeddings
    ]


def check_write_kwargs(method: str, kwargs: Mapping[str, Any]) -> None:
    """Reject unknown keyword arguments of a write, so a typo is not silently ignored.

    Raises:
        TypeError: naming them.
    """
    unknown = sorted(set(kwargs) - _MILVUS_WRITE_KWARGS)
    if unknown:
        raise TypeError(f"{method}() got unexpected keyword arguments {unknown}")


def _one_field(vector_field: str | list[str]) -> str | None:
    """A store's single vector field (a list of one name is that name)."""
    if isinstance(vector_field, str):
        return vector_field
    return vector_field[0] if vector_field else None


class StoreBase(VectorStore):
    """Construction and shared helpers of :class:`ShoalVectorStore`.

    Args:
        embedding_function: the LangChain ``Embeddings`` (langchain-milvus's name).
        collection_name: the collection ("LangChainCollection" as in langchain-milvus).
        collection_description: accepted for compatibility; not stored.
        collection_properties: accepted for compatibility; not stored.
        connection_args: ``{"uri": ...}``: ``":memory:"`` (the default), a local folder
            path (embedded and durable), or an ``http(s)://`` server URL, plus optional
            ``token`` / ``api_key`` and ``timeout``.
        consistency_level: accepted and ignored: reads always see acknowledged writes.
        index_params: Milvus-style; ``metric_type`` ("COSINE", "IP", "L2") picks the
            distance of a new collection, ``params`` ``M`` / ``efConstruction`` the HNSW
            graph, ``index_type="FLAT"`` exact search only.
        search_params: Milvus-style default search parameters (``{"params": {"ef": 64}}``).
        drop_old: delete the collection first, if it exists.
        auto_id: accepted for compatibility: documents without an id always get a new
            UUID string, and ids that are given are always kept.
        embedding: LangChain's usual name for ``embedding_function``; give one of them.
            With neither, the offline MiniLM model (:class:`MiniLMEmbeddings`) is used.
        primary_field: payload key that keeps the document id ("pk"), so
            ``expr="pk == 'doc-1'"`` works as in Milvus. Reserved.
        text_field: payload key of the page content ("text"). Reserved.
        vector_field: name of the vector in a new collection ("vector"); "" for Qdrant's
            unnamed vector. An existing collection's own vector is used. With
            ``builtin_function``, a list: the embedding's field and the functions'
            outputs (``["dense", "sparse"]``), as in langchain-milvus.
        metadata_field: nest metadata under this payload key instead of top-level keys.
            Ignored when ``enable_dynamic_field`` is true, as in langchain-milvus.
        enable_dynamic_field: accepted; Shoal payloads are always dynamic.
        distance: distance of a new collection: ``"Cosine"`` (default), ``"Dot"``,
            ``"Euclid"``, ``"Manhattan"``, or a Milvus metric name.
        relevance_score_fn: maps raw scores to relevance in [0, 1], replacing the default
            mapping of the collection's distance.
        timeout: accepted for compatibility (use ``connection_args["timeout"]``).
        builtin_function: a ``BM25BuiltInFunction`` (langchain-milvus's, or Shoal's
            :class:`~shoal.integrations.langchain.functions.BM25BuiltInFunction`) or a
            list of them: each adds a BM25 sparse field embedded by Shoal from the text,
            and searches become hybrid (see :mod:`shoal.integrations.langchain.rankers`).
        **milvus_options: langchain-milvus's ``partition_key_field``, ``partition_names``,
            ``num_partitions``, ``replica_number``, ``num_shards``, ``metadata_schema``,
            ``vector_schema``: accepted, no effect.

    Raises:
        InvalidConfig: conflicting or unknown arguments.
        NotSupported: several embeddings, or a built-in function or analyzer Shoal does
            not run (named).
        StorageLocked: the folder is open in another process (use ``shoal serve``).
    """

    def __init__(
        self,
        embedding_function: Embeddings | list[Embeddings] | None = None,
        collection_name: str = DEFAULT_COLLECTION,
        collection_description: str = "",
        collection_properties: Mapping[str, Any] | None = None,
        connection_args: Mapping[str, Any] | None = None,
        consistency_level: str = "Session",
        index_params: Mapping[str, Any] | None = None,
        search_params: Mapping[str, Any] | None = None,
        drop_old: bool | None = False,
        auto_id: bool = False,
        *,
        embedding: Embeddings | None = None,
        primary_field: str = "pk",
        text_field: str = "text",
        vector_field: str | list[str] = "vector",
        metadata_field: str | None = None,
        enable_dynamic_field: bool = False,
        distance: m.Distance | str | None = None,
        relevance_score_fn: Callable[[float], float] | None = None,
        timeout: float | None = None,
        builtin_function: Any = None,
        **milvus_options: Any,
    ) -> None:
        unknown = sorted(set(milvus_options) - _MILVUS_ONLY_OPTIONS)
        if unknown:
            raise InvalidConfig(f"unknown ShoalVectorStore arguments {unknown}")
        if isinstance(embedding_function, list):
            if len(embedding_function) != 1:
                raise NotSupported("several embedding functions are not supported: give one")
            embedding_function = embedding_function[0]
        if (
            embedding is not None
            and embedding_function is not None
            and embedding is not embedding_function
        ):
            raise InvalidConfig("give embedding= or embedding_function=, not both")
        chosen = embedding_function if embedding_function is not None else embedding
        sparse = sparse_fields(builtin_function, text_field)
        self._hybrid: HybridFields | None = hybrid_fields(vector_field, sparse, chosen is not None)
        self.builtin_func = builtin_function
        self.embedding_func: Embeddings = chosen if chosen is not None else MiniLMEmbeddings()
        self._coalescer = AsyncEmbedder(self.embedding_func)
        self.collection_name = collection_name
        self.collection_description = collection_description
        self.collection_properties = collection_properties
        self.connection_args = dict(connection_args or {})
        self.consistency_level = consistency_level
        self.index_params = dict(index_params) if index_params else None
        self.search_params = dict(search_params) if search_params else None
        self.auto_id = auto_id
        self.timeout = timeout
        if enable_dynamic_field:
            metadata_field = None
        self._fields = Fields(primary=primary_field, text=text_field, metadata=metadata_field)
        self._distance = resolve_distance(distance, self.index_params)
        self._default_search = search_params_of(self.search_params)
        self._relevance_score_fn = relevance_score_fn
        self._connection = Connection(parse_connection_args(self.connection_args))
        hybrid = self._hybrid
        state = CollectionState(
            self._connection,
            collection_name,
            _one_field(vector_field) if hybrid is None else hybrid.dense,
            self._distance,
            hnsw_config(self.index_params),
            () if hybrid is None else hybrid.sparse,
            hybrid is None or hybrid.dense is not None,
        )
        self._acollection = AsyncStoreCollection(state)
        self._collection = StoreCollection(state)
        if drop_old:
            self._collection.drop()

    # ------------------------------------------------------------------ plumbing

    @property
    def _aembedder(self) -> AsyncEmbedder:
        """Concurrent async adds and searches share embedding calls
        (``shoal.integrations.langchain.coalesce``).

        Follows ``embedding_func``: a caller may swap the embedding after construction.
        """
        if self._coalescer.embedding is not self.embedding_func:
            self._coalescer = AsyncEmbedder(self.embedding_func)
        return self._coalescer

    @property
    def _embedder(self) -> Embedder:
        """The sync methods' embedder (``embedding_func``, called directly)."""
        return Embedder(self.embedding_func)

    @property
    def embeddings(self) -> Embeddings:
        """The embedding model."""
        return self.embedding_func

    @property
    def client(self) -> Client:
        """The sync Shoal client (shared by every thread)."""
        return self._connection.client()

    @property
    def aclient(self) -> AsyncClient:
        """The async Shoal client of the running event loop.

        Raises:
            RuntimeError: no event loop is running.
        """
        return self._connection.aclient()

    @property
    def distance(self) -> m.Distance:
        """The collection's distance (the configured one until the collection is seen)."""
        layout = self._collection.state.known_layout
        return layout.distance if layout is not None else self._distance

    def _prepare(
        self,
        texts: Iterable[str],
        metadatas: Sequence[Mapping[str, Any] | None] | None,
        ids: Sequence[str | None] | None,
        documents: Sequence[Document] | None = None,
    ) -> tuple[list[str], list[str], list[m.Payload]]:
        # Validated before embedding, so a bad batch costs no embedding call.
        text_list = list(texts)
        if metadatas is not None and len(metadatas) != len(text_list):
            raise ValueError(f"got {len(metadatas)} metadatas for {len(text_list)} texts")
        doc_ids = resolve_ids(len(text_list), ids, documents)
        payloads = [
            self._fields.payload(text, metadatas[i] if metadatas else None, doc_ids[i])
            for i, text in enumerate(text_list)
        ]
        return text_list, doc_ids, payloads

    def _search_request(
        self, method: str, param: Any, expr: str | None, kwargs: dict[str, Any]
    ) -> SearchRequest:
        flt = build_filter(expr, kwargs.pop("filter", None), self._fields.metadata)
        threshold = kwargs.pop("score_threshold", None)
        kwargs.pop("timeout", None)
        check_search_kwargs(method, kwargs)
        return flt, search_params_of(param) or self._default_search, threshold

    def _hybrid_request(
        self, method: str, k: int, param: Any, expr: str | None, kwargs: dict[str, Any]
    ) -> tuple[HybridFields, Ranker | None, int, SearchRequest]:
        """A hybrid search's fields, ranker, candidates per field and request."""
        hybrid = self._hybrid
        if hybrid is None:  # pragma: no cover - callers check
            raise RuntimeError("not a hybrid store")
        ranker = pop_ranker(kwargs, len(hybrid.names)) if len(hybrid.names) > 1 else None
        refuse_ranker(kwargs, method)
        fetch_k = kwargs.pop("fetch_k", None)
        if fetch_k is not None and (
            isinstance(fetch_k, bool) or not isinstance(fetch_k, int) or fetch_k < 1
        ):
            raise InvalidConfig(f"fetch_k must be a positive integer, got {fetch_k!r}")
        request = self._search_request(method, hybrid.dense_param(param), expr, kwargs)
        return hybrid, ranker, max(k, fetch_k or k), request

    def _dense_only(self, method: str) -> None:
        """Refuse a search by vector in a store with BM25 fields only."""
        if self._hybrid is not None and self._hybrid.dense is None:
            raise NotSupported(f"{method}() needs a dense vector field: this store has BM25 only")

    def _hybrid_relevance(self) -> Callable[[float], float]:
        if self._relevance_score_fn is None:
            raise NotSupported(
                "relevance scores of a hybrid search are not supported: fused scores have "
                "no [0, 1] scale; pass relevance_score_fn= to the store"
            )
        return self._relevance_score_fn

    def _scored(self, points: list[m.ScoredPoint]) -> list[tuple[Document, float]]:
        return [(self._fields.document(p.payload, p.id), p.score) for p in points]

    def _relevance(self, layout: CollectionLayout | None) -> Callable[[float], float]:
        if self._relevance_score_fn is not None:
            return self._relevance_score_fn
        return relevance_fn(layout.distance if layout is not None else self._distance)

    def _select_relevance_score_fn(self) -> Callable[[float], float]:
        return self._relevance(self._collection.state.known_layout)

    def _mmr(
        self,
        query: Vector,
        points: list[m.ScoredPoint],
        layout: CollectionLayout | None,
        k: int,
        lambda_mult: float,
    ) -> list[Document]:
        if layout is None or not points:
            return []
        vectors = [layout.vector_of(p.vector) for p in points]
        picked = maximal_marginal_relevance(list(query), vectors, k, lambda_mult)
        return [self._fields.document(points[i].payload, points[i].id) for i in picked]

    def _pk_of(self, record: m.Record) -> str:
        pk = (record.payload or {}).get(self._fields.primary)
        return str(pk) if pk is not None else str(record.id)

    def _delete_selector(
        self, ids: Sequence[str] | str | None, expr: str | None, kwargs: dict[str, Any]
    ) -> m.Filter | str | list[str] | None:
        flt = kwargs.pop("filter", None)
        check_write_kwargs("delete", kwargs)
        if isinstance(ids, str):
            ids = [ids]
        if ids:
            if expr is not None or flt is not None:
                logger.warning("delete() got ids and a filter: deleting by ids only")
            return [point_id(str(i)) for i in ids]
        selector = build_filter(expr, flt, self._fields.metadata)
        if selector is None and ids is None:
            raise BadRequest("delete() needs ids, expr or filter (to delete all, use drop())")
        return selector
