"""Payloads: the JSON values storage can hold, checked and copied in one pass.

Base floor (beside models, errors and ids): the engine checks every written payload with
``check_payload`` before the write joins a group commit, and the HTTP client checks the same
way before it sends one, so both deployments refuse the same payloads with the same error.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from shoal.errors import InvalidPayload, shown

# How deep a payload may nest objects and arrays (the payload object is level 1): below
# what the serialiser can store (orjson: 254) and what Qdrant's JSON parser reads (128).
MAX_PAYLOAD_DEPTH = 128
# Payload integers storage can hold (orjson's range, and Qdrant's: i64 and u64).
INT_MIN, INT_MAX = -(2**63), 2**64 - 1


def check_payload(
    payload: Any, *, point: object, max_depth: int = MAX_PAYLOAD_DEPTH
) -> dict[str, Any] | None:
    """Validate a payload and return its stored form: a copy made of plain JSON types only.

    Everything storage could later fail on is refused here, per write, so that one caller's
    payload can never fail the group commit it joins: nesting deeper than
    ``MAX_PAYLOAD_DEPTH``, integers outside 64 bits, non-finite floats, strings or keys
    that are not valid Unicode (lone surrogates), non-string keys and non-JSON values. Int,
    float and str subclasses and numpy scalars become the plain type (the serialiser refuses
    ``numpy.float64``). The copy is the caller's no longer: mutating the argument after the
    write does not touch the stored payload.

    Args:
        payload: the payload (a dict), or None.
        point: names the point in error messages.
        max_depth: the nesting allowed (less than ``MAX_PAYLOAD_DEPTH`` for a payload
            merged in below a key path).

    Raises:
        InvalidPayload: naming the point, the key path of the bad value and the rule.
    """
    if payload is None:
        return None
    if not isinstance(payload, dict):
        raise InvalidPayload(
            f"Wrong input: payload of point {point} must be a JSON object, "
            f"got {type(payload).__name__}"
        )
    try:
        copied: dict[str, Any] = _canonical(payload, 1, max_depth)
    except _BadValue as bad:
        path = "".join(
            f"[{s}]" if isinstance(s, int) else "." + _printable(s) for s in reversed(bad.path)
        )
        raise InvalidPayload(f"Wrong input: point {point} payload{path}: {bad.problem}") from None
    return copied


def check_text(text: str, what: str) -> str:
    """``text`` if it is valid Unicode (storable as UTF-8), else InvalidPayload."""
    if not text.isascii():  # a flag lookup for ASCII strings: the common case costs nothing
        try:
            text.encode("utf-8")
        except UnicodeEncodeError as exc:
            raise InvalidPayload(
                f"Wrong input: {what} {text!r:.60} is not valid Unicode "
                f"(a lone surrogate at index {exc.start})"
            ) from None
    return text


def _printable(key: str) -> str:
    # A key with a lone surrogate is named escaped: the message itself must be valid UTF-8.
    return key.encode("utf-8", "backslashreplace").decode("utf-8")


class _BadValue(Exception):
    """A payload value storage cannot hold; ``path`` is filled in while unwinding."""

    def __init__(self, problem: str) -> None:
        super().__init__(problem)
        self.problem = problem
        self.path: list[str | int] = []


def _canonical(value: Any, depth: int, limit: int) -> Any:
    kind = type(value)
    if kind is str:
        return value if value.isascii() else _text(value)
    if kind is int:
        if INT_MIN <= value <= INT_MAX:
            return value
        raise _BadValue(f"the integer {value} is outside the 64-bit range [{INT_MIN}, {INT_MAX}]")
    if kind is float:
        if math.isfinite(value):
            return value
        raise _BadValue(f"{value} is not a finite number (JSON numbers must be finite)")
    if kind is bool or value is None:
        return value
    if kind is dict or kind is list or kind is tuple or isinstance(value, (dict, list, tuple)):
        if depth > limit:
            raise _BadValue(
                f"nested deeper than {MAX_PAYLOAD_DEPTH} levels of objects and arrays "
                "(the payload object itself is level 1, and a set_payload key counts its "
                "levels)"
            )
        return _container(value, depth, limit)
    return _canonical(_plain(value), depth, limit)


def _container(value: Any, depth: int, limit: int) -> Any:
    if isinstance(value, dict):
        out: dict[str, Any] = {}
        for k, v in value.items():
            if type(k) is not str:
                if not isinstance(k, str):
                    raise _BadValue(f"the key {shown(k)} is not a string")
                k = str(k)
            try:
                if not k.isascii():
                    _text(k)
                out[k] = v if type(v) is str and v.isascii() else _canonical(v, depth + 1, limit)
            except _BadValue as bad:
                bad.path.append(k)
                raise
        return out
    items = []
    for i, v in enumerate(value):
        try:
            items.append(_canonical(v, depth + 1, limit))
        except _BadValue as bad:
            bad.path.append(i)
            raise
    return items


def _text(value: str) -> str:
    try:
        value.encode("utf-8")
    except UnicodeEncodeError as exc:
        raise _BadValue(
            f"{value!r:.60} is not valid Unicode (a lone surrogate at index {exc.start})"
        ) from None
    return value


def _plain(value: Any) -> Any:
    """A subclass of a JSON type, or a numpy scalar, as the plain type; else _BadValue."""
    if isinstance(value, (bool, np.bool_)):
        return bool(value)
    if isinstance(value, (int, np.integer)):
        return int(value)
    if isinstance(value, (float, np.floating)):
        return float(value)
    if isinstance(value, str):
        return str(value)
    raise _BadValue(
        f"a value of type {type(value).__name__} is not JSON "
        "(expected str, int, float, bool, None, list or dict)"
    )


def json_copy(value: Any) -> Any:
    """A deep copy of a JSON value (dicts, lists, scalars): several times faster than
    ``copy.deepcopy``, which matters on the hot path of every query result.

    Args:
        value: the value.

    Returns:
        The copy.
    """
    if type(value) is dict:
        for v in value.values():
            if type(v) in CONTAINERS:
                return {k: json_copy(v) if type(v) in CONTAINERS else v for k, v in value.items()}
        return value.copy()  # flat (most payloads): a shallow copy is a deep one
    if type(value) is list:
        return [json_copy(v) if type(v) in CONTAINERS else v for v in value]
    return value


# The types json_copy copies (a payload with neither is flat: a shallow copy is a deep one).
CONTAINERS = (dict, list)


# A step of a payload key path: a key, an array index, or WILDCARD (every element).
PathStep = str | int
WILDCARD = "[]"  # ``shoal.filters.tree``'s FLATTEN: ``a[].b``


def set_at(payload: dict[str, Any], path: tuple[PathStep, ...], values: dict[str, Any]) -> None:
    """Merge ``values`` into the object at ``path`` of ``payload``, as Qdrant's
    ``set_payload`` with a ``key`` does: a null value removes its key; a missing object on
    the way is created, and a value that is no object where the path needs one (a list
    where it needs a key, anything else where it needs an index) is replaced (by a new
    object, or an empty list, which ends the path); an index past an array's end changes
    nothing; ``[]`` goes into every element, each with its own copy.

    Args:
        payload: the payload, changed in place.
        path: the key path (``shoal.filters.tree.parse_key``), starting with a key.
        values: the values to merge (copied).
    """
    _set(payload, path, values, None, None)


def _set(
    data: Any, path: tuple[PathStep, ...], values: dict[str, Any], parent: Any, slot: Any
) -> None:
    step, rest = path[0], path[1:]
    if isinstance(step, str) and step != WILDCARD:
        if not isinstance(data, dict):
            data = parent[slot] = {}
        if not rest:
            target = data.get(step)
            data[step] = _merged(target if isinstance(target, dict) else {}, values)
            return
        if step not in data:
            data[step] = {}
        _set(data[step], rest, values, data, step)
        return
    if not isinstance(data, list):
        parent[slot] = []
        return
    if step == WILDCARD:
        places = list(range(len(data)))
    else:
        places = [step] if isinstance(step, int) and step < len(data) else []
    for i in places:
        own = json_copy(values) if step == WILDCARD else values
        if not rest:
            target = data[i]
            data[i] = _merged(target if isinstance(target, dict) else {}, own)
        else:
            _set(data[i], rest, own, data, i)


def _merged(dest: dict[str, Any], values: dict[str, Any]) -> dict[str, Any]:
    for key, value in values.items():
        if value is None:
            dest.pop(key, None)
        else:
            dest[key] = json_copy(value)
    return dest
