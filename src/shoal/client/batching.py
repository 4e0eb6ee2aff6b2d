"""Coalescing concurrent calls of one event loop into batched engine calls.

``LoopBatcher.submit`` queues a request and returns its result. The first request on an idle
batcher starts a drain task; every request that arrives before the drain task runs, or while
its batch is on a worker thread, joins the next batch. There is no waiting window: an idle
batcher dispatches after one loop tick, and requests pile up only while the engine is busy.

Cancellation: a request is *handed over* when the drain task takes it off the queue to run
its batch (on a worker thread, or sent to a server). A caller cancelled before that loses
its request: it is dropped from the queue and never runs. A caller cancelled after that
does not stop it: the batch runs to the end and the request's outcome is discarded.

``InlineBatcher`` is its sync twin (the generator swaps the names): it runs each request
alone, in the caller's thread.
"""

from __future__ import annotations

import asyncio
import weakref
from collections.abc import Awaitable, Callable, Hashable, Sequence
from typing import Generic, TypeVar

Req = TypeVar("Req")
Res = TypeVar("Res")
RunBatch = Callable[[list[Req]], list[Res | BaseException]]


class _LoopQueue(Generic[Req, Res]):
    def __init__(self) -> None:
        self.pending: list[tuple[Req, asyncio.Future[Res]]] = []
        self.task: asyncio.Task[None] | None = None


class LoopBatcher(Generic[Req, Res]):
    """Batches concurrent ``submit`` calls and runs each batch on a worker thread.

    Args:
        run_batch: blocking function returning one result or exception per request.
        max_batch: upper bound of requests per batch (bounds latency and memory).
    """

    def __init__(self, run_batch: RunBatch[Req, Res], max_batch: int = 512) -> None:
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
                    results = await self._call(requests)
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

    async def _call(self, requests: list[Req]) -> list[Res | BaseException]:
        # Engine work is blocking: run it on a worker thread, never on the loop.
        return await asyncio.to_thread(self._run, requests)


class AwaitBatcher(LoopBatcher[Req, Res]):
    """A LoopBatcher whose batch function is a coroutine (network I/O), awaited on the loop.

    Args:
        run_batch: coroutine function returning one result or exception per request.
        max_batch: upper bound of requests per batch.
    """

    def __init__(
        self,
        run_batch: Callable[[list[Req]], Awaitable[list[Res | BaseException]]],
        max_batch: int = 512,
    ) -> None:
        super().__init__(lambda requests: [], max_batch)
        self._arun = run_batch

    async def _call(self, requests: list[Req]) -> list[Res | BaseException]:
        return await self._arun(requests)


class InlineBatcher(Generic[Req, Res]):
    """The sync client's stand-in: runs one request at once in the caller's thread."""

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
