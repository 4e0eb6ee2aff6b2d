"""Results of the seed benchmark and the markdown report made from them."""

from __future__ import annotations

import argparse
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

SHOAL = ("shoal", "shoal-server", "shoal-hybrid-rrf", "shoal-hybrid-weighted")
# Each Shoal store's sync/async goals: the dense stores' adds and searches, the hybrid
# stores' searches (issue 20: 100 concurrent hybrid searches >= 2x sync).
RATIO_GOALS = {
    "shoal": (("add", 3.0), ("search", 2.0)),
    "shoal-server": (("add", 3.0), ("search", 2.0)),
    "shoal-hybrid-rrf": (("search", 2.0),),
    "shoal-hybrid-weighted": (("search", 2.0),),
}
LATENCY_GOALS = ("shoal", "shoal-server")  # 100 concurrent calls behind a slow embedding
TARGET_N = 100
PREFILL = 1000  # documents stored before the search and delete tests
K = 3  # documents per search


@dataclass
class Run:
    """One timed run: a store, an embedding, an operation, N calls, async or sync."""

    store: str
    embedding: str
    op: str
    n: int
    mode: str
    seconds: float | None = None  # the median of ``repeats`` when the cell was repeated
    repeats: list[float] = field(default_factory=list)  # seconds of every repetition
    expected: int | None = None
    counted: int | None = None
    failed_calls: int = 0
    short_results: int = 0  # searches that returned fewer than k documents
    embed_calls: int = 0
    error: str | None = None
    hung: bool = False  # the store stopped answering; later tests of it were skipped
    count_error: str | None = None  # counting failed: the store is inconsistent

    @property
    def exact(self) -> bool:
        """The live-document count is what was added minus what was deleted."""
        return self.counted is not None and self.counted == self.expected

    @property
    def check(self) -> str:
        """``ok``, or what went wrong with the count."""
        if self.counted is None:
            return f"count failed: {self.count_error}" if self.count_error else "not counted"
        if self.exact:
            return "ok"
        assert self.expected is not None
        diff = self.counted - self.expected
        kind = "extra" if diff > 0 else "missing"
        return f"{self.counted}/{self.expected} ({abs(diff)} {kind})"


@dataclass
class Throughput:
    """Concurrent search throughput of one store."""

    store: str
    docs: int
    queries: int
    inflight: int
    completed: int = 0  # searches finished (fewer than ``queries`` if time ran out)
    load_s: float | None = None
    counted: int | None = None
    qps: float | None = None
    p50_ms: float | None = None
    p99_ms: float | None = None
    failed_calls: int = 0
    error: str | None = None
    hung: bool = False
    rounds: list[float] = field(default_factory=list)  # q/s of each round of searches


@dataclass
class Results:
    """Everything one invocation measured."""

    meta: dict[str, Any] = field(default_factory=dict)
    runs: list[Run] = field(default_factory=list)
    throughput: list[Throughput] = field(default_factory=list)
    skipped: dict[str, str] = field(default_factory=dict)
    hung: dict[str, str] = field(default_factory=dict)  # store -> the run where it hung
    idle_cpu_ms: float | None = None  # CPU ms/s burnt idle, every throughput store loaded


# --------------------------------------------------------------------- formatting


def _secs(x: float | None) -> str:
    if x is None:
        return "-"
    return f"{x:.3f}" if x < 10 else f"{x:.1f}"


def _table(header: list[str], rows: Iterable[list[str]], align: str = "") -> list[str]:
    """A markdown table; ``align`` has one letter per column, ``l`` or ``r`` (default ``r``)."""
    marks = ["---" if align[i : i + 1] == "l" else "---:" for i in range(len(header))]
    lines = ["| " + " | ".join(header) + " |", "| " + " | ".join(marks) + " |"]
    lines += ["| " + " | ".join(row) + " |" for row in rows]
    return lines


def _pair_cell(a: Run | None, s: Run | None) -> str:
    """``async s / sync s (sync/async ratio), check`` for one store."""
    if a is None or s is None:
        return "-"
    ratio = "-"
    if a.seconds and s.seconds is not None:
        quotient = s.seconds / a.seconds
        ratio = f"{quotient:.1f}x" if quotient >= 0.1 else f"{quotient:.2f}x"
    notes = []
    for r in (a, s):
        if r.seconds is None:
            notes.append(f"{r.mode} did not run ({'hung' if r.hung else 'error'}, see below)")
        elif r.count_error:
            notes.append(f"{r.mode} count failed (see below)")
        elif not r.exact:
            notes.append(f"{r.mode} {r.check}")
        if r.failed_calls:
            notes.append(f"{r.mode} {r.failed_calls}/{r.n} calls failed")
    tail = "; ".join(notes) or "ok"
    return f"{_secs(a.seconds)} / {_secs(s.seconds)} ({ratio}) {tail}"


