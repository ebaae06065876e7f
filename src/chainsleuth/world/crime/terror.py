"""A terrorist-financing donation campaign (``TF-1``), on both chains.

The group publishes one bitcoin address and one USDT address and asks supporters for
donations. Donors (ordinary people) buy the coins at their exchange and send small
amounts. On ``btc`` the group consolidates the donations (fan-in) and sells most of them to
the OTC desk (a hawala-like cash-out), the rest at the sanctioned exchange; on ``eth`` it
sends the USDT through the custodial mixer (SwirlMix) and sells the payout to the OTC desk.
Both donation addresses are on the generated sanctions list (programme ``SDGT``), as such
addresses are once a government seizes them.
"""

from __future__ import annotations

from typing import Any

from chainsleuth.world.account_state import UNITS_PER_ETH
from chainsleuth.world.crime import ChainHandle
from chainsleuth.world.crime.cashout import btc_target
from chainsleuth.world.crime.funding import btc_buy, eth_buy, eth_gas, top_up
from chainsleuth.world.crime.plans import QUICKSWAP, SchemePlan
from chainsleuth.world.crime.scam import eth_cash_out
from chainsleuth.world.enums import Link, Role
from chainsleuth.world.plan import P2PKH, P2WPKH
from chainsleuth.world.schedule import DAY, HOUR, Process, Unaffordable

GAS = UNITS_PER_ETH // 200  # 0.005 ETH


def attach(h: ChainHandle, scheme: SchemePlan) -> None:
    if h.chain == "btc":
        _attach_btc(h, scheme)
    else:
        _attach_eth(h, scheme)


