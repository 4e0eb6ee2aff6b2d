"""Async vs sync through LangChain vector stores: the tutorial workload.

Reproduces the LangChain + Milvus async tutorial's workload (described in BENCHMARKS.md,
"Async vs sync: the tutorial workload") for Shoal, embedded and behind ``shoal serve``
(and embedded in langchain-milvus's hybrid form, a dense and a ``BM25BuiltInFunction``
field fused by ``ranker_type`` rrf or weighted: ``shoal-hybrid-rrf``,
``shoal-hybrid-weighted``), and for the stores users would otherwise pick:
langchain-milvus on Milvus Lite, langchain-qdrant in local mode (memory and disk), Chroma
(persistent) and LangChain's FAISS (memory). The other stores come with the ``bench`` extra
(``pip install -e '.[bench,langchain,server]'``); a store that cannot be imported is
skipped and the report says why::

    python bench/seed.py --json seed.json        # everything, ~35 min
    python bench/seed.py --quick                  # 60 ms embedding: N <= 100
    python bench/seed.py --smoke                  # every code path in seconds
    python bench/seed.py --throughput-only --stores shoal,chroma
    python bench/seed.py --stores shoal,shoal-hybrid-rrf,shoal-hybrid-weighted --ops search \
        --n 100 --embeddings hash --throughput-docs 0   # hybrid beside dense

Operations (one fresh collection per test; ``auto_id=True``, ``drop_old=True``):

- add: async = ``gather`` of N ``aadd_documents([doc])``; sync = N ``add_documents([doc])``;
- search: 1000 documents stored with one ``add_documents``, then N
  ``asimilarity_search(f"test document {i % 50}", k=3)`` (gather) or a loop of the sync;
- delete: 1000 stored, then N deletes by the metadata field ``id`` (``adelete(expr=...)``
  for Milvus and Shoal; see ``seed_stores.py`` for each other store's equivalent).

Embeddings: a zero-cost 384-dimension hash embedding, and the same vectors behind 60 ms
per call. After every run the live documents are counted: the count must equal added
minus deleted, and any store that loses or duplicates documents is reported (CHECK
FAILED). Then a throughput test: 10,000 documents loaded in batches, 2,000
``asimilarity_search`` calls with 64 in flight (hash embedding): queries/s, p50, p99.

A cell whose runs take under a second (100 zero-cost calls take milliseconds, and one
scheduler hiccup on a shared 2-core machine can double that) is run up to ``--repeat``
times, async and sync alternating, each on a fresh collection; the medians are reported
and every repetition's count is checked. The throughput test loads every store first,
then repeats rounds of searches the same way (while a round takes under 3 s), round 1 of
every store before round 2 of any, and reports each store's medians.

Sync calls run in a worker thread and every run has a time limit (``--timeout``), so a
store that stops answering is reported and skipped rather than waited for. Prints
markdown tables on stdout and progress on stderr; ``--json`` saves every number.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import json
import logging
import os
import platform
import random
import signal
import statistics
import sys
import tempfile
import threading
import time
import warnings
from collections.abc import Awaitable, Callable
from dataclasses import asdict, dataclass, field
from importlib import metadata
from pathlib import Path
from types import FrameType
from typing import Any

os.environ.setdefault("ANONYMIZED_TELEMETRY", "False")  # Chroma: no phoning home
warnings.filterwarnings("ignore", category=DeprecationWarning, module=r"langchain_community")
warnings.filterwarnings("ignore", message=r".*langchain-community.*")

from _smoke import parse_args as parse_with_smoke  # noqa: E402
from langchain_core.documents import Document  # noqa: E402
from langchain_core.vectorstores import VectorStore  # noqa: E402
from seed_embeddings import HashEmbeddings, LatencyEmbeddings  # noqa: E402
from seed_report import PREFILL, K, Results, Run, Throughput, report  # noqa: E402
from seed_stores import ALL_KITS, Kit, Unavailable, make_kit, remove_tree  # noqa: E402

OPERATIONS = ("add", "search", "delete")
QUICK_CAP = 100
THROUGHPUT_TIMEOUT_FACTOR = 3  # loading 10,000 documents takes some stores minutes
STOP_TIMEOUT_S = 60.0
REPEAT_UNDER_S = 1.0  # cells whose runs take less than this are repeated (--repeat)
THROUGHPUT_REPEAT_UNDER_S = 3.0  # the same for a throughput round of searches
VERSIONED = (
    "langchain-core",
    "langchain-milvus",
    "pymilvus",
    "milvus-lite",
    "langchain-qdrant",
    "qdrant-client",
    "langchain-chroma",
    "chromadb",
    "faiss-cpu",
    "langchain-community",
    "shoal",
)


def progress(message: str, _t0: float = time.perf_counter()) -> None:
    """A timestamped line on stderr."""
    print(f"[{time.perf_counter() - _t0:7.1f}s] {message}", file=sys.stderr, flush=True)


def make_docs(n: int, start: int = 0) -> list[Document]:
    """Documents ``start`` .. ``start + n - 1`` of the workload (deterministic)."""
    docs = []
    for i in range(start, start + n):
        rng = random.Random(i)
        docs.append(
            Document(
                page_content=f"This is test document {i} with some random content: {rng.random()}",
                metadata={"id": f"doc_{i}", "score": rng.random(), "category": f"cat_{i % 5}"},
            )
        )
    return docs


def _short(exc: BaseException) -> str:
    text = " ".join(f"{type(exc).__name__}: {exc}".split())
    return text[:160] + ("..." if len(text) > 160 else "")


def _calls(
    kit: Kit, store: VectorStore, op: str, n: int
) -> tuple[list[Callable[[], Any]], list[Callable[[], Awaitable[Any]]]]:
    """The N sync calls and the N async calls of one operation."""
    if op == "add":
        docs = make_docs(n)
        return (
            [lambda d=d: store.add_documents([d]) for d in docs],
            [lambda d=d: store.aadd_documents([d]) for d in docs],
        )
    if op == "search":
        queries = [f"test document {i % 50}" for i in range(n)]
        extra = kit.search_kwargs
        return (
            [lambda q=q: store.similarity_search(query=q, k=K, **extra) for q in queries],
            [lambda q=q: store.asimilarity_search(query=q, k=K, **extra) for q in queries],
        )
    ids = [f"doc_{i}" for i in range(n)]
    return (
        [lambda d=d: kit.delete_by_id(store, d) for d in ids],
        [lambda d=d: kit.adelete_by_id(store, d) for d in ids],
    )


class Hung(Exception):
    """A store did not answer within the run's time limit."""


