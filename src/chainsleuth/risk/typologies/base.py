"""What a detector finds: a ``TypologyInstance`` that explains itself."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from enum import StrEnum

from pydantic import BaseModel

from chainsleuth.chain.chains import format_amount
from chainsleuth.risk.data import ChainData


class Typology(StrEnum):
    PEEL_CHAIN = "peel_chain"
    FAN_IN = "fan_in"
    FAN_OUT = "fan_out"
    STRUCTURING = "structuring"
    PASS_THROUGH = "pass_through"
    MIXING = "mixing"
    CHAIN_HOPPING = "chain_hopping"
    DORMANT_THEN_ACTIVE = "dormant_then_active"
    ROUND_TRIP = "round_trip"


class TypologyInstance(BaseModel):
    typology: Typology
    chain: str
    addresses: list[str]
    tx_hashes: list[str]  # in time order
    amounts: list[int]  # the amounts that make the pattern, smallest unit of ``asset``
    asset: str
    first_time: datetime
    last_time: datetime
    explanation: str
    address_ids: list[int]
    tx_ids: list[int]
    last_height: int


@dataclass
class Raw:
    """A detector's find before hashes and address texts are looked up."""

    typology: Typology
    tx_ids: list[int]
    address_ids: list[int]
    amounts: list[int]
    asset_id: int
    first_t: int
    last_t: int
    sentence: str
    extra: dict[str, object] = field(default_factory=dict)
    #: the addresses illicit funds must have reached (by ``last_t``) for the find to count
    #: as coming from an illicit source (None: any of ``address_ids``)
    sources: list[int] | None = None


def amount_text(data: ChainData, asset_id: int, value: int) -> str:
    symbol, decimals = data.asset(asset_id)
    text = format_amount(int(value), decimals)
    if "." in text:
        whole, frac = text.split(".")
        text = f"{whole}.{frac[:4]}".rstrip("0").rstrip(".")
    return f"{text} {symbol}"


def hours(seconds: int) -> str:
    if seconds < 2 * 3600:
        return f"{max(seconds, 0) // 60} minutes"
    if seconds < 3 * 86_400:
        return f"{seconds / 3600:.1f} hours"
    return f"{seconds / 86_400:.1f} days"


def finish(data: ChainData, raws: list[Raw]) -> list[TypologyInstance]:
    """Hashes, address texts and heights for the detectors' finds (one lookup for all)."""
    tx_ids = sorted({t for r in raws for t in r.tx_ids})
    addr_ids = sorted({a for r in raws for a in r.address_ids if a is not None and a >= 0})
    hashes = dict(zip(tx_ids, data.hashes(tx_ids), strict=True)) if tx_ids else {}
    texts = dict(zip(addr_ids, data.addresses(addr_ids), strict=True)) if addr_ids else {}
    heights: dict[int, int] = {}
    if tx_ids:
        heights = dict(
            data.con.execute(
                "SELECT tx_id, height FROM tx WHERE tx_id IN (SELECT unnest(?::BIGINT[]))",
                [tx_ids],
            ).fetchall()
        )
    out: list[TypologyInstance] = []
    for r in raws:
        txs = sorted(set(r.tx_ids))
        addrs = list(dict.fromkeys(a for a in r.address_ids if a is not None and a >= 0))
        out.append(
            TypologyInstance(
                typology=r.typology,
                chain=data.info.id,
                addresses=[texts[a] for a in addrs],
                tx_hashes=[hashes[t] for t in txs],
                amounts=[int(v) for v in r.amounts],
                asset=data.symbol(r.asset_id),
                first_time=datetime.fromtimestamp(r.first_t, UTC),
                last_time=datetime.fromtimestamp(r.last_t, UTC),
                explanation=r.sentence,
                address_ids=addrs,
                tx_ids=txs,
                last_height=max((heights.get(t, -1) for t in txs), default=-1),
            )
        )
    out.sort(key=lambda i: (i.first_time, i.typology, i.tx_ids[:1]))
    return out
