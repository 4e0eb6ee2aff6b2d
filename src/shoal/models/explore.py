"""Facet counts and the distance matrix: Qdrant's request and response models (re-exported
by ``shoal.models``)."""

from __future__ import annotations

from enum import Enum
from typing import Any, Union

from pydantic import StrictBool, StrictInt, StrictStr

from shoal.models._base import ExtendedPointId, _Model, _Response
from shoal.models.filters import Filter

__all__ = [
    "FacetRequest",
    "FacetResponse",
    "FacetValue",
    "FacetValueHit",
    "ReadConsistency",
    "ReadConsistencyType",
    "SearchMatrixOffsetsResponse",
    "SearchMatrixPair",
    "SearchMatrixPairsResponse",
    "SearchMatrixRequest",
]


class ReadConsistencyType(str, Enum):
    MAJORITY = "majority"
    QUORUM = "quorum"
    ALL = "all"


# How many replicas a read asks (a count, or a named level); one node has one replica.
ReadConsistency = Union[StrictInt, ReadConsistencyType]
# A bool first: pydantic's smart union keeps the exact type of a strict value.
FacetValue = Union[StrictBool, StrictInt, StrictStr]


class FacetRequest(_Model):
    shard_key: Any | None = None
    key: str
    limit: int | None = None
    filter: Filter | str | None = None
    exact: bool | None = None


class FacetValueHit(_Response):
    value: FacetValue
    count: int


class FacetResponse(_Response):
    hits: list[FacetValueHit]


class SearchMatrixRequest(_Model):
    shard_key: Any | None = None
    filter: Filter | str | None = None
    sample: int | None = None
    limit: int | None = None
    using: str | None = None


class SearchMatrixPair(_Response):
    a: ExtendedPointId
    b: ExtendedPointId
    score: float


class SearchMatrixPairsResponse(_Response):
    pairs: list[SearchMatrixPair]


class SearchMatrixOffsetsResponse(_Response):
    offsets_row: list[int]
    offsets_col: list[int]
    scores: list[float]
    ids: list[ExtendedPointId]