async def in_thread(fn: Callable[[], Any], timeout: float) -> Any:
    """Run blocking ``fn`` in a daemon thread and await it, for at most ``timeout`` s.

    Sync calls run off the event loop so that a store that hangs (Milvus Lite did, once)
    cannot hang the benchmark: after ``timeout`` the thread is abandoned (being a daemon, it
    does not keep the process alive) and :class:`Hung` is raised.
    """
    loop = asyncio.get_running_loop()
    done: asyncio.Future[Any] = loop.create_future()

    def settle(result: Any, error: BaseException | None) -> None:
        if done.done():
            return  # timed out already
        if error is not None:
            done.set_exception(error)
        else:
            done.set_result(result)

    def work() -> None:
        try:
            result = fn()
        except BaseException as exc:
            loop.call_soon_threadsafe(settle, None, exc)
        else:
            loop.call_soon_threadsafe(settle, result, None)

    threading.Thread(target=work, name="seed-sync", daemon=True).start()
    try:
        return await asyncio.wait_for(done, timeout)
    except asyncio.TimeoutError:
        raise Hung(f"no answer after {timeout:.0f} s") from None


async def within(awaitable: Awaitable[Any], timeout: float) -> Any:
    """Await with a time limit; :class:`Hung` when it runs out."""
    try:
        return await asyncio.wait_for(awaitable, timeout)
    except asyncio.TimeoutError:
        raise Hung(f"no answer after {timeout:.0f} s") from None


