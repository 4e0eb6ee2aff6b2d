"""IntSet behaves as a set of ints whichever form it is in (set or bitmap)."""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from shoal.index import intset
from shoal.index.intset import IntSet

serials = st.integers(min_value=0, max_value=3 * intset.SMALL)
steps = st.lists(
    st.one_of(
        st.tuples(st.just("add"), st.lists(serials, max_size=3 * intset.SMALL // 4)),
        st.tuples(st.just("add_array"), st.lists(serials, max_size=200)),
        st.tuples(st.just("take"), st.integers(min_value=0, max_value=intset.SMALL)),
        st.tuples(st.just("clear"), st.none()),
    ),
    max_size=12,
)


@settings(max_examples=60, deadline=None)
@given(steps)
def test_int_set_matches_a_set(ops: list[tuple[str, object]]) -> None:
    model: set[int] = set()
    got = IntSet()
    for op, arg in ops:
        if op == "add":
            assert isinstance(arg, list)
            got.update(arg)
            model.update(arg)
        elif op == "add_array":
            assert isinstance(arg, list)
            got.update(np.asarray(arg, dtype=np.int64))
            model.update(arg)
        elif op == "take":
            assert isinstance(arg, int)
            taken = got.take(arg).tolist()
            assert len(taken) == min(arg, len(model))
            assert len(set(taken)) == len(taken) and set(taken) <= model
            model.difference_update(taken)
        else:
            got.clear()
            model.clear()
        assert len(got) == len(model)
        assert bool(got) == bool(model)
        assert sorted(got.array().tolist()) == sorted(model)


def test_a_large_set_is_a_bitmap_and_a_drained_one_a_set_again() -> None:
    big = IntSet(range(intset.SMALL * 3))
    assert big._small is None  # walked by no garbage collection
    big.take(intset.SMALL * 3 - 10)
    assert big._small is not None and len(big) == 10
