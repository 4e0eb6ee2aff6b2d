"""One sparse vector of every row, and its inverted index: exact dot-product scoring.

Qdrant scores a sparse query by the dot product with every stored vector that shares an
index with it (a vector sharing none is no match, not a match scoring 0), over an inverted
index. Shoal's inverted index is two sets of postings in compressed-row form (for each
index, the rows that have it and their values):

- the *base*, built from every row at once (one sort of all postings), and
- the *delta*, built from the rows written since the base was built (the *dirty* rows);
  the base's postings of those rows are stale and masked out when it is read.

A write marks its rows dirty, and builds what the next query needs (the delta, or the
rebuilt base once the dirty rows outgrow ``REBUILD_SHARE`` of it) only when those postings
hold at most ``EAGER_BUILD`` times the rows it wrote, so the write path stays O(rows
written): after a bulk write, such as the first load of a small collection, the first
query finds the postings built; after a stream of small writes, the first query builds
them. Building and reading are thread-safe: searches build under the column's own lock,
while writes (which mark rows, and may build) run under the collection state's write lock,
so never beside a search.

IDF (``modifier: idf``) is Qdrant's ``ln((N - df + 0.5) / (df + 0.5) + 1)``, with ``N`` the
live rows that have this vector and ``df`` those among them that have the index, both read
from the postings at query time: statistics of the live points, as qdrant-client's local
mode keeps them.
"""

from __future__ import annotations

import contextlib
import math
import threading
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from shoal.codec import SparseRow
from shoal.gil import shared
from shoal.index.intset import IntSet

REBUILD_SHARE = 0.125  # dirty rows, as a share of the base's rows, that trigger a rebuild
REBUILD_MIN = 2048  # ... but never for fewer dirty rows than this
EAGER_BUILD = 2  # a write builds postings of at most this many rows per row it wrote
# Postings of a query fewer than 1 / SORT_SHARE of the rows are summed by sorting them;
# more, by accumulating over every row.
SORT_SHARE = 16


@dataclass(frozen=True)
class _Postings:
    """Postings in compressed-row form: index ``tokens[i]`` is held by
    ``rows[starts[i]:starts[i + 1]]`` with ``values[starts[i]:starts[i + 1]]``."""

    tokens: np.ndarray  # uint32, ascending, unique
    starts: np.ndarray  # int64, len(tokens) + 1
    rows: np.ndarray  # int64
    values: np.ndarray  # float32
    highest: np.ndarray  # float64, len(tokens): each index's highest value
    lowest: np.ndarray  # float64, len(tokens): ... and lowest
    size: int  # rows with a vector when built

    @classmethod
    def build(cls, rows: list[int], vectors: list[tuple[np.ndarray, np.ndarray]]) -> _Postings:
        """The postings of ``rows``, given their (indices, values) arrays."""
        if not rows:
            return _EMPTY
        lengths = np.fromiter((len(i) for i, _ in vectors), np.int64, len(vectors))
        tokens = np.concatenate([i for i, _ in vectors])
        values = np.concatenate([v for _, v in vectors])
        owners = np.repeat(np.asarray(rows, dtype=np.int64), lengths)
        order = np.argsort(tokens, kind="stable")
        tokens, values, owners = tokens[order], values[order], owners[order]
        unique, starts = np.unique(tokens, return_index=True)
        bounds = np.append(starts, len(tokens)).astype(np.int64)
        highest = np.maximum.reduceat(values, starts).astype(np.float64)
        lowest = np.minimum.reduceat(values, starts).astype(np.float64)
        return cls(unique, bounds, owners, values, highest, lowest, len(rows))

    def lookup(self, token: int) -> tuple[np.ndarray, np.ndarray, float, float] | None:
        """The rows and values of one index, and its highest and lowest value (None when
        no row has it)."""
        pos = int(np.searchsorted(self.tokens, token))
        if pos == len(self.tokens) or self.tokens[pos] != token:
            return None
        start, end = self.starts[pos], self.starts[pos + 1]
        rows, values = self.rows[start:end], self.values[start:end]
        return rows, values, float(self.highest[pos]), float(self.lowest[pos])


_EMPTY = _Postings(
    np.zeros(0, np.uint32),
    np.zeros(1, np.int64),
    np.zeros(0, np.int64),
    np.zeros(0, np.float32),
    np.zeros(0, np.float64),
    np.zeros(0, np.float64),
    0,
)


@dataclass(frozen=True)
class Term:
    """One index of a query: the live rows that hold it, in one or two ascending parts
    (the base's, the delta's), their values, the index's weight, and ``bound``, the most it
    adds to any row's score."""

    parts: tuple[tuple[np.ndarray, np.ndarray], ...]
    weight: float
    bound: float

    def rows(self) -> np.ndarray:
        """Every row that holds this index (not sorted when there are two parts)."""
        return np.concatenate([rows for rows, _ in self.parts])


