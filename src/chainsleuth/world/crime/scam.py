"""An investment scam on the account chain: victims' USDT collected, consolidated, cashed out.

Each victim buys USDT at an exchange and "invests" it in several growing payments to a
personal deposit address the scam gave them. The scam tops these addresses up with gas
and consolidates them (fan-in). To cash out it pays money mules' own accounts, which pass
the money on within minutes to their accounts at Exchange A, each deposit just under the
reporting threshold (pass-through, structuring); the rest goes to the OTC desk and the
sanctioned exchange.
"""

from __future__ import annotations

from typing import Any

from chainsleuth.world.account_state import UNITS_PER_ETH, USDT_PER_DOLLAR
from chainsleuth.world.crime import ChainHandle
from chainsleuth.world.crime.cashout import THRESHOLD_USD
from chainsleuth.world.crime.funding import eth_buy, eth_gas, top_up
from chainsleuth.world.crime.plans import GARANTIA, OURS, QUICKSWAP, SchemePlan
from chainsleuth.world.enums import Link, Role
from chainsleuth.world.schedule import DAY, HOUR, Process, Unaffordable

GAS = UNITS_PER_ETH // 200  # 0.005 ETH


def eth_deposit_account(h: ChainHandle, exchange: int, customer: int) -> int:
    """The customer's deposit address at ``exchange`` on the account chain (reused)."""
    cache: dict[tuple[int, int], int] = h.services.setdefault("deposit_eth", {})
    key = (exchange, customer)
    if key not in cache:
        eng = h.eng
        acct = int(
            eng.accounts.new(
                int(eng.deposit_wallet[exchange]), Role.DEPOSIT, customer, eng.ctx.chunk.first, 1
            )[0]
        )
        eng.deposit_list.extend([acct])
        cache[key] = acct
    return cache[key]


def eth_cash_out(
    h: ChainHandle, kind: str, actor: int, customer: int | None, account: int, amount: int
) -> dict[str, Any]:
    info: dict[str, Any] = {"kind": kind, "actor": actor, "address_id": account, "amount": amount}
    if kind == "exchange":
        info["exchange"] = h.plan.actors.get(actor).name
        info["customer_actor"] = customer
        info["ours"] = actor == h.plan.exchanges[OURS].actor
    else:
        info["name"] = h.plan.actors.get(actor).name
    return info


