"""One BLAS thread for the engine's exact products.

numpy's bundled OpenBLAS hands any product above ~262k multiply-adds (a batch of 100
queries against 1,000 vectors is 38M) to its thread pool. For the engine that is a loss:

* after every pooled product the pool's threads spin for about a tenth of a second before
  they sleep (measured: 50 ms of CPU burnt in a 50 ms idle gap after one 1,000 x 384 x 100
  product), on the cores the event loop and the other requests need;
* waking a sleeping pool on a shared VM can take milliseconds: one in a dozen batches of
  100 searches took 8 ms for a product that otherwise takes 0.6 ms, which doubled the
  whole batch's time.

So while the engine computes a product of moderate size it sets OpenBLAS to one thread and
restores the previous count afterwards (the setting is process-wide: another thread's
product that starts inside that window also runs on one thread; nothing else changes).
Products of more than ``POOLED_FROM`` multiply-adds keep the pool: there its speed-up is
worth more than its cost. When numpy uses another BLAS (MKL, Accelerate, a system
OpenBLAS it does not bundle) this module does nothing.
"""

from __future__ import annotations

import ctypes
import threading
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager, nullcontext
from pathlib import Path

import numpy as np

# Multiply-adds from which a product keeps the pool: ~1.3 ms on one thread here (49 G/s).
POOLED_FROM = 1 << 26
# OpenBLAS runs a product up to this many multiply-adds on the calling thread anyway
# (interface/gemm.c: SMP_THRESHOLD_MIN * GEMM_MULTITHREAD_THRESHOLD; a matrix-vector
# product, interface/gemv.c, up to 115200 * GEMM_MULTITHREAD_THRESHOLD).
POOLED_ABOVE = 65536 * 4
POOLED_ABOVE_VECTOR = 115200 * 4

# (setter, getter) names: numpy >= 2 bundles scipy-openblas with ILP64 symbol suffixes.
_SYMBOLS = (
    ("scipy_openblas_set_num_threads64_", "scipy_openblas_get_num_threads64_"),
    ("scipy_openblas_set_num_threads", "scipy_openblas_get_num_threads"),
    ("openblas_set_num_threads64_", "openblas_get_num_threads64_"),
    ("openblas_set_num_threads", "openblas_get_num_threads"),
)


class ThreadLimiter:
    """Sets a BLAS to one thread while at least one caller is inside ``one_thread``.

    Args:
        get: returns the BLAS's current thread count.
        set_: sets it.
    """

    def __init__(self, get: Callable[[], int], set_: Callable[[int], None]) -> None:
        self._get = get
        self._set = set_
        self._lock = threading.Lock()
        self._inside = 0
        self._saved = 1

    @contextmanager
    def one_thread(self) -> Iterator[None]:
        with self._lock:
            if self._inside == 0:
                self._saved = self._get()
                if self._saved != 1:
                    self._set(1)
            self._inside += 1
        try:
            yield
        finally:
            with self._lock:
                self._inside -= 1
                # Restored only if nobody changed it meanwhile (a user's own limit stays).
                if self._inside == 0 and self._saved != 1 and self._get() == 1:
                    self._set(self._saved)

    def threads(self) -> int:
        """The BLAS's current thread count."""
        return self._get()


def _numpy_openblas() -> ThreadLimiter | None:
    """A limiter for the OpenBLAS inside numpy's wheel, or None (another BLAS)."""
    package = Path(np.__file__).parent
    # Where the wheel tools put bundled libraries: auditwheel (Linux) and delvewheel
    # (Windows) beside the package, delocate (macOS) inside it.
    folders = (package.parent / "numpy.libs", package / ".dylibs")
    for folder in folders:
        for path in sorted(folder.glob("*openblas*")) if folder.is_dir() else ():
            try:
                lib = ctypes.CDLL(str(path))  # already loaded by numpy: the same handle
            except OSError:
                continue
            for set_name, get_name in _SYMBOLS:
                setter = getattr(lib, set_name, None)
                getter = getattr(lib, get_name, None)
                if setter is None or getter is None:
                    continue
                setter.argtypes, setter.restype = [ctypes.c_int], None
                getter.argtypes, getter.restype = [], ctypes.c_int
                return ThreadLimiter(getter, setter)
    return None


_LIMITER = _numpy_openblas()


def for_product(multiply_adds: int, *, vector: bool = False) -> AbstractContextManager[None]:
    """The context to compute a product of this many multiply-adds in (``vector``: a
    matrix-vector product): one BLAS thread for a product OpenBLAS would pool but that is
    too small to gain from it."""
    pooled_above = POOLED_ABOVE_VECTOR if vector else POOLED_ABOVE
    if _LIMITER is None or not pooled_above < multiply_adds < POOLED_FROM:
        return nullcontext()
    return _LIMITER.one_thread()
