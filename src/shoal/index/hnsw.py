"""HNSW approximate nearest-neighbour index over usearch, keyed by non-negative int64 keys.

The engine keeps every vector in a dense float32 matrix whose rows are reused slots; this
index holds the vectors of one column under each point's *serial* (a number given once to a
point id and never reused, unlike rows; ``shoal.engine.state``), so a snapshot stays valid
across reopens, and a query visits O(log n) of them instead of all. The engine maps a hit's
serial back to its current row (``state.row_of_serial``).

usearch facts this wrapper is built around (measured on 2.26.6; see tests/index):

* ``ef`` is a per-index setting (``expansion_search``), but usearch searches with
  ``max(expansion_search, count)``. We pin ``expansion_search`` to 1 and ask for
  ``count = max(k, ef)`` results, keeping the first k: a per-call ef with no shared
  state to race on when several threads search with different ef.
* Calls release the GIL. Searches run in parallel with searches and with adds, but a
  ``remove`` running concurrently with a search made the search return usearch's "free
  slot" sentinel key among its hits. So removal takes this index's lock exclusively;
  adds and searches share it. Writers (add, remove, save) are serialized among themselves.
* There is no filtered-search callback in the Python binding (only the C++ API has
  ``filtered_search``): the engine post-filters what a search returns (shoal.engine.query).
* Metric kinds are IP, Cos, L2sq and exotic ones: no L1, so Manhattan stays exact-only.
"""

from __future__ import annotations

import os
import threading
from dataclasses import dataclass

import numpy as np

from shoal.concurrency import RWLock
from shoal.errors import InvalidConfig, InvalidQuery, WrongVectorSize
from shoal.index.errors import (
    SnapshotCorrupt,
    SnapshotMismatch,
    SnapshotStale,
    UnsupportedMetric,
)
from shoal.index.metrics import COSINE, DOT, USEARCH_METRIC, hnsw_supports, metric_name
from shoal.index.native import usearch_index, usearch_version
from shoal.index.quantize import OFFSET, SYMMETRIC, Int8Quantizer
from shoal.index.snapshot import (
    SnapshotManifest,
    decode_keys,
    encode_keys,
    read_manifest,
    verify_file,
    write_snapshot,
)

DTYPES = ("f16", "bf16", "f32", "i8")
DEFAULT_M = 16
DEFAULT_EF_CONSTRUCT = 100
DEFAULT_EF_SEARCH = 64
_SENTINEL = np.uint64(2**64 - 1)  # usearch's key for an empty / freed slot
# Fewer rows than this make a poor int8 fit (a percentile of a handful of values is their
# max, and one vector gives a zero range): the first i8 batch must be at least this big.
MIN_FIT_ROWS = 256


@dataclass(frozen=True)
class HnswConfig:
    """The parameters that shape an index's file; a snapshot must match them to be used."""

    dim: int
    metric: str
    m: int = DEFAULT_M
    ef_construct: int = DEFAULT_EF_CONSTRUCT
    dtype: str = "f16"


