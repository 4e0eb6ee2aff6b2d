"""How Shoal's code runs concurrently: off the event loop, in batches, under shared locks.

One way off the event loop. ``run_in_thread`` is the only way code leaves a loop (the
clients, the server, the embeddings): a function runs on a worker thread and the loop awaits
it. Its sync twin ``run_inline`` (tools/gen_sync.py's names map) just calls the function.
An executor may be named: the embeddings run on ``embedding_executor()``, so a slow model
never holds the threads engine calls wait for.

One batching mechanism. Concurrent small calls are run together by a ``run_batch`` function
taking a list of requests and returning one result or exception per request, in order (so
one caller's bad request fails only that caller):

- ``AsyncBatcher``, the front of an event loop: one queue per loop; the first request on an
  idle queue starts a drain task, and every request that arrives before it runs, or while
  its batch runs, joins the next batch. Made with ``AsyncBatcher.off_loop(run_batch)`` its
  batches run on a worker thread, one hop per batch (each loop's on one thread of its own).
- ``Batcher``, the back for threads (leader/follower): a caller queues its requests and
  takes the "busy" lock; whoever holds it runs every queued request as one batch and hands
  each caller its results. The sync clients' twin of ``AsyncBatcher``, a collection's search
  coalescing for threads that call the engine directly (the server), and the group commit
  (``shoal.engine.writes``) are configurations of it.

Neither has a waiting window: an idle batcher runs a request at once (the async one after
one loop tick), and requests pile up only while a batch is already running.

Cancellation (``AsyncBatcher``): a request is *handed over* when the drain task takes it off
the queue to run its batch. A caller cancelled before that loses its request: it is dropped
and never runs. A caller cancelled after that does not stop it: the batch runs to the end
and the request's outcome is discarded. ``shield_async`` gives the same rule to a write that
no batcher queues.

``run_grouped`` splits a batch by a key (collection, vector name, filter...), runs each
group, and puts the outcomes back in the batch's order.

Work shared over cores. ``share_work`` runs a batch's independent pieces of numpy work
(which releases the GIL) on the calling thread and on helper threads at once; it never
waits for a helper that has not started, and a caller waiting for its pieces runs other
calls' pieces meanwhile.

``RWLock`` is the readers/writer lock of the collection state and of the HNSW index.

This module imports nothing of Shoal.
"""

from __future__ import annotations

import asyncio
import contextvars
import os
import threading
import weakref
from collections.abc import Awaitable, Callable, Hashable, Iterator, Sequence
from concurrent.futures import Executor, ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from typing_extensions import TypeVarTuple, Unpack

T = TypeVar("T")
K = TypeVar("K", bound=Hashable)
Req = TypeVar("Req")
Res = TypeVar("Res")
Ts = TypeVarTuple("Ts")

RunBatch = Callable[[list[Req]], list[Res | BaseException]]
AsyncRunBatch = Callable[[list[Req]], Awaitable[list[Res | BaseException]]]
DEFAULT_MAX_BATCH = 512
# Threads the embeddings get: a model call is seconds of CPU for a large batch; two let a
# query's embedding start while a document batch runs.
EMBEDDING_THREADS = 2

# ---------------------------------------------------------------- off the event loop


def run_in_thread(
    fn: Callable[[Unpack[Ts]], T], *args: Unpack[Ts], executor: Executor | None = None
) -> asyncio.Future[T]:
    """Run a blocking function on a worker thread; await the returned future on the loop.

    The caller's context variables are visible to ``fn`` (as with ``asyncio.to_thread``).

    Args:
        fn: the function (pass keyword arguments with ``functools.partial``).
        args: its positional arguments.
        executor: the thread pool; the running loop's default one when None.

    Returns:
        A future of ``fn``'s result (or its exception).
    """
    context = contextvars.copy_context()
    return asyncio.get_running_loop().run_in_executor(executor, context.run, fn, *args)


def run_inline(
    fn: Callable[[Unpack[Ts]], T], *args: Unpack[Ts], executor: Executor | None = None
) -> T:
    """``run_in_thread``'s sync twin: call ``fn`` in the caller's thread.

    Args:
        fn: the function.
        args: its positional arguments.
        executor: ignored (the signature is ``run_in_thread``'s).

    Returns:
        What ``fn`` returns.
    """
    return fn(*args)


_embedding_executor: list[ThreadPoolExecutor] = []
_embedding_lock = threading.Lock()


