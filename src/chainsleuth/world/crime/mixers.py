"""Mixing services on the UTXO chain: a CoinJoin coordinator and a custodial mixer.

* **CoinJoin** (WhirlJoin): rounds at planned times. Each participant brings one coin and
  gets back several outputs of the round's one denomination and a change output; the
  coordinator takes a fee output. Ordinary privacy-minded users (who bought their coin at an
  exchange) join every round; criminals queue coins and are told their outputs.
* **Custodial mixer** (SwirlMix): a customer pays a fresh deposit address; after a delay
  the mixer pays the amount, less 2.5%, in a few parts to the customer's addresses *from its
  own reserve* (other customers' older coins). On chain nothing links deposit and payout;
  the mixer's books (``truth/custodial.parquet``) do.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from chainsleuth.world.crime import ChainHandle, Step
from chainsleuth.world.crime.funding import btc_buy
from chainsleuth.world.crime.plans import SchemePlan, sat
from chainsleuth.world.enums import Link, Role
from chainsleuth.world.plan import P2WPKH, P2WSH
from chainsleuth.world.schedule import HOUR, Process, Unaffordable
from chainsleuth.world.utxo_script import Coin, UtxoTxRef

DENOMS = [100_000, 1_000_000, 5_000_000, 10_000_000, 50_000_000]  # 0.001 .. 0.5 BTC
COORDINATOR_FEE = 0.003
MIXER_FEE = 0.025


@dataclass
class Registration:
    coin: Coin
    wallet: int  # where the outputs go
    scheme: str | None
    parent: str | None
    done: bool = False
    outputs: list[Coin] = field(default_factory=list)
    hop: str | None = None
    cancelled: bool = False


@dataclass
class Order:
    id: str
    customer: int
    deposit_addr: int
    wallet: int
    parts: int
    delay: int
    scheme: str | None
    parent: str | None
    deposit: Coin | None = None
    deposit_hop: str | None = None
    deposit_tx: str | None = None
    paid_at: int = 0
    payouts: list[Coin] = field(default_factory=list)
    hops: list[str] = field(default_factory=list)
    done: bool = False


class CoinJoin:
    def __init__(self, h: ChainHandle) -> None:
        self.h = h
        self.queue: list[Registration] = []
        self.fee_addr = -1

    def register(
        self, coin: Coin, wallet: int, scheme: str | None, parent: str | None
    ) -> Registration:
        reg = Registration(coin, wallet, scheme, parent)
        self.queue.append(reg)
        return reg

    def round(self) -> None:
        h = self.h
        ctx, rng = h.btc, h.rng
        if self.fee_addr < 0:
            wallet = ctx.wallet(h.plan.services["coinjoin"], P2WPKH)
            self.fee_addr = ctx.address(wallet, Role.FEE)
        queued = [r for r in self.queue if not r.done and not r.cancelled][:12]
        benign = self._benign(int(rng.integers(4, 9)))
        regs = queued + benign
        if len(regs) < 3:
            return
        values = sorted(r.coin.value for r in regs)
        target = values[len(values) // 2] / 3
        denom = max([d for d in DENOMS if d <= target] or [DENOMS[0]])
        regs = [r for r in regs if r.coin.value > denom * 1.1 + 5_000]
        if len(regs) < 3:
            return
        per_fee = ctx.fee(1, [self.fee_addr] * 3)
        outs: list[tuple[int, int, Registration | None]] = []
        coord_total = 0
        for r in regs:
            coord = int(denom * COORDINATOR_FEE)
            k = int(min(6, (r.coin.value - per_fee - coord) // denom))
            change = r.coin.value - per_fee - coord - k * denom
            for _ in range(k):
                outs.append((ctx.address(r.wallet, Role.MIX_OUT, script=P2WPKH), denom, r))
            if change >= 546:
                outs.append((ctx.address(r.wallet, Role.CHANGE, script=P2WPKH), change, r))
            coord_total += coord
        outs.append((self.fee_addr, coord_total, None))
        order = rng.permutation(len(outs))
        outs = [outs[i] for i in order]
        inputs = [r.coin for r in regs]
        fee = sum(r.coin.value for r in regs) - sum(v for _, v, _ in outs)
        tx = ctx.record(inputs, [(a, v) for a, v, _ in outs], fee)
        for r in regs:
            r.outputs = [c for c, (_, _, owner) in zip(tx.outs, outs, strict=True) if owner is r]
            r.done = True
            if r.scheme is not None:
                r.hop = h.rec.hop(
                    r.scheme,
                    "coinjoin",
                    Link.SPEND,
                    tx,
                    [r.parent] if r.parent else [],
                    frm=[r.coin.addr],
                    to=[c.addr for c in r.outputs],
                    amount=sum(c.value for c in r.outputs),
                    asset="BTC",
                )
        self.queue = [r for r in self.queue if not r.done and not r.cancelled]
        criminal = [r for r in regs if r.scheme is not None]
        if criminal:
            h.rec.typology(
                "coinjoin",
                [tx],
                [c.addr for r in criminal for c in (r.coin, *r.outputs)],
                scheme=criminal[0].scheme,
                note=f"{len(regs)} participants, denomination {denom} sat, "
                f"{len(criminal)} with illicit funds",
            )

    def _benign(self, count: int) -> list[Registration]:
        """Privacy-minded users who bought their coin at an exchange for this round."""
        h = self.h
        ctx, rng = h.btc, h.rng
        out = []
        for _ in range(count):
            user = int(rng.choice(h.eng.users_btc))
            usd = float(rng.lognormal(np.log(2_000), 0.8))
            holder = ctx.wallet(user, P2WPKH)
            addr = ctx.address(holder, Role.RECEIVE)
            try:
                tx = ctx.buy(int(h.plan.users.home_btc[user]), addr, sat(h.plan, usd, ctx.now))
            except Unaffordable:
                continue
            out.append(Registration(tx.out_to(addr), user, None, None))
        return out


class CustodialMixer:
    def __init__(self, h: ChainHandle) -> None:
        self.h = h
        self.orders: list[Order] = []
        self.reserve: list[Coin] = []
        self.incoming: list[Coin] = []
        self.wallet = -1
        self.reserve_addr = -1

    def setup(self) -> None:
        ctx = self.h.btc
        self.wallet = ctx.wallet(self.h.plan.services["mixer"], P2WSH)
        self.reserve_addr = ctx.address(self.wallet, Role.HOT)

    def order(
        self, customer: int, wallet: int, parts: int, scheme: str | None, parent: str | None
    ) -> Order:
        ctx, rng = self.h.btc, self.h.rng
        if self.wallet < 0:
            self.setup()
        deposit = ctx.address(self.wallet, Role.MIX_IN, aux=-1, script=P2WPKH)
        order = Order(
            f"SWIRL-{len(self.orders) + 1:05d}",
            customer,
            deposit,
            wallet,
            parts,
            int(rng.uniform(2, 30) * HOUR),
            scheme,
            parent,
        )
        self.orders.append(order)
        return order

    def paid(self, order: Order, tx: UtxoTxRef, hop: str | None) -> None:
        order.deposit = tx.out_to(order.deposit_addr)
        order.deposit_tx = tx.hash
        order.deposit_hop = hop
        order.paid_at = tx.time
        self.incoming.append(order.deposit)

    def work(self) -> None:
        """Consolidate deposits into the reserve; pay the orders that are due."""
        h = self.h
        ctx = h.btc
        if len(self.incoming) >= 3 or (self.incoming and h.rng.random() < 0.2):
            try:
                tx = ctx.sweep(self.incoming[:40], self.reserve_addr, mult=0.6)
                self.reserve.append(tx.outs[0])
                self.incoming = self.incoming[40:]
            except Unaffordable:
                pass
        for order in self.orders:
            if order.done or order.deposit is None or ctx.now < order.paid_at + order.delay:
                continue
            self._payout(order)

    def _payout(self, order: Order) -> None:
        h = self.h
        ctx, rng = h.btc, h.rng
        assert order.deposit is not None
        amount = int(order.deposit.value * (1 - MIXER_FEE))
        self.reserve.sort(key=lambda c: c.value)
        picked, total = [], 0
        while self.reserve and total < amount + 30_000:
            c = self.reserve.pop()
            picked.append(c)
            total += c.value
        if total < amount + 30_000:
            self.reserve.extend(picked)
            return
        weights = rng.uniform(0.5, 1.5, order.parts)
        parts = np.floor(amount * weights / weights.sum()).astype(np.int64)
        targets = [ctx.address(order.wallet, Role.MIX_OUT) for _ in range(order.parts)]
        try:
            tx = ctx.send(
                picked,
                [(a, int(v)) for a, v in zip(targets, parts, strict=True)],
                self.reserve_addr,
            )
        except Unaffordable:
            self.reserve.extend(picked)
            return
        change = [c for c in tx.outs if c.addr == self.reserve_addr]
        self.reserve.extend(change)
        order.payouts = [c for c in tx.outs if c.addr != self.reserve_addr]
        order.done = True
        if order.scheme is not None:
            order.hops.append(
                h.rec.hop(
                    order.scheme,
                    "mix_out",
                    Link.CUSTODIAL,
                    tx,
                    [order.deposit_hop] if order.deposit_hop else [],
                    frm=[self.reserve_addr],
                    to=[c.addr for c in order.payouts],
                    amount=sum(c.value for c in order.payouts),
                    asset="BTC",
                )
            )
        h.rec.custodial.append(
            {
                "order": order.id,
                "mixer_actor": h.plan.services["mixer"],
                "customer_actor": order.customer,
                "scheme": order.scheme,
                "deposit_tx": order.deposit_tx,
                "deposit_amount": str(order.deposit.value),
                "payout_tx": tx.hash,
                "payout_amount": str(sum(c.value for c in order.payouts)),
                "address_ids": [order.deposit_addr, *[c.addr for c in order.payouts]],
            }
        )


def attach(h: ChainHandle) -> None:
    """The services themselves: they run whether or not anyone uses them."""
    h.services["coinjoin"] = CoinJoin(h)
    h.services["mixer"] = CustodialMixer(h)


def attach_benign(h: ChainHandle, scheme: SchemePlan) -> None:
    cj: CoinJoin = h.services["coinjoin"]
    mixer: CustodialMixer = h.services["mixer"]

    def rounds() -> Process:
        for t in scheme.info["rounds"]:
            yield t
            cj.round()

    def mixer_work() -> Process:
        plan = h.plan
        t = plan.params.start + int(0.08 * plan.params.days) * 86_400
        yield t
        mixer.setup()
        usd = 1_200_000.0 * plan.params.scale**0.6
        ref = yield from btc_buy(h, 1, mixer.reserve_addr, sat(plan, usd, h.now))
        mixer.reserve.append(ref.out_to(mixer.reserve_addr))
        while True:
            mixer.work()
            yield h.now + 2 * HOUR

    def benign_order() -> Process:
        yield h.now
        ctx, rng = h.btc, h.rng
        user = int(rng.choice(h.eng.users_btc))
        wallet = ctx.wallet(user, P2WPKH)
        addr = ctx.address(wallet, Role.RECEIVE)
        ref = yield from btc_buy(
            h,
            int(h.plan.users.home_btc[user]),
            addr,
            sat(h.plan, float(rng.lognormal(7.5, 0.7)), h.now),
        )
        yield h.now + int(rng.uniform(1, 48) * HOUR)
        order = mixer.order(user, user, int(rng.integers(2, 4)), None, None)
        tx = h.btc.send([ref.out_to(addr)], [], order.deposit_addr)
        mixer.paid(order, tx, None)

    h.spawn(scheme.info["rounds"][0], rounds())
    h.spawn(h.plan.params.start, mixer_work())
    span = h.plan.params.days * 86_400
    for i in range(scheme.info["benign_orders"]):
        h.spawn(
            h.plan.params.start
            + int(span * (0.15 + 0.75 * i / max(1, scheme.info["benign_orders"]))),
            benign_order(),
        )


def coinjoin(
    h: ChainHandle, coin: Coin, wallet: int, scheme: str, parent: str
) -> Step[tuple[list[Coin], str]]:
    """Queue a coin for the next CoinJoin rounds; after four days without a round that takes
    it, give up and keep the coin (returns the coins and the hop that now holds them)."""
    cj: CoinJoin = h.services["coinjoin"]
    reg = cj.register(coin, wallet, scheme, parent)
    deadline = h.now + 4 * 86_400
    while not reg.done and h.now < deadline:
        yield h.now + 2 * HOUR
    if reg.done and reg.hop is not None:
        return reg.outputs, reg.hop
    reg.cancelled = True
    return [coin], parent


def custodial_mix(
    h: ChainHandle,
    coins: list[Coin],
    customer: int,
    wallet: int,
    parts: int,
    scheme: str,
    parents: list[str],
) -> Step[tuple[list[Coin], str]]:
    """Send coins to SwirlMix and wait for the payouts (new coins, from its reserve)."""
    mixer: CustodialMixer = h.services["mixer"]
    while mixer.wallet < 0:
        yield h.now + HOUR
    order = mixer.order(customer, wallet, parts, scheme, None)
    tx = h.btc.send(coins, [], order.deposit_addr)
    hop = h.rec.hop(
        scheme,
        "mix_in",
        Link.SPEND,
        tx,
        parents,
        frm=[c.addr for c in coins],
        to=[order.deposit_addr],
        amount=tx.out_to(order.deposit_addr).value,
        asset="BTC",
    )
    mixer.paid(order, tx, hop)
    while not order.done:
        yield h.now + 2 * HOUR
    return order.payouts, order.hops[-1]
