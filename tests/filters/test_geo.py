"""Geo filter conditions with Qdrant's server semantics (``shoal.filters.geo``).

Expected values come from Qdrant's own unit tests (distances in
``lib/segment/src/index/field_index/geo_hash.rs`` and ``rescore_formula/formula_scorer.rs``,
matching in ``payload_storage/condition_checker.rs``), from qdrant-client's congruence test
of bounding-box edges, and from the ``geo`` crate's polygon rules.
"""

from __future__ import annotations

import math
import re
from fractions import Fraction
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from shoal import models as m
from shoal.errors import InvalidConfig, InvalidFilter
from shoal.filters import compile_filter, to_tree
from shoal.filters import tree as t
from shoal.filters.geo import (
    Box,
    Circle,
    GeoIndexParams,
    Polygon,
    _orientation,
    geo_index_params,
    haversine,
    index_points,
    point_of,
)


@pytest.mark.parametrize(
    ("origin", "destination", "meters"),
    [
        ((-179.999, 66.0), (179.999, 66.0), 90.45422731917998),
        ((0.99, 90.0), (0.99, -90.0), 20015114.442035925),
        ((-100.43383200156751, 25.717877679163667), (-100.23881855976, 25.628482424190565),
         21926.494151786308),
        ((-100.43383200156751, 25.717877679163667), (-100.0, 25.0), 90951.29600298218),
    ],
)  # fmt: skip
def test_haversine_is_bit_exact_with_qdrant(
    origin: tuple[float, float], destination: tuple[float, float], meters: float
) -> None:
    assert haversine(origin, destination) == meters


def geo_filter(key: str, **condition: Any) -> m.Filter:
    return m.Filter.model_validate({"must": [{"key": key, **condition}]})


def matches(flt: m.Filter, payload: dict[str, Any]) -> bool:
    return compile_filter(flt)(payload, 1)


BERLIN = {"lat": 52.52197645, "lon": 13.413637435864272}
MOSCOW = {"lat": 55.7536283, "lon": 37.62137960067377}


def test_radius_matches_any_point_of_an_array() -> None:
    near_berlin = geo_filter(
        "city", geo_radius={"center": {"lon": 13.413637, "lat": 52.521976}, "radius": 2000.0}
    )
    far = geo_filter(
        "city", geo_radius={"center": {"lon": 20.423637, "lat": 52.511}, "radius": 2000.0}
    )
    assert matches(near_berlin, {"city": [BERLIN, MOSCOW]})
    assert matches(near_berlin, {"city": BERLIN})
    assert not matches(near_berlin, {"city": MOSCOW})
    assert not matches(far, {"city": [BERLIN, MOSCOW]})


def test_radius_is_strict() -> None:
    distance = haversine((0.0, 0.0), (0.001, 0.0))
    on_edge = geo_filter("p", geo_radius={"center": {"lon": 0, "lat": 0}, "radius": distance})
    assert not matches(on_edge, {"p": {"lon": 0.001, "lat": 0.0}})
    wider = geo_filter("p", geo_radius={"center": {"lon": 0, "lat": 0}, "radius": distance * 1.001})
    assert matches(wider, {"p": {"lon": 0.001, "lat": 0.0}})


# qdrant-client's test_geo_bounding_box_edge_point: only the strictly inside point matches.
EDGE_BOX = {"top_left": {"lon": 158.75, "lat": 90.0}, "bottom_right": {"lon": 180.0, "lat": 69.4}}
EDGE_POINTS = [
    ((170.0, 90.0), False),  # top edge
    ((170.0, 69.4), False),  # bottom edge
    ((158.75, 80.0), False),  # left edge
    ((180.0, 80.0), False),  # right edge
    ((180.0, 90.0), False),  # corner
    ((158.75, 69.4), False),  # corner
    ((170.0, 80.0), True),
    ((170.0, 50.0), False),
]


