"""The distance matrix (Qdrant's ``search/matrix/pairs`` and ``/offsets``).

``sample`` points are drawn at random among those that match the filter and have the vector
(all of them when fewer match); for each, its ``limit`` nearest among the others drawn, with
the search's own scores and order. The drawn points are listed in id order (integers, then
UUIDs), as Qdrant and qdrant-client's local mode list them, and each one's neighbours come
best first. Fewer than two points drawn give an empty matrix.

The neighbours are found by exact search over the drawn points (``shoal.engine.search``):
queries go in blocks whose score matrix stays small, and the deadline is checked between
blocks.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from shoal import models as m
from shoal.codec import DEFAULT_VECTOR
from shoal.engine.deadline import Deadline
from shoal.engine.search import exact_search
from shoal.engine.state import CollectionState, VectorColumn
from shoal.errors import InvalidQuery, NotSupported
from shoal.ids import PointId, sort_key

DEFAULT_SAMPLE = 10
DEFAULT_LIMIT = 3
# Scores one block of queries computes at most (4 bytes each): 16 MiB of scores.
BLOCK_SCORES = 4 << 20


@dataclass(frozen=True)
class Neighbours:
    """The drawn points and each one's nearest others.

    Attributes:
        ids: the drawn points, in id order.
        cols: per drawn point, its neighbours' positions in ``ids``, best first.
        scores: per drawn point, its neighbours' scores.
    """

    ids: list[PointId]
    cols: list[list[int]]
    scores: list[list[float]]

    def pairs(self) -> m.SearchMatrixPairsResponse:
        """As pairs (a drawn point, one of its neighbours, their score), row by row."""
        ids = self.ids
        return m.SearchMatrixPairsResponse(
            pairs=[
                m.SearchMatrixPair(a=ids[i], b=ids[j], score=s)
                for i, (cols, scores) in enumerate(zip(self.cols, self.scores, strict=True))
                for j, s in zip(cols, scores, strict=True)
            ]
        )

    def offsets(self) -> m.SearchMatrixOffsetsResponse:
        """As a sparse matrix over ``ids``: row and column offsets with their scores."""
        return m.SearchMatrixOffsetsResponse(
            offsets_row=[i for i, cols in enumerate(self.cols) for _ in cols],
            offsets_col=[j for cols in self.cols for j in cols],
            scores=[s for scores in self.scores for s in scores],
            ids=self.ids,
        )


def matrix_column(
    state: CollectionState, req: m.SearchMatrixRequest, named: bool
) -> tuple[VectorColumn, int, int]:
    """The vector column a matrix request names, and its sample and limit.

    Args:
        state: the collection state.
        req: the request.
        named: whether the collection's vectors are named.

    Raises:
        InvalidQuery: a vector the collection does not have, a ``sample`` below 2 or a
            ``limit`` below 1 (Qdrant's minimums), naming the value.
    """
    name = DEFAULT_VECTOR if req.using is None else req.using
    col = state.columns.get(name)
    if name in state.sparse or name in state.multi:
        kind = "sparse vector" if name in state.sparse else "multivector"
        raise NotSupported(
            f"Wrong input: a distance matrix of the {kind} {name!r} is not supported; "
            "Shoal computes it for dense vectors"
        )
    if col is None:
        have = sorted(state.columns) if named else "only the unnamed vector"
        raise InvalidQuery(f"Wrong input: Not existing vector name error: {name!r}; have {have}")
    sample = at_least(req.sample, DEFAULT_SAMPLE, 2, "sample")
    limit = at_least(req.limit, DEFAULT_LIMIT, 1, "limit")
    return col, sample, limit


def neighbours(
    state: CollectionState,
    col: VectorColumn,
    eligible: np.ndarray,
    sample: int,
    limit: int,
    deadline: Deadline,
) -> Neighbours:
    """Draw ``sample`` of the ``eligible`` rows and find each one's nearest others.

    Args:
        state: the collection state (its read lock held).
        col: the vector column searched.
        eligible: rows of live points that match the filter and have the vector.
        sample: how many rows to draw.
        limit: neighbours per drawn row.
        deadline: checked between blocks of queries.

    Returns:
        The drawn points and their neighbours.

    Raises:
        RequestTimeout: the deadline passed first.
    """
    if len(eligible) < 2:
        return Neighbours([], [], [])
    picked = np.random.default_rng().choice(len(eligible), min(sample, len(eligible)), False)
    keys = state.keys
    rows = np.asarray(
        sorted(eligible[picked].tolist(), key=lambda r: sort_key(keys[r])),  # type: ignore[arg-type]
        dtype=np.int64,
    )
    position = {row: i for i, row in enumerate(rows.tolist())}
    block = col.data[rows]
    step = max(1, BLOCK_SCORES // len(rows))
    cols: list[list[int]] = []
    scores: list[list[float]] = []
    for start in range(0, len(rows), step):
        deadline.check()
        queries = block[start : start + step]
        found = exact_search(col, state.high, queries, limit + 1, candidates=rows, gathered=block)
        for own, hits in zip(rows[start : start + step].tolist(), found, strict=True):
            pairs = zip(hits.rows.tolist(), hits.scores.tolist(), strict=True)
            others = [(r, s) for r, s in pairs if r != own][:limit]
            cols.append([position[r] for r, _ in others])
            scores.append([s for _, s in others])
    return Neighbours([keys[r] for r in rows.tolist()], cols, scores)


def at_least(value: int | None, default: int, least: int, what: str) -> int:
    """A count argument (``sample``, ``limit``): a whole number of at least ``least``,
    ``default`` when None.

    Raises:
        InvalidQuery: anything else, naming it.
    """
    if value is None:
        return default
    if isinstance(value, bool) or not isinstance(value, int) or value < least:
        raise InvalidQuery(f"Wrong input: {what} must be an integer >= {least}, got {value!r}")
    return value
