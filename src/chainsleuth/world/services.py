"""Upkeep of the account chain's infrastructure, as a scripted process.

Once the first miners have been paid: the USDT issuer, the WETH deployer, the DEX's
liquidity provider and the bridge operator get gas money from a pool; they deploy the
contracts (real CREATE addresses, ``keccak(rlp([sender, nonce]))``); the issuer mints USDT
(``issue``; a ``Transfer`` from the null address) and supplies the exchanges' hot wallets
and the DEX; the liquidity provider wraps ETH and supplies the DEX with WETH. Then, every
day, it tops up what ran low.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from chainsleuth.world.account_script import Transfer
from chainsleuth.world.account_state import (
    M_DEPOSIT,
    M_ISSUE,
    UNITS_PER_ETH,
    USDT_PER_DOLLAR,
)
from chainsleuth.world.enums import Role
from chainsleuth.world.schedule import DAY, HOUR, Process, Unaffordable

if TYPE_CHECKING:
    from chainsleuth.world.account import AccountChain


def eth_services(eng: AccountChain) -> Process:
    plan = eng.plan
    s = plan.services
    t = plan.params.start + DAY + HOUR
    yield t
    owner = eng.new_account(eng.scripted_wallet(s["usdt_treasury"]), Role.TREASURY, 0)
    weth_deployer = eng.new_account(eng.scripted_wallet(s["weth"]), Role.OPERATOR, 0)
    lp = eng.new_account(eng.scripted_wallet(s["dex_lp"]), Role.TREASURY, 0)
    operator = eng.new_account(eng.scripted_wallet(s["bridge"]), Role.OPERATOR, 0)
    eng.bridge_operator = operator
    eng.usdt_owner = owner
    eng.dex_lp = lp
    funding = [(owner, 300), (weth_deployer, 5), (lp, 600), (operator, 200)]
    while True:  # wait for the first pool rewards
        ctx = eng.ctx
        pool = int(eng.pool_accounts[0])
        if ctx.spendable(pool, "eth") > 2_000 * UNITS_PER_ETH:
            break
        yield ctx.now + 6 * HOUR
    for acct, eth in funding:
        eng.ctx.pay(pool, acct, eth * UNITS_PER_ETH)
    yield eng.ctx.now + 40 * 60
    ctx = eng.ctx
    eng.usdt = ctx.tx(
        owner, -1, gas=1_963_000, create_wallet=eng.contract_wallet(s["usdt"]), role=Role.CONTRACT
    ).created
    eng.token_rows.append((eng.usdt, "usdt"))
    eng.weth = ctx.tx(
        weth_deployer,
        -1,
        gas=912_000,
        create_wallet=eng.contract_wallet(s["weth"]),
        role=Role.CONTRACT,
    ).created
    eng.token_rows.append((eng.weth, "weth"))
    yield ctx.now + 2 * HOUR
    ctx = eng.ctx
    eng.dex = ctx.tx(
        lp, -1, gas=3_412_000, create_wallet=eng.contract_wallet(s["dex"]), role=Role.CONTRACT
    ).created
    eng.bridge = ctx.tx(
        operator,
        -1,
        gas=2_204_000,
        create_wallet=eng.contract_wallet(s["bridge"]),
        role=Role.CONTRACT,
    ).created
    yield ctx.now + HOUR
    users = plan.users.n
    while True:
        ctx = eng.ctx
        price = plan.prices.at("ETH", ctx.now, plan.params.start)
        try:
            _top_up(eng, owner, lp, pool_payer(eng), users, price)
        except Unaffordable:
            pass
        yield ctx.now + DAY


def pool_payer(eng: AccountChain) -> int:
    ctx = eng.ctx
    return int(max(eng.pool_accounts, key=lambda a: ctx.spendable(int(a), "eth")))


def _top_up(eng: AccountChain, owner: int, lp: int, pool: int, users: int, price: float) -> None:
    ctx = eng.ctx
    per_user = 1_500 * USDT_PER_DOLLAR
    targets: list[tuple[int, int]] = []
    for ex in eng.plan.exchanges:
        want = int(per_user * users * ex.share * 0.3)
        have = ctx.spendable(int(eng.hot[ex.index]), "usdt")
        if have < want // 2:
            targets.append((int(eng.hot[ex.index]), want - have))
    dex_usdt = int(400 * USDT_PER_DOLLAR * users)
    have = ctx.spendable(eng.dex, "usdt")
    if have < dex_usdt // 2:
        targets.append((eng.dex, dex_usdt - have))
    if ctx.spendable(owner, "eth") < 20 * UNITS_PER_ETH:
        ctx.pay(pool, owner, 100 * UNITS_PER_ETH)
    if targets:
        total = sum(a for _, a in targets)
        ctx.tx(
            owner,
            eng.usdt,
            method=M_ISSUE,
            gas=48_000,
            transfers=(Transfer("usdt", eng.null, owner, total),),
        )
        for acct, amount in targets:
            ctx.transfer(owner, "usdt", acct, amount)
    # WETH for the DEX: the liquidity provider wraps ether it is paid by a pool
    dex_weth = int(400 * users / price * UNITS_PER_ETH)
    have = ctx.spendable(eng.dex, "weth")
    if have < dex_weth // 2:
        need = dex_weth - have
        if ctx.spendable(lp, "eth") < need + UNITS_PER_ETH:
            ctx.pay(pool, lp, need + 10 * UNITS_PER_ETH)
        ctx.tx(
            lp,
            eng.weth,
            value=need,
            method=M_DEPOSIT,
            gas=45_038,
            transfers=(Transfer("weth", eng.null, lp, need),),
        )
        ctx.transfer(lp, "weth", eng.dex, need)


def refill_dex_weth(eng: AccountChain, need: int) -> None:
    """The liquidity provider wraps ``need`` more ether into the DEX (paid by a pool)."""
    ctx = eng.ctx
    lp = eng.dex_lp
    if ctx.spendable(lp, "eth") < need + UNITS_PER_ETH:
        ctx.pay(pool_payer(eng), lp, need + 10 * UNITS_PER_ETH)
    ctx.tx(
        lp,
        eng.weth,
        value=need,
        method=M_DEPOSIT,
        gas=45_038,
        transfers=(Transfer("weth", eng.null, lp, need),),
    )
    ctx.transfer(lp, "weth", eng.dex, need)