@pytest.mark.parametrize(("point", "expected"), EDGE_POINTS)
def test_bounding_box_excludes_its_edges(point: tuple[float, float], expected: bool) -> None:
    flt = geo_filter("location", geo_bounding_box=EDGE_BOX)
    assert matches(flt, {"location": {"lon": point[0], "lat": point[1]}}) is expected


@pytest.mark.parametrize(
    ("lon", "expected"),
    [(175.0, True), (-175.0, True), (180.0, True), (0.0, False), (170.0, False)],
)
def test_bounding_box_across_the_antimeridian(lon: float, expected: bool) -> None:
    # top_left.lon > bottom_right.lon: the box runs east from 170 to -170 through 180.
    box = {"top_left": {"lon": 170.0, "lat": 10.0}, "bottom_right": {"lon": -170.0, "lat": -10.0}}
    flt = geo_filter("p", geo_bounding_box=box)
    assert matches(flt, {"p": {"lon": lon, "lat": 0.0}}) is expected


def ring(*points: tuple[float, float]) -> dict[str, Any]:
    return {"points": [{"lon": lon, "lat": lat} for lon, lat in points]}


SQUARE = ring((0, 0), (10, 0), (10, 10), (0, 10), (0, 0))
HOLE = ring((4, 4), (6, 4), (6, 6), (4, 6), (4, 4))


@pytest.mark.parametrize(
    ("point", "expected"),
    [
        ((2.0, 2.0), True),
        ((5.0, 5.0), False),  # inside the hole
        ((4.0, 5.0), False),  # on the hole's edge
        ((6.0, 6.0), False),  # on a hole's corner
        ((10.0, 5.0), False),  # on the exterior's edge
        ((0.0, 0.0), False),  # on a corner
        ((11.0, 5.0), False),
        ((-0.0, 5.0), False),
    ],
)
def test_polygon_with_a_hole(point: tuple[float, float], expected: bool) -> None:
    flt = geo_filter("p", geo_polygon={"exterior": SQUARE, "interiors": [HOLE]})
    assert matches(flt, {"p": {"lon": point[0], "lat": point[1]}}) is expected


def test_polygon_uses_the_winding_rule() -> None:
    # A ring that goes round twice has winding number 2: inside for Qdrant's geo crate
    # (non-zero rule); an even-odd test would call it outside.
    twice = ring((0, 0), (10, 0), (10, 10), (0, 10), (0, 0), (10, 0), (10, 10), (0, 10), (0, 0))
    flt = geo_filter("p", geo_polygon={"exterior": twice})
    assert matches(flt, {"p": {"lon": 5.0, "lat": 5.0}})
    # The self-intersecting ring of qdrant-client's test_geo_polygon_filter_query.
    bowtie = ring((-55, -55), (65, -55), (65, 65), (55, -65), (-55, -55))
    flt = geo_filter("p", geo_polygon={"exterior": bowtie})
    assert matches(flt, {"p": {"lon": 0.0, "lat": -56.0}})
    assert matches(flt, {"p": {"lon": 62.0, "lat": 0.0}})
    assert not matches(flt, {"p": {"lon": 0.0, "lat": 0.0}})


def test_polygon_edge_is_decided_exactly() -> None:
    # The edge (0, 0) → (3, 1) is the line y = x / 3. In floats 0.1 * 3 != 0.3, so these
    # points lie off it by a rounding error that a float determinant loses (it gives 0,
    # "on the edge"); the exact test of the robust predicate Qdrant uses sees the side.
    poly = Polygon(((0.0, 0.0), (3.0, 1.0), (0.0, 1.0), (0.0, 0.0)))
    assert poly.contains((0.3, 0.1))  # just above the line: inside
    assert poly.contains((0.6, 0.2))
    assert not poly.contains((0.9, 0.3))  # just below: outside
    assert not poly.contains((1.5, 0.5))  # exactly on it


