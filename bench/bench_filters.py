"""Filter expressions: parse+compile cost, cached repeats, and evaluation cost per point.

Run from the repository root::

    python bench/bench_filters.py [--payloads 10000] [--runs 3000] [--calls 200000]

Prints a table; the numbers and the command are recorded in BENCHMARKS.md ("Filter
expressions"). Evaluation compares an expression with its hand-written structured
equivalent over the same 10,000 payloads, in one run, so the ratio is what to quote.
"""

from __future__ import annotations

import argparse
import random
import statistics
import time
import timeit
from collections.abc import Callable
from typing import Any

from _smoke import parse_args

from shoal import models as m
from shoal.filters import clear_cache, compile_filter, compile_node, parse_expression

LONG = (
    "category in ['cat_1', 'cat_2', 'cat_3'] and 10 < price <= 100 and "
    "(score > 0.5 or flag == true) and meta[\"lang\"] == 'en' and "
    "json_contains_any(tags, ['red', 'blue']) and not (title like 'Draft%')"
)
EXPRESSIONS: list[tuple[str, str]] = [
    ("short", "id == 'doc_1'"),
    ("typical", "category in ['cat_1', 'cat_2'] and score > 0.5"),
    (f"long ({len(LONG)} chars)", LONG),
]
TEMPLATE = "category in {cats} and score > {min_score}"
PARAMS = {"cats": ["cat_1", "cat_2"], "min_score": 0.5}


def fc(key: str, **kwargs: Any) -> m.FieldCondition:
    return m.FieldCondition(key=key, **kwargs)


# Structured twins of the expressions evaluated below (equal on the payloads generated here:
# scalar fields stay scalar, tags is always an array).
STRUCTURED: dict[str, m.Filter] = {
    "typical": m.Filter(
        must=[
            fc("category", match=m.MatchAny(any=["cat_1", "cat_2"])),
            fc("score", range=m.Range(gt=0.5)),
        ]
    ),
    "long": m.Filter(
        must=[
            fc("category", match=m.MatchAny(any=["cat_1", "cat_2", "cat_3"])),
            fc("price", range=m.Range(gt=10, lte=100)),
            m.Filter(
                should=[
                    fc("score", range=m.Range(gt=0.5)),
                    fc("flag", match=m.MatchValue(value=True)),
                ]
            ),
            fc("meta.lang", match=m.MatchValue(value="en")),
            fc("tags", match=m.MatchAny(any=["red", "blue"])),
        ],
        # Titles are all strings here, so "not like 'Draft%'" is "not one of the drafts".
        must_not=[fc("title", match=m.MatchAny(any=["Draft 1", "Draft 2"]))],
    ),
}


def payloads(n: int) -> list[dict[str, Any]]:
    rng = random.Random(42)
    docs = []
    for i in range(n):
        docs.append(
            {
                "id": f"doc_{i}",
                "category": rng.choice(["cat_1", "cat_2", "cat_3", "cat_4"]),
                "price": rng.choice([rng.randint(0, 200), round(rng.uniform(0, 200), 2)]),
                "score": rng.random(),
                "flag": rng.random() < 0.3,
                "tags": rng.sample(["red", "blue", "green", "black"], rng.randint(0, 3)),
                "meta": {"lang": rng.choice(["en", "fr", "de"])},
                "title": rng.choice(["Intro", "Guide", "Draft 1", "Draft 2", "Notes"]),
            }
        )
    return docs


def cold_us(text: str, params: dict[str, Any] | None = None, runs: int = 3000) -> float:
    """Median microseconds to parse, bind and compile with every cache cleared first."""
    samples = []
    for _ in range(runs):
        clear_cache()
        start = time.perf_counter_ns()
        compile_node(parse_expression(text, params))
        samples.append(time.perf_counter_ns() - start)
    return statistics.median(samples) / 1000


def per_call_ns(fn: Callable[[], object], number: int = 200_000) -> float:
    return min(timeit.repeat(fn, number=number, repeat=5)) / number * 1e9


def per_point_ns(pred: Callable[[dict[str, Any], int], bool], docs: list[dict[str, Any]]) -> float:
    def run() -> int:
        return sum(1 for i, d in enumerate(docs) if pred(d, i))

    return min(timeit.repeat(run, number=5, repeat=5)) / 5 / len(docs) * 1e9


def main() -> None:
    ap = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    ap.add_argument("--payloads", type=int, default=10_000, help="payloads evaluated")
    ap.add_argument("--runs", type=int, default=3000, help="cold compiles per expression")
    ap.add_argument("--calls", type=int, default=200_000, help="cached compiles per timing")
    args = parse_args(ap, {"payloads": 500, "runs": 50, "calls": 2000})
    print("Parse + compile (uncached: caches cleared before every run; median)")
    print(f"{'expression':<22} {'cold µs':>9} {'cached ns':>10}")
    for name, text in EXPRESSIONS:
        cold = cold_us(text, runs=args.runs)
        clear_cache()
        compile_filter(text)
        cached = per_call_ns(lambda text=text: compile_filter(text), args.calls)  # type: ignore[misc]
        print(f"{name:<22} {cold:>9.1f} {cached:>10.0f}")
    clear_cache()
    compile_filter(TEMPLATE, PARAMS)
    bound = per_call_ns(lambda: compile_filter(TEMPLATE, PARAMS), args.calls // 10) / 1000
    print(f"{'template, cold':<22} {cold_us(TEMPLATE, PARAMS, args.runs):>9.1f}")
    print(f"{'template, cached parse':<22} {bound:>9.1f}  (µs: bind new params + compile)")

    docs = payloads(args.payloads)
    print()
    print(f"Evaluation over {len(docs):,} payloads (ns per point, best of 5)")
    print(f"{'filter':<10} {'expression':>11} {'structured':>11} {'ratio':>7} {'matches':>8}")
    for name, text in EXPRESSIONS[1:]:
        key = name.split()[0]
        by_expr, by_struct = compile_filter(text), compile_filter(STRUCTURED[key])
        hits = [i for i, d in enumerate(docs) if by_expr(d, i)]
        assert hits == [i for i, d in enumerate(docs) if by_struct(d, i)], name
        e, s = per_point_ns(by_expr, docs), per_point_ns(by_struct, docs)
        print(f"{key:<10} {e:>11.0f} {s:>11.0f} {e / s:>7.2f} {len(hits):>8}")


if __name__ == "__main__":
    main()
