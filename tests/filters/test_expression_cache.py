"""Parse and compile caches: repeats are free, templates parse once and bind each time."""

from __future__ import annotations

from shoal import filters
from shoal.filters.expression import parse_syntax


def test_repeated_text_returns_the_cached_tree_and_predicate() -> None:
    filters.clear_cache()
    text = "category in ['a', 'b'] and score > 0.5"
    assert filters.parse_expression(text) is filters.parse_expression(text)
    assert filters.compile_filter(text) is filters.compile_filter(text)
    assert parse_syntax.cache_info().misses == 1


def test_templates_parse_once_and_bind_new_values() -> None:
    filters.clear_cache()
    text = "category in {cats} and price > {p}"
    cheap = filters.compile_filter(text, {"cats": ["a"], "p": 10})
    other = filters.compile_filter(text, {"cats": ["b"], "p": 0})
    info = parse_syntax.cache_info()
    assert (info.misses, info.hits) == (1, 1)
    doc = {"category": "b", "price": 5}
    assert not cheap(doc, 1) and other(doc, 1)


def test_clear_cache_forgets_parses() -> None:
    filters.parse_expression("a == 1")
    filters.clear_cache()
    assert parse_syntax.cache_info().currsize == 0


def test_empty_params_mean_no_params() -> None:
    assert filters.parse_expression("a == 1", {}) is filters.parse_expression("a == 1")
