"""``values_count`` on paths through arrays counts each reached value on its own.

Qdrant's server (``check_field_condition`` in ``lib/segment/src/payload_storage/
query_checker.rs`` with ``ValuesCount::check_count_from`` in ``lib/segment/src/types.rs``)
takes every value the key reaches (``nested[].empty``: each element's ``empty``), counts
each one (an array its length, null 0, anything else 1) and matches when one count is in
range; a key that reaches nothing counts 0. qdrant-client's local mode agrees; Shoal summed
the counts across elements before.
"""

from __future__ import annotations

from typing import Any

import pytest
from qdrant_client.http import models as qm
from qdrant_client.local.payload_filters import check_filter

from shoal import models as m
from shoal.filters import compile_filter


def _matches(payload: dict[str, Any], key: str, **bounds: int) -> bool:
    flt = m.Filter(must=[m.FieldCondition(key=key, values_count=m.ValuesCount(**bounds))])
    return compile_filter(flt)(payload, 1)


NESTED = "nested[].empty"


def nested(*empties: Any) -> dict[str, Any]:
    return {"nested": [{"empty": e} for e in empties]}


# (payload, bounds, key, Qdrant's answer): the rows of qdrant-client's
# tests/congruence_tests/test_unflatten_values_methods.py, and more.
ROWS: list[tuple[dict[str, Any], dict[str, int], str, bool]] = [
    (nested([None, None], [None, None], [None, None]), {"lt": 3}, NESTED, True),
    (nested([None], [None], [None]), {"lt": 2}, NESTED, True),
    (nested([234, 33, 22], [11, 22]), {"lt": 4}, NESTED, True),
    (nested([234, 33, 22], [11, 22]), {"gt": 3}, NESTED, False),
    (nested([1, 2, 3], [4]), {"gte": 2, "lte": 2}, NESTED, False),
    (nested([1, 2], [4]), {"gte": 2, "lte": 2}, NESTED, True),
    (nested([{"inner": None}]), {"lt": 1}, NESTED, False),
    ({"nested": [{"empty": []}, {"other": 1}]}, {"lt": 1}, NESTED, True),
    ({"nested": [{"other": 1}]}, {"lt": 1}, NESTED, True),  # reaches nothing: 0
    (nested(None, 5), {"gt": 0}, NESTED, True),
    ({"a": [1, 2, 3]}, {"gt": 1}, "a[]", False),  # each element is one value
    ({"a": [1, 2, 3]}, {"gt": 1}, "a", True),
    ({"a": [[1, 2], [3]]}, {"gte": 2}, "a[]", True),
]


@pytest.mark.parametrize(("payload", "bounds", "key", "expected"), ROWS)
def test_values_count_counts_each_value(
    payload: dict[str, Any], bounds: dict[str, int], key: str, expected: bool
) -> None:
    assert _matches(payload, key, **bounds) is expected


@pytest.mark.parametrize(("payload", "bounds", "key", "expected"), ROWS)
def test_values_count_agrees_with_qdrant_local_mode(
    payload: dict[str, Any], bounds: dict[str, int], key: str, expected: bool
) -> None:
    theirs = qm.Filter(must=[qm.FieldCondition(key=key, values_count=qm.ValuesCount(**bounds))])
    assert check_filter(theirs, payload, 1, {}) is expected
