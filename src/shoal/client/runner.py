"""How engine calls run: on a worker thread for the async client, inline for the sync one.

``run_async`` and ``run_sync`` are twins in tools/gen_sync.py's names map: the sync client's
``run_sync(...)`` is generated from ``await run_async(...)`` and calls the engine directly
(no thread hop, no loop). Likewise ``await shield_async(...)`` becomes ``shield_sync(...)``,
which is nothing: a sync call cannot be cancelled half-way.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Coroutine
from typing import Any, ParamSpec, TypeVar

P = ParamSpec("P")
T = TypeVar("T")

# Shielded writes still running: the loop holds tasks only weakly, and a write whose caller
# was cancelled must not be collected before it ends.
_handed_over: set[asyncio.Task[Any]] = set()


async def run_async(fn: Callable[P, T], /, *args: P.args, **kwargs: P.kwargs) -> T:
    """Run a blocking engine call on a worker thread, never on the event loop."""
    return await asyncio.to_thread(fn, *args, **kwargs)


def run_sync(fn: Callable[P, T], /, *args: P.args, **kwargs: P.kwargs) -> T:
    """Run an engine call in the caller's thread."""
    return fn(*args, **kwargs)


async def shield_async(write: Coroutine[Any, Any, T]) -> T:
    """Run a write that has been handed over: it goes on to the end even if the caller is
    cancelled, so it commits whole or fails, never stops half-way.

    A write that no batcher queues (``batch_update_points``, collection and payload index
    changes) is handed over as soon as its method calls this; a cancelled caller gets
    ``CancelledError`` at once and the write's outcome is discarded.

    Args:
        write: the coroutine that performs the write (an engine call on a worker thread, or
            an HTTP request).

    Returns:
        The write's result.
    """
    task = asyncio.ensure_future(write)
    _handed_over.add(task)
    task.add_done_callback(_finished)
    return await asyncio.shield(task)


def _finished(task: asyncio.Task[Any]) -> None:
    _handed_over.discard(task)
    if not task.cancelled():
        task.exception()  # read, so a cancelled caller's failed write is not reported unread


def shield_sync(write: T) -> T:
    """The sync twin of ``shield_async``: the write has already run, in the caller's thread.

    Args:
        write: the write's result.

    Returns:
        It, unchanged.
    """
    return write
