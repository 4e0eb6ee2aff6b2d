"""The one place where what callers pass to client methods is checked and converted.

Both clients convert every argument here before anything reaches a transport, so a bad
argument gets the same typed error from ``shoal.errors``, naming it, whichever the
deployment. Three layers:

- a helper per kind of argument (collection name, point id, selector, filter, query, flag,
  ...) that checks the type itself;
- ``build`` and ``as_model`` validate a request model and turn pydantic's error into the
  typed error for where the bad value sits (in a payload ``InvalidPayload``, a vector
  ``InvalidVector``, an id ``InvalidPointId``, a filter ``InvalidFilter``; elsewhere the
  request's own class);
- every model built is then walked for what JSON cannot carry, and that is refused in every
  deployment, not only over HTTP where it would arrive changed (a NaN threshold becomes
  ``null``) or unreadable (an integer beyond 64 bits, a lone surrogate, an object that is
  not JSON, nesting deeper than Qdrant's parser reads). Points (id, vector, payload) are not
  walked: the engine checks each part with a typed error, and the HTTP transport checks what
  it sends (``client/sendable.py``).

``bad_input`` turns what reading a malformed argument raises (pydantic's ValidationError, a
TypeError or ValueError from iterating or unpacking it) into the typed error. It wraps only
the reading of the caller's arguments, never an engine or transport call, so a bug there
still surfaces as itself.
"""

from __future__ import annotations

import math
import os
import uuid
from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from datetime import date
from enum import Enum
from typing import Any, TypeVar, Union

import numpy as np
from pydantic import BaseModel, ValidationError

from shoal import models as m
from shoal.engine.deadline import MAX_TIMEOUT
from shoal.engine.support import schema_type
from shoal.errors import (
    BadRequest,
    InvalidCollectionName,
    InvalidConfig,
    InvalidFilter,
    InvalidPayload,
    InvalidPointId,
    InvalidQuery,
    InvalidVector,
    shown,
)
from shoal.ids import canonical_id
from shoal.payloads import INT_MAX, INT_MIN, MAX_PAYLOAD_DEPTH

M = TypeVar("M", bound=BaseModel)

PointsSelectorLike = (
    m.PointIdsList | m.FilterSelector | m.Filter | str | Sequence[m.ExtendedPointId | uuid.UUID]
)
# What query_points takes as ``query``: a vector (a sequence of numbers or a 1-d numpy
# array), a point id, a query object (Shoal's models, qdrant-client's, or their JSON), or
# several vectors (a multivector).
QueryLike = (
    Sequence[float]
    | np.ndarray
    | m.ExtendedPointId
    | uuid.UUID
    | m.NearestQuery
    | m.RecommendQuery
    | m.DiscoverQuery
    | m.ContextQuery
    | m.OrderByQuery
    | m.FusionQuery
    | m.RrfQuery
    | m.FormulaQuery
    | m.SampleQuery
    | m.RelevanceFeedbackQuery
    | m.SparseVector
    | m.Document
    | m.Image
    | m.InferenceObject
    | Sequence[Sequence[float]]
    | Mapping[str, Any]
    | BaseModel
)
# A settings object: its JSON, or a pydantic model of it (Shoal's, or qdrant-client's).
Settings = Mapping[str, Any] | BaseModel

# How deep a request may nest objects and arrays: Qdrant's JSON parser reads 128 levels.
MAX_REQUEST_DEPTH = MAX_PAYLOAD_DEPTH
# Where in a request a bad value sits decides its error class: the outermost of these
# fields that holds it (a query's vector is a query's: InvalidQuery, as the engine says).
_ERROR_OF_FIELD: dict[str, type[BadRequest]] = {
    "query": InvalidQuery,
    "payload": InvalidPayload,
    "payloads": InvalidPayload,
    "vector": InvalidVector,
    "vectors": InvalidVector,
    "id": InvalidPointId,
    "ids": InvalidPointId,
    "filter": InvalidFilter,
}
# Walked by check_payload (engine, HTTP transport) and by the engine's point checks.
# A payload update's payload is checked (and put in stored form) where it is written.
_NOT_WALKED = frozenset({"payload"})
# A query is a vector (checked by the engine and the HTTP transport) or a point id.
_QUERY_FIELDS = frozenset({"query", "nearest"})


