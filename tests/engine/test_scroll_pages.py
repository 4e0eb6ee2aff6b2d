"""Scroll pages in id order, with and without a filter: paging through with each page's
``next_page_offset`` visits exactly the matching points, in Qdrant's id order (integers
ascending, then UUIDs), once each. A selective filter pages by sorting its own rows, a broad
one through the collection's id order: both are exercised."""

from __future__ import annotations

import uuid

from hypothesis import given, settings
from hypothesis import strategies as st

from shoal import models as m
from shoal.engine import Database
from shoal.ids import sort_key

ids = st.one_of(
    st.integers(min_value=0, max_value=10**6),
    st.uuids().map(str),
)


@settings(max_examples=60, deadline=None)
@given(
    points=st.dictionaries(ids, st.integers(min_value=0, max_value=9), min_size=0, max_size=80),
    wanted=st.sets(st.integers(min_value=0, max_value=9), min_size=1, max_size=9),
    limit=st.integers(min_value=1, max_value=30),
    indexed=st.booleans(),
)
def test_paging_visits_the_matching_points_in_id_order(
    points: dict[int | str, int], wanted: set[int], limit: int, indexed: bool
) -> None:
    db = Database(None)
    try:
        db.create_collection(
            "c", m.CreateCollection(vectors=m.VectorParams(size=2, distance="Dot"))
        )
        col = db.collection("c")
        if indexed:
            col.set_payload_index("w", "integer")
        col.upsert(
            [m.PointStruct(id=k, vector=[1.0, 0.0], payload={"w": w}) for k, w in points.items()]
        )
        col.delete(m.PointIdsList(points=list(points)[::3]))  # holes in the rows
        live = {k: w for i, (k, w) in enumerate(points.items()) if i % 3}
        flt = m.Filter(must=[m.FieldCondition(key="w", match=m.MatchAny(any=sorted(wanted)))])
        expected = sorted(
            (
                str(uuid.UUID(k)) if isinstance(k, str) else k
                for k, w in live.items()
                if w in wanted
            ),
            key=sort_key,
        )
        seen: list[int | str] = []
        offset = None
        for _ in range(len(points) + 2):
            page = col.scroll(m.ScrollRequest(filter=flt, limit=limit, offset=offset))
            seen += [p.id for p in page.points]
            assert len(page.points) <= limit
            offset = page.next_page_offset
            if offset is None:
                break
            assert len(page.points) == limit
        assert seen == expected
    finally:
        db.close()


def test_a_selective_filter_pages_in_id_order_not_row_order() -> None:
    db = Database(None)
    try:
        db.create_collection(
            "c", m.CreateCollection(vectors=m.VectorParams(size=2, distance="Dot"))
        )
        col = db.collection("c")
        col.set_payload_index("w", "integer")
        keys = list(range(400, 0, -1))  # rows in descending id order
        col.upsert([m.PointStruct(id=k, vector=[1.0, 0.0], payload={"w": k % 20}) for k in keys])
        flt = m.Filter(must=[m.FieldCondition(key="w", match=m.MatchValue(value=3))])
        first = col.scroll(m.ScrollRequest(filter=flt, limit=5))
        assert [p.id for p in first.points] == [3, 23, 43, 63, 83]
        rest = col.scroll(m.ScrollRequest(filter=flt, limit=100, offset=first.next_page_offset))
        assert [p.id for p in rest.points] == list(range(103, 400, 20))
        assert first.next_page_offset == 103 and rest.next_page_offset is None
    finally:
        db.close()