def embedding_executor() -> ThreadPoolExecutor:
    """The thread pool embedding models run on (created on first use, shared by the process).

    Returns:
        The executor.
    """
    with _embedding_lock:
        if not _embedding_executor:
            threads = min(EMBEDDING_THREADS, os.cpu_count() or 1)
            _embedding_executor.append(
                ThreadPoolExecutor(threads, thread_name_prefix="shoal-embedding")
            )
        return _embedding_executor[0]


# Shielded writes still running: the loop holds tasks only weakly, and a write whose caller
# was cancelled must not be collected before it ends.
_handed_over: set[asyncio.Future[Any]] = set()


async def shield_async(write: Awaitable[T]) -> T:
    """Run a write that has been handed over: it goes on to the end even if the caller is
    cancelled, so it commits whole or fails, never stops half-way.

    A write that no batcher queues (``batch_update_points``, collection and payload index
    changes) is handed over as soon as its method calls this; a cancelled caller gets
    ``CancelledError`` at once and the write's outcome is discarded.

    Args:
        write: the awaitable that performs the write (an engine call on a worker thread, or
            an HTTP request).

    Returns:
        The write's result.
    """
    task = asyncio.ensure_future(write)
    _handed_over.add(task)
    task.add_done_callback(_finished)
    return await asyncio.shield(task)


def _finished(task: asyncio.Future[Any]) -> None:
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


# ------------------------------------------------------------------------- batching


def _take(
    pending: list[T], max_batch: int | None, size: Callable[[T], int] | None
) -> tuple[list[T], list[T]]:
    """The next batch from the front of ``pending`` (at least one item; at most
    ``max_batch`` items, or total ``size`` with a size function) and what remains."""
    if max_batch is None:
        return pending, []
    if size is None:
        return pending[:max_batch], pending[max_batch:]
    take, total = 0, 0
    while take < len(pending) and (take == 0 or total + size(pending[take]) <= max_batch):
        total += size(pending[take])
        take += 1
    return pending[:take], pending[take:]


def _run_safely(run: RunBatch[Req, Res], requests: list[Req]) -> Sequence[Res | BaseException]:
    try:
        return run(requests)
    except BaseException as exc:  # the batch itself failed: every caller sees it
        return [exc] * len(requests)


class _LoopQueue(Generic[Req, Res]):
    def __init__(self, run: AsyncRunBatch[Req, Res]) -> None:
        self.pending: list[tuple[Req, asyncio.Future[Res]]] = []
        self.task: asyncio.Task[None] | None = None
        self.run = run  # how this loop's batches run


