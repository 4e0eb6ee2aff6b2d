"""shoal.concurrency: the one way off the event loop, the batchers, group/scatter, RWLock.

Deterministic: threads are held by events, never by sleeps."""

from __future__ import annotations

import asyncio
import contextvars
import gc
import signal
import threading
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from typing import Any

import pytest

from shoal import AsyncClient, concurrency, models
from shoal.concurrency import (
    AsyncBatcher,
    Batcher,
    RWLock,
    consecutive,
    embedding_executor,
    helper_pool,
    helper_threads,
    run_grouped,
    run_grouped_async,
    run_in_thread,
    share_work,
)

_VAR: contextvars.ContextVar[str] = contextvars.ContextVar("_VAR", default="unset")


class Held:
    """A batch function whose first call blocks until released; records every batch."""

    def __init__(self) -> None:
        self.entered = threading.Event()
        self.release = threading.Event()
        self.batches: list[list[Any]] = []

    def __call__(self, batch: list[Any]) -> list[Any]:
        self.batches.append(list(batch))
        if len(self.batches) == 1:
            self.entered.set()
            assert self.release.wait(30)
        return [ValueError(r) if r == "bad" else r * 2 for r in batch]


def test_threads_waiting_on_a_busy_batcher_share_one_batch() -> None:
    run = Held()
    batcher: Batcher[Any, Any] = Batcher(run)
    results: dict[int, Any] = {}

    def call(i: int) -> None:
        try:
            results[i] = batcher.submit(i)
        except ValueError as exc:
            results[i] = exc

    first = threading.Thread(target=call, args=(0,))
    first.start()
    assert run.entered.wait(30)
    rest = [threading.Thread(target=call, args=(i,)) for i in range(1, 6)]
    for t in rest:
        t.start()
    while batcher.waiting() < 5:  # gate on state: every follower has queued
        threading.Event().wait(0.001)
    run.release.set()
    for t in [first, *rest]:
        t.join(30)
    assert run.batches[0] == [0] and sorted(run.batches[1]) == [1, 2, 3, 4, 5]
    assert results == {i: i * 2 for i in range(6)}


def test_a_bad_request_fails_only_its_caller() -> None:
    batcher: Batcher[Any, Any] = Batcher(
        lambda batch: [ValueError(r) if r == "bad" else r for r in batch]
    )
    assert batcher.submit_many(["a", "bad", "c"])[::2] == ["a", "c"]
    with pytest.raises(ValueError, match="bad"):
        batcher.submit("bad")


def test_a_failing_batch_fails_every_caller() -> None:
    def broken(batch: list[int]) -> list[int]:
        raise RuntimeError("the batch itself")

    outcomes = Batcher(broken).submit_many([1, 2])
    assert [type(o) for o in outcomes] == [RuntimeError, RuntimeError]


def test_enqueued_requests_run_at_the_next_drain_in_size_bounded_batches() -> None:
    sizes: list[int] = []

    def run(batch: list[str]) -> list[int]:
        sizes.append(sum(len(r) for r in batch))
        return [len(r) for r in batch]

    batcher: Batcher[str, int] = Batcher(run, max_batch=4, size=len)
    tickets = [batcher.enqueue(["ab"]), batcher.enqueue(["cd", "e"]), batcher.enqueue(["fghij"])]
    assert sizes == [] and batcher.waiting() == 4
    batcher.drain()
    assert sizes == [2, 3, 5]  # an oversized request still goes, alone
    assert [t.results for t in tickets] == [[2], [2, 1], [5]]


async def test_async_batcher_off_loop_makes_one_thread_hop_per_batch() -> None:
    loop_thread = threading.get_ident()
    threads: list[int] = []

    def run(batch: list[int]) -> list[int]:
        threads.append(threading.get_ident())
        return [r + 1 for r in batch]

    batcher = AsyncBatcher.off_loop(run)
    assert await asyncio.gather(*(batcher.submit(i) for i in range(50))) == list(range(1, 51))
    assert len(threads) == 1 and threads[0] != loop_thread


