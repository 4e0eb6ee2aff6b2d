"""A set of non-negative ints (rows, serials) that the cyclic garbage collector does not walk.

The HNSW indexer queues the serials its index has not caught up with, and a sparse column
the rows its postings do not reflect yet: after a bulk load or an open, up to every point of
the collection. A Python set of ints is walked element by element on every full collection,
while no thread of the process (the event loop included) runs. So a large one is a bitmap
(a numpy array, which the collector does not walk); a small one stays a set, whose every
operation is cheaper than a pass over a bitmap as long as the collection.
"""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np

# Up to this many serials the set is a Python set (walked by the collector, but small).
SMALL = 4096


class IntSet:
    """Non-negative integers, as a set or, past ``SMALL``, a bitmap.

    Args:
        serials: the initial members.

    Small becomes large when an update would take it past ``SMALL`` members (counting
    repeats), and large becomes small again once ``take`` leaves ``SMALL / 2`` or fewer.
    """

    def __init__(self, serials: Iterable[int] | np.ndarray = ()) -> None:
        self._small: set[int] | None = set()
        self._bits = np.zeros(0, dtype=bool)
        self._count = 0
        self.update(serials)

    def __len__(self) -> int:
        return len(self._small) if self._small is not None else self._count

    def __bool__(self) -> bool:
        return len(self) > 0

    def update(self, serials: Iterable[int] | np.ndarray) -> None:
        """Add ``serials`` (repeats allowed)."""
        if isinstance(serials, np.ndarray):
            values = serials.astype(np.int64, copy=False)
        else:
            values = np.fromiter(serials, np.int64)
        small = self._small
        if small is not None:
            if len(small) + len(values) <= SMALL:
                small.update(values.tolist())
                return
            # Past SMALL (a bulk load, an open): the bitmap, without a set of them all first.
            self._small = None
            self._set_bits(np.fromiter(small, np.int64, len(small)))
        self._set_bits(values)

    def _set_bits(self, serials: np.ndarray) -> None:
        if not len(serials):
            return
        top = int(serials.max())
        if top >= len(self._bits):
            grown = np.zeros(max(top + 1, 2 * len(self._bits)), dtype=bool)
            grown[: len(self._bits)] = self._bits
            self._bits = grown
        fresh = serials[~self._bits[serials]]
        self._bits[fresh] = True
        self._count += len(np.unique(fresh))

    def take(self, n: int) -> np.ndarray:
        """Remove and return up to ``n`` members (any of them)."""
        if self._small is not None:
            size = min(n, len(self._small))
            return np.fromiter((self._small.pop() for _ in range(size)), np.int64, size)
        taken = np.flatnonzero(self._bits)[:n]
        self._bits[taken] = False
        self._count -= len(taken)
        if self._count <= SMALL // 2:  # back to a set: a bitmap pass per step costs more
            self._small = set(np.flatnonzero(self._bits).tolist())
            self._bits = np.zeros(0, dtype=bool)
            self._count = 0
        return taken

    def array(self) -> np.ndarray:
        """The members (int64; ascending when kept as a bitmap)."""
        if self._small is not None:
            return np.fromiter(self._small, np.int64, len(self._small))
        return np.flatnonzero(self._bits).astype(np.int64, copy=False)

    def clear(self) -> None:
        """Remove every member."""
        self._small = set()
        self._bits = np.zeros(0, dtype=bool)
        self._count = 0