class AsyncBatcher(Generic[Req, Res]):
    """Batches the concurrent ``submit`` calls of each event loop into calls of
    ``run_batch`` (see the module docstring).

    Args:
        run_batch: coroutine function returning one result or exception per request (the
            HTTP transport's sends one request); see ``off_loop`` for a blocking one.
        max_batch: most requests per batch (bounds latency and memory), or with ``size``
            the most total size; None: everything queued.
        size: a request's size (e.g. its number of texts), for ``max_batch``.
    """

    def __init__(
        self,
        run_batch: AsyncRunBatch[Req, Res],
        *,
        max_batch: int | None = DEFAULT_MAX_BATCH,
        size: Callable[[Req], int] | None = None,
    ) -> None:
        self._run = run_batch
        # off_loop's blocking function and executor: each loop's queue runs it (_queue).
        self._blocking: tuple[RunBatch[Req, Res], Executor | None] | None = None
        self.max_batch = max_batch
        self._size = None if size is None else _item_size(size)
        # One queue per event loop: a client may be used from several asyncio.run() calls.
        self._queues: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, _LoopQueue[Req, Res]] = (
            weakref.WeakKeyDictionary()
        )
        self._last: tuple[
            Callable[[], asyncio.AbstractEventLoop | None], _LoopQueue[Req, Res] | None
        ] = (lambda: None, None)

    @classmethod
    def off_loop(
        cls,
        run_batch: RunBatch[Req, Res],
        *,
        max_batch: int | None = DEFAULT_MAX_BATCH,
        executor: Executor | None = None,
    ) -> AsyncBatcher[Req, Res]:
        """A batcher whose batches run on a worker thread (``run_in_thread``): one thread
        hop per batch, not per request.

        Without ``executor``, each event loop's batches (which run one after another) run on
        one thread of their own, not on the loop's default pool: a batch that starts on
        the thread the last one ran on runs faster, and other code's use of the pool
        never delays it. (100 hybrid searches on 100k documents, whose batch shares its
        work with a helper thread: 42-53 ms when batches alternated between two threads
        of the default pool, 38-45 ms on one.)

        Args:
            run_batch: blocking function returning one result or exception per request.
            max_batch: as in the constructor.
            executor: the thread pool to run the batches on instead.

        Returns:
            The batcher.
        """
        batcher = cls(_off_loop, max_batch=max_batch)
        batcher._blocking = (run_batch, executor)
        return batcher

    def _queue(self) -> _LoopQueue[Req, Res]:
        """A new loop's queue. An off-loop batcher's batches on that loop run on its
        executor, or one after another on a thread of their own, which starts with the
        first batch (``off_loop``)."""
        if self._blocking is None:
            return _LoopQueue(self._run)
        run_batch, executor = self._blocking
        pool = executor if executor is not None else ThreadPoolExecutor(1, "shoal-batches")

        def in_thread(batch: list[Req]) -> asyncio.Future[list[Res | BaseException]]:
            return run_in_thread(run_batch, batch, executor=pool)

        return _LoopQueue(in_thread)

    async def submit(self, request: Req) -> Res:
        """Run ``request`` in the next batch.

        Returns:
            Its result.

        Raises:
            Its exception.
        """
        loop = asyncio.get_running_loop()
        future: asyncio.Future[Res] = loop.create_future()
        self._enqueue(loop, [(request, future)])
        return await future

    async def submit_many(self, requests: Sequence[Req]) -> list[Res | BaseException]:
        """Run ``requests`` in the next batch (the next batches, past ``max_batch``).
        Cancelling the caller drops those not yet handed over, as for ``submit``.

        Returns:
            One result or exception per request, in order.
        """
        if not requests:
            return []
        loop = asyncio.get_running_loop()
        futures: list[asyncio.Future[Res]] = [loop.create_future() for _ in requests]
        self._enqueue(loop, list(zip(requests, futures, strict=True)))
        # Futures, not coroutines: gather wraps none of them in a task.
        return await asyncio.gather(*futures, return_exceptions=True)

    def _enqueue(
        self, loop: asyncio.AbstractEventLoop, items: list[tuple[Req, asyncio.Future[Res]]]
    ) -> None:
        """Queue ``items`` on ``loop``'s queue, and start its drain task if it is idle."""
        # The last loop's queue, found without hashing a new weak reference per call.
        last_loop, queue = self._last
        if last_loop() is not loop or queue is None:
            queue = self._queues.get(loop)
            if queue is None:
                queue = self._queues[loop] = self._queue()
            self._last = (weakref.ref(loop, self._forget), queue)
        queue.pending += items
        if queue.task is None:
            queue.task = loop.create_task(self._drain(queue))

    def _forget(self, loop: weakref.ref[asyncio.AbstractEventLoop]) -> None:
        """Drop the last loop's queue with the loop (and its thread, ``_queue``)."""
        if self._last[0] is loop:
            self._last = (lambda: None, None)

    def waiting(self) -> int:
        """Requests of the running loop still in the queue: cancelling one of their callers
        removes it (see the module docstring)."""
        queue = self._queues.get(asyncio.get_running_loop())
        return 0 if queue is None else sum(not future.done() for _, future in queue.pending)

    async def _drain(self, queue: _LoopQueue[Req, Res]) -> None:
        try:
            while queue.pending:
                batch = self._next_batch(queue)
                if not batch:
                    continue
                requests = []
                for request, _ in batch:
                    requests.append(request)
                try:
                    results = await queue.run(requests)
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

    def _next_batch(self, queue: _LoopQueue[Req, Res]) -> list[tuple[Req, asyncio.Future[Res]]]:
        """Take the next batch off the queue (on the loop).

        A caller cancelled while its request waited here has given it up: the request is
        dropped, never run. Taking the batch and the caller's cancellation both happen on
        the loop, so each request is either dropped or handed over; once handed over, it
        runs whatever its caller does.
        """
        live = []
        for item in queue.pending:
            if not item[1].done():
                live.append(item)
        if self._size is None and (self.max_batch is None or len(live) <= self.max_batch):
            queue.pending = []
            return live
        batch, queue.pending = _take(live, self.max_batch, self._size)
        return batch


