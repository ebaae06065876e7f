"""The world plan: who exists, which exchanges, prices, and every scheduled scheme.

Made once from the seed, before any block, and handed (pickled) to both chain generators,
so that the chains can be generated independently (in two processes) and still agree on
everything that crosses between them: the same exchanges and customers, the same bridge
transfers (lock on one chain at a planned time, release on the other), the same crime
schemes.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
from numpy.typing import NDArray

from chainsleuth.world.actors import COUNTRIES, COUNTRY_INDEX, Actors
from chainsleuth.world.enums import ActorType, Category
from chainsleuth.world.presets import DAY, WorldParams

#: names of the independent random streams (their index is the spawn key: never reorder)
#: the random substreams of a world; new content draws from "extra" (with a sub-key of its
#: own), so that adding it leaves every other stream, and what it drives, as it was
STREAMS = ("plan", "btc", "eth", "kyc", "agencies", "crime", "extra")


def rng_for(seed: int, stream: str, *sub: int) -> np.random.Generator:
    key = (STREAMS.index(stream), *sub)
    return np.random.Generator(np.random.PCG64(np.random.SeedSequence(seed, spawn_key=key)))


# --- BTC wallet software: the script type of a user's addresses ----------------------------

#: script-type codes used throughout the UTXO generator (index into SCRIPT_NAMES)
P2PKH, P2SH, P2WPKH, P2WSH, P2TR, NULLDATA = range(6)
SCRIPT_NAMES = ["p2pkh", "p2sh", "p2wpkh", "p2wsh", "p2tr", "nulldata"]
#: user wallet software mix (legacy P2PKH wallets reuse their address)
USER_SCRIPT_MIX = np.array([0.12, 0.06, 0.62, 0.0, 0.20])


@dataclass
class Exchange:
    index: int
    actor: int
    name: str
    share: float  # of customers
    ours: bool = False
    kyc: bool = True
    sanctioned: bool = False
    btc_deposit_script: int = P2WPKH


@dataclass
class Prices:
    """Daily USD prices (index = day since the world's start)."""

    btc: NDArray[np.float64]
    eth: NDArray[np.float64]

    def at(self, asset: str, t: int, start: int) -> float:
        day = min(max((t - start) // DAY, 0), len(self.btc) - 1)
        if asset == "USDT":
            return 1.0
        return float(self.btc[day] if asset == "BTC" else self.eth[day])


@dataclass
class Users:
    """Per-user columns (users are actors ``0 .. n - 1``)."""

    country: NDArray[np.int16]
    activity: NDArray[np.float64]
    btc_active: NDArray[np.bool_]
    eth_active: NDArray[np.bool_]
    home_btc: NDArray[np.int8]  # exchange index where the user deposits BTC
    home_eth: NDArray[np.int8]
    btc_script: NDArray[np.int8]

    @property
    def n(self) -> int:
        return int(self.country.size)


@dataclass
class WorldPlan:
    params: WorldParams
    actors: Actors
    users: Users
    exchanges: list[Exchange]
    merchants: list[int]
    merchant_weight: NDArray[np.float64]
    merchant_home: NDArray[np.int8]
    btc_pools: list[tuple[int, float]]
    eth_pools: list[tuple[int, float]]
    prices: Prices
    services: dict[str, int]
    schemes: list[Any] = field(default_factory=list)  # crime.plans.SchemePlan
    bridge: list[Any] = field(default_factory=list)  # crime.plans.BridgeTransfer
    mules: list[int] = field(default_factory=list)  # money mules (customers of Exchange A)
    #: plans of services that are no scheme (merchants and the mixer on the account chain)
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def ours(self) -> Exchange:
        return self.exchanges[0]

    def end_time(self) -> int:
        return self.params.start + self.params.days * DAY


EXCHANGES = [
    # name, share, kyc, sanctioned, deposit script
    ("Exchange A", 0.26, True, False, P2WPKH),
    ("Northwind Exchange", 0.24, True, False, P2SH),
    ("Aurora Markets", 0.2, True, False, P2WPKH),
    ("Bitvest", 0.15, True, False, P2WPKH),
    ("QuickSwap Instant", 0.09, False, False, P2PKH),
    ("Garantia Exchange", 0.06, False, True, P2WPKH),
]
BTC_POOLS = [
    ("Granite Pool", 0.31),
    ("Helios Mining", 0.24),
    ("Vertex Hash", 0.17),
    ("Bluefin Pool", 0.13),
    ("Northstar Pool", 0.1),
    ("Solo Miners Co-op", 0.05),
]
ETH_POOLS = [
    ("Beacon Builders", 0.34),
    ("Titan Stake", 0.26),
    ("Meridian Validators", 0.2),
    ("Quartz Staking", 0.12),
    ("Home Stakers Pool", 0.08),
]
MERCHANT_KINDS = [
    "electronics",
    "web hosting",
    "VPN service",
    "coffee roastery",
    "gift cards",
    "travel agency",
    "furniture",
    "software licences",
    "jewellery",
    "online courses",
]


def _prices(rng: np.random.Generator, days: int) -> Prices:
    shocks = rng.normal(0.0, 1.0, size=(days + 1, 2))
    btc_ret = 0.0006 + 0.028 * shocks[:, 0]
    eth_ret = 0.0004 + 0.036 * (0.8 * shocks[:, 0] + 0.6 * shocks[:, 1])
    btc_ret[0] = eth_ret[0] = 0.0
    return Prices(
        btc=np.round(62_000.0 * np.exp(np.cumsum(btc_ret)), 2),
        eth=np.round(3_000.0 * np.exp(np.cumsum(eth_ret)), 2),
    )


def build_plan(params: WorldParams) -> WorldPlan:
    """The world before its first block: deterministic for ``params.seed``."""
    rng = rng_for(params.seed, "plan")
    n_users = params.users
    weights = np.array([w for _, _, w in COUNTRIES])
    country = rng.choice(len(COUNTRIES), size=n_users, p=weights / weights.sum()).astype(np.int16)
    activity = rng.lognormal(0.0, 1.0, size=n_users)
    pick = rng.random(n_users)
    btc_active = pick < 0.8
    eth_active = (pick > 0.25) | ~btc_active
    shares = np.array([e[1] for e in EXCHANGES])
    home_btc = rng.choice(len(EXCHANGES), size=n_users, p=shares / shares.sum()).astype(np.int8)
    other = rng.choice(len(EXCHANGES), size=n_users, p=shares / shares.sum()).astype(np.int8)
    home_eth = np.where(rng.random(n_users) < 0.8, home_btc, other).astype(np.int8)
    # no-KYC and sanctioned venues draw their users from a few countries
    risky = np.isin(home_btc, [4, 5]) | np.isin(home_eth, [4, 5])
    ru = COUNTRY_INDEX["RU"]
    country[risky & (rng.random(n_users) < 0.5)] = ru
    btc_script = rng.choice(5, size=n_users, p=USER_SCRIPT_MIX).astype(np.int8)
    users = Users(country, activity, btc_active, eth_active, home_btc, home_eth, btc_script)
    actors = Actors(n_users, country)

    exchanges = []
    for i, (name, share, kyc, sanctioned, script) in enumerate(EXCHANGES):
        category = Category.SANCTIONED if sanctioned else Category.EXCHANGE
        actor = actors.add(
            name,
            ActorType.SANCTIONED if sanctioned else ActorType.EXCHANGE,
            category,
            "RU" if sanctioned else ("SC" if not kyc else ["MT", "GB", "US", "SG"][i % 4]),
            ours=i == 0,
            kyc=kyc,
        )
        exchanges.append(Exchange(i, actor, name, share, i == 0, kyc, sanctioned, script))

    n_merchants = params.merchants
    merchants = []
    for i in range(n_merchants):
        kind = MERCHANT_KINDS[i % len(MERCHANT_KINDS)]
        merchants.append(
            actors.add(f"Merchant {i + 1:04d} ({kind})", ActorType.MERCHANT, Category.MERCHANT)
        )
    merchant_weight = 1.0 / np.arange(1, n_merchants + 1) ** 0.8
    rng.shuffle(merchant_weight)
    merchant_home = rng.choice(4, size=n_merchants).astype(np.int8)  # KYC exchanges only

    btc_pools = [(actors.add(n, ActorType.MINER, Category.MINER), s) for n, s in BTC_POOLS]
    eth_pools = [(actors.add(n, ActorType.MINER, Category.MINER), s) for n, s in ETH_POOLS]
    services = {
        "usdt": actors.add("Tether USD (USDT) token", ActorType.TOKEN, Category.TOKEN),
        "usdt_treasury": actors.add("USDT issuer treasury", ActorType.INFRA, Category.TOKEN),
        "weth": actors.add("Wrapped Ether (WETH) token", ActorType.TOKEN, Category.TOKEN),
        "dex": actors.add("SwapPool DEX", ActorType.DEX, Category.DEX),
        "dex_lp": actors.add("SwapPool liquidity provider", ActorType.INFRA, Category.DEX),
        "bridge": actors.add("Portal Bridge", ActorType.BRIDGE, Category.BRIDGE),
    }
    plan = WorldPlan(
        params=params,
        actors=actors,
        users=users,
        exchanges=exchanges,
        merchants=merchants,
        merchant_weight=np.asarray(merchant_weight, dtype=np.float64),
        merchant_home=merchant_home,
        btc_pools=btc_pools,
        eth_pools=eth_pools,
        prices=_prices(rng, params.days),
        services=services,
    )
    return plan
