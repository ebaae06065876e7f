"""An online casino on the UTXO chain, and a dealer who launders cash through it.

* **The casino** (RoyalSpin): a hot wallet with a bankroll bought at its exchange; every
  player gets a personal deposit address; every day or two the casino sweeps the deposits
  into the hot wallet (fan-in) and pays winners from it; what it holds beyond twice its
  bankroll goes to its exchange account. Its players are ordinary people who bought their
  coins at their exchange.
* **The laundering** (``GAMBLE-1``): a street dealer buys bitcoin with cash at the no-KYC
  exchange, stakes it at the casino in a few deposits, barely plays, and withdraws it as
  "winnings" (a payout from the casino's hot wallet that spends the sweep of his deposits),
  which he then deposits at Exchange A: the casino makes the money look like winnings.
"""

from __future__ import annotations

from typing import Any

from chainsleuth.world.crime import ChainHandle
from chainsleuth.world.crime.cashout import btc_deposit_address, btc_target
from chainsleuth.world.crime.funding import btc_buy, btc_purchase
from chainsleuth.world.crime.plans import SchemePlan, sat
from chainsleuth.world.crime.plans_extra import CASINO_BANK
from chainsleuth.world.enums import Link, Role
from chainsleuth.world.plan import P2WPKH
from chainsleuth.world.schedule import HOUR, Process, Unaffordable
from chainsleuth.world.utxo_script import Coin


