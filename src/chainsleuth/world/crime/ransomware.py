"""Ransomware (UTXO chain): victims pay, the group consolidates, splits, peels, mixes, cashes out.

1. Each victim buys bitcoin at an exchange (a withdrawal to its own new address: START) and
   pays its own ransom address (``ransom_payment``).
2. The group consolidates the ransoms (fan-in, in batches) and splits each consolidated
   coin: 80% to the affiliate, 20% to the group (RaaS).
3. The affiliate peels: each hop pays a small amount to a cash-out point (mules' deposit
   addresses at Exchange A, some just under the reporting threshold; the affiliate's own
   account at Exchange A under a false identity; the no-KYC exchange; the sanctioned
   exchange; an OTC desk) and the rest to a fresh address; the last remainder is deposited.
4. The group sends its share through the custodial mixer, puts one payout through a
   CoinJoin round, and cashes out at the sanctioned exchange and the OTC desk.
"""

from __future__ import annotations

from typing import Any

from chainsleuth.world.crime import ChainHandle
from chainsleuth.world.crime.cashout import THRESHOLD_USD, btc_target, record_structuring
from chainsleuth.world.crime.funding import btc_purchase
from chainsleuth.world.crime.mixers import coinjoin, custodial_mix
from chainsleuth.world.crime.plans import GARANTIA, OURS, QUICKSWAP, SchemePlan, sat
from chainsleuth.world.enums import Link, Role
from chainsleuth.world.plan import P2PKH, P2WPKH
from chainsleuth.world.schedule import DAY, HOUR, Process
from chainsleuth.world.utxo_script import Coin, UtxoTxRef