async def test_async_batcher_bounds_batches_by_size() -> None:
    seen: list[list[str]] = []

    async def run(batch: list[str]) -> list[str | BaseException]:
        seen.append(batch)
        return [r.upper() for r in batch]

    batcher = AsyncBatcher(run, max_batch=3, size=len)
    got = await asyncio.gather(*(batcher.submit(t) for t in ["a", "bb", "c", "dddd", "e"]))
    assert got == ["A", "BB", "C", "DDDD", "E"]
    assert seen == [["a", "bb"], ["c"], ["dddd"], ["e"]]


async def test_submit_many_joins_concurrent_submits_and_answers_each_request() -> None:
    seen: list[list[str]] = []

    async def run(batch: list[str]) -> list[str | BaseException]:
        seen.append(batch)
        return [ValueError(r) if r == "bad" else r.upper() for r in batch]

    batcher = AsyncBatcher(run)
    many, one = await asyncio.gather(batcher.submit_many(["a", "bad", "c"]), batcher.submit("d"))
    assert many[0] == "A" and isinstance(many[1], ValueError) and many[2] == "C"
    assert one == "D"
    assert seen == [["a", "bad", "c", "d"]]  # one batch, in arrival order
    assert await batcher.submit_many([]) == []


async def test_a_cancelled_submit_many_drops_its_requests_not_yet_handed_over() -> None:
    held = Held()
    batcher = AsyncBatcher.off_loop(held)
    first = asyncio.ensure_future(batcher.submit(1))
    await asyncio.to_thread(held.entered.wait, 30)  # the first batch runs, and holds
    later = asyncio.ensure_future(batcher.submit_many([2, 3]))
    other = asyncio.ensure_future(batcher.submit(4))
    await asyncio.sleep(0)  # both queued behind the running batch
    later.cancel()
    held.release.set()
    assert await first == 2 and await other == 8
    with pytest.raises(asyncio.CancelledError):
        await later
    assert held.batches == [[1], [4]]  # 2 and 3 never ran


async def test_run_in_thread_carries_context_and_uses_the_executor_given() -> None:
    _VAR.set("caller's")
    seen: list[tuple[str, str]] = []

    def record() -> None:
        seen.append((_VAR.get(), threading.current_thread().name))

    await run_in_thread(record)
    await run_in_thread(record, executor=embedding_executor())
    assert seen[0][0] == seen[1][0] == "caller's"
    assert not seen[0][1].startswith("shoal-embedding")
    assert seen[1][1].startswith("shoal-embedding")


async def test_a_busy_embedding_model_does_not_hold_engine_calls() -> None:
    """Every embedding thread is held; engine calls still run (they use other threads)."""
    release = threading.Event()
    held = [run_in_thread(release.wait, 30, executor=embedding_executor()) for _ in range(8)]
    try:
        async with AsyncClient() as client:
            await client.create_collection("c", models.VectorParams(size=2, distance="Dot"))
            await client.upsert("c", [models.PointStruct(id=1, vector=[1.0, 0.0])])
            hits = await asyncio.wait_for(client.query_points("c", [1.0, 0.0]), 30)
        assert [p.id for p in hits.points] == [1]
    finally:
        release.set()
        await asyncio.gather(*held)


def test_run_grouped_runs_each_group_once_and_scatters_in_order() -> None:
    calls: list[tuple[str, list[str]]] = []

    def run(key: str, group: list[str]) -> list[str]:
        calls.append((key, group))
        if key == "x":
            raise KeyError(key)
        return [g.upper() for g in group]

    items = ["a1", "b1", "x1", "a2", "b2"]
    out = run_grouped(items, lambda s: s[0], run)
    assert calls == [("a", ["a1", "a2"]), ("b", ["b1", "b2"]), ("x", ["x1"])]
    assert out[:2] == ["A1", "B1"] and out[3:] == ["A2", "B2"]
    assert isinstance(out[2], KeyError)


async def test_run_grouped_async_matches_run_grouped() -> None:
    async def run(key: int, group: list[int]) -> list[int]:
        return [key * 100 + g for g in group]

    def run_sync(key: int, group: list[int]) -> list[int]:
        return [key * 100 + g for g in group]

    items = [3, 1, 4, 1, 5, 9, 2, 6]
    parity: Callable[[int], int] = lambda i: i % 2  # noqa: E731
    assert await run_grouped_async(items, parity, run) == run_grouped(items, parity, run_sync)


