"""Round-trip cycles (both chains): funds that leave an actor and come back to it.

A sanctioned businessman (his receiving address is on the generated sanctions list, like
every sanctioned actor's; he buys his coins at the sanctioned exchange, Garantia) sends his
funds through two to four nominees' addresses (money mules, one fresh address each, every
one a different actor, none of them public) and gets them back, less the fees, within
hours: a cycle that makes the money look like revenue from business partners. He runs
one to three cycles in a row, then cashes the rest out at Garantia. Each cycle is a ``round_trip``
typology instance of the ground truth (its transactions in order, the launderer's address
and the nominees'); the transfers carry no scheme (``scheme`` is null): they belong to no
planned crime scheme.

Planned from its own random substream (``extra``, 5; the processes from ``extra``, 6) with
its actors appended after every other, so that the plans and actors made before stay as
they were.
"""

from __future__ import annotations

from typing import Any

from chainsleuth.world.account_script import AccountTxRef
from chainsleuth.world.crime import ChainHandle, Step
from chainsleuth.world.crime.cashout import btc_target
from chainsleuth.world.crime.funding import btc_buy, eth_buy
from chainsleuth.world.crime.plans import GARANTIA, _person, eth_units, sat
from chainsleuth.world.crime.scam import eth_deposit_account
from chainsleuth.world.enums import ActorType, Category, Role
from chainsleuth.world.plan import P2PKH, P2WPKH, WorldPlan, rng_for
from chainsleuth.world.presets import DAY
from chainsleuth.world.schedule import HOUR, Process, Unaffordable

#: ``plan.extra`` key of the launderers' plans
KEY = "round_trips"
#: the intermediate addresses of one cycle
MIN_NOMINEES, MAX_NOMINEES = 2, 4


def plan_round_trips(plan: WorldPlan) -> None:
    """Append the launderers and their nominees (``plan.extra["round_trips"]``)."""
    rng = rng_for(plan.params.seed, "extra", 5)
    p = plan.params
    span = p.days * DAY
    n = int(max(4, round(4 * p.scale**0.5)))
    out: list[dict[str, Any]] = []
    for i in range(n):
        chain = "btc" if i % 2 == 0 else "eth"
        actor = _person(
            plan, rng, ActorType.SANCTIONED, Category.SANCTIONED, "sanctioned businessman"
        )
        cycles = []
        for _ in range(int(rng.integers(1, 4))):
            k = int(rng.integers(MIN_NOMINEES, MAX_NOMINEES + 1))
            nominees = [
                _person(plan, rng, ActorType.MULE, Category.MONEY_MULE, "round-trip nominee")
                for _ in range(k)
            ]
            # hours between the transfers of a cycle (k + 1 transfers: within a day and a half)
            gaps = [float(g) for g in rng.uniform(0.5, 6.0, k)]
            cycles.append(
                {"nominees": nominees, "gaps_h": gaps, "rest_h": float(rng.uniform(8, 72))}
            )
        out.append(
            {
                "actor": actor,
                "chain": chain,
                "usd": float(round(rng.lognormal(9.2, 0.5), -1)),  # ~10,000 USD
                "time": int(p.start + rng.uniform(0.1, 0.75) * span),
                "cycles": cycles,
            }
        )
    out.sort(key=lambda x: x["time"])
    plan.extra[KEY] = out


def attach(h: ChainHandle, launderers: list[dict[str, Any]]) -> None:
    for x in launderers:
        if x["chain"] == h.chain:
            h.spawn(x["time"], _btc(h, x) if h.chain == "btc" else _eth(h, x))


def _hours(h: ChainHandle, value: float) -> int:
    """``value`` hours, scaled like the schemes' waits (short worlds run faster)."""
    return max(600, int(value * HOUR * h.pace))


def _btc(h: ChainHandle, x: dict[str, Any]) -> Process:
    yield x["time"]
    ctx = h.btc
    home = ctx.address(ctx.wallet(x["actor"], P2PKH), Role.RECEIVE)  # reused: P2PKH
    buy = yield from btc_buy(h, GARANTIA, home, sat(h.plan, x["usd"], x["time"]))
    coin = buy.out_to(home)
    yield h.now + _hours(h, 2.0)
    for cycle in x["cycles"]:
        txs = []
        path = [
            h.btc.address(h.btc.wallet(m, P2WPKH), Role.PASS_THROUGH) for m in cycle["nominees"]
        ]
        for to, gap in zip([*path, home], cycle["gaps_h"] + [0.0], strict=True):
            tx = h.btc.sweep([coin], to)
            txs.append(tx)
            coin = tx.out_to(to)
            if to != home:
                yield h.now + _hours(h, gap)
        h.rec.typology(
            "round_trip",
            txs,
            [home, *path],
            note=f"out and back through {len(path)} nominees",
        )
        yield h.now + _hours(h, cycle["rest_h"])
    bank, _ = btc_target(h, GARANTIA, x["actor"])
    h.btc.sweep([coin], bank)


def _eth(h: ChainHandle, x: dict[str, Any]) -> Process:
    yield x["time"]
    eng = h.eng
    home = eng.new_account(eng.scripted_wallet(x["actor"]), Role.RECEIVE, eng.ctx.chunk.first)
    yield from eth_buy(h, GARANTIA, home, "eth", eth_units(h.plan, x["usd"], x["time"]))
    yield h.now + _hours(h, 2.0)
    for cycle in x["cycles"]:
        txs = []
        eng = h.eng
        path = [
            eng.new_account(eng.scripted_wallet(m), Role.PASS_THROUGH, eng.ctx.chunk.first)
            for m in cycle["nominees"]
        ]
        sender = home
        for to, gap in zip([*path, home], cycle["gaps_h"] + [0.0], strict=True):
            tx = yield from _forward(h, sender, to)
            txs.append(tx)
            sender = to
            if to != home:
                yield h.now + _hours(h, gap)
        h.rec.typology(
            "round_trip",
            txs,
            [home, *path],
            note=f"out and back through {len(path)} nominees",
        )
        yield h.now + _hours(h, cycle["rest_h"])
    yield from _forward(h, home, eth_deposit_account(h, GARANTIA, x["actor"]))


def _forward(h: ChainHandle, sender: int, to: int) -> Step[AccountTxRef]:
    """Everything ``sender`` holds, less the fee (with room for a dearer block), to ``to``."""
    while True:
        ctx = h.eth
        amount = ctx.spendable(sender, "eth") - 2 * ctx.fee_for(21_000)
        if amount > 0:
            try:
                return ctx.pay(sender, to, amount)
            except Unaffordable:
                pass
        yield h.now + HOUR
