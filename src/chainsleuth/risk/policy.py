"""The typology detectors' parameters: one typed policy object with defaults.

Every threshold, window and hop count a detector uses is here, so that a policy editor can
show and change them; ``TypologyPolicy.model_validate(json)`` refuses unknown keys and
values out of range (``InvalidInput`` through ``parse_policy``).
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from chainsleuth.core.errors import InvalidInput

HOUR = 3600
DAY = 86_400


class _Part(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    enabled: bool = True
    illicit_source: bool = Field(
        True,
        description="report only instances whose funds came from an illicit source "
        "(when labels are known: see ProvenancePolicy)",
    )
    weak_sources: tuple[str, ...] = Field(
        ("mixer",),
        description="source categories that alone do not make an instance illicit "
        "(ordinary people use mixers too)",
    )


#: label categories whose funds are illicit (or, for mixers, laundered) at their source
SOURCE_CATEGORIES = (
    "ransomware", "scam", "extortion", "darknet_market", "stolen_funds", "sanctioned",
    "terrorist_financing", "child_abuse", "money_laundering", "money_mule", "mixer",
)  # fmt: skip


class ProvenancePolicy(BaseModel):
    """How far illicit funds are followed (``risk.provenance``)."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    source_categories: tuple[str, ...] = Field(
        SOURCE_CATEGORIES, description="labels whose addresses are illicit sources"
    )
    max_hops: int = Field(40, ge=0, le=200, description="transfers followed from a source")
    max_entity_size: int = Field(
        40, ge=1, description="larger entities (services) pool funds: taint stops there"
    )
    min_value_usd: float = Field(20.0, ge=0, description="smaller transfers carry no taint")
    min_tainted_share: float = Field(
        0.5,
        gt=0,
        le=1,
        description="an output is tainted when tainted inputs paid at least this share of it "
        "(a CoinJoin round's other participants are not)",
    )
    bridge_window_s: int = Field(
        6 * HOUR, gt=0, description="a bridge release answers a lock within this time"
    )
    bridge_rate_tolerance: float = Field(
        0.05, gt=0, lt=1, description="release/lock rate off the median rate by at most this"
    )


class PeelChainPolicy(_Part):
    illicit_source: bool = Field(
        False,
        description="a long run of small peels is itself the red flag (ordinary wallets "
        "do not make it); True: also require an illicit source",
    )
    min_hops: int = Field(
        5, ge=2, description="transactions in a row, each spending the last change"
    )
    max_gap_s: int = Field(12 * HOUR, gt=0, description="most time between two hops")
    max_peel_share: float = Field(0.35, gt=0, le=0.5, description="peeled output / hop value")


class FanInPolicy(_Part):
    min_senders: int = Field(
        5, ge=1, description="account chains: distinct sending entities into the collector"
    )
    window_s: int = Field(3 * DAY, gt=0, description="payments in and the sweep within this time")
    min_swept_share: float = Field(0.8, gt=0, le=1, description="share of the inflow swept on")
    max_sweep_receivers: int = Field(1, ge=1, description="addresses the sweep pays")
    max_entity_size: int = Field(40, ge=1, description="larger collectors (services) are skipped")
    min_illicit_senders: int = Field(
        3, ge=1, description="account chains, with labels: senders reached by illicit funds"
    )
    min_illicit_share: float = Field(
        0.25,
        gt=0,
        le=1,
        description="account chains, with labels: share of the inflow (USD) from addresses "
        "illicit funds had reached (then no sweep is needed: the collector may pay out in parts)",
    )
    utxo_min_inputs: int = Field(
        2, ge=2, description="UTXO: one-shot input addresses swept together"
    )
    utxo_max_outputs: int = Field(1, ge=1, description="UTXO: output addresses of the sweep")
    utxo_min_funders: int = Field(
        2,
        ge=1,
        description="UTXO: entities (other than the sweeper's) that funded the swept "
        "addresses: a fan-in collects others' money, not the wallet's own change",
    )
    utxo_max_source_hops: int = Field(
        0,
        ge=0,
        le=200,
        description="UTXO, with labels: an address of the sweep (swept or swept to) at most "
        "this many transfers from an illicit source; 0: the illicit actor's own (the "
        "criminal collecting proceeds, not a user tidying a wallet that tainted coins had "
        "once reached)",
    )


class FanOutPolicy(_Part):
    min_receivers: int = Field(
        3, ge=2, description="distinct receiving entities in one transaction"
    )
    max_payers: int = Field(10, ge=1, description="input addresses of the transaction at most")
    max_payer_entities: int = Field(
        1,
        ge=1,
        description="paying entities of the transaction at most (one wallet's inputs spent "
        "together are one payer; several entities paying together is a CoinJoin or a batch)",
    )
    max_entity_size: int = Field(40, ge=1, description="larger payers (services) are skipped")


class StructuringPolicy(_Part):
    threshold_usd: float = Field(10_000.0, gt=0, description="the reporting threshold")
    band: float = Field(0.1, gt=0, lt=1, description="'just under': within this share below it")
    price_tolerance: float = Field(
        0.12,
        ge=0,
        lt=1,
        description="allowance for price moves when payments are valued at the reference "
        "prices (no daily prices given)",
    )
    day_price_tolerance: float = Field(
        0.03,
        ge=0,
        lt=1,
        description="allowance for price moves within the day when payments are valued at "
        "the day's price",
    )
    min_payments: int = Field(3, ge=2, description="band payments linked together")
    window_s: int = Field(3 * DAY, gt=0, description="links only within this time")
    max_link_entity_size: int = Field(
        40, ge=1, description="entities larger than this link nothing"
    )
    deposits_only: bool = Field(
        True, description="only payments into a service (where a reporting threshold applies)"
    )


