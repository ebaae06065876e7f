"""A darknet market on the UTXO chain: buyers pay, the market holds escrow, vendors cash out.

Buyers (ordinary users) withdraw bitcoin from their exchange to their own wallet and pay a
deposit address the market gave them. Every day or two the market sweeps the deposits into
its escrow address (fan-in) and pays its vendors in one batched transaction (fan-out),
keeping a 5% commission. Vendors cash out: one at Exchange A under his own name, others at
the no-KYC exchange, the OTC desk, or through the custodial mixer to the sanctioned
exchange. At the end the market takes its commission to the sanctioned exchange.
"""

from __future__ import annotations

from typing import Any

from chainsleuth.world.crime import ChainHandle
from chainsleuth.world.crime.cashout import btc_target
from chainsleuth.world.crime.funding import btc_purchase
from chainsleuth.world.crime.mixers import custodial_mix
from chainsleuth.world.crime.plans import GARANTIA, OURS, QUICKSWAP, SchemePlan, sat
from chainsleuth.world.enums import Link, Role
from chainsleuth.world.plan import P2WPKH
from chainsleuth.world.schedule import DAY, HOUR, Process, Unaffordable
from chainsleuth.world.utxo_script import Coin

COMMISSION = 0.05


def attach(h: ChainHandle, scheme: SchemePlan) -> None:
    info, sid = scheme.info, scheme.id
    vendors: list[int] = info["vendors"]
    state: dict[str, Any] = {
        "wallet": -1,
        "deposits": [],
        "escrow": [],
        "credit": {},
        "vendor_wallets": {},
        "done": 0,
    }
    last = max(o["time"] for o in info["orders"])

    def setup() -> Process:
        yield scheme.start - DAY
        ctx = h.btc
        state["wallet"] = ctx.wallet(info["market"], P2WPKH)
        for i, v in enumerate(vendors):
            state["vendor_wallets"][i] = ctx.wallet(v, P2WPKH)
            state["credit"][i] = 0

    def order(o: dict[str, Any]) -> Process:
        yield o["time"] - 12 * HOUR
        while state["wallet"] < 0:
            yield h.now + HOUR
        ctx = h.btc
        buyer = ctx.wallet(o["buyer"], P2WPKH)
        addr = ctx.address(buyer, Role.RECEIVE)
        amount = sat(h.plan, o["usd"], o["time"])
        buy, start = yield from btc_purchase(
            h, sid, "buyer_purchase", o["exchange"], addr, amount + 30_000
        )
        yield o["time"]
        ctx = h.btc
        deposit = ctx.address(state["wallet"], Role.DEPOSIT, aux=o["buyer"])
        tx = ctx.send([buy.out_to(addr)], [(deposit, amount)], ctx.address(buyer, Role.CHANGE))
        hop = h.rec.hop(
            sid,
            "market_payment",
            Link.SPEND,
            tx,
            [start],
            frm=[addr],
            to=[deposit],
            amount=amount,
            asset="BTC",
        )
        state["deposits"].append((tx.out_to(deposit), hop, o["vendor"]))
        state["done"] += 1

    def operations() -> Process:
        yield scheme.start + DAY
        while True:
            ctx = h.btc
            if state["deposits"]:
                batch = state["deposits"][:50]
                escrow = ctx.address(state["wallet"], Role.ESCROW)
                try:
                    tx = ctx.sweep([c for c, _, _ in batch], escrow, mult=0.6)
                except Unaffordable:
                    tx = None
                if tx is not None:
                    state["deposits"] = state["deposits"][50:]
                    hop = h.rec.hop(
                        sid,
                        "consolidation",
                        Link.SPEND,
                        tx,
                        [p for _, p, _ in batch],
                        frm=[c.addr for c, _, _ in batch],
                        to=[escrow],
                        amount=tx.outs[0].value,
                        asset="BTC",
                    )
                    state["escrow"].append((tx.outs[0], hop))
                    for c, _, vendor in batch:
                        state["credit"][vendor] += int(c.value * (1 - COMMISSION))
                    h.rec.typology(
                        "fan_in",
                        [tx],
                        [*[c.addr for c, _, _ in batch], escrow],
                        scheme=sid,
                        note="market deposits swept to escrow",
                    )
            yield h.later(6, 18)
            payout()
            if (
                state["done"] == len(info["orders"])
                and not state["deposits"]
                and h.now > last + int(5 * DAY * h.pace)
            ):
                break
            yield h.later(24, 48)
        yield h.later(48, 96)
        coins = [c for c, _ in state["escrow"]]
        if coins:
            target, cash = btc_target(h, GARANTIA, info["market"])
            tx = h.btc.sweep(coins, target)
            cash["amount"] = tx.outs[0].value
            h.rec.hop(
                sid,
                "cash_out",
                Link.SPEND,
                tx,
                [p for _, p in state["escrow"]],
                frm=[c.addr for c in coins],
                to=[target],
                amount=tx.outs[0].value,
                asset="BTC",
                cash_out=cash,
            )
            state["escrow"] = []

    def payout() -> None:
        ctx = h.btc
        due = {v: c for v, c in state["credit"].items() if c > 200_000}
        if not due or not state["escrow"]:
            return
        escrow = sorted(state["escrow"], key=lambda e: e[0].value)
        picked: list[tuple[Coin, str]] = []
        need = sum(due.values()) + 50_000
        while escrow and sum(c.value for c, _ in picked) < need:
            picked.append(escrow.pop())
        have = sum(c.value for c, _ in picked) - 50_000
        pays, owners = [], []
        for v, credit in due.items():
            amount = min(credit, have)
            if amount < 100_000:
                continue
            have -= amount
            addr = ctx.address(state["vendor_wallets"][v], Role.PAYOUT)
            pays.append((addr, amount))
            owners.append(v)
        if not pays:
            return
        change = ctx.address(state["wallet"], Role.ESCROW)
        try:
            tx = ctx.send([c for c, _ in picked], pays, change)
        except Unaffordable:
            return
        hop = h.rec.hop(
            sid,
            "vendor_payout",
            Link.SPEND,
            tx,
            [p for _, p in picked],
            frm=[c.addr for c, _ in picked],
            to=[a for a, _ in pays],
            amount=sum(v for _, v in pays),
            asset="BTC",
        )
        state["escrow"] = escrow + [(c, hop) for c in tx.outs if c.addr == change]
        h.rec.typology(
            "fan_out", [tx], [a for a, _ in pays], scheme=sid, note="batched vendor payout"
        )
        for v, (addr, amount) in zip(owners, pays, strict=True):
            state["credit"][v] -= amount
            h.spawn(h.later(6, 72), vendor_cash_out(v, tx.out_to(addr), hop))

    def vendor_cash_out(v: int, coin: Coin, parent: str) -> Process:
        yield h.now
        actor = vendors[v]
        route = v % 4
        if route == 2:
            coins, parent = yield from custodial_mix(
                h, [coin], actor, state["vendor_wallets"][v], 2, sid, [parent]
            )
            exchange: int | None = GARANTIA
        else:
            coins = [coin]
            exchange = [OURS, QUICKSWAP, None, None][route]
        for c in coins:
            target, cash = btc_target(h, exchange, actor)
            tx = h.btc.sweep([c], target)
            cash["amount"] = tx.outs[0].value
            h.rec.hop(
                sid,
                "cash_out",
                Link.SPEND,
                tx,
                [parent],
                frm=[c.addr],
                to=[target],
                amount=tx.outs[0].value,
                asset="BTC",
                cash_out=cash,
            )
            yield h.later(1, 12)

    h.spawn(scheme.start - DAY, setup())
    for o in info["orders"]:
        h.spawn(o["time"] - 12 * HOUR, order(o))
    h.spawn(scheme.start + DAY, operations())
