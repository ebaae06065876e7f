"""The exchange export's text helpers give Arrow's own text, faster."""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pytest

from chainsleuth.world import ids
from chainsleuth.world.exchange_money import ASSET_UNITS, amounts, decimal_text, ids_text


@pytest.mark.parametrize("asset", list(ASSET_UNITS))
def test_decimal_text_is_arrows_decimal_text(asset: str) -> None:
    decimals, factor, _ = ASSET_UNITS[asset]
    rng = np.random.default_rng(11)
    top = 18 if factor == 1 else 11  # units * factor stays in int64 range for ETH
    units = np.concatenate(
        [
            np.arange(0, 3_000),  # the scientific forms: 0E-8, 1.5E-7, ...
            (10 ** rng.uniform(0, top, 20_000)).astype(np.int64),
            10 ** np.arange(top + 1),
            10 ** np.arange(1, top + 1) - 1,
        ]
    )
    expected = ids.decimal_array(units, factor, decimals).cast(pa.string())
    assert decimal_text(units, factor, decimals).equals(expected)
    # other factors and scales than the assets' go through Arrow
    assert decimal_text(units[:50], 3, 2).equals(
        ids.decimal_array(units[:50], 3, 2).cast(pa.string())
    )


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
