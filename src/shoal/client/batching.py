"""Coalescing concurrent calls of one event loop into batched calls.

``AsyncBatcher.submit`` queues a request and returns its result. The first request on an idle
batcher starts a drain task; every request that arrives before the drain task runs, or while
its batch is being run, joins the next batch. There is no waiting window: an idle batcher
dispatches after one loop tick, and requests pile up only while a batch is in progress.

Cancellation: a request is *handed over* when the drain task takes it off the queue to run
its batch (on a worker thread, or sent to a server). A caller cancelled before that loses
its request: it is dropped from the queue and never runs. A caller cancelled after that
does not stop it: the batch runs to the end and the request's outcome is discarded.

``Batcher`` is its sync twin, for the generated sync transports: it runs each request alone,
in the caller's thread.
"""

from __future__ import annotations

import asyncio
import weakref
from collections.abc import Awaitable, Callable, Hashable, Sequence
from typing import Generic, TypeVar

Req = TypeVar("Req")
Res = TypeVar("Res")
RunBatch = Callable[[list[Req]], list[Res | BaseException]]
AsyncRunBatch = Callable[[list[Req]], Awaitable[list[Res | BaseException]]]


class _LoopQueue(Generic[Req, Res]):
    def __init__(self) -> None:
        self.pending: list[tuple[Req, asyncio.Future[Res]]] = []
        self.task: asyncio.Task[None] | None = None


class AsyncBatcher(Generic[Req, Res]):
    """Batches concurrent ``submit`` calls into calls of ``run_batch``.

    Args:
        run_batch: coroutine function returning one result or exception per request (the
            embedded transport's puts engine work on a worker thread, the HTTP one's sends
            one request).
        max_batch: upper bound of requests per batch (bounds latency and memory).
    """

    def __init__(self, run_batch: AsyncRunBatch[Req, Res], max_batch: int = 512) -> None:
        self._run = run_batch
        self._max = max_batch
        # One queue per event loop: a client may be used from several asyncio.run() calls.
        self._queues: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, _LoopQueue[Req, Res]] = (
            weakref.WeakKeyDictionary()
        )
        self._last: tuple[
            Callable[[], asyncio.AbstractEventLoop | None], _LoopQueue[Req, Res] | None
        ] = (lambda: None, None)

    async def submit(self, request: Req) -> Res:
        loop = asyncio.get_running_loop()
        # The last loop's queue, found without hashing a new weak reference per call.
        last_loop, queue = self._last
        if last_loop() is not loop or queue is None:
            queue = self._queues.get(loop)
            if queue is None:
                queue = self._queues[loop] = _LoopQueue()
            self._last = (weakref.ref(loop), queue)
        future: asyncio.Future[Res] = loop.create_future()
        queue.pending.append((request, future))
        if queue.task is None:
            queue.task = loop.create_task(self._drain(queue))
        return await future

    def waiting(self) -> int:
        """Requests of the running loop still in the queue: cancelling one of their callers
        removes it (see the module docstring)."""
        queue = self._queues.get(asyncio.get_running_loop())
        return 0 if queue is None else sum(not future.done() for _, future in queue.pending)

    async def _drain(self, queue: _LoopQueue[Req, Res]) -> None:
        try:
            while queue.pending:
                # A caller cancelled while its request waited here has given it up: the
                # request is dropped, never run. Taking the batch and the caller's
                # cancellation both happen on the loop, so each request is either dropped
                # or handed over; once handed over, it runs whatever its caller does.
                live = [item for item in queue.pending if not item[1].done()]
                batch, queue.pending = live[: self._max], live[self._max :]
                if not batch:
                    continue
                requests = [req for req, _ in batch]
                try:
                    results = await self._run(requests)
                except BaseException as exc:  # the batch itself failed: every caller sees it
                    results = [exc] * len(batch)
                for (_, future), result in zip(batch, results, strict=True):
                    if future.done():
                        continue  # the caller was cancelled
                    if isinstance(result, BaseException):
                        future.set_exception(result)
                    else:
                        future.set_result(result)
        finally:
            queue.task = None


class Batcher(Generic[Req, Res]):
    """``AsyncBatcher``'s sync twin: runs each request alone, at once, in the caller's thread.

    Args:
        run_batch: function returning one result or exception per request.
        max_batch: accepted for ``AsyncBatcher``'s signature (a batch here is one request).
    """

    def __init__(self, run_batch: RunBatch[Req, Res], max_batch: int = 512) -> None:
        self._run = run_batch

    def submit(self, request: Req) -> Res:
        result = self._run([request])[0]
        if isinstance(result, BaseException):
            raise result
        return result


def consecutive(keys: Sequence[Hashable]) -> list[list[int]]:
    """Indices of ``keys`` in maximal runs of equal keys, in order: a batch of writes is
    split where its ``wait`` flag changes, not sorted by it, so every write still lands in
    arrival order."""
    runs: list[list[int]] = []
    for i, key in enumerate(keys):
        if runs and keys[runs[-1][0]] == key:
            runs[-1].append(i)
        else:
            runs.append([i])
    return runs
