"""Dormant wallets that wake up (UTXO chain).

A holder buys bitcoin early in the world into an old-style (P2PKH) address and leaves it
untouched for most of the span; late in the world it moves everything to an exchange. One
holder is the hack's group (a stash from an earlier theft, cashed out at the sanctioned
exchange); the others are ordinary long-term holders.
"""

from __future__ import annotations

from typing import Any

from chainsleuth.world.crime import ChainHandle
from chainsleuth.world.crime.cashout import btc_target
from chainsleuth.world.crime.funding import btc_purchase
from chainsleuth.world.crime.plans import SchemePlan, sat
from chainsleuth.world.enums import Link, Role
from chainsleuth.world.plan import P2PKH
from chainsleuth.world.schedule import DAY, Process


def attach(h: ChainHandle, scheme: SchemePlan) -> None:
    sid = scheme.id

    def holder(x: dict[str, Any]) -> Process:
        yield x["fund_time"]
        ctx = h.btc
        wallet = ctx.wallet(x["actor"], P2PKH)
        addr = ctx.address(wallet, Role.DORMANT)
        amount = sat(h.plan, x["usd"], x["fund_time"])
        buy, start = yield from btc_purchase(h, sid, "purchase", x["exchange"], addr, amount)
        yield x["wake_time"]
        target, cash = btc_target(h, x["to_exchange"], x["actor"])
        coin = buy.out_to(addr)
        tx = h.btc.sweep([coin], target)
        cash["amount"] = tx.outs[0].value
        h.rec.hop(
            sid,
            "wake_up",
            Link.SPEND,
            tx,
            [start],
            frm=[addr],
            to=[target],
            amount=tx.outs[0].value,
            asset="BTC",
            cash_out=cash,
        )
        days = (tx.time - buy.time) // DAY
        h.rec.typology(
            "dormant_then_active", [buy, tx], [addr], scheme=sid, note=f"untouched for {days} days"
        )

    for x in scheme.info["holders"]:
        h.spawn(x["fund_time"], holder(x))
