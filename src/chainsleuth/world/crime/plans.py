"""Scheme plans: who, when and how much, decided from the seed before any block is made.

Everything that must agree between the two chains is decided here (the hack's stolen
amounts, its swap and its bridge transfers; every bridge transfer's lock and release), so
that the chain generators can run independently and still tell one story.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
from faker import Faker

from chainsleuth.world.account_state import UNITS_PER_ETH, USDT_PER_DOLLAR
from chainsleuth.world.actors import COUNTRY_CODES
from chainsleuth.world.enums import ActorType, Category
from chainsleuth.world.plan import WorldPlan, rng_for
from chainsleuth.world.presets import DAY

HOUR = 3_600
OURS, QUICKSWAP, GARANTIA = 0, 4, 5


@dataclass
class SchemePlan:
    id: str
    type: str  # ransomware | defi_hack | investment_scam | darknet_market | dormant | ...
    name: str
    chains: list[str]
    perpetrators: list[int]
    victims: list[int] = field(default_factory=list)
    start: int = 0
    info: dict[str, Any] = field(default_factory=dict)


@dataclass
class BridgeTransfer:
    record: str
    direction: str  # "eth->btc" | "btc->eth"
    actor: int
    lock_time: int
    release_time: int
    lock_amount: int  # WETH units (10**7 wei) or satoshi
    release_amount: int  # satoshi or WETH units
    scheme: str | None = None


def sat(plan: WorldPlan, usd: float, t: int) -> int:
    return int(round(usd / plan.prices.at("BTC", t, plan.params.start) * 1e8))


def eth_units(plan: WorldPlan, usd: float, t: int) -> int:
    return int(round(usd / plan.prices.at("ETH", t, plan.params.start) * UNITS_PER_ETH))


def bridge_quote(plan: WorldPlan, direction: str, amount: int, t: int) -> int:
    """What the bridge releases for ``amount`` locked at ``t`` (0.1% fee)."""
    start = plan.params.start
    btc, eth = plan.prices.at("BTC", t, start), plan.prices.at("ETH", t, start)
    if direction == "eth->btc":
        usd = amount / UNITS_PER_ETH * eth
        return int(usd / btc * 1e8 * 0.999)
    usd = amount / 1e8 * btc
    return int(usd / eth * UNITS_PER_ETH * 0.999)


def _person(
    plan: WorldPlan,
    rng: np.random.Generator,
    type_: ActorType,
    category: Category,
    label: str,
    **info: Any,
) -> int:
    country = COUNTRY_CODES[int(rng.integers(len(COUNTRY_CODES)))]
    return plan.actors.add(label, type_, category, country, person=True, **info)


def plan_schemes(plan: WorldPlan) -> None:
    """Fill ``plan.schemes`` and ``plan.bridge`` (and the actors they need)."""
    rng = rng_for(plan.params.seed, "crime")
    fake = Faker("en_US")
    fake.seed_instance(int(rng.integers(2**31)))
    p = plan.params
    span = p.days * DAY
    t = lambda frac: int(p.start + frac * span)  # noqa: E731 - a local shorthand
    scale = p.scale
    a = plan.actors
    s = plan.services
    # shared criminal infrastructure
    s["otc"] = a.add("Golden Dragon OTC", ActorType.OTC, Category.OTC, "HK")
    s["coinjoin"] = a.add("WhirlJoin coordinator", ActorType.MIXER, Category.COINJOIN)
    s["mixer"] = a.add("SwirlMix custodial mixer", ActorType.MIXER, Category.MIXER, "SC")
    controller = _person(
        plan, rng, ActorType.MULE, Category.MONEY_MULE, "mule recruiter", controller=True
    )
    n_mules = int(max(6, round(6 * scale**0.7)))
    mules = [
        _person(
            plan,
            rng,
            ActorType.MULE,
            Category.MONEY_MULE,
            f"money mule {i + 1}",
            customer_of=[OURS],
            recruiter=controller,
        )
        for i in range(n_mules)
    ]
    plan.actors.named[controller - plan.actors.n_users].info["customer_of"] = [OURS]
    s["mule_controller"] = controller
    plan.mules = mules

    schemes: list[SchemePlan] = []
    # --- ransomware campaigns (BTC) ------------------------------------------------------------
    for c in range(int(max(1, round(scale**0.5)))):
        group = a.add(
            f"{fake.color_name()}Lock ransomware", ActorType.RANSOMWARE, Category.RANSOMWARE, "RU"
        )
        affiliate = _person(
            plan,
            rng,
            ActorType.RANSOMWARE,
            Category.RANSOMWARE,
            f"ransomware affiliate {c + 1}",
            customer_of=[OURS],
            fake_identity=True,
        )
        victims: list[dict[str, Any]] = []
        n_victims = int(max(5, round(6 * scale**0.5)))
        begin = rng.uniform(0.15, 0.35)
        for _ in range(n_victims):
            victim = a.add(
                fake.company(), ActorType.VICTIM, Category.INDIVIDUAL, "US", victim_of="ransomware"
            )
            when = t(begin + rng.uniform(0.0, 0.12))
            usd = float(np.round(rng.lognormal(np.log(180_000), 0.6), -3))
            victims.append(
                {
                    "actor": victim,
                    "exchange": int(rng.choice([OURS, 1, 2, 3], p=[0.35, 0.25, 0.2, 0.2])),
                    "usd": usd,
                    "time": when,
                }
            )
        schemes.append(
            SchemePlan(
                id=f"RW-{c + 1}",
                type="ransomware",
                name=a.get(group).name,
                chains=["btc"],
                perpetrators=[group, affiliate],
                victims=[v["actor"] for v in victims],
                start=int(min(v["time"] for v in victims)),
                info={
                    "group": group,
                    "affiliate": affiliate,
                    "payments": victims,
                    "mules": mules[: max(2, len(mules) // 2)],
                },
            )
        )
    # --- DeFi hack (ETH -> BTC) -------------------------------------------------------------------
    protocol = a.add("Lendora Protocol", ActorType.DEFI, Category.DEFI)
    team = a.add("Lendora deployer", ActorType.DEFI, Category.DEFI)
    hacker = a.add(
        "Crimson Kraken group", ActorType.HACKER, Category.SANCTIONED, "KP", sanctioned=True
    )
    t_deploy, t_exploit = t(0.12), t(rng.uniform(0.4, 0.5))
    lps: list[dict[str, Any]] = []
    tvl_usd = 400_000.0 * scale**0.6
    n_lps = int(max(5, round(6 * scale**0.4)))
    weights = rng.dirichlet(np.ones(n_lps))
    for i in range(n_lps):
        lp = _person(
            plan,
            rng,
            ActorType.VICTIM,
            Category.INDIVIDUAL,
            f"Lendora depositor {i + 1}",
            victim_of="defi_hack",
        )
        when = int(rng.uniform(t(0.15), t(0.3)))
        asset = "weth" if i % 3 != 2 else "usdt"
        usd = float(tvl_usd * weights[i])
        units = eth_units(plan, usd, when) if asset == "weth" else int(usd * USDT_PER_DOLLAR)
        lps.append(
            {
                "actor": lp,
                "asset": asset,
                "units": units,
                "time": when,
                "exchange": int(rng.choice([OURS, 1, 2, 3])),
            }
        )
    stolen_weth = sum(x["units"] for x in lps if x["asset"] == "weth")
    stolen_usdt = sum(x["units"] for x in lps if x["asset"] == "usdt")
    t_swap = t_exploit + 2 * HOUR
    swap_out = int(
        np.floor(
            stolen_usdt
            / USDT_PER_DOLLAR
            / plan.prices.at("ETH", t_swap, p.start)
            * UNITS_PER_ETH
            * 0.997
        )
    )
    total_weth = stolen_weth + swap_out
    n_locks = 4
    parts = np.floor(total_weth * rng.dirichlet(np.ones(n_locks) * 4)).astype(np.int64)
    parts[-1] = total_weth - int(parts[:-1].sum())
    hack_id = "HACK-1"
    locks = []
    for i, amount in enumerate(parts):
        lt = t_exploit + 6 * HOUR + i * int(rng.uniform(2, 8) * HOUR)
        rec = BridgeTransfer(
            f"BR-{hack_id}-{i + 1}",
            "eth->btc",
            hacker,
            lt,
            lt + int(rng.uniform(25, 90) * 60),
            int(amount),
            0,
            hack_id,
        )
        rec.release_amount = bridge_quote(plan, rec.direction, rec.lock_amount, rec.lock_time)
        locks.append(rec)
    plan.bridge.extend(locks)
    schemes.append(
        SchemePlan(
            id=hack_id,
            type="defi_hack",
            name="Lendora Protocol exploit",
            chains=["eth", "btc"],
            perpetrators=[hacker],
            victims=[x["actor"] for x in lps],
            start=t_exploit,
            info={
                "protocol": protocol,
                "team": team,
                "hacker": hacker,
                "deploy_time": t_deploy,
                "exploit_time": t_exploit,
                "deposits": lps,
                "stolen_weth": stolen_weth,
                "stolen_usdt": stolen_usdt,
                "swap_time": t_swap,
                "swap_weth_out": swap_out,
                "locks": [r.record for r in locks],
                "mules": mules[len(mules) // 2 :],
            },
        )
    )
    # --- investment scams (ETH, USDT) -----------------------------------------------------------
    for c in range(int(max(1, round(scale**0.4)))):
        org = a.add(
            f"{fake.last_name()} {rng.choice(['Yield', 'Capital', 'Quant'])} (investment scam)",
            ActorType.SCAM,
            Category.SCAM,
            "KH",
        )
        scam_victims: list[dict[str, Any]] = []
        for i in range(int(max(6, round(8 * scale**0.5)))):
            v = _person(
                plan,
                rng,
                ActorType.VICTIM,
                Category.INDIVIDUAL,
                f"scam victim {c + 1}.{i + 1}",
                victim_of="investment_scam",
            )
            first = t(rng.uniform(0.2, 0.45))
            pays: list[dict[str, Any]] = []
            usd = float(rng.uniform(800, 4_000))
            when = first
            gap = min(1.0, p.days / 120)  # weeks apart in long worlds, days in short ones
            for _ in range(int(rng.integers(2, 6))):
                if when > t(0.75):
                    break
                pays.append({"time": when, "usdt": int(round(usd, -1) * USDT_PER_DOLLAR)})
                usd *= rng.uniform(1.3, 2.5)
                when += int(rng.uniform(3, 12) * DAY * gap)
            ex = int(rng.choice([OURS, 1, 2, 3], p=[0.4, 0.2, 0.2, 0.2]))
            scam_victims.append({"actor": v, "exchange": ex, "payments": pays})
        if scam_victims and scam_victims[0]["exchange"] != OURS:
            scam_victims[0]["exchange"] = OURS
        for sv in scam_victims:
            plan.actors.named[sv["actor"] - plan.actors.n_users].info["customer_of"] = [
                sv["exchange"]
            ]
        schemes.append(
            SchemePlan(
                id=f"SCAM-{c + 1}",
                type="investment_scam",
                name=a.get(org).name,
                chains=["eth"],
                perpetrators=[org],
                victims=[sv["actor"] for sv in scam_victims],
                start=int(min(pay["time"] for sv in scam_victims for pay in sv["payments"])),
                info={"org": org, "victims": scam_victims, "mules": mules},
            )
        )
    # --- darknet market (BTC) -------------------------------------------------------------------
    market = a.add("Nightshade Market", ActorType.MARKET, Category.DARKNET_MARKET)
    vendors = [
        _person(
            plan,
            rng,
            ActorType.VENDOR,
            Category.DARKNET_MARKET,
            f"Nightshade vendor {i + 1}",
            customer_of=[OURS] if i == 0 else [],
        )
        for i in range(int(max(4, round(4 * scale**0.5))))
    ]
    orders: list[dict[str, Any]] = []
    buyers = rng.choice(plan.users.n, size=int(max(25, round(25 * scale**0.8))), replace=True)
    for b in buyers:
        orders.append(
            {
                "buyer": int(b),
                "exchange": int(plan.users.home_btc[b]) if plan.users.home_btc[b] < 4 else 1,
                "usd": float(rng.lognormal(np.log(250), 0.7)),
                "time": t(rng.uniform(0.12, 0.7)),
                "vendor": int(rng.integers(len(vendors))),
            }
        )
    orders.sort(key=lambda o: o["time"])
    schemes.append(
        SchemePlan(
            id="DNM-1",
            type="darknet_market",
            name="Nightshade Market",
            chains=["btc"],
            perpetrators=[market, *vendors],
            victims=[],
            start=orders[0]["time"],
            info={"market": market, "vendors": vendors, "orders": orders},
        )
    )
    # --- dormant wallets that wake up (BTC) -------------------------------------------------------
    holders: list[dict[str, Any]] = []
    for i in range(int(max(3, round(3 * scale**0.5)))):
        holder = int(rng.integers(plan.users.n)) if i else hacker
        holders.append(
            {
                "actor": holder,
                "fund_time": t(rng.uniform(0.04, 0.1)),
                "wake_time": t(rng.uniform(0.8, 0.95)),
                "usd": float(rng.lognormal(np.log(60_000), 0.8)),
                "exchange": 1 if i else QUICKSWAP,
                "to_exchange": GARANTIA
                if i == 0
                else int(plan.users.home_btc[holder])
                if holder < plan.users.n
                else 1,
            }
        )
    schemes.append(
        SchemePlan(
            id="DORMANT-1",
            type="dormant_wallets",
            name="Dormant wallets that wake up",
            chains=["btc"],
            perpetrators=[],
            start=int(min(h["fund_time"] for h in holders)),
            info={"holders": holders},
        )
    )
    # --- mixing services: rounds and benign users ---------------------------------------
    rounds = sorted(
        int(x) for x in rng.uniform(t(0.1), t(0.97), int(max(10, round(10 * scale**0.7))))
    )
    schemes.append(
        SchemePlan(
            id="MIX-1",
            type="mixing_services",
            name="WhirlJoin and SwirlMix",
            chains=["btc"],
            perpetrators=[s["coinjoin"], s["mixer"]],
            start=rounds[0],
            info={"rounds": rounds, "benign_orders": int(max(4, round(4 * scale**0.5)))},
        )
    )
    # --- ordinary bridge users ----------------------------------------------------------
    for i in range(int(max(8, round(8 * scale**0.7)))):
        direction = "eth->btc" if i % 2 == 0 else "btc->eth"
        user = int(rng.choice(np.flatnonzero(plan.users.btc_active & plan.users.eth_active)))
        lt = t(rng.uniform(0.25, 0.9))
        usd = float(rng.lognormal(np.log(3_000), 0.9))
        amount = eth_units(plan, usd, lt) if direction == "eth->btc" else sat(plan, usd, lt)
        rec = BridgeTransfer(
            f"BR-{i + 1:05d}", direction, user, lt, lt + int(rng.uniform(15, 60) * 60), amount, 0
        )
        rec.release_amount = bridge_quote(plan, direction, amount, lt)
        plan.bridge.append(rec)
    plan.bridge.sort(key=lambda r: r.lock_time)
    plan.schemes = schemes
    from chainsleuth.world.crime.plans_extra import plan_extra  # noqa: PLC0415 - a cycle
    from chainsleuth.world.crime.roundtrip import plan_round_trips  # noqa: PLC0415

    plan_extra(plan)
    plan_round_trips(plan)
