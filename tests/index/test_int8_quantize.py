"""Int8Quantizer: bounded round-trip error, saturation, query encoding, serialization."""

from __future__ import annotations

import json

import numpy as np
import pytest

from shoal.errors import InvalidConfig
from shoal.index.quantize import OFFSET, SYMMETRIC, Int8Quantizer


@pytest.mark.parametrize("mode", [OFFSET, SYMMETRIC])
def test_round_trip_error_is_bounded(mode: str) -> None:
    rng = np.random.default_rng(0)
    # Dimensions with different centres and spreads, like real embeddings.
    x = (rng.standard_normal((3000, 24)) * np.linspace(0.01, 0.3, 24) + 0.05).astype(np.float32)
    q = Int8Quantizer.fit(x, mode=mode, percentile=100.0)
    codes = q.encode(x)
    assert codes.dtype == np.int8 and codes.shape == x.shape and codes.flags.c_contiguous
    assert codes.min() >= -127
    err = np.abs(q.decode(codes) - x)
    # max-abs fit: nothing clips, every component is within half a step.
    assert err.max() <= q.step / 2 * 1.001
    # Relative to the data's range the error is small: 8 bits across the widest dimension.
    assert err.max() / np.abs(x).max() < 0.01


def test_offset_mode_centres_dimensions() -> None:
    x = np.array([[1.0, -5.0], [3.0, -4.0]], dtype=np.float32)
    q = Int8Quantizer.fit(x, mode=OFFSET, percentile=100.0)
    np.testing.assert_allclose(q.offset, [2.0, -4.5])
    assert q.step == pytest.approx(1.0 / 127)  # widest half-range is 1.0
    assert Int8Quantizer.fit(x, mode=SYMMETRIC, percentile=100.0).step == pytest.approx(5 / 127)


def test_out_of_range_values_saturate() -> None:
    x = np.random.default_rng(1).uniform(-1, 1, (500, 8)).astype(np.float32)
    q = Int8Quantizer.fit(x, mode=OFFSET)
    codes = q.encode(np.full((1, 8), 50.0, dtype=np.float32))
    assert (codes == 127).all()
    codes = q.encode(np.full((1, 8), -50.0, dtype=np.float32))
    assert (codes == -127).all()


def test_symmetric_queries_keep_inner_product_order() -> None:
    rng = np.random.default_rng(2)
    x = rng.standard_normal((400, 32)).astype(np.float32)
    query = rng.standard_normal((1, 32)).astype(np.float32) * 1e-3  # tiny scale: own step
    q = Int8Quantizer.fit(x, mode=SYMMETRIC, percentile=100.0)
    qcodes, steps = q.encode_queries(query)
    approx = (q.encode(x).astype(np.int32) @ qcodes[0].astype(np.int32)) * q.step * steps[0]
    exact = x @ query[0]
    assert np.corrcoef(approx, exact)[0, 1] > 0.999
    assert np.abs(qcodes).max() == 127  # the query uses the full range


def test_json_round_trip_is_exact() -> None:
    x = np.random.default_rng(3).standard_normal((100, 10)).astype(np.float32)
    q = Int8Quantizer.fit(x, mode=OFFSET)
    back = Int8Quantizer.from_json(json.loads(json.dumps(q.to_json())))
    assert back.mode == q.mode and back.step == q.step
    np.testing.assert_array_equal(back.offset, q.offset)
    np.testing.assert_array_equal(back.encode(x), q.encode(x))


def test_fit_rejects_bad_input() -> None:
    with pytest.raises(InvalidConfig):
        Int8Quantizer.fit(np.zeros((0, 4), np.float32), mode=OFFSET)
    with pytest.raises(InvalidConfig):
        Int8Quantizer.fit(np.zeros((3, 4), np.float32), mode="affine")
    with pytest.raises(InvalidConfig):
        Int8Quantizer.fit(np.zeros((3, 4), np.float32), mode=OFFSET, percentile=10)
    constant = Int8Quantizer.fit(np.zeros((3, 4), np.float32), mode=OFFSET)
    assert constant.step > 0  # degenerate data still gives a usable quantizer
