"""Small helpers of the generator: the sampling shortcuts give the plain answers."""

from __future__ import annotations

import numpy as np
import pytest

from chainsleuth.world import arrays


@pytest.mark.parametrize("size", [5, 2_000, 50_000])
def test_weighted_choice_sorted_search_same_answers(
    size: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    weights = np.random.default_rng(3).random(100_000)
    weights[::7] = 0.0  # empty slots are never picked
    cum = np.cumsum(weights)
    fast = arrays.weighted_choice(np.random.default_rng(9), cum, size)
    monkeypatch.setattr(arrays, "SORTED_SEARCH_FROM", 1 << 62)
    plain = arrays.weighted_choice(np.random.default_rng(9), cum, size)
    assert fast.dtype == np.int64
    assert np.array_equal(fast, plain)
    assert not np.isin(fast, np.arange(0, cum.size, 7)).any()
