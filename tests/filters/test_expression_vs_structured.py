"""10,000 random payloads: expressions and hand-written structured filters agree.

The hand-written filters are what a Qdrant user would write. They equal the expressions on
this payload domain (scalar fields stay scalar, ``tags`` is always an array), which the
generator below guarantees; to_qdrant_filter's output is checked on the same points too.
"""

from __future__ import annotations

import random
from typing import Any

import pytest

from shoal import models as m
from shoal.filters import compile_filter, to_qdrant_filter

CATEGORIES = ["cat_1", "cat_2", "cat_3", "cat_4", "cat_5"]
COLOURS = ["red", "blue", "green", "black"]
N = 10_000


def make_payload(rng: random.Random) -> dict[str, Any]:
    doc: dict[str, Any] = {}
    pick = rng.random()
    if pick < 0.85:
        doc["category"] = rng.choice(CATEGORIES)
    elif pick < 0.9:
        doc["category"] = None
    elif pick < 0.95:
        doc["category"] = rng.randint(1, 5)  # a number where strings are expected
    pick = rng.random()
    if pick < 0.45:
        doc["price"] = rng.randint(0, 200)
    elif pick < 0.85:
        doc["price"] = round(rng.uniform(0, 200), 2)
    elif pick < 0.9:
        doc["price"] = str(rng.randint(0, 200))
    elif pick < 0.95:
        doc["price"] = None
    if rng.random() < 0.9:
        doc["score"] = rng.choice([rng.random(), rng.randint(0, 1), True, None])
    if rng.random() < 0.8:
        doc["flag"] = rng.choice([True, False, 1, "true"])
    if rng.random() < 0.9:
        doc["tags"] = rng.sample(COLOURS, rng.randint(0, 3))
    if rng.random() < 0.7:
        doc["meta"] = {"lang": rng.choice(["en", "fr", "日本語", None]), "n": rng.randint(0, 9)}
    return doc


PAYLOADS = [make_payload(random.Random(seed)) for seed in range(N)]


def fc(key: str, **kwargs: Any) -> m.FieldCondition:
    return m.FieldCondition(key=key, **kwargs)


PAIRS: list[tuple[str, m.Filter]] = [
    (
        "category in ['cat_1', 'cat_2'] and score > 0.5",
        m.Filter(
            must=[
                fc("category", match=m.MatchAny(any=["cat_1", "cat_2"])),
                fc("score", range=m.Range(gt=0.5)),
            ]
        ),
    ),
    (
        "10 < price <= 100 and not (flag == true)",
        m.Filter(
            must=[fc("price", range=m.Range(gt=10, lte=100))],
            must_not=[fc("flag", match=m.MatchValue(value=True))],
        ),
    ),
    (
        "json_contains_any(tags, ['red', 'blue']) or category == 'cat_3'",
        m.Filter(
            should=[
                fc("tags", match=m.MatchAny(any=["red", "blue"])),
                fc("category", match=m.MatchValue(value="cat_3")),
            ]
        ),
    ),
    (
        # Milvus's != needs a string category: the Qdrant user lists the other categories.
        "category != 'cat_1'",
        m.Filter(must=[fc("category", match=m.MatchAny(any=CATEGORIES[1:]))]),
    ),
    (
        "array_length(tags) >= 2 and meta[\"lang\"] == 'en'",
        m.Filter(
            must=[
                fc("tags", values_count=m.ValuesCount(gte=2)),
                fc("meta.lang", match=m.MatchValue(value="en")),
            ]
        ),
    ),
    (
        # Neither tags nor price is ever [], so Qdrant's is_empty is Milvus's is null here.
        'price is null or not (meta["n"] < 5)',
        m.Filter(
            should=[
                m.IsEmptyCondition(is_empty=m.PayloadField(key="price")),
                m.Filter(must_not=[fc("meta.n", range=m.Range(lt=5))]),
            ]
        ),
    ),
]


@pytest.mark.parametrize(("expr", "structured"), PAIRS, ids=[p[0] for p in PAIRS])
def test_expression_and_structured_filter_select_the_same_points(
    expr: str, structured: m.Filter
) -> None:
    by_expr = compile_filter(expr)
    by_filter = compile_filter(structured)
    expected = {i for i, doc in enumerate(PAYLOADS) if by_filter(doc, i)}
    assert {i for i, doc in enumerate(PAYLOADS) if by_expr(doc, i)} == expected
    # A selective but not trivial filter: the comparison means something.
    assert 100 < len(expected) < N - 100


# The pairs whose expression to_qdrant_filter accepts (string != and `is null` it refuses).
CONVERTIBLE = [PAIRS[i][0] for i in (0, 1, 2, 4)]


@pytest.mark.parametrize("expr", CONVERTIBLE)
def test_converted_expression_selects_the_same_points(expr: str) -> None:
    by_expr = compile_filter(expr)
    by_conversion = compile_filter(to_qdrant_filter(expr))
    assert [by_conversion(d, i) for i, d in enumerate(PAYLOADS)] == [
        by_expr(d, i) for i, d in enumerate(PAYLOADS)
    ]