def test_consecutive_keeps_runs_in_order() -> None:
    assert consecutive([True, True, False, True]) == [[0, 1], [2], [3]]


def test_a_waiting_writer_holds_back_new_readers() -> None:
    lock = RWLock()
    order: list[str] = []
    writer_waiting = threading.Event()
    with lock.read():

        def write() -> None:
            writer_waiting.set()
            with lock.write():
                order.append("write")

        def read() -> None:
            with lock.read():
                order.append("read")

        w = threading.Thread(target=write)
        w.start()
        assert writer_waiting.wait(30)
        while not lock._waiting_writers:  # the writer is queued on the lock
            threading.Event().wait(0.001)
        r = threading.Thread(target=read)
        r.start()
    w.join(30)
    r.join(30)
    assert order == ["write", "read"]


async def test_minilm_embeds_on_the_embedding_threads(monkeypatch: pytest.MonkeyPatch) -> None:
    from shoal.embeddings import MiniLM

    seen: list[str] = []

    def embed_query(self: MiniLM, text: str) -> list[float]:
        seen.append(threading.current_thread().name)
        return [0.0]

    monkeypatch.setattr(MiniLM, "embed_query", embed_query)
    await MiniLM().aembed_query("text")
    assert len(seen) == 1 and seen[0].startswith("shoal-embedding")


async def test_a_sync_only_langchain_embedding_runs_on_the_embedding_threads() -> None:
    from langchain_core.embeddings import Embeddings

    from shoal.integrations.langchain.coalesce import AsyncEmbedder

    seen: list[str] = []

    class SyncOnly(Embeddings):
        def embed_documents(self, texts: list[str]) -> list[list[float]]:
            seen.append(threading.current_thread().name)
            return [[1.0, 0.0] for _ in texts]

        def embed_query(self, text: str) -> list[float]:
            seen.append(threading.current_thread().name)
            return [0.0, 1.0]

    embedder = AsyncEmbedder(SyncOnly())
    assert await embedder.documents(["a", "b"]) == [[1.0, 0.0], [1.0, 0.0]]
    assert list(await embedder.query("q")) == [0.0, 1.0]
    assert len(seen) == 2 and all(name.startswith("shoal-embedding") for name in seen)


# ---------------------------------------------------------------------- share work

needs_helper = pytest.mark.skipif(helper_pool() is None, reason="one core: no helper thread")


def test_share_work_calls_fn_once_per_item() -> None:
    seen: list[int] = []
    lock = threading.Lock()

    def fn(item: int) -> None:
        with lock:
            seen.append(item)

    share_work(fn, list(range(200)))
    assert sorted(seen) == list(range(200))
    share_work(fn, [])  # nothing to do
    assert len(seen) == 200


@needs_helper
def test_share_work_runs_items_on_a_helper_thread_beside_the_caller() -> None:
    """The first item taken waits until another item runs on another thread."""
    both = threading.Event()
    threads: dict[int, int] = {}

    def fn(item: int) -> None:
        threads[item] = threading.get_ident()
        if len(set(threads.values())) > 1:
            both.set()
        if item == 0:
            assert both.wait(30), "no second thread took an item"

    share_work(fn, list(range(6)))
    assert sorted(threads) == list(range(6))
    assert threading.get_ident() in threads.values()
    assert len(set(threads.values())) == 2


@needs_helper
def test_share_work_raises_the_first_error_once_the_started_items_end() -> None:
    """Item 0 fails while item 1 runs on the other thread: share_work raises the error, and
    only once item 1 has ended."""
    started, failing, finished = threading.Event(), threading.Event(), threading.Event()

    def fn(item: int) -> None:
        if item == 0:
            assert started.wait(30)
            failing.set()
            raise ValueError("bad item")
        if item == 1:
            started.set()
            assert failing.wait(30)
            finished.set()

    with pytest.raises(ValueError, match="bad item"):
        share_work(fn, list(range(10)))
    assert finished.is_set()