def _sync_loop(calls: list[Callable[[], Any]]) -> list[Any]:
    results: list[Any] = []
    for call in calls:
        try:
            results.append(call())
        except Exception as exc:
            results.append(exc)
    return results


async def run_op(kit: Kit, emb: HashEmbeddings, op: str, n: int, mode: str, timeout: float) -> Run:
    """Time N calls of ``op`` on a fresh collection, then count the live documents.

    A store that stops answering is marked ``hung`` and not touched again (not even closed).
    """
    run = Run(kit.name, emb.name, op, n, mode)
    try:
        store = await kit.open(emb)
    except Exception as exc:
        run.error = f"open: {_short(exc)}"
        return run
    try:
        if op != "add":
            await in_thread(lambda: store.add_documents(make_docs(PREFILL)), timeout)
        sync_calls, async_calls = _calls(kit, store, op, n)
        emb.reset()
        # The prefill's garbage is collected before the clock starts: otherwise the full
        # collection it makes due lands in whichever mode runs first (async) and is charged
        # to its N calls (measured: 43 of 60 ms for 100 async searches).
        gc.collect()
        t0 = time.perf_counter()
        if mode == "async":
            gathered = asyncio.gather(*(c() for c in async_calls), return_exceptions=True)
            results = list(await within(gathered, timeout))
        else:
            results = await in_thread(lambda: _sync_loop(sync_calls), timeout)
        run.seconds = time.perf_counter() - t0
        run.embed_calls = emb.calls
        failures = [r for r in results if isinstance(r, BaseException)]
        run.failed_calls = len(failures)
        if failures:
            run.error = _short(failures[0])
        if op == "search":
            run.short_results = sum(1 for r in results if isinstance(r, list) and len(r) < K)
        done = n - len(failures)
        run.expected = {"add": done, "search": PREFILL, "delete": PREFILL - done}[op]
        try:
            run.counted = await in_thread(lambda: kit.count(store), timeout)
        except Hung:
            raise
        except Exception as exc:
            run.count_error = _short(exc)
    except Hung as exc:
        run.error, run.hung = f"hung: {exc}", True
        return run
    except Exception as exc:
        run.error = _short(exc)
    await _close(kit, store, timeout)
    return run


async def _close(kit: Kit, store: VectorStore, timeout: float) -> None:
    try:
        await within(kit.close(store), timeout)
    except Exception as exc:
        progress(f"  {kit.name}: closing failed: {_short(exc)}")


def _p50_p99(latencies: list[float]) -> tuple[float, float]:
    ordered = sorted(latencies)
    return statistics.median(ordered), ordered[min(len(ordered) - 1, int(0.99 * len(ordered)))]


@dataclass
class _Searcher:
    """One store in the throughput test: loaded once, then searched in rounds."""

    kit: Kit
    tp: Throughput
    store: VectorStore | None = None
    rounds: list[tuple[float, float, float]] = field(default_factory=list)  # q/s, p50, p99
    done: bool = False  # no more rounds: it failed, hung, or a round took long enough