class _Index:
    def __init__(self, runs: list[Run]) -> None:
        self.by_key = {(r.store, r.embedding, r.op, r.n, r.mode): r for r in runs}

    def get(self, store: str, emb: str, op: str, n: int, mode: str) -> Run | None:
        return self.by_key.get((store, emb, op, n, mode))


def _ordered(values: Iterable[Any]) -> list[Any]:
    return list(dict.fromkeys(values))


# --------------------------------------------------------------------- sections


def _timing_tables(results: Results, stores: list[str]) -> list[str]:
    idx = _Index(results.runs)
    out: list[str] = []
    for emb in _ordered(r.embedding for r in results.runs):
        runs = [r for r in results.runs if r.embedding == emb]
        label = "zero-cost hash embedding" if emb == "hash" else f"hash embedding + {emb} per call"
        out += [f"### {label}", ""]
        out.append(
            "Each cell: async s / sync s (sync÷async), then the count check (`ok` = exact "
            "after every run). A cell whose runs take under a second is run up to "
            f"{results.meta.get('repeat', 1)} times, each on a fresh collection, alternating "
            "async and sync: its times are the medians."
        )
        out.append("")
        rows = []
        for op in _ordered(r.op for r in runs):
            for n in _ordered(r.n for r in runs if r.op == op):
                cells = [
                    _pair_cell(idx.get(s, emb, op, n, "async"), idx.get(s, emb, op, n, "sync"))
                    for s in stores
                ]
                rows.append([op, str(n), *cells])
        out += _table(["operation", "N", *stores], rows, "lr" + "l" * len(stores))
        out.append("")
        if emb != "hash":
            out += [f"Embedding calls made by the async runs ({emb} embedding):", ""]
            rows = []
            for op in _ordered(r.op for r in runs):
                for n in _ordered(r.n for r in runs if r.op == op):
                    cells = []
                    for s in stores:
                        r = idx.get(s, emb, op, n, "async")
                        cells.append("-" if r is None else str(r.embed_calls))
                    rows.append([op, str(n), *cells])
            out += _table(["operation", "N", *stores], rows, "l")
            out.append("")
    return out


def _throughput_table(results: Results) -> list[str]:
    if not results.throughput:
        return []
    first = results.throughput[0]
    out = [
        f"### Throughput: {first.docs:,} documents, {first.queries:,} searches, "
        f"{first.inflight} in flight (hash embedding)",
        "",
        "Every store is loaded first; then rounds of searches run store after store "
        "(round 1 of each, then round 2, ...), up to "
        f"{results.meta.get('repeat', 1)} per store while its round takes under 3 s; q/s, p50 "
        "and p99 are the medians of a store's rounds."
        + (
            ""
            if results.idle_cpu_ms is None
            else f" With every store loaded and idle, the process burnt "
            f"{results.idle_cpu_ms:.0f} ms of CPU per second (threads the stores keep running)."
        ),
        "",
    ]
    rows = []
    for tp in results.throughput:
        count = "-" if tp.counted is None else ("ok" if tp.counted == tp.docs else str(tp.counted))
        rows.append(
            [
                tp.store,
                _secs(tp.load_s),
                "-" if tp.qps is None else f"{tp.qps:,.0f}",
                "-" if tp.p50_ms is None else f"{tp.p50_ms:.2f}",
                "-" if tp.p99_ms is None else f"{tp.p99_ms:.2f}",
                str(len(tp.rounds)),
                count + (f", error: {tp.error}" if tp.error else ""),
            ]
        )
    header = ["store", "load s", "queries/s", "p50 ms", "p99 ms", "rounds", "count"]
    out += _table(header, rows, "l")
    out.append("")
    return out


def _problems(results: Results) -> list[str]:
    bad = [r for r in results.runs if not r.exact or r.failed_calls or r.short_results]
    out = ["### Count checks and errors", ""]
    if not bad:
        out += ["Every count was exact and no call failed.", ""]
        return out
    rows = [
        [
            r.store,
            r.embedding,
            r.op,
            str(r.n),
            r.mode,
            "-" if r.expected is None else str(r.expected),
            "-" if r.counted is None else str(r.counted),
            str(r.failed_calls),
            str(r.short_results),
            (r.error or r.count_error or "").replace("|", "/"),
        ]
        for r in bad
    ]
    header = ["store", "embedding", "operation", "N", "mode", "expected", "counted"]
    header += ["failed calls", f"searches < k={K}", "first error"]
    out += _table(header, rows, "lllrl" + "rrrrl")
    out.append("")
    return out


