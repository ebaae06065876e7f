"""Small helpers of the generator: the sampling shortcuts give the plain answers."""

from __future__ import annotations

from decimal import Decimal

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pytest

from chainsleuth.world import arrays, ids


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


@pytest.mark.parametrize("factor", [1, 3, 10**7, 2**31 - 1])
def test_decimal_array_exact_both_ways(factor: int) -> None:
    """Products that fit 64 bits take the short path, others the 32-bit limbs: both exact."""
    rng = np.random.default_rng(4)
    for top in (5, 12, 18):  # small values only, or some past 2**64 / factor
        units = (10 ** rng.uniform(0, top, 5_000)).astype(np.int64)
        units[:2] = [0, 2**63 - 1]
        got = ids.decimal_array(units, factor).to_pylist()
        assert got == [Decimal(int(u) * factor) for u in units]


def test_text_store_fixed_width_take_is_arrows_take() -> None:
    rng = np.random.default_rng(6)
    fixed, mixed = arrays.TextStore(), arrays.TextStore()
    for part in range(3):
        texts = ids.hex_strings(ids.hash32(part, np.arange(1_000))[:, :20], b"0x")
        fixed.append(texts)
        mixed.append(texts)
    mixed.append(pa.array(["short"]))  # one text of another length: the general path
    assert fixed._width == 42 and mixed._width is None
    for lookup in (rng.integers(0, 3_000, 5_000), rng.integers(-1, 3_000, 5_000), np.array([-1])):
        expected = pc.take(fixed.view(), pa.array(lookup, mask=lookup < 0)).cast(pa.string())
        got = fixed.take(lookup)
        assert got.equals(expected) and got.null_count == expected.null_count
        assert got.to_pylist() == mixed.take(lookup).to_pylist()
        assert got.to_pylist() == expected.to_pylist()
    with pytest.raises(IndexError):
        fixed.take(np.array([3_000]))


@pytest.mark.parametrize(
    "weights",
    [
        1.0 + 0.35 * np.sin(np.arange(30_000) / 7_200 * 2 * np.pi),  # a chunk's blocks
        np.where(np.arange(5_000) % 3 == 0, 0.0, 1.0),  # empty slots
        np.random.default_rng(8).pareto(1.2, 5_000),  # skewed: too many per cell, no guide
    ],
)
def test_guided_search_is_searchsorted(weights: np.ndarray) -> None:
    cum = np.cumsum(weights)
    u = np.random.default_rng(12).random(40_000) * cum[-1]
    u[:3] = [0.0, cum[-1] * (1 - 2**-53), cum[1]]  # the ends, and a key equal to an entry
    plain = np.searchsorted(cum, u, side="right")
    guided = arrays._guided_search(cum, u)
    if guided is not None:
        assert np.array_equal(guided, plain)
    fast = arrays.weighted_choice(np.random.default_rng(3), cum, 40_000)
    slow = np.minimum(
        np.searchsorted(cum, np.random.default_rng(3).random(40_000) * cum[-1], side="right"),
        cum.size - 1,
    )
    assert np.array_equal(fast, slow)