@contextmanager
def bad_input(error: type[BadRequest], argument: str) -> Iterator[None]:
    """Turn what reading a malformed argument raises into ``error`` naming it.

    Args:
        error: the class for a bad ``argument`` (refined for a pydantic error by where the
            bad value sits, as in ``build``).
        argument: the argument's name, for the message.

    Raises:
        BadRequest: ``error`` or its refinement, for ValidationError, TypeError, ValueError,
            OverflowError and RecursionError raised in the block.
    """
    try:
        yield
    except _READING_ERRORS as exc:
        raise _bad(exc, error, argument) from None


_READING_ERRORS = (ValidationError, TypeError, ValueError, OverflowError, RecursionError)


def _bad(exc: Exception, error: type[BadRequest], argument: str) -> BadRequest:
    """The typed error for what reading ``argument`` raised (see ``bad_input``)."""
    if isinstance(exc, ValidationError):
        return _from_validation(exc, error, argument)
    problem = shown(exc) if isinstance(exc, RecursionError) else str(exc)
    return error(f"Wrong input: {argument}: {problem}")


def _from_validation(exc: ValidationError, error: type[BadRequest], what: str) -> BadRequest:
    err = exc.errors()[0]
    loc = [str(x) for x in err["loc"]]
    where = ".".join(loc)
    return _refined(loc, error)(
        f"Wrong input for {what}: {where + ': ' if where else ''}{err['msg']} "
        f"(got {shown(err.get('input'))})"
    )


def _refined(loc: Sequence[str | int], error: type[BadRequest]) -> type[BadRequest]:
    if issubclass(error, InvalidConfig):  # a configuration's "vectors" are not vectors
        return error
    for part in loc:
        if isinstance(part, str) and part in _ERROR_OF_FIELD:
            return _ERROR_OF_FIELD[part]
    return error


def build(model: type[M], error: type[BadRequest] = BadRequest, /, **fields: Any) -> M:
    """Construct a request model from a method's arguments.

    Args:
        model: the request model.
        error: the class for a bad field (refined by where the bad value sits).
        fields: the model's fields.

    Returns:
        The validated model, holding nothing JSON cannot carry.

    Raises:
        BadRequest: ``error`` or its refinement, naming the field and the value.
    """
    try:  # bad_input's work, without a context manager on every request's path
        body = model.model_validate(fields)
    except _READING_ERRORS as exc:
        raise _bad(exc, error, model.__name__) from None
    check_sendable(body, error)
    return body


def as_model(value: Any, model: type[M], error: type[BadRequest] = BadRequest) -> M:
    """Accept a model instance, its JSON dict, or another library's model of it (such as
    qdrant-client's: read as its JSON) (see ``build``)."""
    if isinstance(value, model):
        body = value
    else:
        with bad_input(error, model.__name__):
            body = model.model_validate(_setting(value))
    check_sendable(body, error)
    return body


def check_sendable(body: BaseModel, error: type[BadRequest] = BadRequest) -> None:
    """Refuse what JSON cannot carry anywhere in ``body`` (points and payloads excepted,
    see the module docstring).

    Raises:
        BadRequest: ``error`` or its refinement, naming the key path and the value.
        InvalidPointId: a query's point id that is no valid id.
    """
    found = _unsendable(body)
    if found is not None:
        path, problem = found
        where = "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in path)
        raise _refined(path, error)(
            f"Wrong input for {type(body).__name__}: {where.lstrip('.')}: {problem}"
        )


