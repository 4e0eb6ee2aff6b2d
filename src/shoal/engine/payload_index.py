"""Payload indexes: per declared field, which rows hold which values, kept current on commit.

A field index answers a filter leaf on its field with a boolean mask over the rows, or says
it cannot (``None``): then the caller runs the compiled predicate instead. It answers only
when its answer is *exactly* what ``shoal.filters.evaluate`` would compute, so a filter means
the same with or without indexes. The rules it reproduces:

* A structured (Qdrant) leaf has ``any_element``: an array value matches when one element
  does. An expression (Milvus) leaf compares the value itself, so an array never matches a
  scalar comparison. The index therefore keeps a row's *scalar* value apart from its array
  *elements*.
* Values of another kind never compare (a string against a number, a bool against a number),
  so an index of one kind answers only leaves whose operand has that kind; a row whose value
  has another kind is simply not in the index, which is the right (false) answer.
* Qdrant's integer match reads the stored value as an i64: a stored float never equals an
  integer operand of a structured leaf. Numbers are stored as float64 with an "is int" flag;
  float64 compares exactly with operands below 2**53 in magnitude (larger ones fall back).

Layout (picked for simplicity and measured at 1M rows): scalars live in per-row numpy arrays
(a dictionary code per distinct string or bool, a float64 per number, int64 microseconds per
datetime), so a leaf is one vectorised comparison over the rows (~1 ms per million); array
elements live in a side table (postings for strings and bools), since they are rarer.
Only paths of plain keys (``a.b``) are served; ``a[].b`` indexes still report their counts.
"""

from __future__ import annotations

import operator
from collections.abc import Callable, Iterable
from datetime import datetime, timedelta, timezone
from typing import Any

import numpy as np

from shoal import models as m
from shoal.engine.state import Applied, CollectionState
from shoal.filters import tree as t
from shoal.filters.evaluate import full_text_query, like_regex, parse_datetime, values_at

# The kind of value each schema type indexes; GEO (None) only counts points.
KIND: dict[m.PayloadSchemaType, str | None] = {
    m.PayloadSchemaType.KEYWORD: "str",
    m.PayloadSchemaType.UUID: "str",
    m.PayloadSchemaType.TEXT: "str",
    m.PayloadSchemaType.INTEGER: "num",
    m.PayloadSchemaType.FLOAT: "num",
    m.PayloadSchemaType.BOOL: "bool",
    m.PayloadSchemaType.DATETIME: "dt",
    m.PayloadSchemaType.GEO: None,
}
OPS: dict[str, Callable[[Any, Any], Any]] = {
    "eq": operator.eq,
    "ne": operator.ne,
    "lt": operator.lt,
    "le": operator.le,
    "gt": operator.gt,
    "ge": operator.ge,
}
_EXACT_INT = 2**53
_EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)
_MICRO = timedelta(microseconds=1)
_NONE: Any = object()


def kind_of(value: Any) -> str | None:
    """The filter kind of a JSON value ("str", "num", "bool"), None for anything else."""
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, (int, float)):
        return "num"
    if isinstance(value, str):
        return "str"
    return None


def _exact_number(value: Any) -> bool:
    # Stored numbers are float64: every int below 2**53 is exact, and a bigger stored int
    # rounds to a float that still orders correctly against an operand below 2**53 (but
    # could *equal* a rounded operand above it, e.g. 2**53 + 1 against 2.0**53).
    return kind_of(value) == "num" and abs(value) < _EXACT_INT


def _micros(dt: datetime) -> int:
    return (dt - _EPOCH) // _MICRO


def _as_number(value: Any) -> float:
    try:
        return float(value)
    except OverflowError:  # an int beyond float range still orders like an infinity
        return float("inf") if value > 0 else float("-inf")


