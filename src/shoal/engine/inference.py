"""Inference: points and queries given as ``Document(text, model)`` become vectors here.

Qdrant's server embeds a ``Document`` with the model it names; Shoal runs the one model
that needs no download and that Qdrant's server itself runs, ``qdrant/bm25``
(``shoal.embeddings.BM25``, into a sparse vector; a document with its ``options`` as
Qdrant's ``Bm25Config``). Any other model, or a document for a dense vector, is refused
with ``NotSupported`` naming it. A write's documents are embedded together, one call per
vector name, model and options.
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import lru_cache
from typing import Any, TypeVar

import numpy as np
import orjson

from shoal import models as m
from shoal.codec import SparseRow, VectorSpace, kept_sparse
from shoal.embeddings import BM25, is_bm25_model
from shoal.errors import InvalidQuery, InvalidVector, NotSupported

P = TypeVar("P", m.PointStruct, m.PointVectors)


def embed_documents(points: Sequence[P], space: VectorSpace) -> Sequence[P]:
    """The points with every ``Document`` among their vectors embedded (the same points
    when none has one).

    Args:
        points: points (or vector updates) as given.
        space: the collection's vectors.

    Returns:
        The points, each with a ``SparseVector`` where it gave a document.

    Raises:
        NotSupported: a model other than ``qdrant/bm25``, or a document for a dense vector.
        InvalidVector: a document for a vector the collection does not have.
        InvalidConfig: bad BM25 options.
    """
    groups: dict[tuple[str, str, bytes], list[tuple[int, str]]] = {}
    for i, p in enumerate(points):
        raw = p.vector
        if not isinstance(raw, dict):
            continue
        for name, value in raw.items():
            if type(value) is m.Document:
                key = (name, value.model, orjson.dumps(value.options, option=orjson.OPT_SORT_KEYS))
                groups.setdefault(key, []).append((i, value.text))
    if not groups:
        return points
    out = list(points)
    for (name, model, options), items in groups.items():
        if name not in space.sparse:
            _refuse(name, model, space, InvalidVector)
        encoder = _encoder(model, options)
        vectors = encoder.embed_documents([text for _, text in items])
        for (i, _), vector in zip(items, vectors, strict=True):
            point = out[i]
            assert isinstance(point.vector, dict)
            out[i] = point.model_copy(update={"vector": {**point.vector, name: vector}})
    return out


def embed_query(doc: m.Document, name: str, space: VectorSpace) -> SparseRow:
    """A query given as a document, embedded for vector ``name``, in kept form: BM25's
    query indices are sorted, unique u32 hashes with weight 1, so the checks a caller's
    sparse vector gets (``check_sparse``, most of a BM25 query's preparation) are skipped.

    Raises:
        NotSupported: a model other than ``qdrant/bm25``, or a dense vector ``name``.
        InvalidQuery: a vector name the collection does not have.
    """
    if name not in space.sparse:
        _refuse(name, doc.model, space, InvalidQuery)
    options = orjson.dumps(doc.options, option=orjson.OPT_SORT_KEYS)
    indices = _encoder(doc.model, options).query_indices(doc.text)
    return kept_sparse(indices, np.ones(len(indices), np.float32))


def _refuse(name: str, model: str, space: VectorSpace, unknown: type[Exception]) -> None:
    if name in space.dense:
        label = f"vector {name!r}" if name else "the unnamed vector"
        raise NotSupported(
            f"Wrong input: inference of {model!r} into dense {label} is not supported: Shoal "
            "embeds documents with qdrant/bm25 into sparse vectors; embed the text yourself "
            "(shoal.embeddings.MiniLM) and give the vector"
        )
    raise unknown(
        f"Wrong input: Not existing vector name error: {name!r} (a Document for it); the "
        f"collection has {space.names()}"
    )


@lru_cache(maxsize=32)
def _encoder(model: str, options: bytes) -> BM25:
    if not is_bm25_model(model):
        raise NotSupported(
            f"Wrong input: inference model {model!r} is not supported: Shoal runs "
            "qdrant/bm25 (into a sparse vector) and no other model"
        )
    parsed: dict[str, Any] | None = orjson.loads(options)
    return BM25(model, parsed)
