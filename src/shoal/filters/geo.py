"""Geo conditions (``geo_radius``, ``geo_bounding_box``, ``geo_polygon``) and geo payload
values, with Qdrant's server semantics.

What Qdrant's server does (``lib/segment/src/types.rs``: ``GeoPoint``, ``GeoRadius``,
``GeoBoundingBox``, ``GeoPolygon``; ``lib/segment/src/payload_storage/condition_checker.rs``;
``lib/segment/src/index/field_index/geo_index/payload_index.rs``; the ``geo`` crate 0.33 it
uses for distances and polygons), and so what Shoal does:

- Distances are haversine on a sphere of radius 6,371,008.8 m (the ``geo`` crate's
  ``Haversine``, the GRS80 mean radius), computed in the crate's order of operations, so a
  point on the edge of a radius falls on the same side as on Qdrant.
- ``geo_radius`` holds when the distance is strictly below the radius. ``geo_bounding_box``
  holds strictly inside the box: ``bottom < lat < top`` and ``left < lon < right``, or, when
  ``top_left.lon > bottom_right.lon`` (a box crossing the antimeridian), ``lon > left`` or
  ``lon < right``. ``geo_polygon`` holds strictly inside the exterior ring (the winding-number
  rule with exact orientation, as the ``geo`` crate decides) and outside or... not on every
  hole: a point on a ring's edge is outside the polygon.
- A request's points must have ``lon`` in [-180, 180] and ``lat`` in [-90, 90]; a ring needs
  at least 4 points with the last equal to the first (within ``f64::EPSILON``).
- A payload value is a point when it is an object whose ``lon`` and ``lat`` are numbers;
  anything else (a string, a bool, a missing coordinate) is skipped. Qdrant's condition
  checker does not range-check payload points (it builds them unchecked), so neither does
  Shoal; Qdrant's geo *index* leaves out-of-range points out (``index_points``).
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from fractions import Fraction
from typing import Any, Union

from pydantic import BaseModel

from shoal.errors import InvalidConfig, InvalidFilter

#: The ``geo`` crate's ``Haversine`` radius (``HaversineMeasure::GRS80_MEAN_RADIUS``), meters.
EARTH_RADIUS_M = 6_371_008.8
_DEG = math.pi / 180.0  # Rust's f64::to_radians multiplies by exactly this
# Shewchuk's bound for orient2d's fast path (robust crate, ``ccwerrboundA``).
_CCW_ERRBOUND = (3.0 + 16.0 * 2.0**-53) * 2.0**-53
_F64_EPSILON = 2.0**-52

Point = tuple[float, float]  # (lon, lat)
Ring = tuple[Point, ...]


def haversine(origin: Point, destination: Point) -> float:
    """Great-circle distance in meters, as Qdrant computes it (``Haversine.distance``).

    Args:
        origin: (lon, lat) in degrees.
        destination: (lon, lat) in degrees.

    Returns:
        The distance in meters.
    """
    (olon, olat), (dlon, dlat) = origin, destination
    half_dlat = (dlat - olat) * _DEG / 2.0
    half_dlon = (dlon - olon) * _DEG / 2.0
    sin_lat, sin_lon = math.sin(half_dlat), math.sin(half_dlon)
    # Grouped as the crate computes it: cos(θ1)·cos(θ2)·sin²(Δλ/2), the square first.
    a = sin_lat * sin_lat + math.cos(olat * _DEG) * math.cos(dlat * _DEG) * (sin_lon * sin_lon)
    return EARTH_RADIUS_M * (2.0 * math.asin(math.sqrt(a)))


@dataclass(frozen=True)
class Circle:
    """``geo_radius``: points strictly closer than ``radius`` meters to ``center``."""

    center: Point
    radius: float

    def contains(self, point: Point) -> bool:
        """Whether the (lon, lat) point is inside."""
        return haversine(self.center, point) < self.radius


@dataclass(frozen=True)
class Box:
    """``geo_bounding_box``: strictly between the edges; ``left > right`` crosses the
    antimeridian."""

    left: float
    top: float
    right: float
    bottom: float

    def contains(self, point: Point) -> bool:
        """Whether the (lon, lat) point is inside."""
        lon, lat = point
        if self.left > self.right:
            lon_ok = lon > self.left or lon < self.right
        else:
            lon_ok = self.left < lon < self.right
        return lon_ok and self.bottom < lat < self.top


def _orientation(a: Point, b: Point, c: Point) -> int:
    """The sign of c's side of the line a→b: 1 left (counter-clockwise), -1 right, 0 on it.
    Exact, as the robust predicate Qdrant's polygons use: a float determinant when it is
    clearly away from zero, otherwise exact rational arithmetic."""
    left = (a[0] - c[0]) * (b[1] - c[1])
    right = (a[1] - c[1]) * (b[0] - c[0])
    det = left - right
    bound = _CCW_ERRBOUND * (abs(left) + abs(right))
    if det > bound:
        return 1
    if -det > bound:
        return -1
    ax, ay, bx, by, cx, cy = (Fraction(v) for v in (*a, *b, *c))
    exact = (ax - cx) * (by - cy) - (ay - cy) * (bx - cx)
    return (exact > 0) - (exact < 0)


_OUTSIDE, _INSIDE, _BOUNDARY = 0, 1, 2


def _between(value: float, one: float, two: float) -> bool:
    return min(one, two) <= value <= max(one, two)


def _ring_position(point: Point, ring: Ring) -> int:
    """The ``geo`` crate's ``coord_pos_relative_to_ring``: winding number, with a point on
    an edge reported as on the boundary."""
    x, y = point
    winding = 0
    for start, end in itertools.pairwise(ring):
        if start[1] <= y:
            if end[1] >= y:
                side = _orientation(start, end, point)
                if side > 0 and end[1] != y:
                    winding += 1
                elif side == 0 and _between(x, start[0], end[0]):
                    return _BOUNDARY
        elif end[1] <= y:
            side = _orientation(start, end, point)
            if side < 0:
                winding -= 1
            elif side == 0 and _between(x, start[0], end[0]):
                return _BOUNDARY
    return _INSIDE if winding else _OUTSIDE


@dataclass(frozen=True)
class Polygon:
    """``geo_polygon``: strictly inside ``exterior`` and outside every ring of ``holes``
    (rings are closed: the last point equals the first)."""

    exterior: Ring
    holes: tuple[Ring, ...] = ()

    def contains(self, point: Point) -> bool:
        """Whether the (lon, lat) point is inside."""
        if _ring_position(point, self.exterior) != _INSIDE:
            return False
        return all(_ring_position(point, hole) == _OUTSIDE for hole in self.holes)


Shape = Union[Circle, Box, Polygon]


def point_of(value: Any) -> Point | None:
    """The (lon, lat) of a payload value, as Qdrant's condition checker reads it: an object
    whose ``lon`` and ``lat`` are finite numbers (not range-checked); otherwise None."""
    if not isinstance(value, dict):
        return None
    lon: Any = value.get("lon")
    lat: Any = value.get("lat")
    if not (_is_number(lon) and _is_number(lat)):
        return None
    lon_f, lat_f = float(lon), float(lat)
    if not (math.isfinite(lon_f) and math.isfinite(lat_f)):
        return None
    return lon_f, lat_f


def in_range(point: Point) -> bool:
    """Whether the (lon, lat) point has lon in [-180, 180] and lat in [-90, 90]."""
    return -180.0 <= point[0] <= 180.0 and -90.0 <= point[1] <= 90.0


def index_points(values: Iterable[Any]) -> list[Point]:
    """The points Qdrant's geo index keeps for a key: each value at the key (an array counts
    its elements) that is a point with coordinates in range.

    Args:
        values: the values at the key (``evaluate.values_at(payload, path, flat=False)``).

    Returns:
        The (lon, lat) points, in payload order.
    """
    out: list[Point] = []
    for value in values:
        for item in value if isinstance(value, list) else (value,):
            point = point_of(item)
            if point is not None and in_range(point):
                out.append(point)
    return out


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


# --------------------------------------------------------------------- request shapes


def _as_json(spec: Any) -> Any:
    return spec.model_dump(exclude_none=True) if isinstance(spec, BaseModel) else spec


def _field(spec: Any, name: str, what: str) -> Any:
    if not isinstance(spec, dict):
        raise InvalidFilter(f"{what} must be an object, got {spec!r}")
    if name not in spec:
        raise InvalidFilter(f"{what} has no {name!r}")
    return spec[name]


def _number(value: Any, what: str) -> float:
    if not _is_number(value) or not math.isfinite(float(value)):
        raise InvalidFilter(f"{what} must be a finite number, got {value!r}")
    return float(value)


def request_point(spec: Any, what: str) -> Point:
    """A geo point of a request (a condition, a formula's origin), checked as Qdrant checks
    it.

    Args:
        spec: ``{"lon": .., "lat": ..}`` or a ``GeoPoint`` model.
        what: where it sits, for the error message.

    Returns:
        (lon, lat).

    Raises:
        InvalidFilter: not an object of two numbers, or out of range.
    """
    spec = _as_json(spec)
    if isinstance(spec, dict) and set(spec) - {"lon", "lat"}:
        raise InvalidFilter(f"{what} has unknown fields {sorted(set(spec) - {'lon', 'lat'})}")
    lon = _number(_field(spec, "lon", what), f"{what}.lon")
    lat = _number(_field(spec, "lat", what), f"{what}.lat")
    if not in_range((lon, lat)):
        raise InvalidFilter(
            f"{what}: wrong format of GeoPoint: expected `lat` = {lat} within [-90;90] and "
            f"`lon` = {lon} within [-180;180]"
        )
    return lon, lat


def _ring(spec: Any, what: str) -> Ring:
    points = _field(spec, "points", what)
    if not isinstance(points, list):
        raise InvalidFilter(f"{what}.points must be a list of geo points, got {points!r}")
    ring = tuple(request_point(p, f"{what}.points[{i}]") for i, p in enumerate(points))
    if len(ring) <= 3:
        raise InvalidFilter(
            f"{what}: polygon invalid, the size must be at least 4, got {len(ring)}"
        )
    (first_lon, first_lat), (last_lon, last_lat) = ring[0], ring[-1]
    if abs(first_lat - last_lat) > _F64_EPSILON or abs(first_lon - last_lon) > _F64_EPSILON:
        raise InvalidFilter(
            f"{what}: polygon invalid, the first and the last points should be the same to "
            f"form a closed line, got {ring[0]} and {ring[-1]} (lon, lat)"
        )
    # The geo crate closes a ring whose ends differ (here: by less than f64::EPSILON).
    return ring if ring[0] == ring[-1] else (*ring, ring[0])


def _check_fields(spec: Any, allowed: frozenset[str], what: str) -> None:
    extra = set(spec) - allowed if isinstance(spec, dict) else set()
    if extra:
        raise InvalidFilter(f"{what} has unknown fields {sorted(extra)}")


def radius_shape(spec: Any, key: str) -> Circle:
    """A ``geo_radius`` condition's shape.

    Args:
        spec: ``{"center": {...}, "radius": meters}`` or a ``GeoRadius`` model.
        key: the condition's payload key, for error messages.

    Returns:
        The circle.

    Raises:
        InvalidFilter: a malformed center or radius, naming it.
    """
    what = f"geo_radius on key {key!r}"
    spec = _as_json(spec)
    _check_fields(spec, frozenset({"center", "radius"}), what)
    center = request_point(_field(spec, "center", what), f"{what}: center")
    return Circle(center, _number(_field(spec, "radius", what), f"{what}: radius"))


def box_shape(spec: Any, key: str) -> Box:
    """A ``geo_bounding_box`` condition's shape (see ``radius_shape`` for the arguments).

    Raises:
        InvalidFilter: a malformed corner, naming it.
    """
    what = f"geo_bounding_box on key {key!r}"
    spec = _as_json(spec)
    _check_fields(spec, frozenset({"top_left", "bottom_right"}), what)
    left, top = request_point(_field(spec, "top_left", what), f"{what}: top_left")
    right, bottom = request_point(_field(spec, "bottom_right", what), f"{what}: bottom_right")
    return Box(left, top, right, bottom)


def polygon_shape(spec: Any, key: str) -> Polygon:
    """A ``geo_polygon`` condition's shape (see ``radius_shape`` for the arguments).

    Raises:
        InvalidFilter: a ring with fewer than 4 points or not closed, or a malformed point,
            naming it.
    """
    what = f"geo_polygon on key {key!r}"
    spec = _as_json(spec)
    _check_fields(spec, frozenset({"exterior", "interiors"}), what)
    exterior = _ring(_field(spec, "exterior", what), f"{what}: exterior")
    interiors = spec.get("interiors")
    if interiors is None:
        return Polygon(exterior)
    if not isinstance(interiors, list):
        raise InvalidFilter(f"{what}: interiors must be a list of rings, got {interiors!r}")
    holes = tuple(_ring(r, f"{what}: interiors[{i}]") for i, r in enumerate(interiors))
    return Polygon(exterior, holes)


# --------------------------------------------------------------------- payload index

_INDEX_FIELDS = frozenset({"type", "on_disk", "memory", "enable_hnsw"})
_MEMORY = ("cold", "cached", "pinned")


@dataclass(frozen=True)
class GeoIndexParams:
    """A ``geo`` payload index's settings (Qdrant's ``GeoIndexParams``): storage only,
    nothing changes what matches. None means the setting was not given."""

    on_disk: bool | None = None
    memory: str | None = None
    enable_hnsw: bool | None = None


def geo_index_params(schema: Mapping[str, Any] | str) -> GeoIndexParams:
    """Read Qdrant's ``GeoIndexParams`` (the ``field_schema`` of a ``geo`` payload index).

    Args:
        schema: ``"geo"`` or the JSON object ``{"type": "geo", ...}``.

    Returns:
        The settings.

    Raises:
        InvalidConfig: another type, an unknown field, or a value of the wrong type.
    """
    if schema == "geo":
        return GeoIndexParams()
    if not isinstance(schema, Mapping):
        raise InvalidConfig(f"geo index field_schema must be 'geo' or an object, got {schema!r}")
    unknown = sorted(set(schema) - _INDEX_FIELDS)
    if unknown:
        raise InvalidConfig(f"unknown geo index fields {unknown}")
    if schema.get("type") != "geo":
        raise InvalidConfig(f"geo index type must be 'geo', got {schema.get('type')!r}")
    flags = {}
    for name in ("on_disk", "enable_hnsw"):
        value = schema.get(name)
        if value is not None and not isinstance(value, bool):
            raise InvalidConfig(f"geo index {name} must be a bool, got {value!r}")
        flags[name] = value
    memory = schema.get("memory")
    if memory is not None and memory not in _MEMORY:
        raise InvalidConfig(f"geo index memory must be one of {list(_MEMORY)}, got {memory!r}")
    return GeoIndexParams(flags["on_disk"], memory, flags["enable_hnsw"])


__all__ = [
    "EARTH_RADIUS_M",
    "Box",
    "Circle",
    "GeoIndexParams",
    "Polygon",
    "Shape",
    "box_shape",
    "geo_index_params",
    "haversine",
    "in_range",
    "index_points",
    "point_of",
    "polygon_shape",
    "radius_shape",
    "request_point",
]