def attach(h: ChainHandle, scheme: SchemePlan) -> None:
    info = scheme.info
    sid = scheme.id
    state: dict[str, Any] = {"payments": [], "group": -1, "affiliate": -1}

    def wallets() -> None:
        if state["group"] < 0:
            state["group"] = h.btc.wallet(info["group"], P2WPKH)
            state["affiliate"] = h.btc.wallet(info["affiliate"], P2WPKH)

    def victim(v: dict[str, Any]) -> Process:
        yield v["time"] - 6 * HOUR
        ctx = h.btc
        wallets()
        vw = ctx.wallet(v["actor"], P2WPKH)
        addr = ctx.address(vw, Role.RECEIVE)
        amount = sat(h.plan, v["usd"], v["time"])
        buy, start = yield from btc_purchase(
            h, sid, "victim_purchase", v["exchange"], addr, amount + 40_000
        )
        yield v["time"]
        ctx = h.btc
        ransom = ctx.address(state["group"], Role.RANSOM)
        pay = ctx.send([buy.out_to(addr)], [(ransom, amount)], ctx.address(vw, Role.CHANGE))
        hop = h.rec.hop(
            sid,
            "ransom_payment",
            Link.SPEND,
            pay,
            [start],
            frm=[addr],
            to=[ransom],
            amount=amount,
            asset="BTC",
        )
        state["payments"].append((pay.out_to(ransom), hop))
        h.rec.events.append(
            {
                "scheme": sid,
                "kind": "victim_payment",
                "actor": v["actor"],
                "tx_hash": pay.hash,
                "time": pay.time,
            }
        )

    def launder() -> Process:
        last = max(v["time"] for v in info["payments"])
        yield last + int(2 * DAY * h.pace)
        while len(state["payments"]) < len(info["payments"]):
            yield h.now + 6 * HOUR
        ctx = h.btc
        payments = sorted(state["payments"], key=lambda p: p[0].key)
        consolidated: list[tuple[Coin, str]] = []
        cons_txs: list[UtxoTxRef] = []
        for i in range(0, len(payments), 8):
            batch = payments[i : i + 8]
            addr = ctx.address(state["group"], Role.CONSOLIDATION)
            tx = ctx.sweep([c for c, _ in batch], addr, mult=0.7)
            hop = h.rec.hop(
                sid,
                "consolidation",
                Link.SPEND,
                tx,
                [p for _, p in batch],
                frm=[c.addr for c, _ in batch],
                to=[addr],
                amount=tx.outs[0].value,
                asset="BTC",
            )
            consolidated.append((tx.outs[0], hop))
            cons_txs.append(tx)
        h.rec.typology(
            "fan_in",
            cons_txs,
            [a for t in cons_txs for a in (*[c.addr for c in t.inputs], t.outs[0].addr)],
            scheme=sid,
            note="ransom payments consolidated",
        )
        yield h.later(12, 36)
        ctx = h.btc
        operator_coins: list[tuple[Coin, str]] = []
        for coin, parent in consolidated:
            aff = ctx.address(state["affiliate"], Role.SPLIT)
            op = ctx.address(state["group"], Role.SPLIT)
            tx = ctx.send([coin], [(aff, int(coin.value * 0.8))], op)
            hop = h.rec.hop(
                sid,
                "split",
                Link.SPEND,
                tx,
                [parent],
                frm=[coin.addr],
                to=[aff, op],
                amount=coin.value,
                asset="BTC",
            )
            h.spawn(h.later(2, 12), peel_chain(tx.out_to(aff), hop))
            operator_coins.append((tx.out_to(op), hop))
        h.spawn(h.later(24, 72), operator(operator_coins))

    def peel_chain(coin: Coin, parent: str) -> Process:
        yield h.now
        mules: list[int] = info["mules"]
        targets: list[tuple[int | None, int, bool]] = [
            (OURS, mules[i % len(mules)], True) for i in range(len(mules))
        ]  # (exchange, customer, structured)
        targets += [
            (OURS, info["affiliate"], False),
            (QUICKSWAP, info["affiliate"], False),
            (GARANTIA, info["affiliate"], False),
            (None, info["affiliate"], False),
        ]
        h.rng.shuffle(targets)
        peels: list[UtxoTxRef] = []
        structured: list[UtxoTxRef] = []
        step = 0
        price_floor = sat(h.plan, 2_000.0, h.now)
        while coin.value > 6 * price_floor and step < 24:
            yield h.later(1, 9)
            ctx = h.btc
            exchange, customer, structure = targets[step % len(targets)]
            target, cash = btc_target(h, exchange, customer)
            if structure:
                amount = sat(h.plan, float(h.rng.uniform(0.92, 0.995)) * THRESHOLD_USD, ctx.now)
            else:
                amount = int(coin.value * h.rng.uniform(0.06, 0.2))
            amount = min(amount, coin.value // 3)
            nxt = ctx.address(state["affiliate"], Role.PEEL, script=P2WPKH if step % 5 else P2PKH)
            tx = ctx.send([coin], [(target, amount)], nxt)
            cash["amount"] = amount
            parent = h.rec.hop(
                sid,
                "peel",
                Link.SPEND,
                tx,
                [parent],
                frm=[coin.addr],
                to=[target, nxt],
                amount=amount,
                asset="BTC",
                cash_out=cash,
            )
            peels.append(tx)
            if structure:
                structured.append(tx)
                h.rec.typology(
                    "money_mule",
                    [tx],
                    [target],
                    scheme=sid,
                    note=f"deposit to the account of mule actor {customer} at Exchange A",
                )
            coin = tx.out_to(nxt)
            step += 1
        yield h.later(2, 12)
        target, cash = btc_target(h, QUICKSWAP, info["affiliate"])
        tx = h.btc.sweep([coin], target)
        cash["amount"] = tx.outs[0].value
        h.rec.hop(
            sid,
            "cash_out",
            Link.SPEND,
            tx,
            [parent],
            frm=[coin.addr],
            to=[target],
            amount=tx.outs[0].value,
            asset="BTC",
            cash_out=cash,
        )
        peels.append(tx)
        h.rec.typology(
            "peel_chain",
            peels,
            [c.addr for t in peels for c in (*t.inputs, *t.outs)],
            scheme=sid,
            note=f"{len(peels)} hops",
        )
        if structured:
            record_structuring(h, sid, structured)

    def operator(coins: list[tuple[Coin, str]]) -> Process:
        yield h.now
        outs, mix_hop = yield from custodial_mix(
            h, [c for c, _ in coins], info["group"], state["group"], 3, sid, [p for _, p in coins]
        )
        first, rest = outs[0], outs[1:]
        joined, cj_hop = yield from coinjoin(h, first, state["group"], sid, mix_hop)
        yield h.later(6, 30)
        target, cash = btc_target(h, GARANTIA, info["group"])
        tx = h.btc.sweep(joined, target)
        cash["amount"] = tx.outs[0].value
        h.rec.hop(
            sid,
            "cash_out",
            Link.SPEND,
            tx,
            [cj_hop],
            frm=[c.addr for c in joined],
            to=[target],
            amount=tx.outs[0].value,
            asset="BTC",
            cash_out=cash,
        )
        for coin in rest:
            yield h.later(3, 24)
            target, cash = btc_target(h, None, info["group"])
            tx = h.btc.sweep([coin], target)
            cash["amount"] = tx.outs[0].value
            h.rec.hop(
                sid,
                "cash_out",
                Link.SPEND,
                tx,
                [mix_hop],
                frm=[coin.addr],
                to=[target],
                amount=tx.outs[0].value,
                asset="BTC",
                cash_out=cash,
            )

    for v in info["payments"]:
        h.spawn(v["time"] - 6 * HOUR, victim(v))
    h.spawn(max(v["time"] for v in info["payments"]) + int(2 * DAY * h.pace), launder())
