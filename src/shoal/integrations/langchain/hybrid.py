"""A hybrid store's vector fields, and the queries one hybrid search makes.

langchain-milvus's hybrid form: ``embedding_function=dense, builtin_function=
BM25BuiltInFunction(output_field_names="sparse"), vector_field=["dense", "sparse"]``. As
there, the fields are the embedding's (the names in ``vector_field`` no function writes;
``vector_1`` if none is left), then each function's output, and a search's ``param`` list
and ranker weights follow that order. Without an embedding and with ``vector_field``
naming only function outputs, the store has BM25 fields alone; with an embedding field
named but no embedding given, the field uses Shoal's default embedding (MiniLM), where
langchain-milvus would refuse.

How the searches run and are ranked: :mod:`shoal.integrations.langchain.rankers`.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from shoal import models as m
from shoal.errors import InvalidConfig, InvalidFilter, NotSupported
from shoal.filters.convert import to_qdrant_filter
from shoal.integrations.langchain.collection_state import QueryArgs
from shoal.integrations.langchain.functions import SparseField
from shoal.integrations.langchain.layout import CollectionLayout
from shoal.integrations.langchain.rankers import (
    Ranker,
    RrfRanker,
    WeightedRanker,
    normaliser,
    rrf_fusion,
    weighted_fusion,
)


def _structured(flt: m.Filter | str | None) -> m.Filter | str | None:
    """An expression as a structured filter, which prefetch queries need; the expression
    itself if no structured filter means the same (``shoal.filters.convert``)."""
    if not isinstance(flt, str):
        return flt
    converted = _converted(flt)
    return flt if converted is None else converted


@functools.lru_cache(maxsize=256)
def _converted(expr: str) -> m.Filter | None:
    # Cached: a service repeats its few expressions, and searches are the hot path. The
    # filter is only read (sent or evaluated), never changed.
    try:
        return to_qdrant_filter(expr)
    except InvalidFilter:
        return None


@dataclass(frozen=True)
class HybridFields:
    """The vector fields of a hybrid store.

    Attributes:
        dense: the embedding's field, or None (BM25 fields only).
        sparse: the BM25 fields.
    """

    dense: str | None
    sparse: tuple[SparseField, ...]

    @property
    def names(self) -> list[str]:
        """Every field, in ranking order (the embedding's first)."""
        return ([self.dense] if self.dense else []) + [f.name for f in self.sparse]

    def dense_param(self, param: Any) -> Any:
        """The dense field's search params out of a search's ``param`` (one dict per field,
        or one dict for the dense field); the BM25 fields' are exact and need none.

        Raises:
            InvalidConfig: a list whose length is not the number of fields.
        """
        if not isinstance(param, (list, tuple)):
            return param
        if len(param) != len(self.names):
            raise InvalidConfig(
                f"param must have one dict per vector field {self.names}, got {len(param)}"
            )
        return param[0] if self.dense else None

    def requests(
        self,
        ranker: Ranker | None,
        vector: list[float] | np.ndarray | None,
        text: str,
        limit: int,
        fetch: int,
        flt: m.Filter | str | None,
        params: m.SearchParams | None,
        score_threshold: float | None,
    ) -> list[QueryArgs]:
        """The ``query_points`` calls of one search.

        Args:
            ranker: None for a store of one field.
            vector: the query's embedding (None without a dense field).
            text: the query text, for the BM25 fields.
            limit: results wanted.
            fetch: candidates per field.
            flt: the filter (applied to every field's search).
            params: the dense field's search params.
            score_threshold: a minimum fused score.

        Returns:
            One fused query for RRF or a single field; one query per field for the
            weighted ranker, and for RRF with an expression no structured filter can say
            (the engine takes only structured filters with prefetch), combined by
            :meth:`combine`.
        """
        queries: list[tuple[Any, str, m.SearchParams | None]] = [
            (f.document(text), f.name, None) for f in self.sparse
        ]
        if self.dense:
            queries.insert(0, (vector, self.dense, params))
        if ranker is None:
            query, using, p = queries[0]
            return [QueryArgs(query, limit, using, None, flt, p, score_threshold)]
        structured = _structured(flt)
        if isinstance(ranker, WeightedRanker) or isinstance(structured, str):
            return [QueryArgs(q, fetch, using, None, flt, p) for q, using, p in queries]
        prefetch = [
            m.Prefetch(query=q, using=using, limit=fetch, params=p) for q, using, p in queries
        ]
        return [QueryArgs(ranker.query(), limit, None, prefetch, structured, None, score_threshold)]

    def combine(
        self,
        ranker: Ranker | None,
        results: Sequence[Sequence[m.ScoredPoint]],
        layout: CollectionLayout | None,
        limit: int,
        score_threshold: float | None,
    ) -> list[m.ScoredPoint]:
        """The search's points from its queries' results (see :meth:`requests`)."""
        if len(results) == 1 or layout is None:
            return list(results[0]) if results else []
        if isinstance(ranker, RrfRanker):
            return rrf_fusion(results, ranker, limit, score_threshold)
        if ranker is None:  # pragma: no cover - one field makes one query
            raise RuntimeError("several results and no ranker")
        distances = ([layout.distance] if self.dense else []) + [None] * len(self.sparse)
        norms = [normaliser(d, ranker.norm_score) for d in distances]
        return weighted_fusion(results, norms, ranker, limit, score_threshold)

    def mmr(
        self,
        vector: list[float] | np.ndarray,
        k: int,
        fetch_k: int,
        lambda_mult: float,
        flt: m.Filter | str | None,
        params: m.SearchParams | None,
        score_threshold: float | None,
    ) -> QueryArgs:
        """MMR over the dense field, by the engine: Qdrant's ``diversity`` is
        ``1 - lambda_mult``, so LangChain's meaning holds (1: closeness alone).

        Raises:
            ValueError: ``lambda_mult`` outside [0, 1].
            NotSupported: the store has no dense field.
        """
        if not 0.0 <= lambda_mult <= 1.0:
            raise ValueError(f"lambda_mult must be between 0 and 1, got {lambda_mult}")
        if not self.dense:
            raise NotSupported("MMR needs a dense vector field: this store has BM25 fields only")
        dense = vector.tolist() if isinstance(vector, np.ndarray) else vector
        mmr = {"diversity": 1.0 - lambda_mult, "candidates_limit": max(k, fetch_k)}
        query = m.NearestQuery(nearest=dense, mmr=mmr)
        return QueryArgs(query, k, self.dense, None, flt, params, score_threshold)


def hybrid_fields(
    vector_field: str | list[str] | None, sparse: list[SparseField], has_embedding: bool
) -> HybridFields | None:
    """A store's fields from its arguments; None for a store without built-in functions.

    Args:
        vector_field: the store's ``vector_field`` (a name or a list of names).
        sparse: the BM25 fields of its ``builtin_function``.
        has_embedding: whether an embedding was given.

    Raises:
        InvalidConfig: repeated names, or several names for the one embedding.
    """
    names = vector_field if isinstance(vector_field, list) else [vector_field]
    listed = [n for n in names if n]
    outputs = [f.name for f in sparse]
    if len(set(listed)) != len(listed) or len(set(outputs)) != len(outputs):
        raise InvalidConfig(f"vector field names must be unique, got {listed} and {outputs}")
    if not sparse:
        if len(listed) > 1:
            raise NotSupported(
                f"vector_field={listed}: several embeddings are not supported; a list "
                "names one embedding's field and the builtin_function outputs"
            )
        return None
    own = [n for n in listed if n not in outputs]
    if len(own) > 1:
        raise InvalidConfig(
            f"vector_field has {own} for one embedding: the other names must be "
            f"builtin_function outputs {outputs}"
        )
    if own:
        return HybridFields(own[0], tuple(sparse))
    return HybridFields("vector_1" if has_embedding else None, tuple(sparse))