class HnswIndex:
    """An HNSW index of float vectors keyed by non-negative int64 keys. Thread-safe.

    Distances are "smaller is nearer": ``1 - dot`` for Cosine and Dot, squared L2 for
    Euclid. They are approximate (computed on the stored f16/bf16/int8 copies); the engine
    ranks candidates by exact scores from its float32 matrix (``shoal.engine.search``).
    """

    def __init__(
        self,
        dim: int,
        metric: str,
        *,
        m: int = DEFAULT_M,
        ef_construct: int = DEFAULT_EF_CONSTRUCT,
        ef_search: int = DEFAULT_EF_SEARCH,
        dtype: str = "f16",
        threads: int = 0,
        quantizer: Int8Quantizer | None = None,
    ) -> None:
        """Create an empty index.

        Args:
            dim: vector dimension.
            metric: "Cosine", "Euclid" or "Dot" (a ``shoal.models.Distance`` works). Cosine
                vectors must be unit-normalised by the caller, as the engine stores them.
            m: graph connectivity (HNSW "M"); memory grows linearly with it.
            ef_construct: candidate list size while inserting (HNSW "efConstruction").
            ef_search: default candidate list size for ``search`` (overridable per call).
            dtype: stored scalar type: "f16" (default), "bf16", "f32", or "i8" (our own
                affine int8 scaling; see ``shoal.index.quantize``).
            threads: worker threads per batch add / batch search; 0 means all cores.
            quantizer: for "i8", a fitted quantizer; when None it is fitted on the first
                batch passed to ``add``, which must then hold >= 256 vectors (build in bulk).

        Raises:
            UnsupportedMetric: for Manhattan or an unknown distance (search exactly instead).
            InvalidConfig: for a bad dim, m, ef, dtype, threads or a mismatched quantizer.
        """
        name = metric_name(metric)
        if not hnsw_supports(name):
            raise UnsupportedMetric(name)
        _check_settings(name, dim, m, ef_construct, ef_search, threads, dtype, quantizer)
        self.config = HnswConfig(dim, name, m, ef_construct, dtype)
        self.ef_search = ef_search
        self.threads = threads
        self.watermark: int | None = None  # set by ``load``; the engine tracks it afterwards
        # Set by ``load``: the keys the snapshot had not caught up with (see ``save``).
        self.pending = np.zeros(0, dtype=np.int64)
        self.replaced = 0  # set by ``load``: see ``save``
        self._mode = SYMMETRIC if name == DOT else OFFSET
        self._quantizer = quantizer
        # int8 codes of Cosine/Euclid vectors are compared with L2 (see quantize.py).
        kind = USEARCH_METRIC[name] if dtype != "i8" or self._mode == SYMMETRIC else "l2sq"
        usearch = usearch_index()
        self._batch_matches = usearch.BatchMatches
        self._index = usearch.Index(
            ndim=dim,
            metric=kind,
            dtype=dtype,
            connectivity=m,
            expansion_add=ef_construct,
            expansion_search=1,  # ef is passed per call as the result count (module doc)
        )
        self._lock = RWLock()  # read: add and search; write: remove
        self._writer = threading.Lock()

    # ------------------------------------------------------------------ properties

    def __len__(self) -> int:
        return len(self._index)

    @property
    def quantizer(self) -> Int8Quantizer | None:
        """The int8 quantizer (None for float dtypes or before the first i8 add)."""
        return self._quantizer

    @property
    def memory_usage(self) -> int:
        """Bytes held by the index: graph, stored vectors, per-thread buffers, quantizer."""
        extra = 0 if self._quantizer is None else self._quantizer.offset.nbytes
        return int(self._index.memory_usage) + extra

    def keys(self) -> np.ndarray:
        """Every key in the index, as int64 (in no particular order)."""
        with self._lock.read():
            return np.asarray(self._index.keys, dtype=np.uint64).astype(np.int64)

    def contains(self, keys: np.ndarray) -> np.ndarray:
        """Which keys are in the index.

        Args:
            keys: int64 keys.

        Returns:
            A bool array, one entry per key.
        """
        wanted = _as_keys(keys)
        if len(wanted) == 0:
            return np.zeros(0, dtype=bool)
        with self._lock.read():
            out: np.ndarray = np.asarray(self._index.contains(wanted.astype(np.uint64)), bool)
        return out

    def vectors(self, keys: np.ndarray) -> np.ndarray:
        """The vectors the index holds under ``keys``, as float32 (the stored f16/bf16
        copies widened; i8 codes decoded): what its graph was built on, for checking that
        it agrees with storage. A key it does not hold gives a row of NaNs.

        Args:
            keys: int64 keys.

        Returns:
            A (len(keys), dim) float32 array.
        """
        wanted = _as_keys(keys)
        out = np.full((len(wanted), self.config.dim), np.nan, dtype=np.float32)
        held = self.contains(wanted)
        if not held.any():
            return out
        with self._lock.read():
            raw = np.asarray(self._index.get(wanted[held].astype(np.uint64)))
        if self.config.dtype == "i8":
            assert self._quantizer is not None
            out[held] = self._quantizer.decode(raw.astype(np.int8))
        else:
            out[held] = raw.astype(np.float32)
        return out

    # ---------------------------------------------------------------------- writes

    def add(self, keys: np.ndarray, vectors: np.ndarray, *, threads: int | None = None) -> int:
        """Insert vectors under keys; a key already present is replaced (removed and added
        again: the graph keeps the links it had, so many replacements leave it worse than a
        fresh build, which the engine then makes: ``shoal.engine.ann``).

        Uses usearch's multi-threaded batch insert; pass large batches. Searches keep
        running meanwhile (they may or may not see keys of a batch still being added).

        Args:
            keys: (n,) int64 keys, >= 0. If a key repeats, its last vector wins.
            vectors: (n, dim) float32 (Cosine: unit-normalised).
            threads: insert threads for this batch (0: all cores); default ``self.threads``.

        Returns:
            How many of the keys were in the index already (replaced).

        Raises:
            WrongVectorSize: when vectors are not (n, dim).
            InvalidQuery: for negative keys or a key/vector count mismatch.
            InvalidConfig: for the first batch of an i8 index without a quantizer, when it
                is too small to fit the scaling on.
        """
        keys = _as_keys(keys)
        data = np.asarray(vectors, dtype=np.float32)
        if data.ndim != 2 or data.shape[1] != self.config.dim:
            got = data.shape[-1] if data.ndim else 0
            raise WrongVectorSize(self.config.dim, int(got), where="index add")
        if len(keys) != len(data):
            raise InvalidQuery(f"Wrong input: {len(keys)} keys but {len(data)} vectors to index")
        if len(keys) == 0:
            return 0
        uniq, last = _last_occurrence(keys)
        if len(uniq) != len(keys):
            keys, data = uniq, data[last]
        with self._writer:
            stored: np.ndarray
            if self.config.dtype == "i8":
                if self._quantizer is None:
                    if len(data) < MIN_FIT_ROWS:
                        raise InvalidConfig(
                            f"Wrong input: an i8 index fits its scaling on the first batch, "
                            f"which has {len(data)} vectors; expected >= {MIN_FIT_ROWS} "
                            "(add in bulk or pass a fitted quantizer)"
                        )
                    self._quantizer = Int8Quantizer.fit(data, mode=self._mode)
                stored = self._quantizer.encode(data)
            else:
                stored = np.ascontiguousarray(data)
            ukeys = keys.astype(np.uint64)
            present = np.asarray(self._index.contains(ukeys), dtype=bool)
            if present.any():
                # usearch rejects duplicate keys: an update is remove + add.
                with self._lock.write():
                    self._index.remove(ukeys[present])
            with self._lock.read():
                self._index.add(ukeys, stored, threads=self.threads if threads is None else threads)
        return int(present.sum())

    def remove(self, keys: np.ndarray) -> int:
        """Remove keys (absent keys are ignored).

        Args:
            keys: int64 keys.

        Returns:
            The number of keys that were present and are now removed.

        Raises:
            InvalidQuery: for negative keys.
        """
        gone = _as_keys(keys)
        if len(gone) == 0:
            return 0
        with self._writer, self._lock.write():
            removed = self._index.remove(np.unique(gone).astype(np.uint64))
        return int(np.sum(removed))

    # ---------------------------------------------------------------------- search

    def search(
        self, queries: np.ndarray, k: int, ef: int | None = None
    ) -> tuple[np.ndarray, np.ndarray]:
        """Approximate k nearest keys for each query.

        Args:
            queries: (b, dim) or (dim,) float32 (Cosine: unit-normalised).
            k: results per query.
            ef: candidate list size (HNSW "ef"); None uses ``ef_search``. Values below k
                act as k. Larger means better recall and slower queries.

        Returns:
            (keys (b, k) int64, distances (b, k) float32), nearest first, padded with -1 and
            +inf when fewer than k keys are indexed.

        Raises:
            WrongVectorSize: when queries are not (b, dim).
            InvalidQuery: for a negative k or a non-positive ef.
        """
        q = np.asarray(queries, dtype=np.float32)
        if q.ndim == 1:
            q = q[None, :]
        if q.ndim != 2 or q.shape[1] != self.config.dim:
            raise WrongVectorSize(self.config.dim, int(q.shape[-1]), where="index search")
        if k < 0:
            raise InvalidQuery(f"Wrong input: k must be >= 0, got {k}")
        if ef is not None and ef < 1:
            raise InvalidQuery(f"Wrong input: ef must be >= 1, got {ef}")
        b = q.shape[0]
        keys = np.full((b, k), -1, dtype=np.int64)
        dists = np.full((b, k), np.inf, dtype=np.float32)
        if k == 0 or b == 0 or len(self._index) == 0:
            return keys, dists
        got_keys, got_dists = self._search(q, max(k, ef if ef is not None else self.ef_search))
        width = min(k, got_keys.shape[1])
        keys[:, :width], dists[:, :width] = got_keys[:, :width], got_dists[:, :width]
        return keys, dists

    def _search(self, q: np.ndarray, count: int) -> tuple[np.ndarray, np.ndarray]:
        """Raw search: (b, ≤count) keys / distances, valid hits first, -1 / +inf after."""
        steps: np.ndarray | None = None
        stored: np.ndarray = q
        if self.config.dtype == "i8":
            if self._quantizer is None:  # nothing was ever added
                return (np.full((len(q), 0), -1, np.int64), np.zeros((len(q), 0), np.float32))
            stored, steps = self._quantizer.encode_queries(q)
        # A lone query gains nothing from a worker pool but pays for starting it.
        threads = 1 if len(q) == 1 else self.threads
        with self._lock.read():
            res = self._index.search(stored, count, threads=threads)
        if isinstance(res, self._batch_matches):
            keys = np.asarray(res.keys, dtype=np.uint64)
            raw = np.asarray(res.distances, dtype=np.float32)
            counts = np.asarray(res.counts)
        else:  # usearch returns a flat ``Matches`` (valid hits only) for one query
            keys = np.asarray(res.keys, dtype=np.uint64)[None, :]
            raw = np.asarray(res.distances, dtype=np.float32)[None, :]
            counts = np.array([keys.shape[1]])
        valid = (np.arange(keys.shape[1])[None, :] < counts[:, None]) & (keys != _SENTINEL)
        dists = raw if steps is None else self._dequantize(raw, steps)
        found = np.where(valid, keys.astype(np.int64), -1)
        dists = np.where(valid, dists, np.inf).astype(np.float32)
        return (found, dists) if valid.all() else _compact(found, dists)

    def _dequantize(self, raw: np.ndarray, steps: np.ndarray) -> np.ndarray:
        """int8-code distances → distances in float vector units (same convention as f16)."""
        assert self._quantizer is not None
        step = self._quantizer.step
        if self._mode == SYMMETRIC:  # usearch gives 1 - dot(codes); dot ≈ step·q_step·that
            return 1.0 - (1.0 - raw) * (step * steps[:, None])
        sq = raw * (step * step)
        # Unit vectors: 1 - cos = |a - b|² / 2, so Cosine reports like the float dtypes.
        return sq / 2.0 if self.config.metric == COSINE else sq

    # ------------------------------------------------------------------ snapshots

    def save(
        self,
        path: str | os.PathLike[str],
        *,
        watermark: int,
        pending: np.ndarray | None = None,
        replaced: int = 0,
    ) -> SnapshotManifest:
        """Write a crash-safe snapshot: ``path`` (usearch file) and ``path.json`` (manifest).

        Searches continue during the save; writes wait only while the index is copied to
        memory, not while the file is written and fsynced.

        Args:
            path: the index file path (its directory must exist).
            watermark: what the index reflects (e.g. the collection's generation or highest
                applied version); ``load`` can insist on it to detect a stale snapshot.
            pending: keys whose vectors the index does not reflect at ``watermark`` yet (a
                snapshot in the middle of a build); ``load`` gives them back.
            replaced: the caller's count of keys replaced or removed since the index was
                built fresh; ``load`` gives it back.

        Returns:
            The manifest written.

        Raises:
            OSError: if the files cannot be written (any previous snapshot stays intact).
        """
        with self._writer:
            blob = self._index.save()
            assert blob is not None, "usearch returns the bytes when given no path"
            count = len(self._index)
            quantizer = None if self._quantizer is None else self._quantizer.to_json()
        cfg = self.config
        manifest = write_snapshot(
            path,
            blob,
            dim=cfg.dim,
            metric=cfg.metric,
            dtype=cfg.dtype,
            m=cfg.m,
            ef_construct=cfg.ef_construct,
            count=count,
            watermark=int(watermark),
            quantizer=quantizer,
            usearch_version=usearch_version(),
            pending=encode_keys(_EMPTY_KEYS if pending is None else pending),
            replaced=int(replaced),
        )
        self.watermark = int(watermark)
        return manifest

    @classmethod
    def load(
        cls,
        path: str | os.PathLike[str],
        *,
        expect_config: HnswConfig | None = None,
        expect_watermark: int | None = None,
        ef_search: int = DEFAULT_EF_SEARCH,
        threads: int = 0,
    ) -> HnswIndex:
        """Load a snapshot written by ``save``, verifying it first.

        Args:
            path: the index file path given to ``save``.
            expect_config: if given, the snapshot's configuration must equal it.
            expect_watermark: if given, the snapshot's watermark must equal it.
            ef_search: default search ef of the loaded index.
            threads: worker threads of the loaded index.

        Returns:
            The index, with ``watermark``, ``pending`` and ``replaced`` set from the manifest.

        Raises:
            SnapshotMissing: no snapshot at ``path``.
            SnapshotCorrupt: torn/damaged manifest or index file (size, CRC-32, or usearch
                cannot parse it, or its contents disagree with the manifest).
            SnapshotMismatch: the configuration differs from ``expect_config``.
            SnapshotStale: the watermark differs from ``expect_watermark``.
        """
        manifest = read_manifest(path)
        found = HnswConfig(
            manifest.dim, manifest.metric, manifest.m, manifest.ef_construct, manifest.dtype
        )
        if expect_config is not None and found != expect_config:
            raise SnapshotMismatch(
                f"index snapshot at {os.fspath(path)} was built as {found}, not {expect_config}"
            )
        if expect_watermark is not None and manifest.watermark != expect_watermark:
            raise SnapshotStale(manifest.watermark, expect_watermark)
        verify_file(path, manifest)
        try:
            quantizer = (
                None if manifest.quantizer is None else Int8Quantizer.from_json(manifest.quantizer)
            )
            index = cls(
                found.dim,
                found.metric,
                m=found.m,
                ef_construct=found.ef_construct,
                ef_search=ef_search,
                dtype=found.dtype,
                threads=threads,
                quantizer=quantizer,
            )
            index._index.load(os.fspath(path))
        except (RuntimeError, ValueError, KeyError, TypeError, InvalidConfig) as exc:
            raise SnapshotCorrupt(
                f"index snapshot at {os.fspath(path)} is unusable: {exc}"
            ) from None
        # usearch files do not carry expansion settings: ours from the constructor stay.
        if len(index) != manifest.count or index._index.ndim != found.dim:
            raise SnapshotCorrupt(
                f"index snapshot at {os.fspath(path)} holds {len(index)} vectors of dim "
                f"{index._index.ndim}; its manifest says {manifest.count} of dim {found.dim}"
            )
        index.watermark = manifest.watermark
        index.pending = decode_keys(manifest.pending)
        index.replaced = manifest.replaced
        return index


