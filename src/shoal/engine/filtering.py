"""How the engine runs filters: compiled once, answered over rows with payload indexes.

``Filters`` is a collection's filter service. ``compile`` turns a request's filter into a
``CompiledFilter`` (its tree, for payload indexes, and its predicate, for everything else)
after checking its size against the collection's ``Limits``: a filter over them is refused
before any work is done on it. Compiled filters are cached by their text (expressions) or
their JSON (structured filters), so a repeated filter costs a dict lookup. Full-text leaves
are compiled with the text index settings of their keys (``set_text_indexes``; the cache is
keyed by their version too, so a filter compiled before an index changed is never reused
after). ``match`` gives
a compiled filter's ``FilterMatch`` on the current state, cached until the next write.

A ``FilterMatch`` walks the filter tree with three-valued masks: each row is surely in,
surely out, or *maybe* (it depends on a leaf no index can answer). And / Or / Not /
MinShould combine them exactly (Kleene logic, vectorised over rows), so an indexed leaf
narrows every operator around it: ``tag == "a" and note like "x%"`` runs the predicate only
over the rows tagged "a". Only the maybe rows ever run the compiled predicate, and it
decides for them, so the result is always the predicate's own answer — indexes only make it
cheaper. For the planner a match can also be *estimated* without running the predicate over
every maybe row (a fixed, evenly spaced sample), and tested lazily on the few rows an HNSW
search returns (``allowed``), which is what makes a post-filtered HNSW search on a
non-indexed key cheap. A workload repeating the same filter (the usual case) pays for the
mask once, not per query (~3-5 ms at 1M rows).

A match is shared by the requests that use the same filter, so the request's ``Deadline``
is passed to each method that does work: it is checked per operand of the walk and every
``CHECK_EVERY`` rows the predicate decides. Work cut short leaves the match consistent (a
row's answer is remembered only once computed), so the next request carries on from there.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace
from typing import Any

import numpy as np

from shoal import models as m
from shoal.engine.deadline import Deadline
from shoal.engine.limits import Limits
from shoal.engine.payload_index import PayloadIndexes
from shoal.engine.state import CollectionState, VectorColumn
from shoal.errors import InvalidFilter
from shoal.filters import Predicate, TextIndex, attach_text_indexes, compile_node, to_tree
from shoal.filters import tree as t
from shoal.filters.expression import CACHE_MAX_LENGTH
from shoal.filters.tree import Node

_EMPTY: dict[str, Any] = {}
# Rows a predicate runs on between two deadline checks: a check costs ~0.1 µs, a row at
# least ~1 µs, so checking costs under 0.1 % and stops work within a fraction of a second.
CHECK_EVERY = 128
# Compiled filters a collection keeps (by text or JSON), and matches (each holds a few bool
# arrays of one byte per row and at most GATHER_BYTES of copied vectors).
COMPILED_SIZE = 256
MATCHES_SIZE = 8
# Up to this many maybe rows the predicate simply runs on all of them (exact count); above,
# a sample of SAMPLE_ROWS estimates the share (the planner needs an order of magnitude).
EAGER_ROWS = 2048
SAMPLE_ROWS = 256
# A cached match keeps its rows' vectors up to this size (a collection keeps MATCHES_SIZE matches).
GATHER_BYTES = 16 << 20


@dataclass(frozen=True)
class CompiledFilter:
    """A filter as a tree (for payload indexes) and as a predicate (for everything else).

    Attributes:
        tree: the filter tree.
        predicate: the same filter compiled.
        key: what a query's batch groups it by: the tree, or None when the tree cannot be
            hashed (it holds a list: Milvus array equality), which makes it its own group.
    """

    tree: Node
    predicate: Predicate
    key: Node | None


def _compiled(tree: Node) -> CompiledFilter:
    try:
        hash(tree)
        key: Node | None = tree
    except TypeError:
        key = None
    return CompiledFilter(tree, compile_node(tree), key)


class Filters:
    """The filters of one collection: compiled, checked against its limits, and matched.

    Thread-safe: reader threads share it; a cached ``FilterMatch`` only ever gains lazily
    computed parts, all of them deterministic, so a race at worst computes one twice.

    Args:
        limits: the limits every filter must keep to.
    """

    def __init__(self, limits: Limits) -> None:
        self.limits = limits
        self._compiled: OrderedDict[tuple[int, str | bytes], CompiledFilter] = OrderedDict()
        # (version, text index settings by payload key): replaced whole, read once per compile.
        self._text: tuple[int, Mapping[str, TextIndex]] = (0, {})
        self._matches: OrderedDict[tuple[Node, tuple[int, int]], FilterMatch] = OrderedDict()
        self._lock = threading.Lock()
        # The collection's state and vector names, for has_vector (set_vectors).
        self._vectors: tuple[CollectionState, frozenset[str]] | None = None

    def set_vectors(self, state: CollectionState, names: Iterable[str]) -> None:
        """Let ``has_vector`` conditions look up the vectors ``names`` of ``state``'s points
        (call once, before the first filter is compiled)."""
        self._vectors = (state, frozenset(names))

    def _attach_vectors(self, tree: Node) -> Node:
        """The tree with each ``has_vector`` leaf able to tell whether a point has its vector.

        Raises:
            InvalidFilter: a vector name the collection does not have.
        """
        if self._vectors is None:
            return tree
        state, names = self._vectors

        def attach(leaf: Node, prefix: object) -> Node:
            if not isinstance(leaf, t.HasVector):
                return leaf
            if leaf.name not in names:
                raise InvalidFilter(
                    f"Wrong input: has_vector: Not existing vector name error: {leaf.name!r}; "
                    f"the collection has {sorted(names)}"
                )
            name = leaf.name

            def has(pid: int | str) -> bool:
                row = state.row_of.get(pid)
                return row is not None and state.has_vector(row, name)

            return replace(leaf, lookup=has)

        return t.map_leaves(tree, attach)

    def compile(self, flt: m.Filter | str | dict[str, Any] | None) -> CompiledFilter | None:
        """Compile a filter in any accepted form; None means "no filter".

        Args:
            flt: a structured filter (or its JSON dict) or an expression.

        Returns:
            Its compiled form (the cached one for a filter seen before).

        Raises:
            InvalidFilter: the filter is malformed or uses an unsupported construct.
            FilterTooLarge: the filter is over the limits.
        """
        if flt is None:
            return None
        version, text = self._text
        key: str | bytes | None = flt if isinstance(flt, str) else None
        if isinstance(flt, m.Filter):
            try:
                key = flt.__pydantic_serializer__.to_json(flt)
            except ValueError:  # nested too deep to write: the limits refuse it below
                key = None
        if key is not None and len(key) > CACHE_MAX_LENGTH:
            key = None  # a huge filter is compiled each time, not kept
        if key is not None:
            with self._lock:
                hit = self._compiled.get((version, key))
            if hit is not None:
                return hit
        if isinstance(flt, (str, dict, m.Filter)):
            self.limits.check_filter(flt)
        # to_tree validates a dict and refuses anything else.
        compiled = _compiled(self._attach_vectors(attach_text_indexes(to_tree(flt), text)))
        if key is not None:
            with self._lock:
                self._compiled[(version, key)] = compiled
                if len(self._compiled) > COMPILED_SIZE:
                    self._compiled.popitem(last=False)
        return compiled

    def set_text_indexes(self, indexes: Mapping[str, TextIndex]) -> None:
        """Use these text index settings for the full-text leaves of filters compiled from
        now on (call when a text index is created or dropped).

        Args:
            indexes: the settings by payload key (``a.b``, ``items[].t``).
        """
        with self._lock:
            self._text = (self._text[0] + 1, dict(indexes))
            self._compiled.clear()  # never hit again: keyed by the old version

    def predicate(self, flt: m.Filter | str | dict[str, Any] | None) -> Predicate | None:
        """``compile``'s predicate; None means "no filter".

        Raises:
            InvalidFilter, FilterTooLarge: as ``compile``.
        """
        compiled = self.compile(flt)
        return None if compiled is None else compiled.predicate

    def match(
        self,
        state: CollectionState,
        flt: CompiledFilter,
        indexes: PayloadIndexes,
        deadline: Deadline,
    ) -> FilterMatch:
        """The match of ``flt`` on the current state (call under the state's read lock).

        Returns:
            A cached match when the same filter ran since the last write (or payload index
            change), else a new one.

        Raises:
            RequestTimeout: ``deadline`` passed while a new match was being built.
        """
        if flt.key is None:
            return FilterMatch(state, flt.tree, flt.predicate, indexes, deadline)
        generation = (state.generation, indexes.version)
        key = (flt.key, generation)
        with self._lock:
            hit = self._matches.get(key)
        if hit is not None:
            return hit
        found = FilterMatch(state, flt.tree, flt.predicate, indexes, deadline)
        with self._lock:
            for old in [k for k in self._matches if k[1] != generation]:
                del self._matches[old]  # written over: never valid again
            self._matches[key] = found
            while len(self._matches) > MATCHES_SIZE:
                self._matches.popitem(last=False)
        return found


class FilterMatch:
    """The rows of a collection that satisfy one filter (computed under the read lock).

    Args:
        state: the collection state (its read lock held for this object's lifetime).
        tree: the filter tree.
        predicate: the same filter compiled (decides the rows no index can).
        indexes: the collection's payload indexes.
        deadline: the deadline of the request that builds it.

    Raises:
        RequestTimeout: the deadline passed while the filter's tree was walked.
    """

    def __init__(
        self,
        state: CollectionState,
        tree: t.Node,
        predicate: Predicate,
        indexes: PayloadIndexes,
        deadline: Deadline,
    ) -> None:
        self._state = state
        self._pred = predicate
        self._high = state.high
        self._live = state.alive[: self._high]
        self._indexes = indexes.by_path
        self.sure, maybe = self._walk(tree, deadline)
        self.maybe = maybe if maybe is not None and maybe.any() else None
        self._memo: dict[int, bool] = {}
        self._mask: np.ndarray | None = None if self.maybe is not None else self.sure
        self._rows: np.ndarray | None = None
        self._count: int | None = None
        self._gathered: dict[int, tuple[np.ndarray, np.ndarray | None]] = {}

    # -------------------------------------------------------------------- answers

    def mask(self, deadline: Deadline) -> np.ndarray:
        """Bool mask over rows ``[0, high)``: the rows that match (runs the predicate on
        every maybe row not tested yet).

        Raises:
            RequestTimeout: ``deadline`` passed before every row was decided.
        """
        if self._mask is None:
            assert self.maybe is not None
            maybe_rows = np.flatnonzero(self.maybe)
            mask = self.sure.copy()
            mask[maybe_rows[self._test(maybe_rows, deadline)]] = True
            self._mask = mask
        return self._mask

    def rows(self, deadline: Deadline) -> np.ndarray:
        """Matching rows, ascending (see ``mask``)."""
        if self._rows is None:
            self._rows = np.flatnonzero(self.mask(deadline))
        return self._rows

    def gathered(
        self, col: VectorColumn, deadline: Deadline
    ) -> tuple[np.ndarray, np.ndarray | None]:
        """The matching rows that have ``col``'s vector, and their vectors copied out of the
        matrix when that copy is small (kept with the match, so a repeated selective filter
        skips the gather: ~4 ms for 10k scattered rows of dim 384).

        Returns:
            (rows, vectors or None).
        """
        cached = self._gathered.get(id(col))
        if cached is None:
            rows = self.rows(deadline)
            rows = rows[col.present[rows]]
            block = col.data[rows] if rows.size * col.dim * 4 <= GATHER_BYTES else None
            cached = self._gathered[id(col)] = (rows, block)
        return cached

    def estimate(self, deadline: Deadline) -> int:
        """The number of matching rows: exact when cheap, else from a fixed sample."""
        if self._mask is not None:
            if self._count is None:
                self._count = int(np.count_nonzero(self._mask))
            return self._count
        assert self.maybe is not None
        maybe_rows = np.flatnonzero(self.maybe)
        if len(maybe_rows) <= EAGER_ROWS:
            return int(np.count_nonzero(self.mask(deadline)))
        picks = maybe_rows[np.linspace(0, len(maybe_rows) - 1, SAMPLE_ROWS).astype(np.int64)]
        share = float(np.mean(self._test(picks, deadline)))
        return int(np.count_nonzero(self.sure)) + round(share * len(maybe_rows))

    def allowed(self, rows: np.ndarray, deadline: Deadline) -> np.ndarray:
        """Which of ``rows`` match (the predicate runs only on maybe rows among them)."""
        if self._mask is not None:
            out: np.ndarray = self._mask[rows]
            return out
        assert self.maybe is not None
        ok: np.ndarray = self.sure[rows]
        unsure = self.maybe[rows]
        if unsure.any():
            ok[unsure] = self._test(rows[unsure], deadline)
        return ok

    def _test(self, rows: np.ndarray, deadline: Deadline) -> np.ndarray:
        st, memo, pred = self._state, self._memo, self._pred
        todo = rows.tolist()
        # Gathered in one step each (the state's per-row columns are numpy object arrays).
        payloads, keys = st.payloads[rows].tolist(), st.keys[rows].tolist()
        out = np.empty(len(todo), dtype=bool)
        for start in range(0, len(todo), CHECK_EVERY):
            deadline.check()
            for i in range(start, min(start + CHECK_EVERY, len(todo))):
                r = todo[i]
                hit = memo.get(r)
                if hit is None:
                    hit = memo[r] = pred(payloads[i] or _EMPTY, keys[i])
                out[i] = hit
        return out

    # ----------------------------------------------------------------------- walk

    def _walk(self, node: t.Node, deadline: Deadline) -> tuple[np.ndarray, np.ndarray | None]:
        """(sure, maybe) masks of ``node``: disjoint, both within the live rows; maybe
        None means no row is uncertain."""
        live = self._live
        if isinstance(node, (t.And, t.Or)):
            if not node.items:  # all([]) holds, any([]) does not
                return self._walk(t.Const(isinstance(node, t.And)), deadline)
            parts = [self._walk_checked(item, deadline) for item in node.items]
            combine = np.logical_and if isinstance(node, t.And) else np.logical_or
            sure = parts[0][0].copy()
            possible = _possible(parts[0])
            for part in parts[1:]:
                combine(sure, part[0], out=sure)
                combine(possible, _possible(part), out=possible)
            return sure, possible & ~sure
        if isinstance(node, t.Not):
            sure, maybe = self._walk(node.item, deadline)
            return live & ~_possible((sure, maybe)), maybe
        if isinstance(node, t.MinShould):
            parts = [self._walk_checked(item, deadline) for item in node.items]
            sure_n = np.sum([p[0] for p in parts], axis=0, dtype=np.int64)
            possible_n = np.sum([_possible(p) for p in parts], axis=0, dtype=np.int64)
            sure = (sure_n >= node.min_count) & live
            return sure, (possible_n >= node.min_count) & live & ~sure
        if isinstance(node, t.Const):
            return (live.copy() if node.value else np.zeros(self._high, dtype=bool)), None
        if isinstance(node, t.HasVector):
            return self._state.presence(node.name)[: self._high] & live, None
        if isinstance(node, t.HasId):
            mask = np.zeros(self._high, dtype=bool)
            rows = [r for r in map(self._state.row_of.get, node.ids) if r is not None]
            mask[rows] = True
            return mask, None
        index = self._indexes.get(getattr(node, "path", None))  # type: ignore[arg-type]
        if index is not None:
            hit = index.match(node, self._high)
            if hit is not None:
                return hit & live, None
        return np.zeros(self._high, dtype=bool), live.copy()

    def _walk_checked(
        self, node: t.Node, deadline: Deadline
    ) -> tuple[np.ndarray, np.ndarray | None]:
        # Each operand costs a few passes over per-row masks (~1 ms at 1M rows).
        deadline.check()
        return self._walk(node, deadline)


def with_deadline(pred: Predicate, deadline: Deadline) -> Predicate:
    """``pred``, checking ``deadline`` every ``CHECK_EVERY`` calls: for loops that test
    rows one by one (scrolls, deletes by filter), where a few checks cost nothing.

    Raises:
        RequestTimeout: (from the returned predicate) the deadline has passed.
    """
    calls = 0

    def checked(payload: dict[str, Any], pid: int | str) -> bool:
        nonlocal calls
        calls += 1
        if calls % CHECK_EVERY == 0:
            deadline.check()
        return pred(payload, pid)

    return checked


def matching_rows(state: CollectionState, pred: Predicate) -> np.ndarray:
    """Rows of live points whose payload satisfies ``pred``, ascending."""
    live = state.live_rows()
    pairs = zip(state.payloads[live].tolist(), state.keys[live].tolist(), strict=True)
    out: np.ndarray = live[np.fromiter((pred(p or _EMPTY, k) for p, k in pairs), bool, len(live))]
    return out


def _possible(part: tuple[np.ndarray, np.ndarray | None]) -> np.ndarray:
    sure, maybe = part
    out: np.ndarray = sure.copy() if maybe is None else sure | maybe
    return out
