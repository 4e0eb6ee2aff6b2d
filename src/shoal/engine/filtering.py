"""Compiling filters for the engine and running them over the rows of a collection.

Every filter the engine runs is compiled here, after its size is checked against the
collection's ``Limits``: a filter over them is refused before any work is done on it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from shoal import models as m
from shoal.engine.deadline import Deadline
from shoal.engine.limits import Limits
from shoal.engine.state import CollectionState
from shoal.filters import Predicate, compile_node, to_tree
from shoal.filters.expression import TextCache
from shoal.filters.tree import Node

_EMPTY: dict[str, Any] = {}
# Rows a predicate runs on between two deadline checks: a check costs ~0.1 µs, a row at
# least ~1 µs, so checking costs under 0.1 % and stops work within a fraction of a second.
CHECK_EVERY = 128
_DEFAULT_LIMITS = Limits()


@dataclass(frozen=True)
class CompiledFilter:
    """A filter as a tree (for payload indexes) and as a predicate (for everything else)."""

    tree: Node
    predicate: Predicate


def predicate_for(
    flt: m.Filter | str | dict[str, Any] | None, limits: Limits = _DEFAULT_LIMITS
) -> Predicate | None:
    """Compile a filter in any accepted form; None means "no filter".

    Raises:
        InvalidFilter: the filter is malformed or uses an unsupported construct.
        FilterTooLarge: the filter is over ``limits``.
    """
    compiled = compiled_filter(flt, limits)
    return None if compiled is None else compiled.predicate


def compiled_filter(
    flt: m.Filter | str | dict[str, Any] | None, limits: Limits = _DEFAULT_LIMITS
) -> CompiledFilter | None:
    """Compile a filter into its tree and predicate; None means "no filter".

    Args:
        flt: a structured filter (or its JSON dict) or an expression.
        limits: the limits it must keep to.

    Raises:
        InvalidFilter: the filter is malformed or uses an unsupported construct.
        FilterTooLarge: the filter is over ``limits``.
    """
    if flt is None:
        return None
    if isinstance(flt, (str, dict, m.Filter)):
        limits.check_filter(flt)
    if isinstance(flt, str):
        return _compiled_expression(flt)
    tree = to_tree(flt)  # validates a dict; refuses anything else
    return CompiledFilter(tree, compile_node(tree))


@TextCache
def _compiled_expression(text: str) -> CompiledFilter:
    # Expressions repeat (the same filter string on every request): compile each once.
    tree = to_tree(text)
    return CompiledFilter(tree, compile_node(tree))


def with_deadline(pred: Predicate, deadline: Deadline) -> Predicate:
    """``pred``, checking ``deadline`` every ``CHECK_EVERY`` calls: for loops that test
    rows one by one (scrolls, deletes by filter), where a few checks cost nothing.

    Raises:
        RequestTimeout: (from the returned predicate) the deadline has passed.
    """
    calls = 0

    def checked(payload: dict[str, Any], pid: int | str) -> bool:
        nonlocal calls
        calls += 1
        if calls % CHECK_EVERY == 0:
            deadline.check()
        return pred(payload, pid)

    return checked


def matching_rows(state: CollectionState, pred: Predicate) -> np.ndarray:
    """Rows of live points whose payload satisfies ``pred``, ascending."""
    keys, payloads = state.keys, state.payloads
    rows = [r for r in state.live_rows().tolist() if pred(payloads[r] or _EMPTY, keys[r])]
    return np.asarray(rows, dtype=np.int64)