async def _off_loop(batch: list[Any]) -> list[Any]:
    raise AssertionError("an off-loop batcher's queues run its batches (_queue)")


def _item_size(size: Callable[[Req], int]) -> Callable[[tuple[Req, Any]], int]:
    return lambda item: size(item[0])


@dataclass
class Ticket(Generic[Req, Res]):
    """Requests queued in a ``Batcher``: ``results`` is filled in when ``done``."""

    requests: Sequence[Req]
    results: Sequence[Res | BaseException] = ()
    done: bool = False


class Batcher(Generic[Req, Res]):
    """Runs the requests of every thread waiting at the time as one call of ``run_batch``
    (leader/follower; see the module docstring).

    Args:
        run_batch: function returning one result or exception per request; it runs in the
            thread of whichever caller leads the batch.
        max_batch: most requests per batch; None (the default): everything queued.
        size: a request's size, for ``max_batch`` (as in ``AsyncBatcher``).
    """

    def __init__(
        self,
        run_batch: RunBatch[Req, Res],
        *,
        max_batch: int | None = None,
        size: Callable[[Req], int] | None = None,
    ) -> None:
        self._run = run_batch
        self.max_batch = max_batch
        self._ticket_size: Callable[[Ticket[Req, Res]], int] = (
            (lambda t: len(t.requests))
            if size is None
            else (lambda t: sum(size(r) for r in t.requests))
        )
        self._queue: list[Ticket[Req, Res]] = []
        self._queue_lock = threading.Lock()
        self._busy = threading.Lock()

    @classmethod
    def off_loop(
        cls,
        run_batch: RunBatch[Req, Res],
        *,
        max_batch: int | None = DEFAULT_MAX_BATCH,
        executor: Executor | None = None,
    ) -> Batcher[Req, Res]:
        """``AsyncBatcher.off_loop``'s twin: the leader runs ``run_batch`` in its own thread.

        Args:
            run_batch: function returning one result or exception per request.
            max_batch: as in the constructor.
            executor: ignored (the signature is ``AsyncBatcher.off_loop``'s).

        Returns:
            The batcher.
        """
        return cls(run_batch, max_batch=max_batch)

    def submit(self, request: Req) -> Res:
        """Run ``request`` with the requests of the threads waiting meanwhile.

        Returns:
            Its result.

        Raises:
            Its exception.
        """
        result = self.wait(self.enqueue([request]))[0]
        if isinstance(result, BaseException):
            raise result
        return result

    def submit_many(self, requests: Sequence[Req]) -> list[Res | BaseException]:
        """Run ``requests`` in one batch with those of the threads waiting meanwhile.

        Returns:
            One result or exception per request.
        """
        return self.wait(self.enqueue(requests))

    def enqueue(self, requests: Sequence[Req]) -> Ticket[Req, Res]:
        """Queue ``requests`` without waiting: the next batch runs them (``wait`` or
        ``drain`` leads it).

        Returns:
            Their ticket.
        """
        ticket: Ticket[Req, Res] = Ticket(requests)
        with self._queue_lock:
            self._queue.append(ticket)
        return ticket

    def wait(self, ticket: Ticket[Req, Res]) -> list[Res | BaseException]:
        """The outcomes of a ticket's requests, leading batches until they have run.

        Returns:
            One result or exception per request.
        """
        with self._busy:
            while not ticket.done:
                self._run_next()
        return list(ticket.results)

    def waiting(self) -> int:
        """Requests queued and not yet taken into a batch."""
        with self._queue_lock:
            return sum(len(ticket.requests) for ticket in self._queue)

    def drain(self) -> None:
        """Run everything queued so far."""
        with self._busy:
            while self._queue:
                self._run_next()

    def _run_next(self) -> None:
        """Leader work (busy lock held): run the next batch and hand out its results."""
        with self._queue_lock:
            group, self._queue = _take(self._queue, self.max_batch, self._ticket_size)
        if not group:
            return
        flat = [r for ticket in group for r in ticket.requests]
        results = _run_safely(self._run, flat)
        start = 0
        for ticket in group:
            ticket.results = results[start : start + len(ticket.requests)]
            start += len(ticket.requests)
            ticket.done = True


# -------------------------------------------------------------------- group / scatter


