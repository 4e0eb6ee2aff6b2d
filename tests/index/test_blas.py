"""The engine's products run on one BLAS thread, and the user's setting comes back after."""

from __future__ import annotations

import threading

import numpy as np
import pytest

from shoal.index import blas


class FakeBlas:
    """Records every thread count set, as OpenBLAS's setter would see them."""

    def __init__(self, threads: int) -> None:
        self.threads = threads
        self.sets: list[int] = []

    def get(self) -> int:
        return self.threads

    def set(self, n: int) -> None:
        self.sets.append(n)
        self.threads = n


def test_one_thread_inside_and_the_previous_count_after() -> None:
    fake = FakeBlas(4)
    limiter = blas.ThreadLimiter(fake.get, fake.set)
    with limiter.one_thread():
        assert fake.threads == 1
    assert fake.threads == 4
    assert fake.sets == [1, 4]


def test_overlapping_callers_set_once_and_restore_once() -> None:
    fake = FakeBlas(2)
    limiter = blas.ThreadLimiter(fake.get, fake.set)
    inside, release = threading.Event(), threading.Event()

    def other() -> None:
        with limiter.one_thread():
            inside.set()
            release.wait(5)

    t = threading.Thread(target=other)
    t.start()
    assert inside.wait(5)
    with limiter.one_thread():
        assert fake.threads == 1
    assert fake.threads == 1  # the other caller is still computing
    release.set()
    t.join()
    assert fake.threads == 2
    assert fake.sets == [1, 2]


def test_already_single_threaded_is_left_alone() -> None:
    fake = FakeBlas(1)
    limiter = blas.ThreadLimiter(fake.get, fake.set)
    with limiter.one_thread():
        pass
    assert fake.sets == []


def test_a_count_changed_meanwhile_is_kept() -> None:
    fake = FakeBlas(2)
    limiter = blas.ThreadLimiter(fake.get, fake.set)
    with limiter.one_thread():
        fake.set(8)  # the application raised it while the engine computed
    assert fake.threads == 8


def test_an_exception_still_restores() -> None:
    fake = FakeBlas(2)
    limiter = blas.ThreadLimiter(fake.get, fake.set)
    with pytest.raises(ZeroDivisionError), limiter.one_thread():
        1 / 0  # noqa: B018
    assert fake.threads == 2


@pytest.mark.skipif(blas._LIMITER is None, reason="numpy does not bundle OpenBLAS here")
def test_numpy_openblas_is_limited_for_a_moderate_product_only() -> None:
    limiter = blas._LIMITER
    assert limiter is not None
    before = limiter.threads()
    with blas.for_product(blas.POOLED_FROM // 2):
        assert limiter.threads() == 1
        product = np.ones((64, 8), np.float32) @ np.ones((8, 4), np.float32)
    assert limiter.threads() == before
    assert product[0, 0] == 8.0
    with blas.for_product(blas.POOLED_ABOVE):  # OpenBLAS keeps this one on one thread anyway
        assert limiter.threads() == before
    with blas.for_product(blas.POOLED_ABOVE_VECTOR, vector=True):  # and this one
        assert limiter.threads() == before
    with blas.for_product(blas.POOLED_ABOVE_VECTOR + 1, vector=True):
        assert limiter.threads() == 1
    with blas.for_product(blas.POOLED_FROM):  # large enough for the pool to pay
        assert limiter.threads() == before
