"""The emulator's fast fp16 conversions are bit-exact with numpy's own
(independent) float16 conversion, on every kind of value."""
import numpy as np
import pytest

from emulator.ops.fp16 import round_to_fp16, to_float16_bits, to_float32

rng = np.random.default_rng(11)
N = 200_000


VALUES = [
    rng.standard_normal(N).astype(np.float32),
    np.maximum(rng.standard_normal(N), 0).astype(np.float32),
    (rng.standard_normal(N) * np.exp(rng.uniform(-30, 14, N))).astype(np.float32),
    rng.integers(0, 2 ** 32, N, dtype=np.uint32).view(np.float32),
    np.array([0, -0.0, 65504, 65519.99, 65520, -1e9, np.inf, -np.inf, 2 ** -24,
              2 ** -25, 3 * 2 ** -26, 2 ** -14, 1 + 2 ** -11, 1 + 3 * 2 ** -11,
              -6e-5, 5.96e-8], np.float32),
]
IDS = ["normal", "relu", "wide", "all-bits", "edges"]


@pytest.mark.parametrize("values", VALUES, ids=IDS)
def test_float32_to_fp16_rounds_like_numpy(values):
    with np.errstate(all="ignore"):
        want = values.astype(np.float16)
    got = to_float16_bits(values).view(np.float16)
    nan = np.isnan(want)
    assert np.array_equal(np.isnan(got), nan)
    np.testing.assert_array_equal(got.view(np.uint16)[~nan],
                                  want.view(np.uint16)[~nan])


@pytest.mark.parametrize("values", VALUES, ids=IDS)
def test_rounding_in_float32_matches_a_trip_through_numpy_float16(values):
    with np.errstate(all="ignore"):
        want = values.astype(np.float16).astype(np.float32)
    got = round_to_fp16(values.reshape(-1, 4) if values.size % 4 == 0
                        else values)
    got = got.reshape(-1)
    nan = np.isnan(want)
    assert np.array_equal(np.isnan(got), nan)
    np.testing.assert_array_equal(got.view(np.uint32)[~nan],
                                  want.view(np.uint32)[~nan])


def test_fp16_to_float32_every_bit_pattern_and_strided_views():
    half = np.arange(1 << 16, dtype=np.uint16).view(np.float16)
    np.testing.assert_array_equal(to_float32(half), half.astype(np.float32))
    grid = half[:6000].reshape(10, 20, 30)[:, ::3, 4:9]
    out = to_float32(grid)
    assert out.flags.c_contiguous and out.dtype == np.float32
    np.testing.assert_array_equal(out, grid.astype(np.float32))