PAYLOAD_FORMS: list[tuple[Any, bool]] = [
    ({"lon": 5, "lat": 5}, True),  # integers are numbers
    ([{"lon": 50, "lat": 50}, {"lon": 5, "lat": 5}], True),
    ([[{"lon": 5, "lat": 5}]], False),  # arrays are opened one level only
    ({"lon": "5", "lat": 5}, False),
    ({"lon": True, "lat": 5}, False),
    ({"lat": 5}, False),
    ({"lon": 5, "lat": 5, "name": "x"}, True),
    ("5,5", False),
    (None, False),
    ([5, 5], False),
    ({"lon": float("nan"), "lat": 5}, False),
]


@pytest.mark.parametrize(("value", "expected"), PAYLOAD_FORMS)
def test_payload_values_that_are_not_points_are_skipped(value: Any, expected: bool) -> None:
    flt = geo_filter("p", geo_bounding_box={
        "top_left": {"lon": 0, "lat": 10}, "bottom_right": {"lon": 10, "lat": 0}
    })  # fmt: skip
    assert matches(flt, {"p": value}) is expected


def test_nested_paths_and_out_of_range_payload_points() -> None:
    box = geo_filter("cities[].geo", geo_bounding_box={
        "top_left": {"lon": 170, "lat": 10}, "bottom_right": {"lon": -170, "lat": -10}
    })  # fmt: skip
    assert matches(
        box, {"cities": [{"geo": {"lon": 0, "lat": 0}}, {"geo": {"lon": 175, "lat": 0}}]}
    )
    # Qdrant's condition checker reads payload points unchecked: lon 200 is east of 170.
    assert matches(box, {"cities": [{"geo": {"lon": 200, "lat": 0}}]})
    assert point_of({"lon": 200, "lat": 0}) == (200.0, 0.0)
    # Its geo index keeps only points in range.
    assert index_points([{"lon": 200, "lat": 0}, [{"lon": 1, "lat": 2}, "x"], None]) == [(1.0, 2.0)]


def test_structured_conditions_become_geo_leaves() -> None:
    flt = m.Filter(
        must=[
            m.FieldCondition(
                key="a.b",
                geo_radius=m.GeoRadius(center=m.GeoPoint(lon=1, lat=2), radius=5),
                match=m.MatchValue(value="x"),
            )
        ]
    )
    assert to_tree(flt) == t.And(
        (t.Cmp(("a", "b"), "eq", "x", any_element=True), t.Geo(("a", "b"), Circle((1.0, 2.0), 5.0)))
    )
    box = {"top_left": {"lon": 1, "lat": 4}, "bottom_right": {"lon": 3, "lat": 2}}
    assert to_tree({"must": [{"key": "k", "geo_bounding_box": box}]}) == t.Geo(
        ("k",), Box(1.0, 4.0, 3.0, 2.0)
    )
    polygon = to_tree({"must": [{"key": "k", "geo_polygon": {"exterior": SQUARE}}]})
    assert isinstance(polygon, t.Geo) and isinstance(polygon.shape, Polygon)
    hash(polygon)  # the engine caches filters by their tree


