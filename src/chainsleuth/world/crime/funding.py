"""Getting money into scripted wallets: buying at an exchange (a withdrawal to the buyer).

A buy waits and retries while the exchange's wallets are short; after a day of trying it
buys from any exchange, and in the last resort from a mining pool (an OTC sale), so that a
planned scheme is never stuck. Each helper is a sub-process: ``ref = yield from buy(...)``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from chainsleuth.world.account_script import AccountTxRef, Transfer
from chainsleuth.world.account_state import M_ISSUE, UNITS_PER_ETH
from chainsleuth.world.enums import Link
from chainsleuth.world.schedule import HOUR, Unaffordable
from chainsleuth.world.utxo_script import UtxoTxRef

if TYPE_CHECKING:
    from chainsleuth.world.crime import ChainHandle, Step


def btc_buy(h: ChainHandle, exchange: int, to: int, amount: int) -> Step[UtxoTxRef]:
    """A withdrawal of ``amount`` sat from ``exchange`` to address ``to``."""
    tries = 0
    while True:
        ctx = h.btc
        order = [exchange] if tries < 6 else [exchange, *range(len(h.plan.exchanges))]
        for ex in order:
            try:
                return ctx.buy(ex, to, amount)
            except Unaffordable:
                pass
        if tries >= 12:
            pools = [int(w) for w in h.eng.pool_wallets]
            try:
                coins = ctx.take_coins(pools, amount + 20_000)
                return ctx.send(coins, [(to, amount)], int(h.eng.pool_addr[0]))
            except Unaffordable:
                pass
        tries += 1
        yield ctx.now + backoff(tries)


def btc_purchase(
    h: ChainHandle, scheme: str, step: str, exchange: int, to: int, amount: int
) -> Step[tuple[UtxoTxRef, str]]:
    """``btc_buy``, recorded as the first hop of a scheme's trail: (the tx, its hop id)."""
    ref = yield from btc_buy(h, exchange, to, amount)
    hop = h.rec.hop(
        scheme,
        step,
        Link.START,
        ref,
        [],
        frm=[int(h.eng.hot_addr[exchange])],
        to=[to],
        amount=amount,
        asset="BTC",
    )
    return ref, hop


def backoff(tries: int) -> int:
    """Wait an hour, then longer and longer (up to a day) while nobody can sell."""
    return min(HOUR << min(tries // 6, 5), 24 * HOUR)


def eth_buy(h: ChainHandle, exchange: int, to: int, asset: str, amount: int) -> Step[AccountTxRef]:
    """A withdrawal of ETH or USDT (simulation units) from ``exchange``'s hot wallet."""
    tries = 0
    while True:
        ctx = h.eth
        eng = h.eng
        order = [exchange] if tries < 6 else [exchange, *range(len(h.plan.exchanges))]
        for ex in order:
            hot = int(eng.hot[ex])
            try:
                if asset == "eth":
                    return ctx.pay(hot, to, amount)
                if eng.usdt >= 0:
                    return ctx.transfer(hot, "usdt", to, amount)
            except Unaffordable:
                pass
        if tries >= 12 and eng.usdt >= 0:
            try:
                return _from_issuer_or_pool(h, to, asset, amount)
            except Unaffordable:
                pass
        tries += 1
        yield ctx.now + backoff(tries)


def _from_issuer_or_pool(h: ChainHandle, to: int, asset: str, amount: int) -> AccountTxRef:
    ctx, eng = h.eth, h.eng
    if asset == "eth":
        payer = max((int(a) for a in eng.pool_accounts), key=lambda a: ctx.spendable(a, "eth"))
        return ctx.pay(payer, to, amount)
    owner = eng.usdt_owner
    if ctx.spendable(owner, "usdt") < amount:
        ctx.tx(
            owner,
            eng.usdt,
            method=M_ISSUE,
            gas=48_000,
            transfers=(Transfer("usdt", eng.null, owner, amount),),
        )
    return ctx.transfer(owner, "usdt", to, amount)


def eth_gas(h: ChainHandle, account: int, exchange: int, units: int) -> Step[AccountTxRef | None]:
    """Make sure ``account`` holds at least ``units`` of ETH for fees (buys the shortfall)."""
    have = h.eth.spendable(account, "eth")
    if have >= units:
        return None
    ref = yield from eth_buy(h, exchange, account, "eth", units - have + units // 2)
    return ref


def top_up(h: ChainHandle, source: int, target: int, gas: int, exchange: int) -> Step[None]:
    """Give ``target`` enough ETH for ``gas`` units at twice the current price, from
    ``source`` (which buys more at ``exchange`` when it runs low)."""
    ctx = h.eth
    need = 2 * ctx.fee_for(gas)
    have = ctx.spendable(target, "eth")
    if have >= need:
        return
    amount = need - have
    if ctx.spendable(source, "eth") < amount + ctx.fee_for(21_000):
        yield from eth_buy(h, exchange, source, "eth", max(3 * amount, UNITS_PER_ETH))
    h.eth.pay(source, target, amount)
