"""Turning what users pass to client methods into request models (shared by both clients)."""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from typing import Any, TypeVar

import numpy as np
from pydantic import BaseModel, ValidationError

from shoal import models as m
from shoal.errors import BadRequest, InvalidFilter, InvalidPointId, InvalidQuery

M = TypeVar("M", bound=BaseModel)

PointsSelectorLike = (
    m.PointIdsList | m.FilterSelector | m.Filter | str | Sequence[m.ExtendedPointId | uuid.UUID]
)


def build(model: type[M], error: type[BadRequest] = BadRequest, /, **fields: Any) -> M:
    """Construct a request model, turning pydantic's error into Shoal's typed one."""
    try:
        return model.model_validate(fields)
    except ValidationError as exc:
        raise error(f"Wrong input for {model.__name__}: {_first_error(exc)}") from None


def _first_error(exc: ValidationError) -> str:
    err = exc.errors()[0]
    loc = ".".join(str(x) for x in err["loc"])
    return f"{loc + ': ' if loc else ''}{err['msg']} (got {err.get('input')!r:.80})"


def as_model(value: Any, model: type[M], error: type[BadRequest] = BadRequest) -> M:
    """Accept a model instance or its JSON dict."""
    if isinstance(value, model):
        return value
    try:
        return model.model_validate(value)
    except ValidationError as exc:
        raise error(f"Wrong input for {model.__name__}: {_first_error(exc)}") from None


def filter_arg(value: m.Filter | str | Mapping[str, Any] | None) -> m.Filter | str | None:
    """A filter argument: structured Filter, its dict form, or an expression string."""
    if value is None or isinstance(value, (m.Filter, str)):
        return value
    return as_model(value, m.Filter, InvalidFilter)


def point_id(value: Any) -> m.ExtendedPointId:
    if isinstance(value, uuid.UUID):
        return str(value)
    if isinstance(value, np.integer):
        return int(value)
    if isinstance(value, (int, str)) and not isinstance(value, bool):
        return value
    raise InvalidPointId(
        f"Invalid point id {value!r}: expected an unsigned integer or a UUID, "
        f"got {type(value).__name__}"
    )


def points_selector(value: PointsSelectorLike) -> m.PointIdsList | m.FilterSelector:
    """Ids, a Filter, an expression string, or an explicit selector."""
    if isinstance(value, (m.PointIdsList, m.FilterSelector)):
        return value
    if isinstance(value, (m.Filter, str)):
        return m.FilterSelector(filter=value)
    if isinstance(value, Mapping):
        return m.FilterSelector(filter=as_model(value, m.Filter, InvalidFilter))
    if isinstance(value, Sequence):
        return m.PointIdsList(points=[point_id(v) for v in value])
    raise BadRequest(
        f"Wrong input: points selector must be ids, a Filter or an expression, got {value!r:.80}"
    )


def payload_target(value: PointsSelectorLike) -> tuple[list[m.ExtendedPointId] | None, Any]:
    """Split a payload operation's ``points=`` into (ids, filter) as the REST body has them."""
    sel = points_selector(value)
    if isinstance(sel, m.PointIdsList):
        return sel.points, None
    return None, sel.filter


def query_arg(value: Any) -> m.QueryInterface | None:
    """A query: a vector (list or numpy array), a point id, or a NearestQuery."""
    if value is None or isinstance(value, m.NearestQuery):
        return value
    if isinstance(value, np.ndarray):
        if value.ndim == 1 and value.dtype.kind in "fiu":
            return value  # kept an array to the engine (models.ArrayVector)
        # Any other array as a list, for validation to reject with its usual message (a bool
        # array stays bools).
        query: list[Any] = value.tolist()
        return query
    if isinstance(value, list):
        return value  # validation copies it: no copy of its own (a search's largest object)
    if isinstance(value, tuple):
        return list(value)
    if isinstance(value, (int, str, uuid.UUID, np.integer)) and not isinstance(value, bool):
        return point_id(value)
    raise InvalidQuery(
        f"Wrong input: query must be a vector, a point id or NearestQuery, got {value!r:.80}"
    )


def upsert_body(
    points: m.Batch | Sequence[m.PointStruct | Mapping[str, Any]],
) -> m.PointsList | m.PointsBatch:
    if isinstance(points, m.Batch):
        return m.PointsBatch(batch=points)
    return m.PointsList(points=[as_model(p, m.PointStruct) for p in points])


def timeout_arg(value: Any) -> int | None:
    """A ``timeout`` argument: whole seconds, at least 1, as Qdrant's ``timeout`` parameter.

    Raises:
        BadRequest: anything else.
    """
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
        raise BadRequest(
            f"Wrong input: timeout must be a whole number of seconds >= 1, got {value!r}"
        )
    return int(value)
