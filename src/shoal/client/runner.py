"""How engine calls run: on a worker thread for the async client, inline for the sync one.

``run_async`` and ``run_sync`` are twins in tools/gen_sync.py's names map: the sync client's
``run_sync(...)`` is generated from ``await run_async(...)`` and calls the engine directly
(no thread hop, no loop).
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import ParamSpec, TypeVar

P = ParamSpec("P")
T = TypeVar("T")


async def run_async(fn: Callable[P, T], /, *args: P.args, **kwargs: P.kwargs) -> T:
    """Run a blocking engine call on a worker thread, never on the event loop."""
    return await asyncio.to_thread(fn, *args, **kwargs)


def run_sync(fn: Callable[P, T], /, *args: P.args, **kwargs: P.kwargs) -> T:
    """Run an engine call in the caller's thread."""
    return fn(*args, **kwargs)
