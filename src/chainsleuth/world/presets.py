"""World sizes: presets, and the parameters every other module derives from them.

A preset fixes the number of transactions (both chains together) and the span in days.
Block intervals are the chains' own (``chainsleuth.chain.chains``: 600 s and 12 s), so the
span decides the number of blocks; a demo world cannot span two years without being made
almost entirely of empty blocks and coinbase transactions, so spans grow with the size:
demo 30 days, medium 180 days, large 730 days (two years). ``--txs`` without ``--days``
interpolates the span between those points.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from typing import Any

from chainsleuth.chain.chains import BTC, ETH
from chainsleuth.core.errors import InvalidInput

#: the world's genesis: fixed, so that a seed alone decides every byte
START = int(datetime(2024, 5, 1, tzinfo=UTC).timestamp())
DAY = 86_400
BTC_BLOCKS_PER_DAY = DAY // BTC.block_seconds  # 144
ETH_BLOCKS_PER_DAY = DAY // ETH.block_seconds  # 7200


@dataclass(frozen=True)
class Preset:
    name: str
    txs: int
    days: int
    description: str


PRESETS: dict[str, Preset] = {
    p.name: p
    for p in (
        Preset("demo", 35_000, 30, "a few tens of thousands of transactions over a month"),
        Preset("medium", 1_000_000, 180, "one million transactions over six months"),
        Preset("large", 10_000_000, 730, "ten million transactions over two years"),
    )
}


def days_for(txs: int) -> int:
    """Span for a transaction count: log-interpolated through the presets, 7..730 days."""
    lo, hi = PRESETS["demo"], PRESETS["large"]
    slope = math.log(hi.days / lo.days) / math.log(hi.txs / lo.txs)
    days = lo.days * (max(txs, 1) / lo.txs) ** slope
    return int(min(730, max(7, round(days))))


def _chunk_days(txs_per_day: float, target: int, days: int) -> int:
    """Days per vectorised step: about ``target`` transactions, at least 20 steps, 1..7 days."""
    return int(max(1, min(7, days // 20, round(target / max(txs_per_day, 1.0)))))


@dataclass(frozen=True)
class WorldParams:
    """Everything a world's size decides. Pure data: pickled to the chain workers."""

    seed: int
    preset: str
    txs: int
    days: int
    #: share of the transactions on the UTXO chain (2024: Bitcoin ~0.45M/day, Ethereum ~1.2M/day)
    btc_share: float = 0.27
    start: int = START
    chunk_txs: int = 40_000  # aim of one vectorised step
    file_txs: int = 300_000  # aim of one Parquet block-range file
    extra: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.txs < 2_000:
            raise InvalidInput(f"a world needs at least 2000 transactions, not {self.txs}")
        if not 7 <= self.days <= 3650:
            raise InvalidInput(f"a world spans 7 to 3650 days, not {self.days}")
        if not 0 <= self.seed < 2**63:
            raise InvalidInput("the seed must be a non-negative 64-bit integer")

    # --- chains ------------------------------------------------------------------------

    @property
    def btc_blocks(self) -> int:
        return self.days * BTC_BLOCKS_PER_DAY

    @property
    def eth_blocks(self) -> int:
        return self.days * ETH_BLOCKS_PER_DAY

    @property
    def btc_txs(self) -> int:
        return round(self.txs * self.btc_share)

    @property
    def eth_txs(self) -> int:
        return self.txs - self.btc_txs

    def chunk_days(self, chain: str) -> int:
        per_day = (self.btc_txs if chain == "btc" else self.eth_txs) / self.days
        return _chunk_days(per_day, self.chunk_txs, self.days)

    def file_days(self, chain: str) -> int:
        """Days per Parquet file: a multiple of the chunk, at least four files per chain."""
        per_day = (self.btc_txs if chain == "btc" else self.eth_txs) / self.days
        chunk = self.chunk_days(chain)
        chunks = max(1, round(self.file_txs / max(per_day * chunk, 1.0)))
        chunks = min(chunks, max(1, self.days // (4 * chunk)))
        return chunk * chunks

    def blocks_per_day(self, chain: str) -> int:
        return BTC_BLOCKS_PER_DAY if chain == "btc" else ETH_BLOCKS_PER_DAY

    # --- population --------------------------------------------------------------------

    @property
    def users(self) -> int:
        return int(min(400_000, max(400, self.txs // 40)))

    @property
    def merchants(self) -> int:
        return max(12, self.users // 50)

    @property
    def scale(self) -> float:
        """Crime volume relative to the demo world (1.0), growing slower than the world."""
        return float(max(1.0, (self.txs / PRESETS["demo"].txs) ** 0.5))

    def describe(self) -> dict[str, Any]:
        data = asdict(self)
        data.update(
            btc_blocks=self.btc_blocks,
            eth_blocks=self.eth_blocks,
            users=self.users,
            merchants=self.merchants,
        )
        return data


def params_for(
    *, preset: str = "demo", txs: int | None = None, days: int | None = None, seed: int = 1
) -> WorldParams:
    """Parameters from a preset, with ``txs``/``days`` overriding it (bad input: InvalidInput)."""
    chosen = PRESETS.get(preset)
    if chosen is None:
        known = ", ".join(PRESETS)
        raise InvalidInput(f"unknown preset {preset!r}: use one of {known}")
    count = chosen.txs if txs is None else txs
    span = days if days is not None else (chosen.days if txs is None else days_for(count))
    name = chosen.name if txs is None and days is None else "custom"
    return WorldParams(seed=seed, preset=name, txs=count, days=span)
