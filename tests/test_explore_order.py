"""The explorer's fast lexsort gives np.lexsort's permutation exactly, near ties and signs included."""

from __future__ import annotations

import numpy as np
import pytest

from viz_app.model.explore.order import lexsort


def _key(rng: np.random.Generator, kind: int, size: int) -> np.ndarray:
    if kind == 0:
        return rng.random(size) < 0.5
    if kind == 1:
        return rng.integers(-5, 5, size)
    if kind == 2:  # signed zeros, infinities, subnormals
        return rng.choice([0.0, -0.0, 1.0, -1.0, np.inf, -np.inf, 1e-300, -1e-300, 5e-324], size)
    if kind == 3:  # values one or two ulps apart: closer than any cut of their bits
        return rng.choice(rng.random(8) * 1e6, size) * (1 + rng.choice([0, 1, -1, 2], size) * 2.0 ** -52)
    if kind == 4:
        return rng.normal(size=size) * 1e10
    return rng.integers(-2**62, 2**62, size)


@pytest.mark.parametrize("seed", range(40))
def test_lexsort_equals_numpy(seed):
    rng = np.random.default_rng(seed)
    size = int(rng.integers(2, 5000))
    keys = tuple(_key(rng, int(rng.integers(0, 6)), size) for _ in range(int(rng.integers(1, 5))))
    assert np.array_equal(lexsort(keys), np.lexsort(keys))


def test_near_ties_are_sorted_by_value_then_position():
    # 1 + 2^-52 and 1 share their high bits; the row order must still follow the values
    peak = np.array([1 + 2.0 ** -52, 1.0, 1 + 2.0 ** -52, 1.0, 3.0e9, 0.0])
    fits = np.array([True, True, False, True, True, True])
    assert lexsort((peak, ~fits)).tolist() == [5, 1, 3, 0, 4, 2]