def attach(h: ChainHandle, scheme: SchemePlan) -> None:
    info, sid = scheme.info, scheme.id
    org = info["org"]
    state: dict[str, Any] = {
        "collect": {},
        "paid": {},
        "gas": -1,
        "hub": -1,
        "hub_hops": [],
        "total": 0,
    }
    victims = info["victims"]
    last = max(p["time"] for v in victims for p in v["payments"])

    def scam_accounts() -> Process:
        yield scheme.start - 2 * DAY
        eng = h.eng
        wallet = eng.scripted_wallet(org)
        state["wallet"] = wallet
        state["gas"] = eng.new_account(wallet, Role.GAS, eng.ctx.chunk.first)
        state["hub"] = eng.new_account(wallet, Role.CONSOLIDATION, eng.ctx.chunk.first)
        ref = yield from eth_buy(h, QUICKSWAP, state["gas"], "eth", 3 * UNITS_PER_ETH)
        h.rec.typology(
            "scam_gas_funding",
            [ref],
            [state["gas"]],
            scheme=sid,
            note="gas money for collection addresses",
        )

    def victim(v: dict[str, Any]) -> Process:
        first = v["payments"][0]["time"]
        yield first - DAY
        while state["gas"] < 0:
            yield h.now + HOUR
        eng = h.eng
        me = eng.new_account(eng.scripted_wallet(v["actor"]), Role.RECEIVE, eng.ctx.chunk.first)
        collect = eng.new_account(
            state["wallet"], Role.COLLECTION, eng.ctx.chunk.first, aux=v["actor"]
        )
        state["collect"][v["actor"]] = collect
        state["paid"][v["actor"]] = []
        yield from eth_gas(h, me, v["exchange"], GAS * 2)
        for p in v["payments"]:
            yield p["time"] - 12 * HOUR
            buy = yield from eth_buy(h, v["exchange"], me, "usdt", p["usdt"])
            start = h.rec.hop(
                sid,
                "victim_purchase",
                Link.START,
                buy,
                [],
                frm=[buy.sender],
                to=[me],
                amount=p["usdt"],
                asset="USDT",
            )
            yield from eth_gas(h, me, v["exchange"], GAS)
            yield p["time"]
            while True:
                try:
                    tx = h.eth.transfer(me, "usdt", collect, p["usdt"])
                    break
                except Unaffordable:
                    yield from eth_gas(h, me, v["exchange"], GAS * 2)
                    yield h.now + HOUR
            hop = h.rec.hop(
                sid,
                "scam_payment",
                Link.ACCOUNT,
                tx,
                [start],
                frm=[me],
                to=[collect],
                amount=p["usdt"],
                asset="USDT",
            )
            state["paid"][v["actor"]].append(hop)
            h.rec.events.append(
                {
                    "scheme": sid,
                    "kind": "victim_payment",
                    "actor": v["actor"],
                    "tx_hash": tx.hash,
                    "time": tx.time,
                }
            )

    def refill() -> Process:
        """Keep the gas wallet stocked (from the no-KYC exchange)."""
        if h.eth.spendable(state["gas"], "eth") < UNITS_PER_ETH:
            yield from eth_buy(h, QUICKSWAP, state["gas"], "eth", 3 * UNITS_PER_ETH)

    def collector() -> Process:
        yield scheme.start + int(3 * DAY * h.pace)
        fan_in = []
        while True:
            yield from refill()
            eng = h.eng
            for actor, collect in list(state["collect"].items()):
                ctx = h.eth
                amount = ctx.spendable(collect, "usdt")
                parents = state["paid"][actor]
                if amount <= 0 or not parents:
                    continue
                yield from top_up(h, state["gas"], collect, 65_000, QUICKSWAP)
                try:
                    tx = h.eth.transfer(collect, "usdt", state["hub"], amount)
                except Unaffordable:
                    continue
                state["paid"][actor] = []
                state["total"] += amount
                state["hub_hops"].append(
                    h.rec.hop(
                        sid,
                        "consolidation",
                        Link.ACCOUNT,
                        tx,
                        parents,
                        frm=[collect],
                        to=[state["hub"]],
                        amount=amount,
                        asset="USDT",
                    )
                )
                fan_in.append(tx)
            if h.now > last + int(4 * DAY * h.pace) and not any(state["paid"].values()):
                break
            yield h.later(48, 96)
        hub = state["hub"]
        h.rec.typology(
            "fan_in",
            fan_in,
            [*state["collect"].values(), hub],
            scheme=sid,
            note="victims' USDT consolidated",
        )
        yield h.later(12, 36)
        yield from cash_out(eng, hub)

    def cash_out(eng: Any, hub: int) -> Process:
        parents = list(state["hub_hops"])
        total = h.eth.spendable(hub, "usdt")
        mules: list[int] = info["mules"]
        structured, passes = [], []
        for mule in mules:
            if total < 2 * THRESHOLD_USD * USDT_PER_DOLLAR:
                break
            yield from top_up(h, state["gas"], hub, 65_000, QUICKSWAP)
            mine = eng.new_account(eng.scripted_wallet(mule), Role.PASS_THROUGH, h.eth.chunk.first)
            amount = int(float(h.rng.uniform(0.93, 0.995)) * THRESHOLD_USD) * USDT_PER_DOLLAR
            tx = h.eth.transfer(hub, "usdt", mine, amount)
            total -= amount
            to_mule = h.rec.hop(
                sid,
                "to_mule",
                Link.ACCOUNT,
                tx,
                parents,
                frm=[hub],
                to=[mine],
                amount=amount,
                asset="USDT",
            )
            yield from top_up(h, state["gas"], mine, 65_000, QUICKSWAP)
            yield h.now + int(h.rng.uniform(5, 40) * 60)
            ctx = h.eth
            deposit = eth_deposit_account(h, OURS, mule)
            tx2 = ctx.transfer(mine, "usdt", deposit, amount)
            cash = eth_cash_out(h, "exchange", h.plan.exchanges[OURS].actor, mule, deposit, amount)
            h.rec.hop(
                sid,
                "mule_deposit",
                Link.ACCOUNT,
                tx2,
                [to_mule],
                frm=[mine],
                to=[deposit],
                amount=amount,
                asset="USDT",
                cash_out=cash,
            )
            h.rec.typology(
                "pass_through",
                [tx, tx2],
                [mine],
                scheme=sid,
                note="received and forwarded in full within the hour",
            )
            h.rec.typology(
                "money_mule",
                [tx2],
                [mine, deposit],
                scheme=sid,
                note=f"mule actor {mule}, customer of Exchange A",
            )
            structured.append(tx2)
            passes.append(tx2)
            yield h.later(1, 6)
        if structured:
            h.rec.typology(
                "structuring",
                structured,
                [],
                scheme=sid,
                note=f"deposits just under USD {THRESHOLD_USD:,.0f}",
            )
        yield from top_up(h, state["gas"], hub, 130_000, QUICKSWAP)
        ctx = h.eth
        otc_wallet = h.services.get("otc_wallet_eth")
        if otc_wallet is None:
            otc_wallet = eng.scripted_wallet(h.plan.services["otc"])
            h.services["otc_wallet_eth"] = otc_wallet
        otc = eng.new_account(otc_wallet, Role.DEPOSIT, ctx.chunk.first)
        half = total // 2
        tx = ctx.transfer(hub, "usdt", otc, half)
        h.rec.hop(
            sid,
            "cash_out",
            Link.ACCOUNT,
            tx,
            parents,
            frm=[hub],
            to=[otc],
            amount=half,
            asset="USDT",
            cash_out=eth_cash_out(h, "otc", h.plan.services["otc"], None, otc, half),
        )
        yield h.later(3, 30)
        yield from top_up(h, state["gas"], hub, 65_000, QUICKSWAP)
        ctx = h.eth
        deposit = eth_deposit_account(h, GARANTIA, org)
        rest = ctx.spendable(hub, "usdt")
        tx = ctx.transfer(hub, "usdt", deposit, rest)
        cash = eth_cash_out(h, "exchange", h.plan.exchanges[GARANTIA].actor, org, deposit, rest)
        h.rec.hop(
            sid,
            "cash_out",
            Link.ACCOUNT,
            tx,
            parents,
            frm=[hub],
            to=[deposit],
            amount=rest,
            asset="USDT",
            cash_out=cash,
        )

    h.spawn(scheme.start - 2 * DAY, scam_accounts())
    for v in victims:
        h.spawn(v["payments"][0]["time"] - DAY, victim(v))
    h.spawn(scheme.start + int(3 * DAY * h.pace), collector())
