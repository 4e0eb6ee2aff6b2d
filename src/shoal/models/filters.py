"""Qdrant's filter models: conditions, matches, ranges, geo shapes, ``Filter`` (re-exported
by ``shoal.models``)."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Union

from pydantic import (
    Field,
    StrictBool,
    StrictFloat,
    StrictInt,
    StrictStr,
)

from shoal.models._base import ExtendedPointId, _Model

__all__ = [
    "AnyVariants",
    "Condition",
    "DatetimeRange",
    "FieldCondition",
    "Filter",
    "FilterLike",
    "FilterSelector",
    "GeoBoundingBox",
    "GeoLineString",
    "GeoPoint",
    "GeoPolygon",
    "GeoRadius",
    "HasIdCondition",
    "HasVectorCondition",
    "IsEmptyCondition",
    "IsNullCondition",
    "Match",
    "MatchAny",
    "MatchExcept",
    "MatchPhrase",
    "MatchText",
    "MatchTextAny",
    "MatchValue",
    "MinShould",
    "Nested",
    "NestedCondition",
    "PayloadField",
    "PointIdsList",
    "PointsSelector",
    "Range",
    "ValueVariants",
    "ValuesCount",
]


# ---------------------------------------------------------------------------- filters

ValueVariants = Union[StrictBool, StrictInt, StrictStr]
AnyVariants = Union[list[StrictStr], list[StrictInt]]


class MatchValue(_Model):
    value: ValueVariants


class MatchText(_Model):
    text: str


class MatchTextAny(_Model):
    text_any: str


class MatchPhrase(_Model):
    phrase: str


class MatchAny(_Model):
    any: AnyVariants


class MatchExcept(_Model):
    except_: AnyVariants = Field(alias="except")


Match = Union[MatchValue, MatchText, MatchTextAny, MatchPhrase, MatchAny, MatchExcept]


class Range(_Model):
    lt: float | None = None
    gt: float | None = None
    gte: float | None = None
    lte: float | None = None


class DatetimeRange(_Model):
    lt: datetime | None = None
    gt: datetime | None = None
    gte: datetime | None = None
    lte: datetime | None = None


class ValuesCount(_Model):
    lt: int | None = None
    gt: int | None = None
    gte: int | None = None
    lte: int | None = None


# Geo shapes: their ranges and rings are checked by shoal.filters.geo, naming the value.
class GeoPoint(_Model):
    lon: StrictFloat
    lat: StrictFloat


class GeoRadius(_Model):
    center: GeoPoint
    radius: StrictFloat


class GeoBoundingBox(_Model):
    top_left: GeoPoint
    bottom_right: GeoPoint


class GeoLineString(_Model):
    points: list[GeoPoint]


class GeoPolygon(_Model):
    exterior: GeoLineString
    interiors: list[GeoLineString] | None = None


class FieldCondition(_Model):
    key: str
    match: Match | None = None
    range: Range | DatetimeRange | None = None
    values_count: ValuesCount | None = None
    is_empty: bool | None = None
    is_null: bool | None = None
    geo_bounding_box: GeoBoundingBox | None = None
    geo_radius: GeoRadius | None = None
    geo_polygon: GeoPolygon | None = None


class PayloadField(_Model):
    key: str


class IsEmptyCondition(_Model):
    is_empty: PayloadField


class IsNullCondition(_Model):
    is_null: PayloadField


class HasIdCondition(_Model):
    has_id: list[ExtendedPointId]


class HasVectorCondition(_Model):
    has_vector: str


class Nested(_Model):
    key: str
    filter: Filter


class NestedCondition(_Model):
    nested: Nested


class MinShould(_Model):
    conditions: list[Condition]
    min_count: int


Condition = Union[
    FieldCondition,
    IsEmptyCondition,
    IsNullCondition,
    HasIdCondition,
    HasVectorCondition,
    NestedCondition,
    "Filter",
]


class Filter(_Model):
    should: list[Condition] | Condition | None = None
    min_should: MinShould | None = None
    must: list[Condition] | Condition | None = None
    must_not: list[Condition] | Condition | None = None


# A filter wherever one is accepted: structured, or a Milvus-style expression string.
FilterLike = Union[Filter, str]


class PointIdsList(_Model):
    points: list[ExtendedPointId]
    shard_key: Any | None = None


class FilterSelector(_Model):
    filter: Filter | str
    shard_key: Any | None = None


PointsSelector = Union[PointIdsList, FilterSelector]