@dataclass(frozen=True)
class QueryTerms:
    """A query's indexes as the postings hold them at one moment (see
    ``SparseColumn.terms``); ``size`` is the column's row capacity then."""

    terms: list[Term]
    size: int

    def all_scores(self) -> tuple[np.ndarray, np.ndarray]:
        """Every row that holds one of the indexes (ascending), and its score (float64)."""
        if not self.terms:
            return np.zeros(0, np.int64), np.zeros(0, np.float64)
        rows = np.concatenate([t.rows() for t in self.terms])
        contrib = np.concatenate(
            [values.astype(np.float64) * t.weight for t in self.terms for _, values in t.parts]
        )
        if len(self.terms) == 1:
            order = np.argsort(rows, kind="stable")
            return rows[order], contrib[order]
        if len(rows) * SORT_SHARE < self.size:  # few postings: sort them
            unique, inverse = np.unique(rows, return_inverse=True)
            return unique, np.bincount(inverse, weights=contrib, minlength=len(unique))
        # Many: accumulate over every row (linear; a sort of 100k postings took 5 ms).
        touched = np.zeros(self.size, dtype=bool)
        touched[rows] = True
        unique = np.flatnonzero(touched)
        return unique, np.bincount(rows, weights=contrib, minlength=self.size)[unique]

    @property
    def postings(self) -> int:
        """How many postings the terms hold."""
        return sum(len(rows) for t in self.terms for rows, _ in t.parts)

    def dense_scores(self) -> np.ndarray:
        """Every row's score, -inf for a row that holds none of the indexes (float64, one
        entry per row: cheaper than ``all_scores`` when the postings are many)."""
        acc = np.full(self.size, -np.inf)
        first = True
        for term in self.terms:
            for rows, values in term.parts:  # a part's rows are unique: plain fancy indexing
                contrib = values.astype(np.float64) * term.weight
                if first:
                    acc[rows] = contrib
                    first = False
                else:
                    held = acc[rows]
                    held[held == -np.inf] = 0.0
                    acc[rows] = held + contrib
        return acc

    def scores(self, rows: np.ndarray) -> np.ndarray:
        """The scores of ``rows`` (ascending, each holding one of the indexes), equal to
        ``all_scores``'s: contributions are added in the same order."""
        out = np.zeros(len(rows), np.float64)
        for term in self.terms:
            for held, values in term.parts:
                pos = np.searchsorted(held, rows)
                hit = pos < len(held)
                hit[hit] = held[pos[hit]] == rows[hit]
                out[hit] += values[pos[hit]].astype(np.float64) * term.weight
        return out


def idf(df: int, n: int) -> float:
    """Qdrant's inverse document frequency of an index held by ``df`` of ``n`` vectors."""
    return math.log((n - df + 0.5) / (df + 0.5) + 1.0)