async def run_throughput(kits: list[Kit], args: argparse.Namespace, results: Results) -> None:
    """Load ``--throughput-docs`` documents into every store, then run rounds of
    ``--throughput-queries`` searches, ``--inflight`` at once, store after store: up to
    ``--repeat`` rounds each while its round takes under ``THROUGHPUT_REPEAT_UNDER_S``.
    Each store reports the medians of its rounds' q/s, p50 and p99.

    Rounds are interleaved (round 1 of every store, then round 2, ...) rather than run
    store by store, so that a slow spell of this shared machine falls on every store's
    rounds alike instead of on whichever store happened to be measured then.
    """
    timeout = THROUGHPUT_TIMEOUT_FACTOR * args.timeout
    searchers = [
        _Searcher(
            kit, Throughput(kit.name, args.throughput_docs, args.throughput_queries, args.inflight)
        )
        for kit in kits
        if kit.name not in results.hung
    ]
    for s in searchers:
        await _load(s, args.throughput_docs, args.batch, args.inflight, timeout)
        if s.tp.hung:
            results.hung[s.kit.name] = f"throughput load; {await abandon(s.kit, args.timeout)}"
        load = "-" if s.tp.load_s is None else f"{s.tp.load_s:.1f} s"
        note = f", error: {s.tp.error}" if s.tp.error else ""
        progress(f"  {s.kit.name:<13} loaded in {load}, count {s.tp.counted}{note}")
    results.idle_cpu_ms = await idle_cpu_ms()
    progress(f"  every store loaded; idle CPU {results.idle_cpu_ms:.0f} ms/s")
    for number in range(1, args.repeat + 1):
        for s in searchers:
            if s.done:
                continue
            await _round(s, args.throughput_queries, args.inflight, timeout)
            if s.tp.hung:
                results.hung[s.kit.name] = f"throughput; {await abandon(s.kit, args.timeout)}"
            qps = f"{s.rounds[-1][0]:.0f} q/s" if s.rounds else "-"
            progress(f"  round {number}: {s.kit.name:<13} {qps}")
    for s in searchers:
        tp = s.tp
        if s.rounds:
            tp.rounds = [round(r[0], 1) for r in s.rounds]
            tp.qps = statistics.median(r[0] for r in s.rounds)
            tp.p50_ms = statistics.median(r[1] for r in s.rounds) * 1000
            tp.p99_ms = statistics.median(r[2] for r in s.rounds) * 1000
        if s.store is not None and not tp.hung:
            await _close(s.kit, s.store, timeout)
        results.throughput.append(tp)
        qps = "-" if tp.qps is None else f"{tp.qps:.0f} q/s"
        p99 = "-" if tp.p99_ms is None else f"p99 {tp.p99_ms:.1f} ms"
        progress(f"  {s.kit.name:<13} {qps}, {p99} (median of {len(s.rounds)} rounds)")
        if tp.counted is not None and tp.counted != tp.docs:
            progress(
                f"CHECK FAILED: {s.kit.name} throughput load: counted {tp.counted}, "
                f"expected {tp.docs}"
            )


async def _load(s: _Searcher, docs: int, batch: int, inflight: int, timeout: float) -> None:
    """Open the store, load ``docs`` documents in batches, count them, warm up."""
    tp = s.tp
    try:
        s.store = await s.kit.open(HashEmbeddings())
    except Exception as exc:
        tp.error, s.done = f"open: {_short(exc)}", True
        return
    store = s.store

    async def load() -> None:
        t0 = time.perf_counter()
        for start in range(0, docs, batch):
            await store.aadd_documents(make_docs(min(batch, docs - start), start))
        await s.kit.settle(store)
        tp.load_s = time.perf_counter() - t0
        tp.counted = await in_thread(lambda: s.kit.count(store), timeout)
        await _searches(store, inflight, inflight, docs, None, s.kit.search_kwargs)  # warm-up

    try:
        await within(load(), timeout)
    except Hung as exc:
        tp.error, tp.hung, s.done = f"hung: {exc}", True, True
    except Exception as exc:
        tp.error, s.done = _short(exc), True


async def _round(s: _Searcher, queries: int, inflight: int, timeout: float) -> None:
    """One timed round of searches; a round over the time limit ends the store's rounds."""
    assert s.store is not None
    latencies: list[float] = []
    # The load (and the other stores' rounds) left garbage: collect it now, for every store
    # alike, so that a full collection it made due does not land in the timed searches
    # (timeit disables the collector for the same reason).
    gc.collect()
    started = time.perf_counter()
    try:
        failures = await within(
            _searches(s.store, inflight, queries, s.tp.docs, latencies, s.kit.search_kwargs),
            timeout,
        )
    except Hung as exc:
        s.done = True
        if not latencies:
            s.tp.error, s.tp.hung = f"hung: {exc}", True
            return
        # Slow, not stuck: report the searches that finished in the time allowed.
        s.tp.error = f"stopped after {timeout:.0f} s: {len(latencies)} of {queries} searches done"
        failures = []
    except Exception as exc:
        s.tp.error, s.done = _short(exc), True
        return
    elapsed = time.perf_counter() - started
    s.tp.completed = len(latencies)  # of the last round
    s.tp.failed_calls += len(failures)
    if failures and s.tp.error is None:
        s.tp.error = _short(failures[0])
    if latencies:
        s.rounds.append((len(latencies) / elapsed, *_p50_p99(latencies)))
    if elapsed > THROUGHPUT_REPEAT_UNDER_S:
        s.done = True