# ------------------------------------------------------------------------- helpers

_EMPTY_KEYS = np.zeros(0, dtype=np.int64)


def _check_settings(
    name: str,
    dim: int,
    m: int,
    ef_construct: int,
    ef_search: int,
    threads: int,
    dtype: str,
    quantizer: Int8Quantizer | None,
) -> None:
    """Refuse an index setting out of range (``HnswIndex``'s arguments)."""
    _check_int("dim", dim, 1, 65_536)
    _check_int("m", m, 2, 1024)
    _check_int("ef_construct", ef_construct, 1, 1 << 20)
    _check_int("ef_search", ef_search, 1, 1 << 20)
    _check_int("threads", threads, 0, 4096)
    if dtype not in DTYPES:
        raise InvalidConfig(f"Wrong input: index dtype {dtype!r}; expected one of {DTYPES}")
    if quantizer is not None and (dtype != "i8" or quantizer.dim != dim):
        raise InvalidConfig("Wrong input: a quantizer needs dtype 'i8' and the index's dim")
    mode = SYMMETRIC if name == DOT else OFFSET
    if quantizer is not None and quantizer.mode != mode:
        raise InvalidConfig(
            f"Wrong input: {name} needs a {mode!r} quantizer, got {quantizer.mode!r}"
        )