class FieldIndex:
    """The index of one payload field (see the module docstring for what it answers)."""

    def __init__(self, key: str, schema: m.PayloadSchemaType) -> None:
        """Create an empty index.

        Args:
            key: the payload key as declared (``a.b``, ``a[].b``).
            schema: the declared type; it decides which values are indexed.

        Raises:
            ValueError: the key does not parse (callers check it first).
        """
        self.key = key
        self.schema = schema
        self.path = t.parse_key(key)
        self.kind = KIND[schema]
        # Only plain key paths are served: there Qdrant's and Milvus's value lookups agree.
        self.serves = self.kind is not None and all(
            isinstance(s, str) and s != t.FLATTEN for s in self.path
        )
        self.points = 0  # rows with at least one indexed value (Qdrant's "points")
        self._indexed = np.zeros(0, dtype=bool)
        self._has = np.zeros(0, dtype=bool)  # the row has a scalar value of the kind
        self._codes = np.zeros(0, dtype=np.int32)  # str/bool: dictionary code of the scalar
        self._vals = np.zeros(0, dtype=np.int64 if self.kind == "dt" else np.float64)
        self._isint = np.zeros(0, dtype=bool)  # num: the scalar is an int
        self._code_of: dict[Any, int] = {}
        self._elems: dict[int, tuple[Any, ...]] = {}  # row -> array elements (encoded)
        self._elem_rows: dict[Any, set[int]] = {}  # str/bool: element -> rows

    # ---------------------------------------------------------------- maintenance

    def _ensure(self, row: int) -> None:
        size = len(self._indexed)
        if row < size:
            return
        new = max(1024, 2 * size, row + 1)
        self._indexed = _grown(self._indexed, new, False)
        self._has = _grown(self._has, new, False)
        self._codes = _grown(self._codes, new, -1)
        self._vals = _grown(self._vals, new, 0)
        self._isint = _grown(self._isint, new, False)

    def update(self, row: int, payload: dict[str, Any] | None) -> None:
        """Re-index one row (``payload=None``: the row is now empty).

        Args:
            row: the state row.
            payload: the row's current payload, or None when its point was deleted.
        """
        self._ensure(row)
        self._clear(row)
        if payload is None:
            return
        found, scalar, elems = self._extract(payload)
        if not found:
            return
        self._indexed[row] = True
        self.points += 1
        if scalar is not _NONE:
            self._has[row] = True
            if self.kind == "num":
                self._vals[row], self._isint[row] = scalar
            elif self.kind == "dt":
                self._vals[row] = scalar
            else:
                self._codes[row] = self._code(scalar)
        if elems:
            self._add_elems(row, elems)

    def build(self, rows: list[int], payloads: list[dict[str, Any] | None]) -> None:
        """Index many rows of an empty index at once (scalars are written in bulk).

        Args:
            rows: state rows, distinct.
            payloads: their payloads.
        """
        if not rows:
            return
        self._ensure(max(rows))
        found_rows, scalar_rows, scalars = [], [], []
        for row, payload in zip(rows, payloads, strict=True):
            found, scalar, elems = self._extract(payload or {})
            if not found:
                continue
            found_rows.append(row)
            if scalar is not _NONE:
                scalar_rows.append(row)
                scalars.append(scalar)
            if elems:
                self._add_elems(row, elems)
        self._indexed[found_rows] = True
        self.points += len(found_rows)
        self._has[scalar_rows] = True
        if self.kind == "num":
            self._vals[scalar_rows] = [v for v, _ in scalars]
            self._isint[scalar_rows] = [i for _, i in scalars]
        elif self.kind == "dt":
            self._vals[scalar_rows] = scalars
        elif scalars:
            self._codes[scalar_rows] = [self._code(v) for v in scalars]

    def _extract(self, payload: dict[str, Any]) -> tuple[bool, Any, tuple[Any, ...]]:
        """(has an indexed value, encoded scalar or _NONE, encoded array elements)."""
        if not self.serves:
            found = any(self._encode(v) is not _NONE for v in values_at(payload, self.path))
            return found, _NONE, ()
        value = _walk(payload, self.path)
        if isinstance(value, list):
            elems = tuple(e for e in map(self._encode, value) if e is not _NONE)
            return bool(elems), _NONE, elems
        scalar = _NONE if value is _NONE else self._encode(value)
        return scalar is not _NONE, scalar, ()

    def _code(self, key: Any) -> int:
        code = self._code_of.get(key)
        if code is None:
            code = self._code_of[key] = len(self._code_of)
        return code

    def _add_elems(self, row: int, elems: tuple[Any, ...]) -> None:
        self._elems[row] = elems
        if self.kind in ("str", "bool"):
            for e in elems:
                self._elem_rows.setdefault(e, set()).add(row)

    def _clear(self, row: int) -> None:
        if self._indexed[row]:
            self._indexed[row] = False
            self.points -= 1
        self._has[row] = False
        self._codes[row] = -1
        elems = self._elems.pop(row, None)
        if elems and self.kind in ("str", "bool"):
            for e in elems:
                rows = self._elem_rows.get(e)
                if rows is not None:
                    rows.discard(row)
                    if not rows:
                        del self._elem_rows[e]

    def _encode(self, value: Any) -> Any:
        """The stored form of a value of this index's kind, or _NONE for other values."""
        kind = self.kind
        if kind is None:  # geo: a point is an object ({"lon": .., "lat": ..})
            return value if isinstance(value, dict) else _NONE
        if kind == "dt":
            dt = parse_datetime(value) if isinstance(value, str) else None
            return _NONE if dt is None else _micros(dt)
        if kind_of(value) != kind:
            return _NONE
        if kind == "num":
            return (_as_number(value), not isinstance(value, float))
        return value

    # --------------------------------------------------------------------- leaves

    def match(self, node: t.Node, high: int) -> np.ndarray | None:
        """Rows satisfying a leaf on this field, exactly as the predicate would decide.

        Args:
            node: a filter leaf whose path is this index's path.
            high: rows ``[0, high)`` exist; the mask has this length.

        Returns:
            A bool mask over the rows, or None when the index cannot answer this leaf.
        """
        if not self.serves:
            return None
        if isinstance(node, t.Cmp):
            return self._cmp(node, high)
        if isinstance(node, t.In):
            return self._in(node, high)
        if isinstance(node, t.Range):
            return self._range(node, high)
        if isinstance(node, t.FullText) and self.kind == "str":
            return self._full_text(node, high)
        if isinstance(node, t.Like) and self.kind == "str":
            rx = like_regex(node.pattern)
            return self._by_key(lambda k: rx.fullmatch(k) is not None, False, high)
        return None

    def _full_text(self, node: t.FullText, high: int) -> np.ndarray:
        """Rows matching a full-text leaf, with the query the predicate compiles (the leaf
        carries its key's text index settings), so both answer alike: each distinct string
        is tested once; a row's array elements are one document when the query pools them
        (a text index, Qdrant's rules), otherwise each element is tested on its own."""
        query = full_text_query(node)
        if not (query.pooled and node.any_element):
            return self._by_key(lambda k: query.matches([k]), node.any_element, high)
        mask = self._by_key(lambda k: query.matches([k]), False, high)
        _set_rows(mask, [r for r, elems in self._elems.items() if query.matches(list(elems))])
        return mask

    def _cmp(self, node: t.Cmp, high: int) -> np.ndarray | None:
        target = node.value
        tkind = kind_of(target)
        if node.arith is not None or tkind is None or tkind != self.kind:
            return None
        test = OPS[node.op]
        ordered = node.op not in ("eq", "ne")
        if tkind == "bool" and ordered:
            return np.zeros(high, dtype=bool)  # bools never order (the predicate skips them)
        if tkind == "num":
            if not _exact_number(target):
                return None
            # Qdrant's integer match: a stored float never equals an integer operand.
            int_only = node.any_element and not isinstance(target, float)
            number = float(target)  # type: ignore[arg-type]  # a number (checked above)
            mask = self._num_scalars(lambda v: test(v, number), high)
            if int_only:
                mask &= _fit(self._isint, high)
            if node.any_element:
                self._num_elems(mask, lambda v, i: (i or not int_only) and test(v, number))
            return mask
        if node.op == "eq":
            return self._by_keys([target], node.any_element, high)
        return self._by_key(lambda k: test(k, target), node.any_element, high)

    def _in(self, node: t.In, high: int) -> np.ndarray | None:
        values = node.values
        if not values or any(kind_of(v) != self.kind for v in values):
            return None
        if self.kind != "num":
            return self._by_keys(list(values), node.any_element, high)
        if not all(_exact_number(v) for v in values):
            return None
        # `match: {any}` lists integers: a stored float never matches a structured leaf.
        int_only = node.any_element
        wanted = np.asarray([float(v) for v in values])
        mask = _fit(self._has, high) & np.isin(_fit(self._vals, high), wanted)
        if int_only:
            mask &= _fit(self._isint, high)
        if node.any_element:
            allowed = set(wanted.tolist())
            self._num_elems(mask, lambda v, i: (i or not int_only) and v in allowed)
        return mask

    def _range(self, node: t.Range, high: int) -> np.ndarray | None:
        if node.arith is not None:
            return None
        raw = [
            (b, op)
            for b, op in ((node.gt, "gt"), (node.gte, "ge"), (node.lt, "lt"), (node.lte, "le"))
            if b is not None
        ]
        if node.datetimes:
            if self.kind != "dt":
                return None
            parsed = [(parse_datetime(b), op) for b, op in raw]
            if any(dt is None for dt, _ in parsed):
                return None
            bounds: list[tuple[Any, Callable[[Any, Any], Any]]] = [
                (_micros(dt), OPS[op]) for dt, op in parsed if dt is not None
            ]
        else:
            want = kind_of(raw[0][0]) if raw else "num"
            if want not in ("num", "str"):
                return np.zeros(high, dtype=bool)  # the predicate accepts no value then
            if any(kind_of(b) != want for b, _ in raw) or want != self.kind:
                return None
            if want == "str":
                tests = [(b, OPS[op]) for b, op in raw]
                return self._by_key(
                    lambda k: all(f(k, b) for b, f in tests), node.any_element, high
                )
            if not all(_exact_number(b) for b, _ in raw):
                return None
            bounds = [(float(b), OPS[op]) for b, op in raw]  # type: ignore[arg-type]

        def inside(v: Any) -> Any:
            ok: Any = True
            for b, f in bounds:
                ok = ok & f(v, b)
            return ok

        mask = self._num_scalars(inside, high)
        if node.any_element:
            self._num_elems(mask, lambda v, i: bool(inside(v)))
        return mask

    def values(self, rows: np.ndarray, integers: bool) -> tuple[np.ndarray, np.ndarray] | None:
        """Every (row, value) of ``rows`` this index holds, a value repeated in one row's
        array once: float64 numbers (``integers``: only the integers), int64 microseconds
        for datetimes. None when the index cannot say (not a number or datetime index, or
        a path with ``[]`` steps).

        Args:
            rows: state rows, ascending.
            integers: keep integer numbers only (an integer index's values).
        """
        if not self.serves or self.kind not in ("num", "dt"):
            return None
        inside = rows[rows < len(self._has)]
        scalar = self._has[inside]
        if integers:
            scalar &= self._isint[inside]
        out_rows, out_vals = [inside[scalar]], [self._vals[inside[scalar]]]
        if self._elems:
            wanted = np.zeros(len(self._has), dtype=bool)
            wanted[inside] = True
            dt = self.kind == "dt"
            extra_rows: list[int] = []
            extra_vals: list[Any] = []
            for row, elems in self._elems.items():
                if not wanted[row]:
                    continue
                held = set(elems) if dt else {v for v, is_int in elems if is_int or not integers}
                extra_rows += [row] * len(held)
                extra_vals += held
            out_rows.append(np.asarray(extra_rows, np.int64))
            out_vals.append(np.asarray(extra_vals, self._vals.dtype))
        return np.concatenate(out_rows), np.concatenate(out_vals)

    # ------------------------------------------------------------------- helpers

    def _num_scalars(self, test: Callable[[np.ndarray], Any], high: int) -> np.ndarray:
        has = _fit(self._has, high)
        out: np.ndarray = has & test(_fit(self._vals, high))
        return out

    def _num_elems(self, mask: np.ndarray, test: Callable[[Any, bool], bool]) -> None:
        """Add rows with an array element passing ``test(value, is_int)`` to ``mask``."""
        dt = self.kind == "dt"
        for row, elems in self._elems.items():
            if row < len(mask) and any(test(e, True) if dt else test(e[0], e[1]) for e in elems):
                mask[row] = True

    def _by_keys(self, keys: list[Any], any_element: bool, high: int) -> np.ndarray:
        codes = [self._code_of[k] for k in keys if k in self._code_of]
        mask = _fit(self._has, high) & np.isin(_fit(self._codes, high), codes)
        if any_element and self._elem_rows:
            for k in keys:
                _set_rows(mask, self._elem_rows.get(k, ()))
        return mask

    def _by_key(self, test: Callable[[Any], bool], any_element: bool, high: int) -> np.ndarray:
        """Rows whose value (or, with ``any_element``, one element) passes ``test``;
        scans distinct values, not rows."""
        keys = [k for k in self._code_of if test(k)]
        mask = self._by_keys(keys, False, high)
        if any_element:
            for k, rows in self._elem_rows.items():
                if test(k):
                    _set_rows(mask, rows)
        return mask


