"""``query_points_groups``: the best points of a query, grouped by a payload value.

As Qdrant answers it: walking the query's results best first, each point joins the group of
every distinct value its ``group_by`` key holds (an integer or a string; a point with a
value of another type, or none, joins no group), while that group has fewer than
``group_size`` hits; the first ``limit`` groups to appear are the answer. The query runs
with a growing limit until those groups are full or the results run out, so the answer is
the one the whole ranked list would give. ``with_lookup`` adds to each group the point of
another collection whose id is the group's value (none when the value names no point).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from shoal import models as m
from shoal.engine.records import project_payload
from shoal.errors import InvalidPointId, InvalidQuery, NotSupported
from shoal.filters.evaluate import values_at
from shoal.filters.tree import parse_key
from shoal.ids import PointId, canonical_id

_QUERY_FIELDS = set(m.QueryFields.model_fields) - {"with_payload", "with_vector"}
MAX_GROUP_SIZE = 1_000  # points per group
MAX_GROUPS = 10_000  # groups per answer
RunQuery = Callable[[m.QueryRequest], list[m.ScoredPoint]]
# (collection, point id, with_payload, with_vectors) -> the point, or None
LookupRecord = Callable[[str, PointId, Any, Any], m.Record | None]


def query_groups(
    req: m.QueryGroupsRequest, run: RunQuery, total: int, lookup: LookupRecord | None
) -> m.GroupsResult:
    """Group a query's results.

    Args:
        req: the request.
        run: answers a query (with payloads) on the collection.
        total: the collection's point count (the most results a query can give).
        lookup: finds a point of another collection (``with_lookup``).

    Raises:
        InvalidQuery: a bad ``group_by``, ``group_size``, ``limit`` or ``with_lookup``.
        CollectionNotFound: the ``with_lookup`` collection.
    """
    if req.shard_key is not None:
        raise NotSupported("Wrong input: shard_key is not supported: one shard on one node")
    where = _lookup_of(req.with_lookup)
    if where is not None and lookup is None:
        raise NotSupported("Wrong input: with_lookup needs the collection's database")
    path = _path(req.group_by)
    size = _bounded(req.group_size, 3, MAX_GROUP_SIZE, "group_size")
    limit = _bounded(req.limit, 10, MAX_GROUPS, "limit")
    fetch = max(limit * size * 2, 16)
    while True:
        asked = {name: getattr(req, name) for name in _QUERY_FIELDS}  # validated already
        sub = m.QueryRequest.model_construct(
            **asked, limit=fetch, with_payload=True, with_vector=req.with_vector
        )
        points = run(sub)
        groups = _grouped(points, path, size)
        complete = len(groups) >= limit and all(
            len(h) >= size for h in list(groups.values())[:limit]
        )
        if complete or len(points) < fetch or fetch >= total:
            break
        fetch = min(fetch * 4, max(total, 1))
    selector = False if req.with_payload is None else req.with_payload  # Qdrant's default
    found = []
    for gid, hits in list(groups.items())[:limit]:
        looked = None
        if where is not None and lookup is not None:
            looked = _looked_up(lookup, where, gid)
        found.append(
            m.PointGroup(id=gid, hits=[_projected(p, selector) for p in hits], lookup=looked)
        )
    return m.GroupsResult(groups=found)


def _lookup_of(value: Any) -> tuple[str, Any, Any] | None:
    """``with_lookup`` as (collection, with_payload, with_vectors)."""
    if value is None:
        return None
    if isinstance(value, str):
        return value, True, False
    if isinstance(value, dict) and isinstance(value.get("collection"), str):
        unknown = set(value) - {"collection", "with_payload", "with_vectors"}
        if not unknown:
            payload = value.get("with_payload")
            return (
                value["collection"],
                True if payload is None else payload,
                value.get("with_vectors") or False,
            )
    raise InvalidQuery(
        f"Wrong input: with_lookup {value!r}; expected a collection name or "
        "{'collection': ..., 'with_payload': ..., 'with_vectors': ...}"
    )


def _looked_up(
    lookup: LookupRecord, where: tuple[str, Any, Any], gid: int | str
) -> m.Record | None:
    try:
        pid = canonical_id(gid)
    except InvalidPointId:  # a group value that can name no point: nothing to look up
        return None
    collection, with_payload, with_vectors = where
    return lookup(collection, pid, with_payload, with_vectors)


def _grouped(
    points: list[m.ScoredPoint], path: Any, size: int
) -> dict[int | str, list[m.ScoredPoint]]:
    groups: dict[int | str, list[m.ScoredPoint]] = {}
    for point in points:
        values = values_at(point.payload or {}, path)
        # As Qdrant: one value of another type (a bool, a float, an object) and the point
        # joins no group; type() and not isinstance, for True is an int too.
        if not values or any(type(v) not in (int, str) for v in values):
            continue
        for value in dict.fromkeys(values):
            hits = groups.setdefault(value, [])
            if len(hits) < size:
                hits.append(point)
    return groups


def _projected(point: m.ScoredPoint, selector: m.WithPayloadInterface) -> m.ScoredPoint:
    payload = project_payload(point.payload, selector)
    return point.model_copy(update={"payload": payload})


def _path(group_by: str) -> Any:
    if not group_by:
        raise InvalidQuery("Wrong input: group_by must name a payload key")
    try:
        return parse_key(group_by)
    except ValueError as exc:
        raise InvalidQuery(f"Wrong input: group_by {group_by!r}: {exc}") from None


def _bounded(value: int | None, default: int, most: int, name: str) -> int:
    value = default if value is None else value
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= most:
        raise InvalidQuery(f"Wrong input: {name}={value!r}; expected 1..{most}")
    return value