def _plural(op: str) -> str:
    return "es" if op.endswith("h") else "s"


def _verdict(ok: bool | None) -> str:
    return "not measured" if ok is None else ("met" if ok else "NOT met")


def _targets(results: Results, latency_name: str | None) -> list[str]:
    idx = _Index(results.runs)
    out = ["### Shoal's acceptance targets", ""]
    rows = []

    def ratio(store: str, op: str) -> float | None:
        a = idx.get(store, "hash", op, TARGET_N, "async")
        s = idx.get(store, "hash", op, TARGET_N, "sync")
        if a is None or s is None or not a.seconds or s.seconds is None:
            return None
        return s.seconds / a.seconds

    for store in SHOAL:
        for op, goal in RATIO_GOALS[store]:
            r = ratio(store, op)
            rows.append(
                [
                    f"{store}: hash, sync/async for {TARGET_N} {op}{_plural(op)} ≥ {goal:.0f}x",
                    "-" if r is None else f"{r:.1f}x",
                    _verdict(None if r is None else r >= goal),
                ]
            )
        if latency_name and store in LATENCY_GOALS:
            for op in ("add", "search"):
                a = idx.get(store, latency_name, op, TARGET_N, "async")
                secs = None if a is None else a.seconds
                rows.append(
                    [
                        f"{store}: {latency_name}, {TARGET_N} concurrent {op}{_plural(op)} ≤ 0.2 s",
                        _secs(secs) + ("" if a is None else f" s, {a.embed_calls} embed calls"),
                        _verdict(None if secs is None else secs <= 0.2),
                    ]
                )
    tps = {t.store: t for t in results.throughput if t.qps is not None}
    own = tps.get("shoal")
    others = [t for t in tps.values() if t.store not in SHOAL]
    if own is not None and others:
        best = max(others, key=lambda t: t.qps or 0.0)
        assert own.qps is not None and best.qps is not None and own.p99_ms is not None
        rows.append(
            [
                "shoal: throughput ≥ 5x the best other store",
                f"{own.qps:,.0f} q/s vs {best.store} {best.qps:,.0f} = {own.qps / best.qps:.1f}x",
                _verdict(own.qps >= 5 * best.qps),
            ]
        )
        rows.append(
            ["shoal: throughput p99 ≤ 20 ms", f"{own.p99_ms:.2f} ms", _verdict(own.p99_ms <= 20)]
        )
    for store in SHOAL:
        mine = [r for r in results.runs if r.store == store]
        wrong = [r for r in mine if not r.exact]
        sizes = ",".join(str(n) for n in sorted({r.n for r in mine}))
        rows.append(
            [
                f"{store}: every count exact (N = {sizes or '-'})",
                f"{len(mine) - len(wrong)}/{len(mine)} exact",
                _verdict(None if not mine else not wrong),
            ]
        )
    out += _table(["target", "measured", "verdict"], rows, "lrl")
    out.append("")
    return out


def report(results: Results, stores: list[str], args: argparse.Namespace) -> str:
    """The whole markdown report."""
    meta = results.meta
    out = [
        f"## Seed workload results ({meta.get('started', '')}, {meta.get('machine', '')})",
        "",
        f"`{meta.get('command', '')}`",
        "",
    ]
    versions = meta.get("versions", {})
    if versions:
        out += ["Versions: " + ", ".join(f"{k} {v}" for k, v in versions.items()), ""]
    out += _timing_tables(results, stores)
    out += _throughput_table(results)
    out += _problems(results)
    latency = next((r.embedding for r in results.runs if r.embedding != "hash"), None)
    if any(r.store in SHOAL for r in results.runs) or results.throughput:
        out += _targets(results, latency)
    if results.hung:
        out += ["### Stores that stopped answering (their later tests were skipped)", ""]
        out += [f"- {name}: hung during {where}" for name, where in results.hung.items()]
        out.append("")
    if results.skipped:
        out += ["### Skipped stores", ""]
        out += [f"- {name}: {why}" for name, why in results.skipped.items()]
        out.append("")
    return "\n".join(out)