class PayloadIndexes:
    """The payload indexes of one collection. Queries read ``by_path`` under the state's
    read lock; it is replaced (never mutated) when an index is created or dropped."""

    def __init__(self) -> None:
        self.fields: dict[str, FieldIndex] = {}
        self.by_path: dict[t.Path, FieldIndex] = {}
        self.version = 0  # bumped when an index is created or dropped

    def create(self, state: CollectionState, key: str, schema: m.PayloadSchemaType) -> None:
        """Build an index over the current rows and keep it current from now on.

        The caller holds the state's read lock, so no group is applied meanwhile.
        """
        index = FieldIndex(key, schema)
        rows = state.live_rows().tolist()
        index.build(rows, [state.payloads[r] for r in rows])
        fields = {**self.fields, key: index}
        self._publish(fields)

    def drop(self, key: str) -> None:
        """Forget the index on ``key`` (no-op when there is none)."""
        self._publish({k: v for k, v in self.fields.items() if k != key})

    def _publish(self, fields: dict[str, FieldIndex]) -> None:
        # Later declarations win when two keys spell the same path.
        self.by_path = {f.path: f for f in fields.values() if f.serves}
        self.fields = fields
        self.version += 1

    def on_apply(self, state: CollectionState, applied: Applied) -> None:
        """Re-index the rows a group changed (called under the state's write lock)."""
        fields = list(self.fields.values())
        if not fields:
            return
        for row in set(applied.rows):
            payload = (state.payloads[row] or {}) if state.alive[row] else None
            for index in fields:
                index.update(row, payload)

    def points(self, key: str) -> int:
        """Rows with at least one indexed value of the field (0 for an unknown key)."""
        index = self.fields.get(key)
        return 0 if index is None else index.points


def _walk(payload: Any, path: t.Path) -> Any:
    cur = payload
    for step in path:
        if not isinstance(cur, dict) or step not in cur:
            return _NONE
        cur = cur[step]
    return cur


def _grown(arr: np.ndarray, size: int, fill: Any) -> np.ndarray:
    out = np.full(size, fill, dtype=arr.dtype)
    out[: len(arr)] = arr
    return out


def _fit(arr: np.ndarray, high: int) -> np.ndarray:
    """The first ``high`` entries; rows never indexed (past the array) read as empty."""
    if len(arr) >= high:
        return arr[:high]
    return _grown(arr, high, 0)


def _set_rows(mask: np.ndarray, rows: Iterable[int]) -> None:
    idx = np.fromiter(rows, dtype=np.int64)
    mask[idx[idx < len(mask)]] = True