def _attach_btc(h: ChainHandle, scheme: SchemePlan) -> None:
    info, sid, group = scheme.info, scheme.id, scheme.info["group"]
    donors = [d for d in info["donors"] if d["chain"] == "btc"]
    st: dict[str, Any] = {"addr": -1, "wallet": -1, "coins": []}

    def publish() -> Process:
        yield scheme.start - DAY
        ctx = h.btc
        st["wallet"] = ctx.wallet(group, P2PKH)
        st["addr"] = ctx.address(st["wallet"], Role.COLLECTION)

    def donor(d: dict[str, Any]) -> Process:
        yield d["time"] - 12 * HOUR
        while st["addr"] < 0:
            yield h.now + HOUR
        ctx = h.btc
        me = ctx.address(ctx.wallet(d["actor"], P2WPKH), Role.RECEIVE)
        buy = yield from btc_buy(h, d["exchange"], me, d["sat"])
        start = h.rec.hop(
            sid,
            "donor_purchase",
            Link.START,
            buy,
            [],
            frm=[buy.inputs[0].addr],
            to=[me],
            amount=d["sat"],
            asset="BTC",
        )
        yield max(d["time"], h.now + HOUR)
        tx = h.btc.sweep([buy.out_to(me)], st["addr"])
        hop = h.rec.hop(
            sid,
            "donation",
            Link.SPEND,
            tx,
            [start],
            frm=[me],
            to=[st["addr"]],
            amount=tx.outs[0].value,
            asset="BTC",
        )
        st["coins"].append((tx.outs[0], hop, tx))

    def collect() -> Process:
        yield info["end"]
        while len(st["coins"]) < len(donors):
            yield h.now + 6 * HOUR
        ctx = h.btc
        coins = list(st["coins"])
        hub = ctx.address(st["wallet"], Role.CONSOLIDATION)
        tx = ctx.sweep([c for c, _, _ in coins], hub)
        hop = h.rec.hop(
            sid,
            "consolidation",
            Link.SPEND,
            tx,
            [x for _, x, _ in coins],
            frm=[st["addr"]],
            to=[hub],
            amount=tx.outs[0].value,
            asset="BTC",
        )
        h.rec.typology(
            "fan_in",
            [t for _, _, t in coins] + [tx],
            [st["addr"], hub],
            scheme=sid,
            note="donations consolidated",
        )
        yield h.later(12, 48)
        total = tx.outs[0].value
        otc, cash = btc_target(h, None, group)
        ctx = h.btc
        rest_addr = ctx.address(st["wallet"], Role.CHANGE)
        sale = ctx.send([tx.outs[0]], [(otc, total * 7 // 10)], rest_addr)
        cash["amount"] = total * 7 // 10
        sold = h.rec.hop(
            sid,
            "cash_out",
            Link.SPEND,
            sale,
            [hop],
            frm=[hub],
            to=[otc],
            amount=total * 7 // 10,
            asset="BTC",
            cash_out=cash,
        )
        yield h.later(24, 72)
        bank, cash = btc_target(h, info["sanctioned_exchange"], group)
        rest = h.btc.sweep([sale.out_to(rest_addr)], bank)
        cash["amount"] = rest.outs[0].value
        h.rec.hop(
            sid,
            "cash_out",
            Link.SPEND,
            rest,
            [sold],
            frm=[rest_addr],
            to=[bank],
            amount=rest.outs[0].value,
            asset="BTC",
            cash_out=cash,
        )

    h.spawn(scheme.start - DAY, publish())
    for d in donors:
        h.spawn(d["time"] - 12 * HOUR, donor(d))
    h.spawn(info["end"], collect())


def _attach_eth(h: ChainHandle, scheme: SchemePlan) -> None:
    info, sid, group = scheme.info, scheme.id, scheme.info["group"]
    donors = [d for d in info["donors"] if d["chain"] == "eth"]
    st: dict[str, Any] = {"addr": -1, "gas": -1, "hops": []}

    def publish() -> Process:
        yield scheme.start - DAY
        eng = h.eng
        wallet = eng.scripted_wallet(group)
        st["wallet"] = wallet
        st["addr"] = eng.new_account(wallet, Role.COLLECTION, eng.ctx.chunk.first)
        st["gas"] = eng.new_account(wallet, Role.GAS, eng.ctx.chunk.first)
        yield from eth_buy(h, QUICKSWAP, st["gas"], "eth", UNITS_PER_ETH)

    def donor(d: dict[str, Any]) -> Process:
        yield d["time"] - 12 * HOUR
        while st["addr"] < 0:
            yield h.now + HOUR
        eng = h.eng
        me = eng.new_account(eng.scripted_wallet(d["actor"]), Role.RECEIVE, eng.ctx.chunk.first)
        buy = yield from eth_buy(h, d["exchange"], me, "usdt", d["usdt"])
        start = h.rec.hop(
            sid,
            "donor_purchase",
            Link.START,
            buy,
            [],
            frm=[buy.sender],
            to=[me],
            amount=d["usdt"],
            asset="USDT",
        )
        yield from eth_gas(h, me, d["exchange"], GAS)
        yield max(d["time"], h.now + HOUR)
        while True:
            try:
                tx = h.eth.transfer(me, "usdt", st["addr"], d["usdt"])
                break
            except Unaffordable:
                yield from eth_gas(h, me, d["exchange"], GAS * 2)
                yield h.now + HOUR
        st["hops"].append(
            h.rec.hop(
                sid,
                "donation",
                Link.ACCOUNT,
                tx,
                [start],
                frm=[me],
                to=[st["addr"]],
                amount=d["usdt"],
                asset="USDT",
            )
        )

    def launder() -> Process:
        yield info["end"]
        while len(st["hops"]) < len(donors) or "eth_mixer" not in h.services:
            yield h.now + 6 * HOUR
        mixer = h.services["eth_mixer"]
        eng = h.eng
        payout_to = eng.new_account(st["wallet"], Role.MIX_OUT, eng.ctx.chunk.first)
        yield from top_up(h, st["gas"], st["addr"], 65_000, QUICKSWAP)
        amount = h.eth.spendable(st["addr"], "usdt")
        order = mixer.order(group, payout_to, sid)
        while True:
            try:
                tx = h.eth.transfer(st["addr"], "usdt", order.deposit, amount)
                break
            except Unaffordable:
                yield from top_up(h, st["gas"], st["addr"], 65_000, QUICKSWAP)
                yield h.now + HOUR
        order.deposit_hop = h.rec.hop(
            sid,
            "mix_in",
            Link.ACCOUNT,
            tx,
            list(st["hops"]),
            frm=[st["addr"]],
            to=[order.deposit],
            amount=amount,
            asset="USDT",
        )
        order.deposit_tx = tx.hash
        order.amount = amount
        while not order.hop:
            yield h.now + 6 * HOUR
        yield h.later(12, 48)
        otc_wallet = h.services.get("otc_wallet_eth")
        if otc_wallet is None:
            otc_wallet = h.eng.scripted_wallet(h.plan.services["otc"])
            h.services["otc_wallet_eth"] = otc_wallet
        otc = h.eng.new_account(otc_wallet, Role.DEPOSIT, h.eth.chunk.first)
        got = order.payout_amount
        while True:
            yield from top_up(h, st["gas"], payout_to, 65_000, QUICKSWAP)
            try:
                sale = h.eth.transfer(payout_to, "usdt", otc, got)
                break
            except Unaffordable:
                yield h.now + HOUR
        h.rec.hop(
            sid,
            "cash_out",
            Link.ACCOUNT,
            sale,
            [order.hop],
            frm=[payout_to],
            to=[otc],
            amount=got,
            asset="USDT",
            cash_out=eth_cash_out(h, "otc", h.plan.services["otc"], None, otc, got),
        )

    h.spawn(scheme.start - DAY, publish())
    for d in donors:
        h.spawn(d["time"] - 12 * HOUR, donor(d))
    h.spawn(info["end"], launder())
