"""The exchange export's text helpers give the plain Arrow kernels' text."""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pytest

from chainsleuth.world import ids
from chainsleuth.world.exchange_money import ASSET_UNITS, amounts, ids_text


def test_amounts_mixed_assets_keep_row_order() -> None:
    rng = np.random.default_rng(2)
    units = rng.integers(0, 10**12, 5_000)
    assets = rng.integers(0, 3, 5_000)
    text = amounts(units, assets).to_pylist()
    for i in (0, 1, 2, 4_999):
        decimals, factor, _ = ASSET_UNITS[["BTC", "ETH", "USDT"][assets[i]]]
        one = ids.decimal_array(units[i : i + 1], factor, decimals).cast(pa.string())
        assert text[i] == one[0].as_py()


@pytest.mark.parametrize(("prefix", "width"), [("C", 9), ("LB", 10), ("", 3)])
def test_ids_text_is_padded_numbers(prefix: str, width: int) -> None:
    numbers = np.concatenate(
        [np.arange(0, 1_200), np.random.default_rng(1).integers(0, 10**width, 5_000)]
    )
    padded = pc.utf8_lpad(pa.array(numbers).cast(pa.string()), width, "0")
    expected = pc.binary_join_element_wise(prefix, padded, "")
    assert ids_text(prefix, numbers, width).equals(expected)
    # numbers wider than the width are not cut
    assert (
        ids_text(prefix, np.array([10**width + 5]), width)[0].as_py() == f"{prefix}{10**width + 5}"
    )