def attach(h: ChainHandle, scheme: SchemePlan) -> None:
    info, sid = scheme.info, scheme.id
    casino, dealer = info["casino"], info["dealer"]
    st: dict[str, Any] = {
        "wallet": -1,
        "hot": -1,
        "reserve": [],  # the hot wallet's coins
        "pending": [],  # deposits not yet swept: (coin, hop id or None)
        "dealer_coins": [],  # sweep outputs that hold the dealer's stakes: (coin, hop id)
        "deposit_of": {},
    }
    rng = h.rng

    def deposit_address(actor: int) -> int:
        if actor not in st["deposit_of"]:
            st["deposit_of"][actor] = h.btc.address(st["wallet"], Role.DEPOSIT, aux=actor)
        return int(st["deposit_of"][actor])

    def open_casino() -> Process:
        yield info["open"]
        ctx = h.btc
        st["wallet"] = ctx.wallet(casino, P2WPKH)
        st["hot"] = ctx.address(st["wallet"], Role.HOT)
        ref = yield from btc_buy(h, CASINO_BANK, st["hot"], info["bankroll_sat"])
        st["reserve"].append(ref.out_to(st["hot"]))
        h.spawn(h.later(20, 30), sweeper())

    def pay_out(to: int, amount: int, first: list[Coin]) -> Any:
        """A payment from the hot wallet (``first`` coins spent before the reserve's)."""
        ctx = h.btc
        coins = list(first)
        reserve = sorted(st["reserve"], key=lambda c: c.value)
        while sum(c.value for c in coins) < amount + 5_000 and reserve:
            coins.append(reserve.pop())
        try:
            tx = ctx.send(coins, [(to, amount)], st["hot"])
        except Unaffordable:
            return None
        st["reserve"] = reserve + [c for c in tx.outs if c.addr == st["hot"]]
        return tx

    def sweeper() -> Process:
        bankroll = info["bankroll_sat"]
        while True:
            pending, st["pending"] = st["pending"], []
            if pending:
                try:
                    tx = h.btc.sweep([c for c, _ in pending], st["hot"])
                except Unaffordable:
                    st["pending"] = pending + st["pending"]
                else:
                    parents = [hop for _, hop in pending if hop is not None]
                    out = tx.outs[0]
                    if parents:
                        hop = h.rec.hop(
                            sid,
                            "gambling_sweep",
                            Link.SPEND,
                            tx,
                            parents,
                            frm=sorted({c.addr for c, _ in pending}),
                            to=[st["hot"]],
                            amount=out.value,
                            asset="BTC",
                        )
                        st["dealer_coins"].append((out, hop))
                    else:
                        st["reserve"].append(out)
            held = sum(c.value for c in st["reserve"])
            if held > 2 * bankroll:
                bank = btc_deposit_address(h, CASINO_BANK, casino)
                pay_out(bank, held - bankroll, [])
            yield h.later(20, 44)

    def player(x: dict[str, Any]) -> Process:
        yield x["time"]
        while st["hot"] < 0:
            yield h.now + HOUR
        ctx = h.btc
        wallet = ctx.wallet(x["actor"], P2WPKH)
        me = ctx.address(wallet, Role.RECEIVE)
        amount = sat(h.plan, x["usd"], h.now)
        buy = yield from btc_buy(h, x["exchange"], me, amount)
        yield h.later(1, 12)
        try:
            tx = h.btc.sweep([buy.out_to(me)], deposit_address(x["actor"]))
        except Unaffordable:
            return
        st["pending"].append((tx.outs[0], None))
        if x["wins"]:
            yield h.later(6, 72)
            pay_out(h.btc.address(wallet, Role.RECEIVE), int(amount * rng.uniform(1.2, 3.0)), [])

    def launder() -> Process:
        yield scheme.start
        while st["hot"] < 0:
            yield h.now + HOUR
        ctx = h.btc
        wallet = ctx.wallet(dealer, P2WPKH)
        me = ctx.address(wallet, Role.RECEIVE)
        stakes = [sat(h.plan, usd, h.now) for usd in info["stakes_usd"]]
        buy, parent = yield from btc_purchase(
            h, sid, "purchase", info["buy_exchange"], me, sum(stakes) + 30_000
        )
        coin = buy.out_to(me)
        dep = deposit_address(dealer)
        staked = 0
        for i, amount in enumerate(stakes):
            yield h.later(6, 30)
            ctx = h.btc
            last = i == len(stakes) - 1
            try:
                if not last:
                    tx = ctx.send([coin], [(dep, amount)], ctx.address(wallet, Role.CHANGE))
            except Unaffordable:  # fees ate the margin: the rest goes in now
                last = True
            if last:
                tx = ctx.sweep([coin], dep)
            out = tx.out_to(dep)
            staked += out.value
            hop = h.rec.hop(
                sid,
                "gambling_deposit",
                Link.SPEND,
                tx,
                [parent],
                frm=[coin.addr],
                to=[dep],
                amount=out.value,
                asset="BTC",
            )
            st["pending"].append((out, hop))
            change = [c for c in tx.outs if c.addr != dep]
            if last or not change:
                break
            coin, parent = change[0], hop
        # a few days of small bets, then the "winnings" (what he staked, less the house's cut)
        while sum(c.value for c, _ in st["dealer_coins"]) < staked * 9 // 10:
            yield h.now + 6 * HOUR
        yield h.later(48, 120)
        swept = list(st["dealer_coins"])
        st["dealer_coins"] = []
        winnings = staked * 96 // 100
        target = h.btc.address(wallet, Role.CASH_OUT)
        while (tx := pay_out(target, winnings, [c for c, _ in swept])) is None:
            yield h.now + 12 * HOUR
        payout = h.rec.hop(
            sid,
            "gambling_payout",
            Link.SPEND,
            tx,
            [hop for _, hop in swept],
            frm=[st["hot"]],
            to=[target],
            amount=winnings,
            asset="BTC",
        )
        yield h.later(24, 72)
        bank, cash = btc_target(h, 0, dealer)
        out_tx = h.btc.sweep([tx.out_to(target)], bank)
        cash["amount"] = out_tx.outs[0].value
        h.rec.hop(
            sid,
            "cash_out",
            Link.SPEND,
            out_tx,
            [payout],
            frm=[target],
            to=[bank],
            amount=out_tx.outs[0].value,
            asset="BTC",
            cash_out=cash,
        )

    h.spawn(info["open"], open_casino())
    for x in info["players"]:
        h.spawn(x["time"], player(x))
    h.spawn(scheme.start, launder())
