"""Request bodies: decoded and validated without stalling the event loop.

A small body (``OFF_LOOP_BYTES`` or less: every query, every ordinary write) is decoded
and validated on the loop, where it costs tens of microseconds, less than a thread hop. A
larger one goes to a worker thread, so ``/healthz`` and every other request keep being
answered while it is read.

A thread alone is not enough: orjson and pydantic hold the GIL for as long as one call
runs, so validating a 2 MB filter of 60,000 conditions would still stop the loop for a
second. Before any validation, the filters in the decoded JSON are therefore measured by a
walk in Python (which lets other threads run) and refused when over the database's limits,
the same check the engine makes on every filter it compiles.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any, TypeVar

from shoal.concurrency import run_in_thread
from shoal.engine.limits import Limits
from shoal.server import wire

T = TypeVar("T")

# Bodies above this size are decoded and validated on a worker thread.
OFF_LOOP_BYTES = 64 << 10
# Where a request body holds filters: a request's own keys, and the requests it nests (a
# query batch's searches, a query's prefetches, points/batch's operations and their bodies).
_FILTER_KEYS = ("filter", "update_filter")
_NESTED_KEYS = (
    "searches",
    "prefetch",
    "operations",
    "upsert",
    "delete",
    "set_payload",
    "overwrite_payload",
    "delete_payload",
    "clear_payload",
)


def request_filters(data: Any) -> Iterator[dict[str, Any]]:
    """The structured filters in a decoded request body, found without validating it.

    Args:
        data: the decoded JSON.

    Yields:
        Each filter object (expression strings are left to the engine).
    """
    stack = [data]
    while stack:
        node = stack.pop()
        if isinstance(node, list):
            stack.extend(node)
            continue
        if not isinstance(node, dict):
            continue
        for key in _FILTER_KEYS:
            flt = node.get(key)
            if isinstance(flt, dict):
                yield flt
        for key in _NESTED_KEYS:
            nested = node.get(key)
            if isinstance(nested, list):
                stack.extend(nested)
            elif isinstance(nested, dict):
                stack.append(nested)


def decode(raw: bytes, limits: Limits, convert: Callable[[Any], T]) -> T:
    """Decode a body, refuse its filters if over ``limits``, and convert (validate) it.

    Raises:
        BadRequest: the body is not JSON.
        FilterTooLarge, InvalidFilter: a filter over the limits.
        UnprocessableBody: (from ``convert``) the body has the wrong shape.
    """
    data = wire.parse_json(raw)
    for flt in request_filters(data):
        limits.check_filter(flt)
    return convert(data)


async def decode_off_loop(raw: bytes, limits: Limits, convert: Callable[[Any], T]) -> T:
    """``decode``, on a worker thread when the body is larger than ``OFF_LOOP_BYTES``."""
    if len(raw) <= OFF_LOOP_BYTES:
        return decode(raw, limits, convert)
    return await run_in_thread(decode, raw, limits, convert)