def run_grouped(
    items: Sequence[T],
    key: Callable[[T], K],
    run: Callable[[K, list[T]], Sequence[Res | BaseException]],
) -> list[Res | BaseException]:
    """Run ``items`` group by group and return the outcomes in the items' order.

    Args:
        items: the batch.
        key: an item's group (items with equal keys are run together, groups in the order
            of their first item).
        run: runs one group: its key and items, one outcome per item.

    Returns:
        One outcome per item; an ``Exception`` that ``run`` raises is the outcome of each
        item of its group.
    """
    groups = _groups(items, key)
    if len(groups) == 1:  # the usual batch: one group, in order already
        (k,) = groups
        try:
            return list(run(k, list(items)))
        except Exception as exc:
            return [exc] * len(items)
    out: list[Any] = [None] * len(items)
    for k, idxs in groups.items():
        try:
            results = run(k, [items[i] for i in idxs])
        except Exception as exc:  # e.g. CollectionNotFound: fails this group's items
            results = [exc] * len(idxs)
        _scatter(out, idxs, results)
    return out


async def run_grouped_async(
    items: Sequence[T],
    key: Callable[[T], K],
    run: Callable[[K, list[T]], Awaitable[Sequence[Res | BaseException]]],
) -> list[Res | BaseException]:
    """``run_grouped`` with a coroutine function ``run`` (its twin in tools/gen_sync.py).

    Args:
        items: the batch.
        key: an item's group.
        run: runs one group.

    Returns:
        One outcome per item, as ``run_grouped``.
    """
    out: list[Any] = [None] * len(items)
    for k, idxs in _groups(items, key).items():
        try:
            results = await run(k, [items[i] for i in idxs])
        except Exception as exc:
            results = [exc] * len(idxs)
        _scatter(out, idxs, results)
    return out


def _groups(items: Sequence[T], key: Callable[[T], K]) -> dict[K, list[int]]:
    groups: dict[K, list[int]] = {}
    for i, item in enumerate(items):
        groups.setdefault(key(item), []).append(i)
    return groups


def _scatter(out: list[Any], idxs: list[int], results: Sequence[Any]) -> None:
    for i, result in zip(idxs, results, strict=True):
        out[i] = result


def consecutive(keys: Sequence[Hashable]) -> list[list[int]]:
    """Indices of ``keys`` in maximal runs of equal keys, in order: a batch of writes is
    split where its ``wait`` flag changes, not sorted by it, so every write still lands in
    arrival order.

    Args:
        keys: one key per item.

    Returns:
        The runs, each a list of indices.
    """
    runs: list[list[int]] = []
    for i, k in enumerate(keys):
        if runs and keys[runs[-1][0]] == k:
            runs[-1].append(i)
        else:
            runs.append([i])
    return runs


# ---------------------------------------------------------------------- share work

_helper_pool: list[ThreadPoolExecutor] = []
_helper_lock = threading.Lock()
MAX_HELPERS = 3


def helper_threads() -> int:
    """How many helper threads ``share_work`` has: one per core beyond the first, at most
    ``MAX_HELPERS``."""
    return min(MAX_HELPERS, (os.cpu_count() or 1) - 1)


def helper_pool() -> ThreadPoolExecutor | None:
    """The pool of ``share_work``'s helper threads (None on one core), shared by the
    process and created on first use."""
    with _helper_lock:
        if not _helper_pool:
            helpers = helper_threads()
            if helpers < 1:
                return None
            _helper_pool.append(ThreadPoolExecutor(helpers, thread_name_prefix="shoal-helper"))
        return _helper_pool[0]


class _Shared(Generic[T]):
    """The items of one running ``share_work`` call (read and changed under ``_sharing``)."""

    def __init__(self, fn: Callable[[T], object], items: Sequence[T]) -> None:
        self.fn = fn
        self.items = items
        self.taken = 0  # items[:taken] are taken
        # ... and these threads run those not done yet: one entry per item, so a thread
        # that runs two at once (one nested in the other) is here twice
        self.runners: list[int] = []
        self.failed: list[BaseException] = []

    def left(self) -> bool:
        """An item is left to take (none is, after a failure)."""
        return self.taken < len(self.items) and not self.failed


# The running share_work calls, newest last, and the condition their callers wait on: it
# is notified when an item ends and when a call starts.
_sharing = threading.Condition(threading.Lock())
_shares: list[_Shared[Any]] = []