@pytest.mark.parametrize(
    ("condition", "message"),
    [
        ({"geo_polygon": {"exterior": ring((0, 0), (1, 0), (0, 0))}},
         "geo_polygon on key 'loc': exterior: polygon invalid, the size must be at least 4, got 3"),
        ({"geo_polygon": {"exterior": ring((0, 0), (1, 0), (1, 1), (0, 1))}},
         "geo_polygon on key 'loc': exterior: polygon invalid, the first and the last points "
         "should be the same to form a closed line"),
        ({"geo_polygon": {"exterior": SQUARE, "interiors": [ring((1, 1), (2, 1), (1, 1))]}},
         "geo_polygon on key 'loc': interiors[0]: polygon invalid, the size must be at least 4"),
        ({"geo_radius": {"center": {"lon": 0, "lat": 91}, "radius": 1}},
         "geo_radius on key 'loc': center: wrong format of GeoPoint: expected `lat` = 91.0 "
         "within [-90;90]"),
        ({"geo_bounding_box": {"top_left": {"lon": -181, "lat": 1},
                               "bottom_right": {"lon": 0, "lat": 0}}},
         "geo_bounding_box on key 'loc': top_left: wrong format of GeoPoint"),
        ({"geo_radius": {"center": {"lon": 0, "lat": 0}, "radius": float("nan")}},
         "geo_radius on key 'loc': radius must be a finite number, got nan"),
        ({"geo_polygon": {"exterior": ring((0, 0), (1, 0), (1, float("inf")), (0, 0))}},
         "exterior.points[2].lat must be a finite number"),
    ],
)  # fmt: skip
def test_bad_geo_conditions_are_refused_naming_the_value(
    condition: dict[str, Any], message: str
) -> None:
    with pytest.raises(InvalidFilter) as info:
        compile_filter({"must": [{"key": "loc", **condition}]})
    assert message in str(info.value)


@pytest.mark.parametrize(
    "condition",
    [
        {"geo_radius": {"center": {"lon": "1", "lat": 2}, "radius": 1}},
        {"geo_radius": {"center": {"lon": True, "lat": 2}, "radius": 1}},
        {"geo_radius": {"center": {"lon": 1, "lat": 2}}},
        {"geo_bounding_box": {"top_left": {"lon": 1, "lat": 2}}},
        {"geo_polygon": {"interiors": []}},
    ],
)
def test_malformed_geo_conditions_are_refused(condition: dict[str, Any]) -> None:
    with pytest.raises(InvalidFilter, match="malformed filter"):
        compile_filter({"must": [{"key": "loc", **condition}]})


def test_geo_index_params() -> None:
    assert geo_index_params("geo") == GeoIndexParams()
    assert geo_index_params({"type": "geo", "on_disk": True, "memory": "cold"}) == GeoIndexParams(
        on_disk=True, memory="cold"
    )
    assert geo_index_params({"type": "geo", "enable_hnsw": None}) == GeoIndexParams()
    for bad, message in [
        ({"type": "keyword"}, "type must be 'geo'"),
        ({"type": "geo", "radius": 1}, "unknown geo index fields ['radius']"),
        ({"type": "geo", "on_disk": "yes"}, "on_disk must be a bool"),
        ({"type": "geo", "memory": "warm"}, "memory must be one of"),
        (5, "must be 'geo' or an object"),
    ]:
        with pytest.raises(InvalidConfig, match=re.escape(message)):
            geo_index_params(bad)  # type: ignore[arg-type]


@settings(max_examples=500, deadline=None)
@given(
    a=st.tuples(st.floats(-180, 180), st.floats(-90, 90)),
    b=st.tuples(st.floats(-180, 180), st.floats(-90, 90)),
    t=st.floats(-2, 2),
    nudge=st.tuples(st.integers(-3, 3), st.integers(-3, 3)),
)
def test_orientation_is_exact(
    a: tuple[float, float], b: tuple[float, float], t: float, nudge: tuple[int, int]
) -> None:
    # Points on or a few ulps off the line through a and b, where float determinants err.
    c = tuple(_nudged(p + t * (q - p), k) for p, q, k in zip(a, b, nudge, strict=True))
    fa, fb, fc = (tuple(Fraction(v) for v in p) for p in (a, b, c))
    exact = (fa[0] - fc[0]) * (fb[1] - fc[1]) - (fa[1] - fc[1]) * (fb[0] - fc[0])
    assert _orientation(a, b, c) == (exact > 0) - (exact < 0)  # type: ignore[arg-type]


def _nudged(x: float, ulps: int) -> float:
    for _ in range(abs(ulps)):
        x = math.nextafter(x, math.copysign(math.inf, ulps))
    return x