class PassThroughPolicy(_Part):
    max_delay_s: int = Field(HOUR, gt=0, description="received, then forwarded within this time")
    min_forwarded_share: float = Field(0.9, gt=0, le=1.0, description="share of what came in")
    max_txs: int = Field(
        4, ge=2, description="an address with more transactions is no pass-through"
    )
    max_entity_size: int = Field(3, ge=1, description="the address's entity at most this big")
    min_value_usd: float = Field(500.0, ge=0, description="smaller amounts are ignored")
    to_services_only: bool = Field(
        True,
        description="only forwards into a service where money is cashed out (not a mixer): "
        "the money-mule pattern",
    )
    service_size: int = Field(40, ge=1, description="an entity this large is a service")


class MixingPolicy(_Part):
    weak_sources: tuple[str, ...] = Field(
        (), description="mixer payouts entering a CoinJoin round are laundering: they count"
    )
    min_inputs: int = Field(5, ge=2, description="distinct input addresses of a CoinJoin round")
    min_equal_outputs: int = Field(5, ge=2, description="outputs of one denomination")


class ChainHoppingPolicy(_Part):
    bridge_methods: tuple[str, ...] = Field(("0x0d7a8a8e",), description="bridge lock selectors")
    swap_methods: tuple[str, ...] = Field(
        ("0x7ff36ab5", "0x38ed1739"), description="DEX swap selectors"
    )
    max_delay_s: int = Field(6 * HOUR, gt=0, description="bridged this soon after the receipt")
    min_value_usd: float = Field(10_000.0, ge=0, description="smaller bridge transfers are ignored")
    max_entity_size: int = Field(
        40, ge=1, description="receipts from larger entities (services: exchanges) do not count"
    )


class DormantPolicy(_Part):
    illicit_source: bool = Field(
        False, description="the world's truth counts every dormant wallet that wakes up"
    )
    min_dormant_days: float = Field(10.0, gt=0, description="no activity for this long")
    min_span_share: float = Field(
        0.5,
        ge=0,
        le=1,
        description="and for at least this share of the time the data covers (what is "
        "dormant depends on how long the chain has been watched)",
    )
    min_value_usd: float = Field(10_000.0, ge=0, description="value that wakes up")
    max_entity_size: int = Field(40, ge=1, description="larger entities (services) are skipped")
    funded_once: bool = Field(
        True, description="the address received once before it slept (a holder's stash)"
    )
    emptied_to_service: bool = Field(
        True, description="the waking transaction moves it all into a service (a cash-out)"
    )
    service_size: int = Field(40, ge=1, description="an entity this large is a service")
    skip_return_home: bool = Field(
        True,
        description="skip an address whose waking transaction pays an address of the "
        "transaction that funded it (change swept home: a wallet's housekeeping)",
    )


class RoundTripPolicy(_Part):
    max_hops: int = Field(5, ge=2, le=8, description="transfers in the cycle")
    window_s: int = Field(2 * DAY, gt=0, description="the cycle closes within this time")
    max_entity_size: int = Field(40, ge=1, description="larger entities (services) break a cycle")
    max_counterparties: int = Field(
        200, ge=1, description="an entity that dealt with more entities (a service) breaks a cycle"
    )
    min_value_usd: float = Field(1_000.0, ge=0, description="smaller transfers are ignored")
    min_returned_share: float = Field(0.5, gt=0, le=1.0, description="value back / value out")


class TypologyPolicy(BaseModel):
    """All detectors' parameters. ``prices_usd``: the reference prices for USD thresholds
    (asset symbol -> USD per whole unit)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    prices_usd: dict[str, float] = Field(
        default_factory=lambda: {"BTC": 62_000.0, "ETH": 3_000.0, "WETH": 3_000.0, "USDT": 1.0}
    )
    lookback_s: int = Field(
        14 * DAY, ge=0, description="incremental runs read this much before the start height"
    )
    provenance: ProvenancePolicy = ProvenancePolicy()
    peel_chain: PeelChainPolicy = PeelChainPolicy()
    fan_in: FanInPolicy = FanInPolicy()
    fan_out: FanOutPolicy = FanOutPolicy()
    structuring: StructuringPolicy = StructuringPolicy()
    pass_through: PassThroughPolicy = PassThroughPolicy()
    mixing: MixingPolicy = MixingPolicy()
    chain_hopping: ChainHoppingPolicy = ChainHoppingPolicy()
    dormant_then_active: DormantPolicy = DormantPolicy()
    round_trip: RoundTripPolicy = RoundTripPolicy()


def parse_policy(data: dict[str, Any] | None) -> TypologyPolicy:
    """A policy from JSON-like data (``None``: the defaults); one-line ``InvalidInput``."""
    if data is None:
        return TypologyPolicy()
    try:
        return TypologyPolicy.model_validate(data)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"])
        raise InvalidInput(f"typology policy: {where}: {first['msg']}") from None