async def _searches(
    store: VectorStore,
    inflight: int,
    n: int,
    docs: int,
    latencies: list[float] | None,
    extra: dict[str, Any],
) -> list[BaseException]:
    """``n`` searches for documents' texts by ``inflight`` workers, each with one search at
    a time (starting all n tasks up front would delay the first searches by the time it
    takes to start them all) with the store's search arguments ``extra``; each latency is
    appended to ``latencies``. Returns the failures."""
    todo = iter(range(n))

    async def worker() -> list[BaseException]:
        failures: list[BaseException] = []
        for i in todo:
            started = time.perf_counter()
            try:
                await store.asimilarity_search(query=f"test document {i % docs}", k=K, **extra)
            except Exception as exc:
                failures.append(exc)
                continue
            if latencies is not None:
                latencies.append(time.perf_counter() - started)
        return failures

    per_worker = await asyncio.gather(*(worker() for _ in range(inflight)))
    return [exc for failures in per_worker for exc in failures]


async def run_cell(
    kit: Kit, emb: HashEmbeddings, op: str, n: int, args: argparse.Namespace, results: Results
) -> list[Run]:
    """The async and the sync run of one cell, repeated while they are short.

    A run of 100 zero-cost calls lasts milliseconds, so one scheduler hiccup on a shared
    2-core machine can halve or double it. Such a cell is run up to ``args.repeat`` times
    (async then sync, each on a fresh collection) and reported by the median of each mode;
    a count that is not exact in any repetition is reported, whatever the others did.
    """
    by_mode: dict[str, list[Run]] = {"async": [], "sync": []}
    for _ in range(args.repeat):
        for mode in ("async", "sync"):
            run = await run_op(kit, emb, op, n, mode, args.timeout)
            by_mode[mode].append(run)
            _log_run(run)
            if run.hung:
                idle = await abandon(kit, args.timeout)
                results.hung[kit.name] = f"{emb.name} {op} N={n} {mode}; {idle}"
                return [_merged(runs) for runs in by_mode.values() if runs]
        done = [runs[-1] for runs in by_mode.values()]
        if any(r.seconds is None or r.seconds > REPEAT_UNDER_S for r in done):
            break
    return [_merged(runs) for runs in by_mode.values()]


async def abandon(kit: Kit, timeout: float) -> str:
    """Stop what a hung store left running, and measure what this process still burns
    while idle: every later cell runs in the same process, beside it."""
    try:
        await in_thread(kit.abandon, timeout)
    except Exception as exc:
        progress(f"  {kit.name}: stopping it failed: {_short(exc)}")
    idle = f"idle CPU after stopping it: {await idle_cpu_ms():.0f} ms/s"
    progress(f"  {kit.name}: {idle}")
    return idle


async def idle_cpu_ms() -> float:
    """CPU milliseconds this process burns in one idle second (threads other stores left
    behind): whatever it is, the cells measured next run beside it."""
    before = time.process_time()
    await asyncio.sleep(1.0)
    return (time.process_time() - before) * 1000