def share_work(fn: Callable[[T], object], items: Sequence[T]) -> None:
    """Call ``fn`` on every item, on the calling thread and on helper threads at once: each
    thread takes the next item no thread has taken, until none is left.

    For the independent pieces of one batch whose work is mostly numpy calls that release
    the GIL (a batch's sparse scans on a large column), so that they run on every core.
    ``fn`` must be safe to call from any thread, beside itself, and may share work of its
    own. A helper that has not started by the time the caller runs out of items is
    cancelled, not waited for: with every helper busy (other batches), this is a plain loop
    on the calling thread. A caller whose items are all taken, some still running, does
    not idle: it takes the items of the newest other call that has some (the calls its
    running items made, typically), and waits only when no call has any.

    Raises:
        BaseException: the first exception a call raised, once every call that had
            started has returned; the items not yet taken are not run.
    """
    pool = helper_pool() if len(items) > 1 else None
    if pool is None:
        for item in items:
            fn(item)
        return
    own = _Shared(fn, items)
    with _sharing:
        _shares.append(own)
        _sharing.notify_all()  # a waiting caller may take these
    helpers = []
    try:
        for _ in range(min(helper_threads(), len(items) - 1)):
            try:
                helpers.append(pool.submit(_serve, own, False))
            except RuntimeError:  # the interpreter is exiting: no new threads
                break
        _serve(own, True)
    except BaseException:
        _interrupted(own)
        raise
    finally:
        with _sharing:
            _shares.remove(own)
        for helper in helpers:
            helper.cancel()  # (one that started has found nothing left, or will)
    if own.failed:
        raise own.failed[0]


def _interrupted(own: _Shared[Any]) -> None:
    """After an exception out of the caller's own ``_serve`` (a KeyboardInterrupt, which
    only the main thread gets): take no more of ``own``'s items, and return once the other
    threads' ones have ended, since the caller's locks (a state's read lock) cover them.

    The interrupt may have come between one of the caller's items and its bookkeeping (no
    Python code is safe from that), leaving entries of this thread in ``runners`` that no
    item will remove: this thread runs nothing now (the items still on its stack, when
    this call was nested in one, are unwinding), so every entry of it goes, in every call,
    or their callers would wait for them forever.
    """
    me = threading.get_ident()
    with _sharing:
        for share in _shares:
            share.runners = [t for t in share.runners if t != me]
        _sharing.notify_all()
        own.taken = len(own.items)
        while own.runners:
            _sharing.wait()


def _serve(own: _Shared[Any], wait: bool) -> None:
    """Run the items of ``own`` until none is left to take; with ``wait``, then also until
    none is running, meanwhile running the items of the other calls."""
    me = threading.get_ident()
    while True:
        with _sharing:
            while True:
                if own.left():
                    share = own
                    break
                if not wait or not own.runners:
                    return
                other = next((s for s in reversed(_shares) if s.left()), None)
                if other is not None:
                    share = other
                    break
                _sharing.wait()
            item = share.items[share.taken]
            share.taken += 1
            share.runners.append(me)
        error: BaseException | None = None
        try:
            share.fn(item)
        except BaseException as exc:
            error = exc
        with _sharing:
            if error is not None:
                share.failed.append(error)
            if me in share.runners:  # (not if an interrupt's _interrupted took it: nested)
                share.runners.remove(me)
            _sharing.notify_all()


# ---------------------------------------------------------------------------- locks


class RWLock:
    """Many readers or one writer; a waiting writer blocks new readers, so writes are not
    starved by a steady stream of searches."""

    def __init__(self) -> None:
        self._cond = threading.Condition(threading.Lock())
        self._readers = 0
        self._writer = False
        self._waiting_writers = 0

    @contextmanager
    def read(self) -> Iterator[None]:
        """Hold the lock shared (with other readers)."""
        with self._cond:
            while self._writer or self._waiting_writers:
                self._cond.wait()
            self._readers += 1
        try:
            yield
        finally:
            with self._cond:
                self._readers -= 1
                if not self._readers:
                    self._cond.notify_all()

    @contextmanager
    def write(self) -> Iterator[None]:
        """Hold the lock exclusively."""
        with self._cond:
            self._waiting_writers += 1
            while self._writer or self._readers:
                self._cond.wait()
            self._waiting_writers -= 1
            self._writer = True
        try:
            yield
        finally:
            with self._cond:
                self._writer = False
                self._cond.notify_all()
