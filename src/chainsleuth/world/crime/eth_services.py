"""Services on the account chain: merchants, and SwirlMix's USDT mixer.

* **Merchants**: the biggest merchants of the UTXO chain also take ETH and USDT. Ordinary
  users pay them from their own accounts (when they hold enough); every week a merchant
  sends what it took to its deposit address at its exchange.
* **SwirlMix on ``eth``**: the custodial mixer of the UTXO chain runs a USDT service too. A
  customer pays a fresh deposit address; the mixer moves the deposit into its reserve and,
  after a delay, pays the amount less 2.5% *from the reserve* (other customers' older
  money) to the customer's address. On chain nothing links deposit and payout; the mixer's
  books (``truth/custodial_mixer.parquet``, ``chain`` ``eth``) do. Ordinary people use it
  for privacy, and the terrorist-financing campaign to launder its donations.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from chainsleuth.world.account_state import UNITS_PER_ETH, USDT_PER_DOLLAR
from chainsleuth.world.crime import ChainHandle
from chainsleuth.world.crime.funding import eth_buy, eth_gas, top_up
from chainsleuth.world.crime.plans import eth_units
from chainsleuth.world.crime.scam import eth_deposit_account
from chainsleuth.world.enums import Link, Role
from chainsleuth.world.schedule import DAY, HOUR, Process, Unaffordable

MIXER_FEE = 0.025
MIXER_BANK = 1
TRANSFER_GAS = 65_000


@dataclass
class EthOrder:
    id: str
    customer: int
    deposit: int
    payout_to: int
    scheme: str | None
    delay: int
    deposit_tx: str | None = None
    deposit_hop: str | None = None
    amount: int = 0
    swept: bool = False
    swept_at: int = 0
    hop: str | None = None
    payout_amount: int = 0
    done: bool = False


class EthMixer:
    def __init__(self, h: ChainHandle, actor: int) -> None:
        self.h = h
        self.actor = actor
        self.wallet = -1
        self.reserve = -1
        self.orders: list[EthOrder] = []

    def order(self, customer: int, payout_to: int, scheme: str | None) -> EthOrder:
        eng = self.h.eng
        deposit = eng.new_account(self.wallet, Role.MIX_IN, eng.ctx.chunk.first, aux=customer)
        order = EthOrder(
            f"SWE-{len(self.orders) + 1:05d}",
            customer,
            deposit,
            payout_to,
            scheme,
            int(self.h.rng.uniform(6, 48) * HOUR * self.h.pace),
        )
        self.orders.append(order)
        return order

    def run(self, seed_usdt: int) -> Process:
        h = self.h
        eng = h.eng
        self.wallet = eng.scripted_wallet(self.actor)
        self.reserve = eng.new_account(self.wallet, Role.HOT, eng.ctx.chunk.first)
        yield from eth_buy(h, MIXER_BANK, self.reserve, "eth", 2 * UNITS_PER_ETH)
        yield from eth_buy(h, MIXER_BANK, self.reserve, "usdt", seed_usdt)
        h.services["eth_mixer"] = self
        while True:
            yield h.later(2, 6)
            for order in self.orders:
                if order.deposit_tx and not order.swept:
                    yield from self._sweep(order)
                if order.swept and not order.done and h.now >= order.swept_at + order.delay:
                    self._pay(order)
            if h.eth.spendable(self.reserve, "eth") < UNITS_PER_ETH // 2:
                yield from eth_buy(h, MIXER_BANK, self.reserve, "eth", UNITS_PER_ETH)

    def _sweep(self, order: EthOrder) -> Process:
        h = self.h
        yield from top_up(h, self.reserve, order.deposit, TRANSFER_GAS, MIXER_BANK)
        amount = h.eth.spendable(order.deposit, "usdt")
        try:
            h.eth.transfer(order.deposit, "usdt", self.reserve, amount)
        except Unaffordable:
            return
        order.swept = True
        order.swept_at = h.now

    def _pay(self, order: EthOrder) -> None:
        h = self.h
        pay = int(order.amount * (1 - MIXER_FEE))
        try:
            tx = h.eth.transfer(self.reserve, "usdt", order.payout_to, pay)
        except Unaffordable:
            return
        order.done = True
        order.payout_amount = pay
        if order.scheme is not None:
            order.hop = h.rec.hop(
                order.scheme,
                "mix_out",
                Link.CUSTODIAL,
                tx,
                [order.deposit_hop] if order.deposit_hop else [],
                frm=[self.reserve],
                to=[order.payout_to],
                amount=pay,
                asset="USDT",
            )
        h.rec.custodial.append(
            {
                "order": order.id,
                "mixer_actor": self.actor,
                "customer_actor": order.customer,
                "scheme": order.scheme,
                "deposit_tx": order.deposit_tx,
                "deposit_amount": str(order.amount),
                "payout_tx": tx.hash,
                "payout_amount": str(pay),
                "address_ids": [order.deposit, order.payout_to],
                "chain": "eth",
                "asset": "USDT",
            }
        )


def attach(h: ChainHandle, info: dict[str, Any]) -> None:
    """The account chain's merchants and mixer (``plan.extra["eth_services"]``)."""
    mixer = EthMixer(h, info["mixer"])
    seed = int(info["mixer_seed_usd"] * USDT_PER_DOLLAR)
    h.spawn(info["mixer_open"], mixer.run(seed))
    merchants: list[dict[str, Any]] = [dict(m, account=-1) for m in info["merchants"]]

    def shops() -> Process:
        yield h.plan.params.start + DAY
        eng = h.eng
        for m in merchants:
            m["account"] = eng.new_account(
                eng.scripted_wallet(m["actor"]), Role.RECEIVE, eng.ctx.chunk.first
            )
        h.spawn(h.later(24 * 7, 24 * 8), payouts())

    def sales() -> Process:
        for sale in info["sales"]:
            yield sale["time"]
            m = merchants[sale["merchant"]]
            if m["account"] < 0:
                continue
            ctx = h.eth
            buyer = int(h.eng.wallets.last_addr.a[sale["buyer"]])
            if buyer < 0:
                continue
            try:
                if sale["usdt"] and ctx.affordable(
                    buyer, "usdt", int(sale["usd"] * USDT_PER_DOLLAR), TRANSFER_GAS
                ):
                    ctx.transfer(buyer, "usdt", m["account"], int(sale["usd"] * USDT_PER_DOLLAR))
                else:
                    units = eth_units(h.plan, sale["usd"], h.now)
                    if ctx.affordable(buyer, "eth", units, 21_000):
                        ctx.pay(buyer, m["account"], units)
            except Unaffordable:
                pass

    def payouts() -> Process:
        while True:
            for m in merchants:
                bank = eth_deposit_account(h, m["exchange"], m["actor"])
                usdt = h.eth.spendable(m["account"], "usdt")
                if usdt > 0:
                    yield from eth_gas(h, m["account"], m["exchange"], h.eth.fee_for(TRANSFER_GAS))
                    try:
                        h.eth.transfer(m["account"], "usdt", bank, usdt)
                    except Unaffordable:
                        pass
                ctx = h.eth
                eth = ctx.spendable(m["account"], "eth") - 2 * ctx.fee_for(21_000)
                if eth > UNITS_PER_ETH // 100:
                    try:
                        ctx.pay(m["account"], bank, eth)
                    except Unaffordable:
                        pass
            yield h.later(24 * 6, 24 * 8)

    def private(o: dict[str, Any]) -> Process:
        """An ordinary user who mixes for privacy."""
        yield o["time"]
        while "eth_mixer" not in h.services:
            yield h.now + 6 * HOUR
        eng = h.eng
        wallet = eng.scripted_wallet(o["customer"])
        me = eng.new_account(wallet, Role.RECEIVE, eng.ctx.chunk.first)
        out = eng.new_account(wallet, Role.RECEIVE, eng.ctx.chunk.first)
        amount = int(o["usd"]) * USDT_PER_DOLLAR
        yield from eth_buy(h, o["exchange"], me, "usdt", amount)
        yield from eth_gas(h, me, o["exchange"], UNITS_PER_ETH // 200)
        order = mixer.order(o["customer"], out, None)
        yield h.later(1, 6)
        while True:
            try:
                tx = h.eth.transfer(me, "usdt", order.deposit, amount)
                break
            except Unaffordable:
                yield from eth_gas(h, me, o["exchange"], UNITS_PER_ETH // 100)
                yield h.now + HOUR
        order.deposit_tx = tx.hash
        order.amount = amount

    h.spawn(h.plan.params.start + DAY, shops())
    if info["sales"]:
        h.spawn(info["sales"][0]["time"], sales())
    for o in info["mix_orders"]:
        h.spawn(o["time"], private(o))
