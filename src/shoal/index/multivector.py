"""One multivector of every row, and exact MaxSim (late interaction) scoring over them.

A point's multivector is a list of vectors of one size (ColBERT-style token vectors). Qdrant
scores a query multivector ``Q`` against a stored one ``D`` by MaxSim: for each row ``q`` of
``Q`` the best similarity to any row ``d`` of ``D``, summed over ``Q``'s rows. The
similarity is the vector's distance as Qdrant computes it inside (qdrant-client's
``local/multi_distances.py``): the dot product for Dot and Cosine (rows normalised), minus
the squared distance for Euclid, minus the L1 distance for Manhattan. That sum is the
*core* score (recommend, discover and context compose it); a search shows it as is for
Cosine and Dot, and as a distance for Euclid (``sqrt(|core|)``) and Manhattan (``|core|``).

Storage is an arena: every row's vectors are one contiguous run of a single float32
matrix, appended on write; a rewritten or deleted row leaves its old run as waste, and the
arena is compacted when waste is most of it. Scoring takes rows in chunks: one matrix
product of the chunk's runs with every query row at once, a segmented max per stored row
(``np.maximum.reduceat``) and a segmented sum per query (``np.add.reduceat``). There is no
ANN index: every query is an exact scan of the rows it may return.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from shoal import models as m
from shoal.gil import shared

# Scores computed per chunk: rows' vectors x query rows (float32), about 16 MB.
_CHUNK_SCORES = 1 << 22
_MIN_ARENA = 1024


class MultiColumn:
    """One multivector of every row, in an arena (see the module's docstring).

    Args:
        params: the vector's configuration.
        capacity: rows to make room for.
    """

    def __init__(self, params: m.VectorParams, capacity: int) -> None:
        self.dim = params.size
        self.distance = params.distance
        # Its search scores are similarities (bigger is better), not distances.
        self.similarity = params.distance in (m.Distance.COSINE, m.Distance.DOT)
        self.present = np.zeros(capacity, dtype=bool)
        self.start = np.zeros(capacity, dtype=np.int64)
        self.length = np.zeros(capacity, dtype=np.int64)
        self.count = 0  # rows that have this vector
        self.arena = np.zeros((_MIN_ARENA, self.dim), dtype=np.float32)
        self.sqnorm = np.zeros(_MIN_ARENA, dtype=np.float64)  # Euclid's ||d||^2 per arena row
        self.used = 0  # arena rows [0, used) hold runs (live or waste)
        self.waste = 0

    # ------------------------------------------------------------------ writing

    def grow(self, capacity: int) -> None:
        extra = capacity - len(self.present)
        self.present = np.concatenate([self.present, np.zeros(extra, bool)])
        self.start = np.concatenate([self.start, np.zeros(extra, np.int64)])
        self.length = np.concatenate([self.length, np.zeros(extra, np.int64)])

    def fill(self, start: int, vectors: list[np.ndarray | None]) -> None:
        """Set rows ``[start, start + len(vectors))`` that had no vector before (loading)."""
        rows, found = [], []
        for row, vec in enumerate(shared(vectors), start):
            if vec is not None:
                rows.append(row)
                found.append(vec)
        self.set_rows(rows, found)

    def clear_rows(self, rows: list[int]) -> None:
        """Drop the multivector of these rows (a row may repeat)."""
        if not rows:
            return
        idx = np.unique(np.asarray(rows, dtype=np.int64))
        idx = idx[self.present[idx]]
        self.waste += int(self.length[idx].sum())
        self.count -= len(idx)
        self.present[idx] = False
        self.length[idx] = 0

    def set_rows(self, rows: list[int], vectors: list[np.ndarray]) -> None:
        """Set the multivector of these rows (distinct rows): their runs are appended."""
        if not rows:
            return
        self.clear_rows(rows)
        idx = np.asarray(rows, dtype=np.int64)
        lengths = np.fromiter((len(v) for v in vectors), np.int64, len(vectors))
        total = int(lengths.sum())
        self._reserve(total)
        block = np.concatenate(vectors).astype(np.float32, copy=False)
        self.arena[self.used : self.used + total] = block
        wide = block.astype(np.float64)
        self.sqnorm[self.used : self.used + total] = np.einsum("ij,ij->i", wide, wide)
        self.start[idx] = self.used + np.cumsum(lengths) - lengths
        self.length[idx] = lengths
        self.present[idx] = True
        self.count += len(idx)
        self.used += total

    def _reserve(self, extra: int) -> None:
        """Room for ``extra`` more arena rows: compacted when mostly waste, else grown."""
        if self.used + extra <= len(self.arena):
            return
        if self.waste > self.used // 2:
            self._compact()
            if self.used + extra <= len(self.arena):
                return
        size = max(_MIN_ARENA, 2 * len(self.arena), self.used + extra)
        arena = np.zeros((size, self.dim), dtype=np.float32)
        arena[: self.used] = self.arena[: self.used]
        sqnorm = np.zeros(size, dtype=np.float64)
        sqnorm[: self.used] = self.sqnorm[: self.used]
        self.arena, self.sqnorm = arena, sqnorm

    def _compact(self) -> None:
        """The live runs moved together (in row order) into a new arena of the same size."""
        rows = np.flatnonzero(self.present)
        picked = _gather_index(self.start[rows], self.length[rows])
        arena = np.zeros_like(self.arena)
        arena[: len(picked)] = self.arena[picked]
        sqnorm = np.zeros_like(self.sqnorm)
        sqnorm[: len(picked)] = self.sqnorm[picked]
        self.start[rows] = np.cumsum(self.length[rows]) - self.length[rows]
        self.arena, self.sqnorm = arena, sqnorm
        self.used, self.waste = len(picked), 0

    # ------------------------------------------------------------------ reading

    def vector(self, row: int) -> np.ndarray | None:
        """The row's multivector (a read-only view; the arena never rewrites a live run)."""
        if not self.present[row]:
            return None
        start = int(self.start[row])
        out = self.arena[start : start + int(self.length[row])]
        out.flags.writeable = False
        return out

    def core(
        self, queries: list[np.ndarray], rows: np.ndarray, check: Callable[[], None] | None = None
    ) -> np.ndarray:
        """Each query's core MaxSim score against each of ``rows`` (rows that have a
        multivector), bigger is better.

        Args:
            queries: the query multivectors ((k, dim) float32 each; normalised for cosine).
            rows: the rows to score.
            check: called between chunks (a deadline's check), if given.

        Returns:
            A (len(queries), len(rows)) float32 array.
        """
        out = np.empty((len(queries), len(rows)), np.float32)
        if not queries or not len(rows):
            return out
        stacked = np.concatenate(queries).astype(np.float32, copy=False)
        bounds = np.cumsum([0] + [len(q) for q in queries[:-1]])
        wide = stacked.astype(np.float64)
        qsq = np.einsum("ij,ij->i", wide, wide)
        per_chunk = max(1, _CHUNK_SCORES // (len(stacked) * max(1, int(self.length[rows].max()))))
        for lo in range(0, len(rows), per_chunk):
            if check is not None:
                check()
            chunk = rows[lo : lo + per_chunk]
            best = self._best_per_query_row(stacked, qsq, chunk)
            out[:, lo : lo + len(chunk)] = np.add.reduceat(best, bounds, axis=1).T
        return out

    def _best_per_query_row(
        self, stacked: np.ndarray, qsq: np.ndarray, rows: np.ndarray
    ) -> np.ndarray:
        """(len(rows), query rows): each query row's best similarity to a row's vectors."""
        starts, lengths = self.start[rows], self.length[rows]
        offsets = np.cumsum(lengths) - lengths
        if len(rows) == 1 or np.array_equal(starts[1:], starts[:-1] + lengths[:-1]):
            lo = int(starts[0])  # one run of the arena (rows in arena order): no copy
            block = self.arena[lo : lo + int(lengths.sum())]
            norms = self.sqnorm[lo : lo + len(block)]
        else:
            picked = _gather_index(starts, lengths)
            block, norms = self.arena[picked], self.sqnorm[picked]
        if self.distance == m.Distance.MANHATTAN:
            sims = np.empty((len(block), len(stacked)), np.float32)
            for j, q in enumerate(stacked):  # one (vectors, dim) temporary at a time
                sims[:, j] = -np.abs(block - q).sum(axis=1)
        elif self.distance != m.Distance.EUCLID:
            sims = block @ stacked.T
        else:
            return _best_euclid(block, norms, stacked, qsq, offsets)
        best: np.ndarray = np.maximum.reduceat(sims, offsets, axis=0)
        return best


def _best_euclid(
    block: np.ndarray, norms: np.ndarray, stacked: np.ndarray, qsq: np.ndarray, offsets: np.ndarray
) -> np.ndarray:
    """Minus each query row's smallest squared distance to each run of ``block``.

    -|d - q|^2 = 2 d.q - |d|^2 - |q|^2, in float64: in float32 a near-zero distance drowns
    in the rounding of the norms; clipped at 0 (a distance is never negative).
    """
    sims = block.astype(np.float64) @ (2.0 * stacked.astype(np.float64)).T
    sims -= norms[:, None]
    best = np.maximum.reduceat(sims, offsets, axis=0) - qsq[None, :]
    out: np.ndarray = np.minimum(best, 0.0).astype(np.float32)
    return out


def shown_scores(core: np.ndarray, distance: m.Distance) -> np.ndarray:
    """Core MaxSim scores as a search shows them: a similarity for Cosine and Dot, a
    distance for Euclid (``sqrt(|core|)``) and Manhattan (``|core|``), as Qdrant."""
    if distance not in (m.Distance.EUCLID, m.Distance.MANHATTAN):
        return core
    out: np.ndarray = np.abs(core)
    if distance == m.Distance.EUCLID:
        out = np.sqrt(out)
    return out


def _gather_index(starts: np.ndarray, lengths: np.ndarray) -> np.ndarray:
    """The arena rows of these runs, run after run."""
    total = int(lengths.sum())
    offsets = np.cumsum(lengths) - lengths
    out: np.ndarray = np.arange(total, dtype=np.int64) + np.repeat(starts - offsets, lengths)
    return out
