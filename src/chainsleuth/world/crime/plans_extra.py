"""Plans of the content added after the first world format: a casino, a terrorist-financing
campaign, merchants and a custodial mixer on the account chain.

Drawn from their own random substream (``extra``, 3) and their actors appended after every
other actor, so that the plans made before them (``plans.plan_schemes``) stay as they were.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from chainsleuth.world.account_state import USDT_PER_DOLLAR
from chainsleuth.world.crime.plans import GARANTIA, OURS, QUICKSWAP, SchemePlan, _person, sat
from chainsleuth.world.enums import ActorType, Category
from chainsleuth.world.plan import WorldPlan, rng_for
from chainsleuth.world.presets import DAY

#: the casino's own exchange (where its profits go)
CASINO_BANK = 2


def plan_extra(plan: WorldPlan) -> None:
    """Append the added schemes to ``plan.schemes`` (and their actors to ``plan.actors``)."""
    rng = rng_for(plan.params.seed, "extra", 3)
    p = plan.params
    span = p.days * DAY
    t = lambda frac: int(p.start + frac * span)  # noqa: E731 - a local shorthand
    scale = p.scale
    a = plan.actors
    s = plan.services
    users = plan.users
    btc_users = np.flatnonzero(users.btc_active)
    eth_users = np.flatnonzero(users.eth_active)

    # --- an online casino (BTC), and a dealer who launders through it -----------------------
    s["casino"] = a.add("RoyalSpin Casino", ActorType.GAMBLING, Category.GAMBLING, "CW")
    dealer = _person(
        plan,
        rng,
        ActorType.VENDOR,
        Category.DARKNET_MARKET,
        "street dealer (casino laundering)",
        customer_of=[OURS],
    )
    players = []
    for who in rng.choice(btc_users, size=int(max(8, round(8 * scale**0.6))), replace=False):
        players.append(
            {
                "actor": int(who),
                "exchange": int(min(users.home_btc[who], 3)),
                "usd": float(rng.lognormal(np.log(300), 0.9)),
                "time": t(rng.uniform(0.1, 0.85)),
                "wins": bool(rng.random() < 0.35),
            }
        )
    stakes = [float(np.round(rng.uniform(2_000, 4_500), -1)) for _ in range(4)]
    plan.schemes.append(
        SchemePlan(
            id="GAMBLE-1",
            type="gambling_laundering",
            name="RoyalSpin Casino laundering",
            chains=["btc"],
            perpetrators=[dealer],
            start=t(0.3),
            info={
                "casino": s["casino"],
                "dealer": dealer,
                "buy_exchange": QUICKSWAP,
                "stakes_usd": stakes,
                "players": sorted(players, key=lambda x: x["time"]),
                "bankroll_sat": sat(plan, 40_000 * scale**0.3, t(0.05)),
                "open": t(0.05),
            },
        )
    )

    # --- a terrorist-financing donation campaign (BTC and USDT) ---------------------------
    group = a.add(
        "Al-Sahm Brigades (donation campaign)",
        ActorType.TERRORIST,
        Category.TERRORIST_FINANCING,
        "SY",
        sanctioned=True,
    )
    donors: list[dict[str, Any]] = []
    n_donors = int(max(6, round(6 * scale**0.5)))
    for i in range(n_donors):
        chain = "btc" if i % 2 == 0 else "eth"
        pool = btc_users if chain == "btc" else eth_users
        who = int(rng.choice(pool))
        when = t(rng.uniform(0.35, 0.6))
        usd = float(np.round(rng.lognormal(np.log(400), 0.7), -1))
        home = users.home_btc[who] if chain == "btc" else users.home_eth[who]
        donors.append(
            {
                "actor": who,
                "chain": chain,
                "exchange": int(min(home, 3)),
                "usd": usd,
                "time": when,
                "sat": sat(plan, usd, when),
                "usdt": int(usd) * USDT_PER_DOLLAR,
            }
        )
    donors.sort(key=lambda d: d["time"])
    plan.schemes.append(
        SchemePlan(
            id="TF-1",
            type="terrorist_financing",
            name=a.get(group).name,
            chains=["btc", "eth"],
            perpetrators=[group],
            start=donors[0]["time"],
            info={
                "group": group,
                "donors": donors,
                "sanctioned_exchange": GARANTIA,
                "end": t(0.7),
            },
        )
    )

    # --- merchants and the custodial mixer on the account chain ---------------------------
    top = np.argsort(-plan.merchant_weight, kind="stable")[: int(max(3, min(12, 3 * scale**0.3)))]
    sales = int(max(30, round(30 * scale**0.7)))
    buyers = rng.choice(eth_users, size=sales, replace=True)
    plan.extra["eth_services"] = {
        "merchants": [
            {"actor": int(plan.merchants[m]), "exchange": int(plan.merchant_home[m])} for m in top
        ],
        "sales": sorted(
            (
                {
                    "buyer": int(b),
                    "merchant": int(rng.integers(len(top))),
                    "usd": float(rng.lognormal(np.log(80), 0.8)),
                    "time": t(rng.uniform(0.06, 0.97)),
                    "usdt": bool(rng.random() < 0.6),
                }
                for b in buyers
            ),
            key=lambda x: x["time"],
        ),
        "mixer": s["mixer"],
        "mix_orders": sorted(
            (
                {
                    "customer": int(rng.choice(eth_users)),
                    "exchange": 1 + int(rng.integers(3)),
                    "usd": float(rng.lognormal(np.log(2_500), 0.6)),
                    "time": t(rng.uniform(0.2, 0.9)),
                }
                for _ in range(int(max(4, round(4 * scale**0.5))))
            ),
            key=lambda x: x["time"],
        ),
        "mixer_seed_usd": 60_000.0,
        "mixer_open": t(0.1),
    }
