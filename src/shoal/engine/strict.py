"""Qdrant's strict mode (``strict_mode_config``) for one collection: the one place its
limits are checked.

A collection whose configuration has ``strict_mode_config.enabled=true`` holds a
``StrictMode``; one without holds None, so the plain query path pays one attribute test.
The collection calls ``check_write`` for every write before it is applied (a refused write
changes nothing), ``run_queries`` around every batch of queries, ``check_read`` for scroll,
count, retrieve, facet and the distance matrix, ``check_batch`` for a batch of queries and
``check_new_index`` before a payload index is created.

Limits answer ``StrictModeError`` (HTTP 400) with Qdrant's messages ("Limit exceeded 5 > 3
for "limit". Help: ..."); the rate limits answer ``RateLimited`` (HTTP 429). The rate limits
are Qdrant's per-minute token buckets: a bucket holds at most ``read_rate_limit`` (or
``write_rate_limit``) tokens, starts full, refills at that many per minute, and a request
takes its cost in tokens or is refused whole. A search costs 1 token plus one per condition
of its filter (Qdrant's ``search_rate_cost``; a query with prefetches costs what its
prefetches do), and so do a scroll, count, facet and distance matrix; a retrieve costs 1;
an upsert or a vector update costs one per point, any other write 1.
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import fields, is_dataclass
from typing import Any

from shoal import models as m
from shoal.engine.deadline import Deadline
from shoal.engine.filtering import Filters
from shoal.engine.index_schema import IndexSchema
from shoal.engine.limits import Limits
from shoal.engine.state import CollectionState
from shoal.errors import InvalidConfig, RateLimited, StrictModeError
from shoal.filters.size import expression_size, measure_filter
from shoal.filters.tree import NestedMatch, Path, format_key, parse_key
from shoal.ids import canonical_id

# The clock of the rate limits (tests replace it: no sleeps).
clock: Callable[[], float] = time.monotonic

_Query = tuple[m.QueryRequest, "Deadline | None"]
_RUN_WITH_FILTER = "Help: Create an index for this key or use a different filter."


class Admitted(list[_Query]):
    """Queries ``run_queries`` has checked: the searcher runs them without checking again."""


class TokenBucket:
    """Qdrant's per-minute rate limiter: ``per_minute`` tokens at most, refilled evenly.

    Args:
        per_minute: the bucket's capacity, and its refill per minute.
        kind: "Read" or "Write", as the error names it.
    """

    def __init__(self, per_minute: int, kind: str) -> None:
        self.per_minute = per_minute
        self.kind = kind
        self.tokens = float(per_minute)  # starts full: a burst is allowed at first
        self._last = clock()
        self._lock = threading.Lock()

    def take(self, cost: int) -> None:
        """Take ``cost`` tokens, or none.

        Raises:
            RateLimited: a cost over the capacity (never allowed), or more than the bucket
                holds now (with when to retry).
        """
        if cost > self.per_minute:
            raise RateLimited(
                f"Rate limiting exceeded: {self.kind} rate limit exceeded, request larger "
                "than rate limiter capacity, please try to split your request"
            )
        with self._lock:
            now = clock()
            rate = self.per_minute / 60.0
            self.tokens = min(float(self.per_minute), self.tokens + rate * (now - self._last))
            self._last = now
            if self.tokens >= cost:
                self.tokens -= cost
                return
            wait = (cost - self.tokens) / rate
            raise RateLimited(
                f"Rate limiting exceeded: {self.kind} rate limit exceeded: Operation requires "
                f"{cost} tokens but only {self.tokens:.1f} were available. "
                f"Retry after {math.ceil(wait)}s",
                retry_after=math.ceil(wait),
            )


class StrictMode:
    """The limits of an enabled ``strict_mode_config`` and its two rate limiters.

    Args:
        config: the collection's ``strict_mode_config`` (enabled).
        filters: the collection's filters (to read a filter's keys).
        indexes: the collection's payload indexes (the same dict, kept current).
        state: the collection's points (for ``max_points_count``).
        previous: the strict mode this one replaces: its buckets are kept while their
            rate is unchanged, so changing another limit does not refill them.
    """

    def __init__(
        self,
        config: Mapping[str, Any],
        filters: Filters,
        indexes: Mapping[str, IndexSchema],
        state: CollectionState,
        previous: StrictMode | None = None,
    ) -> None:
        self.config = dict(config)
        self._filters = filters
        self._indexes = indexes
        self._state = state
        get = self.config.get
        self.max_query_limit: int | None = get("max_query_limit")
        self.max_timeout: int | None = get("max_timeout")
        self.filtering_retrieve = get("unindexed_filtering_retrieve") is not False
        self.filtering_update = get("unindexed_filtering_update") is not False
        self.max_hnsw_ef: int | None = get("search_max_hnsw_ef")
        self.allow_exact = get("search_allow_exact") is not False
        self.max_oversampling: float | None = get("search_max_oversampling")
        self.upsert_max_batchsize: int | None = get("upsert_max_batchsize")
        self.search_max_batchsize: int | None = get("search_max_batchsize")
        self.max_points_count: int | None = get("max_points_count")
        self.max_payload_index_count: int | None = get("max_payload_index_count")
        sizes: dict[str, int] = {
            k: self.config[k] for k in ("filter_max_conditions", "condition_max_size") if get(k)
        }
        self.filter_limits = Limits(**sizes) if sizes else None
        self.read: TokenBucket | None = _bucket(
            get("read_rate_limit"), "Read", None if previous is None else previous.read
        )
        self.write: TokenBucket | None = _bucket(
            get("write_rate_limit"), "Write", None if previous is None else previous.write
        )

    # ---------------------------------------------------------------- reads

    def run_queries(
        self,
        items: Sequence[_Query],
        run: Callable[[Admitted], list[m.QueryResponse | BaseException]],
    ) -> list[m.QueryResponse | BaseException]:
        """Check each query (its limits, then a read token), run those admitted with ``run``.

        Returns:
            One result or exception per query, in order.
        """
        refused: dict[int, BaseException] = {}
        admitted = Admitted()
        for i, (req, deadline) in enumerate(items):
            try:
                self.check_query(req, deadline)
                self.take_read(_search_cost(req))
            except Exception as exc:  # e.g. FilterTooLarge: this query's error alone
                refused[i] = exc
                continue
            admitted.append((req, deadline))
        if not refused:
            return run(admitted)
        answers = iter(run(admitted) if admitted else [])
        return [refused[i] if i in refused else next(answers) for i in range(len(items))]

    def check_query(self, req: m.QueryRequest, deadline: Deadline | None) -> None:
        """Refuse a query (or one of its prefetches) over a limit.

        Raises:
            StrictModeError: naming the limit and both values; FilterTooLarge,
                InvalidFilter: a filter over the collection's filter limits, or malformed.
        """
        self.check_timeout(deadline)
        self._check_search(req)

    def _check_search(self, req: m.QueryRequest | m.Prefetch) -> None:
        self.check_limit(req.limit, "limit")
        self.check_filter(req.filter, self.filtering_retrieve)
        params = req.params
        if params is not None:
            self._check_params(params)
        for sub in _prefetches(req.prefetch):
            self._check_search(sub)

    def check_batch(self, size: int) -> None:
        """Refuse a batch of more than ``search_max_batchsize`` queries.

        Raises:
            StrictModeError
        """
        _at_most(size, self.search_max_batchsize, "search batch size")

    def check_read(
        self, flt: Any = None, limit: int | None = None, deadline: Deadline | None = None
    ) -> None:
        """Check a scroll, count, retrieve, facet or matrix request, then take a read token.

        Raises:
            StrictModeError: over a limit; RateLimited: out of read tokens.
        """
        self.check_timeout(deadline)
        self.check_limit(limit, "limit")
        self.check_filter(flt, self.filtering_retrieve)
        self.take_read(1 + _conditions(flt))

    def take_read(self, cost: int) -> None:
        """Take ``cost`` read tokens.

        Raises:
            RateLimited
        """
        if self.read is not None:
            self.read.take(cost)

    def check_timeout(self, deadline: Deadline | None) -> None:
        """Refuse a ``timeout`` over ``max_timeout``.

        Raises:
            StrictModeError
        """
        timeout = None if deadline is None or not deadline.requested else deadline.timeout
        if timeout is not None:
            _at_most(math.ceil(timeout), self.max_timeout, "timeout")

    def check_limit(self, limit: int | None, name: str) -> None:
        """Refuse a result limit over ``max_query_limit``.

        Raises:
            StrictModeError
        """
        _at_most(limit, self.max_query_limit, name)

    def _check_params(self, params: m.SearchParams) -> None:
        _at_most(params.hnsw_ef, self.max_hnsw_ef, "hnsw_ef")
        if params.exact and not self.allow_exact:
            raise StrictModeError('Exact search disabled!. Help: Set "exact" to false.')
        quantization = params.quantization
        if quantization is not None:
            _at_most(quantization.oversampling, self.max_oversampling, "oversampling")

    def check_filter(self, flt: Any, unindexed_allowed: bool) -> None:
        """Refuse a filter over the collection's filter limits, or with a condition on a key
        that has no payload index (when unindexed filtering is off).

        Raises:
            StrictModeError: naming the key; FilterTooLarge.
        """
        if flt is None:
            return
        if self.filter_limits is not None:
            self.filter_limits.check_filter(flt)
        if unindexed_allowed:
            return
        compiled = self._filters.compile(flt)
        if compiled is None:
            return
        indexed = {parse_key(field) for field in list(self._indexes)}
        for path in _paths(compiled.tree, ()):
            if path not in indexed:
                key = format_key(path)
                raise StrictModeError(
                    f'Index required but not found for "{key}" of one of the following '
                    f"types: [keyword, integer, float, bool, datetime, uuid, geo, text]. "
                    + _RUN_WITH_FILTER
                )

    # --------------------------------------------------------------- writes

    def check_write(self, op: m.UpdateOperation, points: Sequence[m.PointStruct] | None) -> None:
        """Refuse a write over a limit, then take its write tokens.

        Args:
            op: the write.
            points: an upsert's points (None for another write).

        Raises:
            StrictModeError: over a limit; RateLimited: out of write tokens.
        """
        cost = 1
        if points is not None:
            cost = len(points)
            _at_most(cost, self.upsert_max_batchsize, "upsert limit")
            self._check_points_count(points)
        elif isinstance(op, m.UpdateVectorsOperation):
            cost = len(op.update_vectors.points)
            _at_most(cost, self.upsert_max_batchsize, "update limit")
        for body in op.__dict__.values():
            self.check_filter(_filter_of(body), self.filtering_update)
        if self.write is not None:
            self.write.take(cost)

    def _check_points_count(self, points: Sequence[m.PointStruct]) -> None:
        maximum = self.max_points_count
        if maximum is None:
            return
        new = {canonical_id(p.id) for p in points}
        added = sum(1 for pid in new if self._state.row(pid) is None)
        if added and len(self._state) + added > maximum:
            raise StrictModeError(
                f"Max points count limit of {maximum} reached. Help: Remove some points or "
                "increase max_points_count"
            )

    def check_new_index(self, field: str) -> None:
        """Refuse a payload index beyond ``max_payload_index_count`` (replacing one is fine).

        Raises:
            StrictModeError
        """
        maximum = self.max_payload_index_count
        if maximum is not None and field not in self._indexes and len(self._indexes) >= maximum:
            raise StrictModeError(
                f"Collection already has the maximum number of payload indices ({maximum}). "
                "Help: Please delete an existing index before creating a new one."
            )


def strict_mode(
    config: m.CreateCollection,
    filters: Filters,
    indexes: Mapping[str, IndexSchema],
    state: CollectionState,
    previous: StrictMode | None = None,
) -> StrictMode | None:
    """A collection's strict mode, or None when its configuration does not enable one.

    Args:
        config: the collection's configuration.
        filters, indexes, state, previous: as ``StrictMode``'s.
    """
    given = config.strict_mode_config
    if not given or given.get("enabled") is not True:
        return None
    return StrictMode(given, filters, indexes, state, previous)


# The settings StrictMode reads, by the type of their values (shoal.engine.support refuses
# the others).
_FLAGS = ("enabled", "unindexed_filtering_retrieve", "unindexed_filtering_update",
          "search_allow_exact")  # fmt: skip
_COUNTS = ("max_query_limit", "max_timeout", "search_max_hnsw_ef", "upsert_max_batchsize",
           "search_max_batchsize", "max_points_count", "max_payload_index_count",
           "filter_max_conditions", "condition_max_size", "read_rate_limit",
           "write_rate_limit")  # fmt: skip


def check_strict_config(config: m.CreateCollection) -> None:
    """Refuse a ``strict_mode_config`` whose values are not of their settings' types.

    Raises:
        InvalidConfig: naming the setting and its value.
    """
    for name, value in (config.strict_mode_config or {}).items():
        if value is None:
            continue
        if name in _FLAGS:
            ok = isinstance(value, bool)
            expected = "true or false"
        elif name in _COUNTS:
            ok = isinstance(value, int) and not isinstance(value, bool) and value >= 1
            expected = "a whole number >= 1"
        else:  # search_max_oversampling
            ok = isinstance(value, (int, float)) and not isinstance(value, bool) and value > 0
            expected = "a number > 0"
        if not ok:
            raise InvalidConfig(
                f"Wrong input: strict_mode_config.{name}={value!r:.40} is not {expected}"
            )


def _bucket(rate: int | None, kind: str, previous: TokenBucket | None) -> TokenBucket | None:
    if rate is None:
        return None
    if previous is not None and previous.per_minute == rate:
        return previous
    return TokenBucket(rate, kind)


def _at_most(value: float | None, maximum: float | None, name: str) -> None:
    if value is not None and maximum is not None and value > maximum:
        raise StrictModeError(
            f'Limit exceeded {value} > {maximum} for "{name}". '
            f'Help: Reduce the "{name}" parameter to or below {maximum}.'
        )


def _prefetches(prefetch: m.Prefetch | list[m.Prefetch] | None) -> list[m.Prefetch]:
    if prefetch is None:
        return []
    return prefetch if isinstance(prefetch, list) else [prefetch]


def _conditions(flt: Any) -> int:
    if flt is None:
        return 0
    return (expression_size(flt) if isinstance(flt, str) else measure_filter(flt)).conditions


def _search_cost(req: m.QueryRequest | m.Prefetch) -> int:
    # Qdrant's: each search it runs costs 1 and its filter's conditions; a query with
    # prefetches runs them (its own filter's conditions are added once).
    subs = _prefetches(req.prefetch)
    own = _conditions(req.filter)
    return own + (sum(_search_cost(sub) for sub in subs) if subs else 1)


def _filter_of(body: Any) -> Any:
    # A write chooses its points by filter in a selector or in its own ``filter`` field.
    if isinstance(body, m.FilterSelector):
        return body.filter
    return getattr(body, "filter", None)


def _paths(node: Any, prefix: Path) -> Iterable[Path]:
    """The payload keys a filter tree's conditions read (a nested condition's keys below
    its array, as Qdrant names them: ``country.cities[].population``)."""
    if not is_dataclass(node):
        if isinstance(node, (tuple, list)):
            for item in node:
                yield from _paths(item, prefix)
        return
    path = getattr(node, "path", None)
    if isinstance(path, tuple):
        yield prefix + path
    inner = prefix + node.path + ("[]",) if isinstance(node, NestedMatch) else prefix
    for field in fields(node):
        if field.name != "path":
            yield from _paths(getattr(node, field.name), inner)