def _check_int(name: str, value: int, low: int, high: int) -> None:
    if (
        not isinstance(value, (int, np.integer))
        or isinstance(value, bool)
        or not low <= value <= high
    ):
        raise InvalidConfig(
            f"Wrong input: index {name}={value!r}; expected an int in [{low}, {high}]"
        )


def _as_keys(keys: np.ndarray) -> np.ndarray:
    out = np.asarray(keys).reshape(-1)
    if out.size and not np.issubdtype(out.dtype, np.integer):
        raise InvalidQuery(f"Wrong input: index keys must be integers, got {out.dtype}")
    out = out.astype(np.int64, copy=False)
    if out.size and int(out.min()) < 0:
        raise InvalidQuery(f"Wrong input: index keys must be >= 0, got {int(out.min())}")
    return out


def _last_occurrence(keys: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Unique keys and, for each, the position of its last occurrence."""
    rev = keys[::-1]
    uniq, first_in_rev = np.unique(rev, return_index=True)
    return uniq, len(keys) - 1 - first_in_rev


def _compact(keys: np.ndarray, dists: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Move each row's valid (>= 0) entries to the front, keeping their order."""
    order = np.argsort(keys < 0, axis=1, kind="stable")
    return np.take_along_axis(keys, order, axis=1), np.take_along_axis(dists, order, axis=1)