def _merged(runs: list[Run]) -> Run:
    """One run standing for repetitions: the first that failed or miscounted, else the
    first with the median time; ``repeats`` keeps every repetition's time."""
    bad = [r for r in runs if r.seconds is None or r.error or not r.exact]
    chosen = bad[0] if bad else runs[0]
    chosen.repeats = [r.seconds for r in runs if r.seconds is not None]
    if not bad:
        chosen.seconds = statistics.median(chosen.repeats)
        chosen.embed_calls = max(r.embed_calls for r in runs)
        chosen.short_results = max(r.short_results for r in runs)
    return chosen


def _log_run(run: Run) -> None:
    secs = "-" if run.seconds is None else f"{run.seconds:.3f}s"
    notes = [f"embed calls {run.embed_calls}"]
    if run.failed_calls:
        notes.append(f"{run.failed_calls}/{run.n} calls FAILED ({run.error})")
    elif run.error:
        notes.append(f"error: {run.error}")
    if run.short_results:
        notes.append(f"{run.short_results} searches short of k={K}")
    progress(f"  {run.store:<13} {run.mode:<5} {secs:>9}  check {run.check}; {', '.join(notes)}")
    if run.expected is not None and not run.exact:
        progress(
            f"CHECK FAILED: {run.store} {run.embedding} {run.op} N={run.n} {run.mode}: {run.check}"
        )


def _versions() -> dict[str, str]:
    out = {}
    for dist in VERSIONED:
        try:
            out[dist] = metadata.version(dist)
        except metadata.PackageNotFoundError:
            out[dist] = "not installed"
    return out


def _int_list(text: str) -> list[int]:
    return [int(x) for x in text.split(",") if x.strip()]


