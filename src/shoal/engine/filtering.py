"""Compiling filters for the engine and running them over the rows of a collection."""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from typing import Any

import numpy as np

from shoal import models as m
from shoal.engine.state import CollectionState
from shoal.filters import Predicate, compile_filter, compile_node, to_tree
from shoal.filters.expression import CACHE_SIZE
from shoal.filters.tree import Node

_EMPTY: dict[str, Any] = {}


@dataclass(frozen=True)
class CompiledFilter:
    """A filter as a tree (for payload indexes) and as a predicate (for everything else)."""

    tree: Node
    predicate: Predicate


def predicate_for(flt: m.Filter | str | dict[str, Any] | None) -> Predicate | None:
    """Compile a filter in any accepted form; None means "no filter"."""
    return None if flt is None else compile_filter(flt)


def compiled_filter(flt: m.Filter | str | dict[str, Any] | None) -> CompiledFilter | None:
    """Compile a filter into its tree and predicate; None means "no filter".

    Raises:
        InvalidFilter: the filter is malformed or uses an unsupported construct.
    """
    if flt is None:
        return None
    if isinstance(flt, str):
        return _compiled_expression(flt)
    tree = to_tree(flt)
    return CompiledFilter(tree, compile_node(tree))


@lru_cache(maxsize=CACHE_SIZE)
def _compiled_expression(text: str) -> CompiledFilter:
    # Expressions repeat (the same filter string on every request): compile each once.
    tree = to_tree(text)
    return CompiledFilter(tree, compile_node(tree))


def matching_rows(state: CollectionState, pred: Predicate) -> np.ndarray:
    """Rows of live points whose payload satisfies ``pred``, ascending."""
    keys, payloads = state.keys, state.payloads
    rows = [r for r in state.live_rows().tolist() if pred(payloads[r] or _EMPTY, keys[r])]
    return np.asarray(rows, dtype=np.int64)
