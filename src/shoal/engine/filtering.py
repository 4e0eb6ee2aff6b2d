"""Running a compiled filter over the rows of a collection."""

from __future__ import annotations

from typing import Any

import numpy as np

from shoal import models as m
from shoal.engine.state import CollectionState
from shoal.filters import Predicate, compile_filter

_EMPTY: dict[str, Any] = {}


def predicate_for(flt: m.Filter | str | dict[str, Any] | None) -> Predicate | None:
    """Compile a filter in any accepted form; None means "no filter"."""
    return None if flt is None else compile_filter(flt)


def matching_rows(state: CollectionState, pred: Predicate) -> np.ndarray:
    """Rows of live points whose payload satisfies ``pred``, ascending."""
    keys, payloads = state.keys, state.payloads
    rows = [r for r in state.live_rows().tolist() if pred(payloads[r] or _EMPTY, keys[r])]
    return np.asarray(rows, dtype=np.int64)
