"""The chains chainsleuth knows: their kind, native asset and units."""

from __future__ import annotations

from dataclasses import dataclass

from chainsleuth.chain.enums import ChainKind
from chainsleuth.core.errors import InvalidInput


@dataclass(frozen=True)
class ChainInfo:
    id: str
    name: str
    kind: ChainKind
    symbol: str  # native asset
    decimals: int  # smallest unit = 10**-decimals of the asset
    unit: str  # name of the smallest unit
    block_seconds: int  # target block interval


BTC = ChainInfo("btc", "Bitcoin", ChainKind.UTXO, "BTC", 8, "sat", 600)
ETH = ChainInfo("eth", "Ethereum", ChainKind.ACCOUNT, "ETH", 18, "wei", 12)

CHAINS: dict[str, ChainInfo] = {c.id: c for c in (BTC, ETH)}


def get_chain(chain_id: str) -> ChainInfo:
    """The chain named by a user; unknown names are bad input."""
    info = CHAINS.get(chain_id.strip().lower())
    if info is None:
        known = ", ".join(sorted(CHAINS))
        raise InvalidInput(f"unknown chain {chain_id!r}: use one of {known}")
    return info


def format_amount(value: int, decimals: int) -> str:
    """An integer amount in the smallest unit, as a decimal string of whole units."""
    sign = "-" if value < 0 else ""
    whole, frac = divmod(abs(value), 10**decimals)
    if decimals == 0:
        return f"{sign}{whole}"
    frac_s = str(frac).rjust(decimals, "0").rstrip("0")
    return f"{sign}{whole}.{frac_s}" if frac_s else f"{sign}{whole}"