def _unsendable(body: BaseModel) -> tuple[list[str | int], str] | None:
    """The key path and problem of the first value (depth first, in order) of ``body``
    that JSON cannot carry, or None. One walk with an explicit stack, not a call per value:
    it runs on every request (``bench/trace_query.py`` bounds a query's calls). The common
    atoms are told apart by their exact type; any other value by its class's kind, found
    once per class (``_KINDS``); a value's key path is only put together for the value
    that fails (each stack entry links to its parent's)."""
    stack: list[tuple[Any, int, _Link]] = [(body, 1, None)]
    while stack:
        value, depth, link = stack.pop()
        kind = type(value)
        if kind is str:
            if value.isascii():
                continue
            problem = _unicode_problem(value)
        elif kind is int:
            if INT_MIN <= value <= INT_MAX:
                continue
            problem = f"the integer {value} is outside the 64-bit range"
        elif kind is float:
            if math.isfinite(value):
                continue
            problem = f"{value} is not a finite number"
        elif value is None or kind is bool:
            continue
        else:
            what = _KINDS.get(kind) or _kind_of(kind)
            if what is _ATOM:
                problem = _atom_problem(value)
            elif depth > MAX_REQUEST_DEPTH:
                problem = f"nested deeper than {MAX_REQUEST_DEPTH} levels"
            elif what is _POINTS:
                continue
            elif what is _SEQUENCE:
                for i in range(len(value) - 1, -1, -1):
                    stack.append((value[i], depth + 1, (i, link)))
                continue
            elif what is _MAPPING or what is _MODEL or what is _PAYLOAD_UPDATE:
                model = what is not _MAPPING
                children: list[tuple[Any, int, _Link]] = []
                for key, item in (value.__dict__ if model else value).items():
                    if model:
                        if item is None or item is True:
                            continue
                        if what is _PAYLOAD_UPDATE and key in _NOT_WALKED:
                            continue
                        if key in _QUERY_FIELDS:
                            if isinstance(item, (int, str)):
                                canonical_id(item)  # a point id
                            elif not isinstance(item, (list, np.ndarray)):
                                children.append((item, depth + 1, (key, link)))
                            continue  # a vector: checked downstream
                    elif not isinstance(key, str):
                        children.append((_KeyNotText(key), depth, link))
                        continue
                    elif type(key) is not str or not key.isascii():
                        children.append((key, depth, (key, link)))  # checked before its value
                    # A sound atom is passed over here, not stacked (most values are).
                    kind = type(item)
                    if not (
                        item is None
                        or kind is bool
                        or (kind is str and item.isascii())
                        or (kind is int and INT_MIN <= item <= INT_MAX)
                        or (kind is float and math.isfinite(item))
                    ):
                        children.append((item, depth + 1, (key, link)))
                stack.extend(reversed(children))
                continue
            else:
                problem = f"a {kind.__name__} is not a JSON value"
        if problem is not None:
            return _path_of(link), problem
    return None


# A walked value's place: its key or index and its parent's place (None: the body).
_Link = Union[tuple[Union[str, int], "_Link"], None]

# What _unsendable does with an instance of a class other than str, int, float, bool and
# None, decided once per class: pydantic's isinstance against model classes goes through
# its metaclass, several times slower than a dict lookup.
_ATOM, _POINTS, _MODEL, _PAYLOAD_UPDATE = "atom", "points", "model", "payload update"
_MAPPING, _SEQUENCE, _OTHER = "mapping", "sequence", "other"
_KINDS: dict[type, str] = {}


def _kind_of(kind: type) -> str:
    """The kind of ``kind``'s instances (cached in ``_KINDS``)."""
    if issubclass(kind, (bool, Enum, date, int, float, str, _KeyNotText)):
        what = _ATOM
    elif issubclass(kind, (m.PointStruct, m.Batch)):
        what = _POINTS  # walked by the point checks
    elif issubclass(kind, BaseModel):
        what = _PAYLOAD_UPDATE if issubclass(kind, m.SetPayload) else _MODEL
    elif issubclass(kind, dict):
        what = _MAPPING
    elif issubclass(kind, (list, tuple)):
        what = _SEQUENCE
    else:
        what = _OTHER
    _KINDS[kind] = what
    return what


def _atom_problem(value: Any) -> str | None:
    """What JSON cannot carry in an atom of a subclass (an Enum, an int subclass, ...), a
    date, or a key that is not a string; None when it can."""
    if isinstance(value, (bool, Enum, date)):
        return None
    if isinstance(value, int):
        if INT_MIN <= value <= INT_MAX:
            return None
        return f"the integer {value} is outside the 64-bit range"
    if isinstance(value, float):
        return None if math.isfinite(value) else f"{value} is not a finite number"
    if isinstance(value, str):
        return None if value.isascii() else _unicode_problem(value)
    return f"the key {shown(value.key)} is not a string"  # a _KeyNotText