@needs_helper
def test_share_work_does_not_wait_for_busy_helpers() -> None:
    """With every helper held by other work, the caller runs every item itself, in order,
    and returns; after a failure it takes no more items."""
    pool = helper_pool()
    assert pool is not None
    release = threading.Event()
    holding = [pool.submit(release.wait, 30) for _ in range(helper_threads())]
    try:
        threads: set[int] = set()
        share_work(lambda item: threads.add(threading.get_ident()), list(range(20)))
        assert threads == {threading.get_ident()}
        ran: list[int] = []

        def fail_at_3(item: int) -> None:
            ran.append(item)
            if item == 3:
                raise KeyError(item)

        with pytest.raises(KeyError):
            share_work(fail_at_3, list(range(20)))
        assert ran == [0, 1, 2, 3]  # the items after the failure are not run
    finally:
        release.set()
    for held in holding:
        assert held.result(30)


def test_share_work_runs_on_the_caller_when_no_helper_can_start(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """At interpreter exit an executor refuses new work (RuntimeError): the caller then
    runs every item itself."""

    class Exiting(ThreadPoolExecutor):
        def submit(self, *args: Any, **kwargs: Any) -> Any:
            raise RuntimeError("cannot schedule new futures after interpreter shutdown")

    monkeypatch.setattr(concurrency, "helper_pool", lambda: Exiting(1))
    threads: list[int] = []
    share_work(lambda item: threads.append(threading.get_ident()), list(range(5)))
    assert threads == [threading.get_ident()] * 5


def test_a_caller_waiting_for_its_running_items_takes_another_calls_items() -> None:
    """The help rule of share_work's callers (``_serve``), driven by hand: a call whose
    items are all taken and one still running elsewhere runs the items of the other
    running call (its nested one, typically) while it waits, and returns once its own
    item ends."""
    ran: list[int] = []
    all_ran = threading.Event()

    def other_item(item: int) -> None:
        ran.append(item)
        if len(ran) == 3:
            all_ran.set()

    own = concurrency._Shared(lambda item: None, [0])
    other = concurrency._Shared(other_item, [0, 1, 2])
    own.taken, own.runners = 1, [-1]  # its one item runs on another thread
    with registered(own, other):
        waiter = threading.Thread(target=concurrency._serve, args=(own, True))
        waiter.start()
        assert all_ran.wait(30)  # the other call's items, run by the waiting caller
        assert ran == [0, 1, 2]
        assert waiter.is_alive()  # ... which still waits for its own item
        end_items_and_join(own, waiter)


@contextmanager
def registered(*shares: concurrency._Shared[Any]) -> Iterator[None]:
    """``shares`` are running share_work calls, for the length of the block."""
    with concurrency._sharing:
        concurrency._shares.extend(shares)
    try:
        yield
    finally:
        with concurrency._sharing:
            for share in shares:
                concurrency._shares.remove(share)


def end_items_and_join(own: concurrency._Shared[Any], waiter: threading.Thread) -> None:
    """The items other threads run of ``own`` end; ``waiter``, waiting for them, returns."""
    with concurrency._sharing:
        own.runners.clear()
        concurrency._sharing.notify_all()
    waiter.join(30)
    assert not waiter.is_alive()


def test_an_interrupted_caller_drops_its_own_entries_and_waits_for_the_other_threads() -> None:
    """What share_work does after an interrupt (``_interrupted``), driven by hand. The
    interrupt came between two of the caller's items and their bookkeeping: entries of the
    caller are left in its own call and in another call whose item it ran. Both go (that
    call's caller would wait for it forever), and the caller returns only once the item
    another thread runs has ended."""
    own = concurrency._Shared(lambda item: None, [0, 1, 2])
    other = concurrency._Shared(lambda item: None, [0])
    busy_helper = -1  # the ident of a thread that runs an item of own

    def interrupted() -> None:
        me = threading.get_ident()
        with concurrency._sharing:
            own.taken, own.runners = 2, [me, busy_helper]
            other.taken, other.runners = 1, [me]
        concurrency._interrupted(own)

    with registered(own, other):
        caller = threading.Thread(target=interrupted)
        caller.start()
        with concurrency._sharing:
            assert concurrency._sharing.wait_for(lambda: other.taken and not other.runners, 30)
            assert own.runners == [busy_helper]
            assert own.taken == 3  # no more of its items are taken
        assert caller.is_alive()  # ... waiting for the helper's item
        end_items_and_join(own, caller)


@needs_helper
@pytest.mark.skipif(threading.current_thread() is not threading.main_thread(), reason="signals")
def test_a_caller_interrupted_while_it_waits_leaves_once_its_running_items_end() -> None:
    """Ctrl-C (SIGINT) reaches the caller while it waits for an item running on a helper:
    the KeyboardInterrupt leaves share_work only once that item has ended, since the
    caller's locks cover it. The held item is released only when share_work has raised,
    or once it has clearly not (0.5 s), so code that raises at once fails here."""
    main = threading.get_ident()
    helper_started, main_done, interrupted = threading.Event(), threading.Event(), threading.Event()
    raised, finished = threading.Event(), threading.Event()

    def fn(item: int) -> None:
        if threading.get_ident() == main:
            assert helper_started.wait(30)
            main_done.set()  # the caller has no item left: it waits for the helper's
            return
        helper_started.set()
        raised.wait(0.5)  # set at once if share_work left early; else the timeout
        finished.set()

    def interrupt() -> None:
        assert main_done.wait(30)
        signal.pthread_kill(main, signal.SIGINT)

    def on_sigint(signum: int, frame: Any) -> None:
        interrupted.set()
        raise KeyboardInterrupt

    previous = signal.signal(signal.SIGINT, on_sigint)
    sender = threading.Thread(target=interrupt)
    try:
        sender.start()
        with pytest.raises(KeyboardInterrupt):
            share_work(fn, [0, 1])
        assert finished.is_set(), "share_work raised while an item still ran"
    finally:
        raised.set()
        sender.join(30)
        signal.signal(signal.SIGINT, previous)
    assert interrupted.is_set()
    assert not concurrency._shares


def test_nested_share_work_runs_every_inner_item_once() -> None:
    """Items that share work of their own (a batch's columns, each sharing its scans):
    every inner item runs once, and the calls end (no thread waits on another forever)."""
    seen: list[tuple[int, int]] = []
    lock = threading.Lock()

    def inner(pair: tuple[int, int]) -> None:
        with lock:
            seen.append(pair)

    def outer(i: int) -> None:
        share_work(inner, [(i, j) for j in range(10)])

    for _ in range(20):
        seen.clear()
        caller = threading.Thread(target=share_work, args=(outer, list(range(4))))
        caller.start()
        caller.join(60)
        assert not caller.is_alive(), "share_work did not end"
        assert sorted(seen) == [(i, j) for i in range(4) for j in range(10)]
    assert not concurrency._shares


def test_an_off_loop_batcher_runs_a_loops_batches_on_one_thread_of_its_own() -> None:
    """Each batch of a loop lands on the same thread, not on the default pool's threads
    (which other work keeps busy and switches between); the thread ends with its loop."""
    ran: list[threading.Thread] = []

    def run(batch: list[int]) -> list[Any]:
        ran.append(threading.current_thread())
        return [r * 2 for r in batch]

    batcher: AsyncBatcher[int, int] = AsyncBatcher.off_loop(run)

    async def main() -> None:
        for i in range(6):
            # Work on the default pool between batches makes it grow and switch threads.
            await asyncio.gather(
                *(asyncio.to_thread(threading.Event().wait, 0.01) for _ in range(3))
            )
            assert await asyncio.gather(batcher.submit(i), batcher.submit(10)) == [2 * i, 20]

    asyncio.run(main())
    assert len(ran) == 6
    assert len(set(ran)) == 1
    thread = ran[0]
    assert thread is not threading.main_thread()
    assert thread.name.startswith("shoal-batches")
    ran.clear()
    gc.collect()  # the loop, then its queue and the queue's executor, are collected
    thread.join(30)
    assert not thread.is_alive()