def _name_list(choices: tuple[str, ...]) -> Callable[[str], list[str]]:
    def parse(text: str) -> list[str]:
        names = [x.strip() for x in text.split(",") if x.strip()]
        bad = [x for x in names if x not in choices]
        if bad:
            raise argparse.ArgumentTypeError(f"unknown {bad}; choose from {', '.join(choices)}")
        return names

    return parse


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    """The command line."""
    ap = argparse.ArgumentParser(
        description=(__doc__ or "").splitlines()[0],
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    ap.add_argument(
        "--stores",
        type=_name_list(ALL_KITS),
        default=list(ALL_KITS),
        help=f"comma-separated, from {','.join(ALL_KITS)}",
    )
    ap.add_argument("--n", type=_int_list, default=[10, 100, 1000], help="call counts")
    ap.add_argument(
        "--ops", type=_name_list(OPERATIONS), default=list(OPERATIONS), help="comma-separated"
    )
    ap.add_argument(
        "--embeddings",
        type=_name_list(("hash", "latency")),
        default=["hash", "latency"],
        help="hash (zero cost) and/or latency (hash + --latency-ms per call)",
    )
    ap.add_argument("--latency-ms", type=float, default=60.0, help="the slow embedding's delay")
    ap.add_argument(
        "--quick", action="store_true", help=f"cap N at {QUICK_CAP} for the slow embedding"
    )
    ap.add_argument("--throughput-docs", type=int, default=10_000, help="0 skips throughput")
    ap.add_argument("--throughput-queries", type=int, default=2_000, help="searches timed")
    ap.add_argument("--inflight", type=int, default=64, help="concurrent searches")
    ap.add_argument("--batch", type=int, default=1000, help="load batch size")
    ap.add_argument(
        "--throughput-only", action="store_true", help="skip the add/search/delete tests"
    )
    ap.add_argument(
        "--timeout",
        type=float,
        default=300.0,
        help="seconds one run may take before its store is declared hung and skipped "
        f"(throughput: {THROUGHPUT_TIMEOUT_FACTOR}x)",
    )
    ap.add_argument(
        "--repeat",
        type=int,
        default=5,
        help=f"runs of a cell whose runs take under {REPEAT_UNDER_S:.0f} s; medians reported",
    )
    ap.add_argument("--json", type=Path, help="save every number to this file")
    ap.add_argument("--workdir", type=Path, help="keep the data here (else in a temp folder)")
    smoke = {
        "n": [10],
        "latency_ms": 10.0,
        "throughput_docs": 300,
        "throughput_queries": 100,
        "inflight": 8,
        "repeat": 1,
        "timeout": 120.0,
    }
    args = parse_with_smoke(ap, smoke, argv)
    if any(n > PREFILL for n in args.n) and ("delete" in args.ops):
        ap.error(f"delete needs N <= {PREFILL} (it deletes documents of the {PREFILL} stored)")
    return args


async def benchmark(args: argparse.Namespace, workdir: Path) -> Results:
    """Start the stores, run every selected test, stop the stores."""
    results = Results()
    kits: list[Kit] = []
    try:
        for name in args.stores:
            kit = make_kit(name)
            progress(f"starting {name}")
            try:
                kit.start(workdir / name)
            except Unavailable as exc:
                kit.stop()
                results.skipped[name] = str(exc)
                progress(f"SKIPPED {name}: {exc}")
                continue
            kits.append(kit)
        embeddings: list[HashEmbeddings] = []
        if "hash" in args.embeddings and not args.throughput_only:
            embeddings.append(HashEmbeddings())
        if "latency" in args.embeddings and not args.throughput_only:
            embeddings.append(LatencyEmbeddings(args.latency_ms / 1000))
        for emb in embeddings:
            slow = isinstance(emb, LatencyEmbeddings)
            sizes = [n for n in args.n if not (slow and args.quick and n > QUICK_CAP)]
            for op in args.ops:
                for n in sizes:
                    progress(f"{emb.name} embedding: {op} N={n}")
                    for kit in kits:
                        if kit.name not in results.hung:
                            results.runs += await run_cell(kit, emb, op, n, args, results)
        if args.throughput_docs > 0:
            progress(
                f"throughput: {args.throughput_docs} docs, {args.throughput_queries} searches, "
                f"{args.inflight} in flight"
            )
            await run_throughput(kits, args, results)
    finally:
        for kit in kits:
            try:
                await in_thread(kit.stop, STOP_TIMEOUT_S)
            except Exception as exc:
                progress(f"stopping {kit.name} failed: {_short(exc)}")
    return results


def _interrupt(signum: int, frame: FrameType | None) -> None:
    raise KeyboardInterrupt  # so that SIGTERM, too, stops the server subprocess


def main(argv: list[str] | None = None) -> None:
    """Run the benchmark and print the report."""
    args = parse_args(argv)
    signal.signal(signal.SIGTERM, _interrupt)
    # langchain-milvus and pymilvus log a traceback for every failed call; the report lists
    # failed calls and the first error of each run instead.
    for name in ("pymilvus", "langchain_milvus"):
        logging.getLogger(name).setLevel(logging.CRITICAL)
    workdir = args.workdir or Path(tempfile.mkdtemp(prefix="shoal-seed-"))
    progress(f"data in {workdir}")
    started = time.time()
    try:
        results = asyncio.run(benchmark(args, workdir))
    finally:
        if args.workdir is None:
            remove_tree(workdir)
    results.meta = {
        "command": " ".join(["python", "bench/seed.py", *(argv or sys.argv[1:])]),
        "started": time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(started)),
        "seconds": round(time.time() - started, 1),
        "python": platform.python_version(),
        "machine": f"{platform.machine()}, {os.cpu_count()} cores",
        "latency_ms": args.latency_ms,
        "repeat": args.repeat,
        "quick": args.quick,
        "versions": _versions(),
    }
    print(report(results, [k for k in args.stores if k not in results.skipped], args))
    if args.json:
        payload = {
            "meta": results.meta,
            "skipped": results.skipped,
            "hung": results.hung,
            "idle_cpu_ms": results.idle_cpu_ms,
            "runs": [asdict(r) | {"check": r.check} for r in results.runs],
            "throughput": [asdict(t) for t in results.throughput],
        }
        args.json.write_text(json.dumps(payload, indent=2) + "\n")
        progress(f"wrote {args.json}")
    if results.hung:
        # A hung store's threads may never finish; do not wait for them at exit.
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(0)


if __name__ == "__main__":
    main()