def _path_of(link: _Link) -> list[str | int]:
    path: list[str | int] = []
    while link is not None:
        key, link = link
        path.append(key)
    path.reverse()
    return path


class _KeyNotText:
    """A dict key that is not a string, as ``_unsendable`` meets it in its walk."""

    def __init__(self, key: Any) -> None:
        self.key = key


def _unicode_problem(text: str) -> str | None:
    """Why ``text`` cannot be sent (a lone surrogate), or None."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError as exc:
        return f"{text!r:.60} is not valid Unicode (a lone surrogate at index {exc.start})"
    return None


# ------------------------------------------------------------- single arguments


def collection_name(value: Any) -> str:
    """A collection name: a non-empty string of valid Unicode without ``/`` (the engine
    refuses more at creation; these are the names no URL path can carry).

    Raises:
        InvalidCollectionName: naming the value.
    """
    if not isinstance(value, str):
        raise InvalidCollectionName(
            f"Wrong input: collection name must be a string, got {shown(value)}"
        )
    if not value:
        raise InvalidCollectionName("Wrong input: collection name '' must be non-empty")
    if "/" in value:
        raise InvalidCollectionName(
            f"Wrong input: collection name {value!r:.80} contains the forbidden character '/'"
        )
    if not value.isascii():
        _text(value, "collection name", InvalidCollectionName)
    return value


def payload_key(value: Any, what: str = "payload key") -> str:
    """A payload key (a field name): a non-empty string of valid Unicode.

    Raises:
        InvalidPayload: naming the value.
    """
    if not isinstance(value, str):
        raise InvalidPayload(f"Wrong input: {what} must be a string, got {shown(value)}")
    if not value:
        raise InvalidPayload(f"Wrong input: bad {what} '': empty payload key")
    _text(value, what, InvalidPayload)
    return value


def payload_keys(value: Any) -> list[str]:
    """``delete_payload``'s keys: a list of payload keys (a bare string is refused: it
    would be read as its characters).

    Raises:
        InvalidPayload: naming the bad key or value.
    """
    keys = items(value, "keys", "a list of strings", InvalidPayload)
    return [payload_key(k, "key in keys") for k in keys]


def items(value: Any, argument: str, expected: str, error: type[BadRequest]) -> list[Any]:
    """The items of a list argument (any iterable but a string or a mapping, which would be
    read as its characters or keys).

    Raises:
        BadRequest: ``error``, saying what was ``expected``.
    """
    if isinstance(value, (str, bytes, Mapping)) or not isinstance(value, Iterable):
        raise error(f"Wrong input: {argument} must be {expected}, got {shown(value)}")
    with bad_input(error, argument):
        return list(value)


def _text(value: str, what: str, error: type[BadRequest]) -> None:
    problem = None if value.isascii() else _unicode_problem(value)
    if problem is not None:
        raise error(f"Wrong input: {what} {problem}")


def flag(value: Any, name: str) -> bool:
    """A True/False argument (``wait``, ``exact``, ...).

    Raises:
        BadRequest: anything but a bool.
    """
    if isinstance(value, (bool, np.bool_)):
        return bool(value)
    raise BadRequest(f"Wrong input: {name} must be True or False, got {shown(value)}")


def field_schema(value: Any) -> m.PayloadSchemaType | dict[str, Any] | None:
    """A payload index's schema: a ``PayloadSchemaType``, its name, or ``{"type": name,
    ...}`` (its type checked as the engine checks it; a qdrant-client ``*IndexParams`` model
    becomes its JSON).

    Raises:
        InvalidConfig: naming the unknown type.
    """
    value = _setting(value)
    if isinstance(value, Mapping):
        value = dict(value)
    if value is None or isinstance(value, m.PayloadSchemaType):
        return value
    if isinstance(value, dict):
        schema_type(value.get("type"))
        return value
    return schema_type(value)


def vector_name(value: Any) -> str:
    """A vector's name for ``create_vector_name`` / ``delete_vector_name``: a non-empty
    string without ``/`` (a URL path segment on a server: the engine refuses more for a
    new vector, ``shoal.engine.vector_names``).

    Raises:
        InvalidConfig: naming the value.
    """
    if not isinstance(value, str) or not value or "/" in value:
        raise InvalidConfig(
            f"Wrong input: vector_name must be a non-empty string without '/', got {shown(value)}"
        )
    _text(value, "vector_name", InvalidConfig)
    return value


def vector_name_config(value: Any) -> m.VectorNameConfig:
    """``create_vector_name``'s configuration: a ``DenseVectorNameConfig`` or a
    ``SparseVectorNameConfig`` (Shoal's or qdrant-client's model, or its JSON).

    Raises:
        InvalidConfig: anything else, or a bad field, named.
    """
    value = _setting(value)
    if isinstance(value, (m.DenseVectorNameConfig, m.SparseVectorNameConfig)):
        return value
    if isinstance(value, Mapping) and set(value) in ({"dense"}, {"sparse"}):
        if "dense" in value:
            return as_model(dict(value), m.DenseVectorNameConfig, InvalidConfig)
        return as_model(dict(value), m.SparseVectorNameConfig, InvalidConfig)
    raise InvalidConfig(
        "Wrong input: vector_name_config must be a DenseVectorNameConfig ({'dense': ...}) or "
        f"a SparseVectorNameConfig ({{'sparse': ...}}), got {shown(value)}"
    )


def settings_arg(value: Any) -> Any:
    """A settings argument as a request model takes it: a model of another library (such as
    qdrant-client's ``OptimizersConfigDiff``) becomes its JSON, Shoal's own models and JSON
    stay as they are; so does a mapping of them (named vectors)."""
    if isinstance(value, Mapping):  # one level: a map of named vectors' parameters
        return {k: _setting(v) for k, v in value.items()}
    return _setting(value)


def _setting(value: Any) -> Any:
    if isinstance(value, BaseModel) and not type(value).__module__.startswith("shoal."):
        return value.model_dump(mode="json", exclude_none=True, by_alias=True)
    if isinstance(value, Enum):
        return value.value
    return value


def filter_arg(value: m.Filter | str | Mapping[str, Any] | None) -> m.Filter | str | None:
    """A filter argument: structured Filter, its dict form, or an expression string."""
    if value is None or isinstance(value, (m.Filter, str)):
        return value
    return as_model(_setting(value), m.Filter, InvalidFilter)  # qdrant-client's: its JSON


def point_id(value: Any) -> m.ExtendedPointId:
    """A point id in canonical form (an unsigned 64-bit integer or a lowercase UUID).

    Raises:
        InvalidPointId: naming the value.
    """
    if isinstance(value, np.integer):
        value = int(value)
    return canonical_id(value)


def point_ids(value: Any, argument: str) -> list[m.ExtendedPointId]:
    """A list of point ids (see ``point_id``).

    Raises:
        InvalidPointId: not a list of ids, or a bad id.
    """
    return [point_id(v) for v in items(value, argument, "a list of ids", InvalidPointId)]


def points_selector(value: PointsSelectorLike) -> m.PointIdsList | m.FilterSelector:
    """Ids, a Filter, an expression string, or an explicit selector (Shoal's models,
    qdrant-client's, or their JSON)."""
    if isinstance(value, BaseModel) and not type(value).__module__.startswith("shoal."):
        dumped = _setting(value)  # qdrant-client's Filter, PointIdsList or FilterSelector
        if "points" in dumped:
            value = as_model(dumped, m.PointIdsList)
        elif "filter" in dumped:
            value = as_model(dumped, m.FilterSelector, InvalidFilter)
        else:
            value = as_model(dumped, m.Filter, InvalidFilter)
    if isinstance(value, m.PointIdsList):
        check_sendable(value.model_copy(update={"points": []}))  # its shard_key
        return value.model_copy(update={"points": point_ids(value.points, "points")})
    if isinstance(value, m.FilterSelector):
        check_sendable(value, InvalidFilter)
        return value
    if isinstance(value, (m.Filter, str)):
        return build(m.FilterSelector, InvalidFilter, filter=value)
    if isinstance(value, Mapping):
        return m.FilterSelector(filter=as_model(value, m.Filter, InvalidFilter))
    if isinstance(value, Sequence):
        return m.PointIdsList(points=point_ids(value, "points"))
    raise BadRequest(
        f"Wrong input: points selector must be ids, a Filter or an expression, got {shown(value)}"
    )


def payload_target(value: PointsSelectorLike) -> tuple[list[m.ExtendedPointId] | None, Any]:
    """Split a payload operation's ``points=`` into (ids, filter) as the REST body has them."""
    sel = points_selector(value)
    if isinstance(sel, m.PointIdsList):
        return sel.points, None
    return None, sel.filter


def query_arg(value: QueryLike | None) -> m.QueryInterface | None:
    """A query: a vector (list or numpy array), a point id, or a query object (Shoal's
    ``NearestQuery``, ``RecommendQuery``..., qdrant-client's, or its JSON)."""
    if value is None or isinstance(value, BaseModel):
        return settings_arg(value)  # type: ignore[no-any-return]
    if isinstance(value, Mapping):
        return dict(value)  # type: ignore[return-value]
    if isinstance(value, np.ndarray):
        if value.ndim == 1 and value.dtype.kind in "fiu":
            return value  # kept an array to the engine (models.ArrayVector)
        # Any other array as a list, for validation to reject with its usual message (a bool
        # array stays bools).
        with bad_input(InvalidQuery, "query"):
            query: list[Any] = value.tolist()
        return query
    if isinstance(value, list):
        return value  # validation copies it: no copy of its own (a search's largest object)
    if isinstance(value, tuple):
        return list(value)
    if isinstance(value, (int, str, uuid.UUID, np.integer)) and not isinstance(value, bool):
        return point_id(value)
    raise InvalidQuery(
        f"Wrong input: query must be a vector, a point id or a query object, got {shown(value)}"
    )


def prefetch_arg(value: Any) -> Any:
    """``prefetch``: a ``Prefetch`` (Shoal's, qdrant-client's or its JSON) or a list of them."""
    if isinstance(value, (list, tuple)):
        return [_setting(p) for p in value]
    return _setting(value)


def query_requests(value: Any) -> m.QueryRequestBatch:
    """``query_batch_points``' requests: ``QueryRequest`` models or their dicts."""
    requests = items(value, "requests", "a list of QueryRequest", InvalidQuery)
    return m.QueryRequestBatch(
        searches=[as_model(r, m.QueryRequest, InvalidQuery) for r in requests]
    )


def update_operations(value: Any) -> m.UpdateOperations:
    """``batch_update_points``' operations: update operation models or their dicts."""
    operations = items(value, "update_operations", "a list of operations", BadRequest)
    return build(m.UpdateOperations, operations=operations)


def alias_operations(value: Any) -> m.ChangeAliasesOperation:
    """``update_collection_aliases``' operations: alias operation models (Shoal's or
    qdrant-client's) or their dicts."""
    operations = items(value, "change_aliases_operations", "a list of alias operations", BadRequest)
    return build(m.ChangeAliasesOperation, actions=[_setting(op) for op in operations])


def snapshot_name(value: Any) -> str:
    """A snapshot's file name, as ``list_snapshots`` gives it.

    Raises:
        BadRequest: not a non-empty string without ``/``.
    """
    if not isinstance(value, str) or not value or "/" in value:
        raise BadRequest(f"Wrong input: snapshot_name must be a file name, got {shown(value)}")
    _text(value, "snapshot_name", BadRequest)
    return value


def upsert_body(
    points: m.Batch | Sequence[m.PointStruct | Mapping[str, Any]],
) -> m.PointsList | m.PointsBatch:
    """``upsert``'s points: a ``Batch``, or a list of ``PointStruct`` or their dicts."""
    if isinstance(points, m.Batch):
        return m.PointsBatch(batch=points)
    given = items(points, "points", "a list of PointStruct or a Batch", BadRequest)
    # A PointStruct is the engine's to check (see the module docstring): taken as it is.
    structs = [p if type(p) is m.PointStruct else as_model(p, m.PointStruct) for p in given]
    return m.PointsList(points=structs)


_ORDERINGS = ("weak", "medium", "strong")


def ordering_arg(value: Any) -> None:
    """Check ``upsert``'s ``ordering``: None or one of Qdrant's write orderings.

    Raises:
        BadRequest: anything else.
    """
    value = _setting(value)
    # The type first: ``in`` compares an array element by element, and its truth is an error.
    if value is not None and (not isinstance(value, str) or value not in _ORDERINGS):
        raise BadRequest(
            f"Wrong input: ordering {shown(value)} is not one of 'weak', 'medium', 'strong'"
        )


# ------------------------------------------------------------------ connecting


def server_url(value: Any) -> str:
    """A server's URL: an ``http://`` or ``https://`` string.

    Raises:
        BadRequest: anything else.
    """
    if not isinstance(value, str) or not value.startswith(("http://", "https://")):
        raise BadRequest(
            f"location {shown(value)} is neither ':memory:' nor an http(s) URL; "
            "pass path= for a storage folder"
        )
    _text(value, "url", BadRequest)
    return value


def storage_path(value: Any) -> str | None:
    """A storage folder (a str or path-like object), or None for memory.

    Raises:
        BadRequest: another type, or a path no file system can name (NUL, lone surrogate).
    """
    if value is None:
        return None
    with bad_input(BadRequest, "path"):
        path = os.fspath(value)
    if not isinstance(path, str):
        raise BadRequest(f"Wrong input: path must be a str or os.PathLike, got {shown(value)}")
    if not path:
        raise BadRequest("Wrong input: path must name a folder, got ''")
    if "\0" in path:
        raise BadRequest(f"Wrong input: path {path!r:.80} contains a NUL character")
    _text(path, "path", BadRequest)
    return path


def api_key(value: Any) -> str | None:
    """An api key: printable ASCII (it travels in an HTTP header).

    Raises:
        BadRequest: another type or character.
    """
    if value is None:
        return None
    if not isinstance(value, str) or not value.isascii() or not value.isprintable():
        raise BadRequest(
            f"Wrong input: api_key must be a printable ASCII string, got {shown(value)}"
        )
    return value


def timeout(value: Any) -> float | None:
    """A timeout in seconds: a positive finite number, or None for the default.

    Raises:
        BadRequest: anything else.
    """
    if value is None:
        return None
    seconds = math.nan
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        seconds = float(value) if -1e300 < value < 1e300 else math.inf
    if not 0 < seconds < math.inf:
        raise BadRequest(
            f"Wrong input: timeout must be a positive number of seconds, got {shown(value)}"
        )
    return seconds


def timeout_arg(value: Any) -> int | None:
    """A ``timeout`` argument: whole seconds, 1 to ``MAX_TIMEOUT``, as Qdrant's ``timeout``
    parameter (a u64).

    Raises:
        BadRequest: anything else.
    """
    if value is None:
        return None
    if (
        isinstance(value, bool)
        or not isinstance(value, (int, np.integer))
        or not 1 <= value <= MAX_TIMEOUT
    ):
        raise BadRequest(
            "Wrong input: timeout must be a whole number of seconds from 1 to "
            f"{MAX_TIMEOUT}, got {shown(value)}"
        )
    return int(value)


def consistency_arg(value: Any) -> m.ReadConsistency | None:
    """A ``consistency`` argument (Qdrant's read consistency): a number of replicas >= 1,
    or ``"majority"``, ``"quorum"``, ``"all"`` (a ``ReadConsistencyType``).

    Raises:
        BadRequest: anything else.
    """
    if value is None:
        return None
    if isinstance(value, (int, np.integer)) and not isinstance(value, bool) and value >= 1:
        return int(value)
    if isinstance(value, str):
        try:
            return m.ReadConsistencyType(value)
        except ValueError:
            pass
    raise BadRequest(
        "Wrong input: consistency must be a number of replicas >= 1 or one of 'majority', "
        f"'quorum', 'all', got {shown(value)}"
    )
