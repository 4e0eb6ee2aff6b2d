"""Random geo conditions and points: Shoal agrees with qdrant-client's local mode.

Local mode tests polygons with the even-odd rule and floating-point edges, Qdrant's server
(and Shoal) with the winding rule and exact edges; they agree on simple polygons away from
their edges, which is what is generated here (test_geo.py pins the cases where they part).
Radius checks compute the same haversine in a different order, so points within a
millionth of the radius from the circle are left out.
"""

from __future__ import annotations

import itertools
import math
from typing import Any

from hypothesis import assume, event, given, settings
from hypothesis import strategies as st
from qdrant_client.http import models as qm
from qdrant_client.local.payload_filters import check_filter

from shoal import models as m
from shoal.filters import compile_filter
from shoal.filters.geo import haversine

LON = st.floats(-180, 180, allow_nan=False)
LAT = st.floats(-90, 90, allow_nan=False)
POINT = st.tuples(LON, LAT)


def point_json(point: tuple[float, float]) -> dict[str, float]:
    return {"lon": point[0], "lat": point[1]}


def agree(condition: dict[str, Any], payload: dict[str, Any]) -> bool:
    raw = {"must": [{"key": "p", **condition}]}
    ours = compile_filter(m.Filter.model_validate(raw))(payload, 1)
    theirs = check_filter(qm.Filter.model_validate(raw), payload, 1, {})
    assert ours == theirs, (condition, payload)
    return ours


@settings(max_examples=300, deadline=None)
@given(center=POINT, radius=st.floats(0, 2.1e7), points=st.lists(POINT, min_size=1, max_size=3))
def test_radius(center: tuple[float, float], radius: float, points: list[Any]) -> None:
    for point in points:
        assume(abs(haversine(center, point) - radius) > 1e-6 * max(radius, 1.0))
    condition = {"geo_radius": {"center": point_json(center), "radius": radius}}
    inside = agree(condition, {"p": [point_json(p) for p in points]})
    event("inside" if inside else "outside")


@settings(max_examples=300, deadline=None)
@given(
    top_left=POINT, bottom_right=POINT, where=st.tuples(st.integers(-2, 12), st.integers(-2, 12))
)
def test_bounding_box(
    top_left: tuple[float, float], bottom_right: tuple[float, float], where: tuple[int, int]
) -> None:
    # Mostly boxes with the top above the bottom (others are empty) and not crossing the
    # antimeridian, and points between the corners (on the edges: 0 and 1) or outside them.
    (west, north), (east, south) = top_left, bottom_right
    if where[0] < 9:
        west, east = sorted((west, east))
        south, north = sorted((south, north))
    top_left, bottom_right = (west, north), (east, south)
    lon, lat = (
        max(-180.0, min(180.0, a + t / 10 * (b - a)))
        for t, a, b in zip(where, top_left, bottom_right, strict=True)
    )
    if where[0] in (0, 10) or where[1] in (0, 10):
        event("edge")
    box = {"top_left": point_json(top_left), "bottom_right": point_json(bottom_right)}
    inside = agree({"geo_bounding_box": box}, {"p": {"lon": lon, "lat": lat}})
    event("inside" if inside else "outside")


def convex_ring(
    center: tuple[float, float], radius: float, angles: list[float]
) -> list[tuple[float, float]]:
    points = [(center[0] + radius * math.cos(a), center[1] + radius * math.sin(a)) for a in angles]
    return [*points, points[0]]


def distance_to_segment(
    p: tuple[float, float], a: tuple[float, float], b: tuple[float, float]
) -> float:
    (px, py), (ax, ay), (bx, by) = p, a, b
    dx, dy = bx - ax, by - ay
    length = dx * dx + dy * dy
    u = 0.0 if length == 0 else max(0.0, min(1.0, ((px - ax) * dx + (py - ay) * dy) / length))
    return math.hypot(px - (ax + u * dx), py - (ay + u * dy))


@settings(max_examples=300, deadline=None)
@given(
    center=st.tuples(st.floats(-100, 100), st.floats(-50, 50)),
    radius=st.floats(0.5, 30),
    angles=st.lists(st.floats(0, 2 * math.pi - 1e-3), min_size=3, max_size=8, unique=True),
    hole=st.booleans(),
    offset=st.tuples(st.floats(-1.5, 1.5), st.floats(-1.5, 1.5)),
)
def test_polygon(
    center: tuple[float, float],
    radius: float,
    angles: list[float],
    hole: bool,
    offset: tuple[float, float],
) -> None:
    point = (center[0] + offset[0] * radius, center[1] + offset[1] * radius)
    angles = sorted(angles)
    assume(all(b - a > 0.05 for a, b in itertools.pairwise(angles)))
    assume(2 * math.pi - angles[-1] + angles[0] > 0.05)
    rings = [convex_ring(center, radius, angles)]
    if hole:
        rings.append(convex_ring(center, radius / 3, angles))
    for ring in rings:
        for a, b in itertools.pairwise(ring):
            assume(distance_to_segment(point, a, b) > 1e-6)
    polygon: dict[str, Any] = {"exterior": {"points": [point_json(p) for p in rings[0]]}}
    if hole:
        polygon["interiors"] = [{"points": [point_json(p) for p in rings[1]]}]
    event("inside" if agree({"geo_polygon": polygon}, {"p": point_json(point)}) else "outside")
