"""A bound on HTTP requests in flight, for the async HTTP transport.

httpx's async connection pool slows down sharply as concurrent requests pile into it (each
waiter rescans the pool: with 64 requests in flight a loopback round trip takes ~180 ms
instead of ~1 ms, encode/httpx#3215). Queueing the excess on a plain asyncio semaphore in
front of the pool keeps it small and fast, at the same total concurrency.

The transport is written once as async code and generated as sync code, which turns its
``async with gate`` into ``with gate``: this class supports both, and the sync form is a
no-op (threads contend on httpx's sync pool far less).
"""

from __future__ import annotations

import asyncio
import weakref
from types import TracebackType


class RequestGate:
    """At most ``limit`` requests in flight per event loop.

    Args:
        limit: requests let through at once; the rest wait in FIFO order.
    """

    def __init__(self, limit: int) -> None:
        self.limit = limit
        # One semaphore per event loop: a client may be used from several asyncio.run()s,
        # and an asyncio primitive belongs to the loop it first waited on.
        self._semaphores: weakref.WeakKeyDictionary[
            asyncio.AbstractEventLoop, asyncio.Semaphore
        ] = weakref.WeakKeyDictionary()

    def _semaphore(self) -> asyncio.Semaphore:
        loop = asyncio.get_running_loop()
        sem = self._semaphores.get(loop)
        if sem is None:
            sem = self._semaphores[loop] = asyncio.Semaphore(self.limit)
        return sem

    async def __aenter__(self) -> None:
        await self._semaphore().acquire()

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self._semaphore().release()

    def __enter__(self) -> None:
        return None

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        return None