class SparseColumn:
    """One sparse vector of every row, and the inverted index that scores queries on it.

    Args:
        capacity: rows to make room for.
    """

    def __init__(self, capacity: int) -> None:
        # Row -> (indices, values) or None, in a numpy object array, which the cyclic
        # collector does not walk (a list it walks element by element on each full
        # collection, as it walks each NamedTuple: 100k SparseRows added ~50 ms to each).
        self._vectors: np.ndarray = np.full(capacity, None, dtype=object)
        self.present = np.zeros(capacity, dtype=bool)
        self.count = 0  # rows that have this vector
        self._stale = np.zeros(capacity, dtype=bool)  # rows whose base postings are outdated
        self._dirty = IntSet()  # rows changed since the base postings were built
        self._base = _EMPTY
        self._delta: _Postings | None = _EMPTY  # None: to build from the dirty rows
        self._lock = threading.Lock()

    def grow(self, capacity: int) -> None:
        extra = capacity - len(self._vectors)
        self._vectors = np.concatenate([self._vectors, np.full(extra, None, dtype=object)])
        self.present = np.concatenate([self.present, np.zeros(extra, bool)])
        self._stale = np.concatenate([self._stale, np.zeros(extra, bool)])

    def fill(self, start: int, vectors: list[SparseRow | None]) -> None:
        """Set rows ``[start, start + len(vectors))`` that had no vector before (loading)."""
        touched = []
        for row, vec in enumerate(shared(vectors), start):
            if vec is not None:
                self._set(row, vec)
                touched.append(row)
        self._touch(touched)

    def set_rows(self, rows: list[int], vectors: list[SparseRow]) -> None:
        """Set the vector of these rows."""
        for row, vec in zip(rows, vectors, strict=True):
            self._set(row, vec)
        self._touch(rows)

    def clear_rows(self, rows: list[int]) -> None:
        """Drop the vector of these rows (a row may repeat, or have none)."""
        touched = []
        for row in rows:
            if self.present[row]:
                self.present[row] = False
                self._vectors[row] = None
                self.count -= 1
                touched.append(row)
        self._touch(touched)

    def _set(self, row: int, vec: SparseRow) -> None:
        if not self.present[row]:
            self.present[row] = True
            self.count += 1
        self._vectors[row] = (vec.indices, vec.values)

    def _touch(self, rows: list[int]) -> None:
        """Mark ``rows`` as changed since the postings were built."""
        if rows:
            self._stale[rows] = True
            self._dirty.update(rows)
            self._delta = None
            built = self.count if self._rebuild_due() else len(self._dirty)
            if built <= EAGER_BUILD * len(rows):
                # A head start only, inside a write that must not fail for it: a failed
                # build changes nothing, and the next query builds (and reports) instead.
                with contextlib.suppress(Exception):
                    self._postings()

    def _rebuild_due(self) -> bool:
        return len(self._dirty) > max(REBUILD_MIN, REBUILD_SHARE * self._base.size)

    # ------------------------------------------------------------------ reading

    def _postings(self) -> tuple[_Postings, _Postings, np.ndarray | None]:
        """The base and delta postings, built or rebuilt as the writes since require, and
        the mask of the base's stale rows (None: none is stale).

        A rebuild replaces the mask instead of clearing it: a search still reading the old
        base keeps the mask that goes with it.
        """
        with self._lock:
            if self._rebuild_due():
                rows = np.flatnonzero(self.present).tolist()
                self._base = _Postings.build(rows, self._of(rows))
                self._stale = np.zeros(len(self._stale), dtype=bool)
                self._dirty.clear()
                self._delta = _EMPTY
            elif self._delta is None:
                dirty = self._dirty.array()
                rows = np.sort(dirty[self.present[dirty]]).tolist()
                self._delta = _Postings.build(rows, self._of(rows))
            return self._base, self._delta, self._stale if self._dirty else None

    def vector(self, row: int) -> SparseRow | None:
        """The row's vector (None: it has none)."""
        vec = self._vectors[row]
        return None if vec is None else SparseRow(*vec)

    def _of(self, rows: list[int]) -> list[tuple[np.ndarray, np.ndarray]]:
        out = []
        for row in shared(rows):
            vec = self._vectors[row]
            assert vec is not None, "a present row has a vector"
            out.append(vec)
        return out

    def search(
        self, query: SparseRow, with_idf: bool, corpus: np.ndarray | None = None
    ) -> tuple[np.ndarray, np.ndarray]:
        """Every row that shares an index with ``query``, and its dot product with it: the
        rows (ascending) and their scores (float64). Arguments as ``terms``."""
        return self.terms(query, with_idf, corpus).all_scores()

    def terms(
        self, query: SparseRow, with_idf: bool, corpus: np.ndarray | None = None
    ) -> QueryTerms:
        """The indexes of ``query`` that some live row holds, each with its live postings,
        weight (the query's value, times the IDF with ``with_idf``) and bound.

        Args:
            query: the query vector.
            with_idf: weigh each query index by its IDF over the rows with this vector.
            corpus: with IDF, a bool mask over rows: the statistics count only these rows
                (Qdrant's ``IdfCorpusParams``); None for every row.

        Returns:
            The query's terms, in the query's order.
        """
        return self.terms_of([query], with_idf, corpus)[0]

    def terms_of(
        self, queries: Sequence[SparseRow], with_idf: bool, corpus: np.ndarray | None = None
    ) -> list[QueryTerms]:
        """``terms`` of each query (arguments as there), every index's postings looked up
        once for them all: a batch's BM25 queries share most of their words."""
        base, delta, stale = self._postings()
        n_docs = self.count
        if with_idf and corpus is not None:
            n_docs = int(np.count_nonzero(corpus & self.present[: len(corpus)]))
        held: dict[int, _Held | None] = {}
        out = []
        for query in queries:
            terms = []
            for token, weight in zip(query.indices.tolist(), query.values.tolist(), strict=True):
                if token in held:
                    found = held[token]
                else:
                    found = held[token] = _held(token, base, delta, stale, corpus)
                if found is None:
                    continue
                bound = max(found.highest * weight, found.lowest * weight)
                if with_idf:
                    factor = idf(found.df, n_docs)
                    weight, bound = weight * factor, bound * factor
                terms.append(Term(found.parts, weight, bound))
            out.append(QueryTerms(terms, len(self.present)))
        return out


@dataclass(frozen=True)
class _Held:
    """One index's live postings (one or two parts), their highest and lowest value, and
    ``df``: how many rows hold it (of the IDF corpus, when there is one)."""

    parts: tuple[tuple[np.ndarray, np.ndarray], ...]
    highest: float
    lowest: float
    df: int


def _held(
    token: int,
    base: _Postings,
    delta: _Postings,
    stale: np.ndarray | None,
    corpus: np.ndarray | None,
) -> _Held | None:
    """The live postings of ``token`` (None: no live row holds it)."""
    parts = []
    highest, lowest = -math.inf, math.inf
    for postings, mask in ((base, stale), (delta, None)):
        hit = postings.lookup(token)
        if hit is None:
            continue
        rows, values, high, low = hit
        if mask is not None:
            keep = ~mask[rows]
            rows, values = rows[keep], values[keep]
        if len(rows):
            parts.append((rows, values))
            highest, lowest = max(highest, high), min(lowest, low)
    if not parts:
        return None
    df = sum(
        len(rows) if corpus is None else int(np.count_nonzero(corpus[rows])) for rows, _ in parts
    )
    return _Held(tuple(parts), highest, lowest, df)
