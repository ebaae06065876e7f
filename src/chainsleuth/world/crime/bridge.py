"""Portal Bridge: lock on one chain, release on the other, joined by a record id.

Every transfer is planned (``plans.BridgeTransfer``): lock time and amount on the source
chain, release time and amount on the destination. Each chain's side runs on its own:

* account chain: the bridge contract; a lock is ETH sent to it (or WETH transferred to it)
  with ``lock(bytes)``; a release is the operator calling ``release(...)``, which transfers
  WETH from the contract's reserve to the recipient.
* UTXO chain: a vault address (a P2WSH multisig in spirit); a lock is a payment to it, a
  release a payment from its coins.

Both sides write their half of the record to ``truth/bridge_transfers`` (lock tx and
address, release tx and address). Releases of a scheme's transfers also become hops of the
scheme (``link = bridge``; the parent is the lock hop, named after the record id).
"""

from __future__ import annotations

from typing import Any

from chainsleuth.world.account_script import Transfer
from chainsleuth.world.account_state import M_DEPOSIT, M_LOCK, M_RELEASE, UNITS_PER_ETH
from chainsleuth.world.crime import ChainHandle
from chainsleuth.world.crime.funding import btc_buy, eth_buy
from chainsleuth.world.crime.plans import BridgeTransfer
from chainsleuth.world.enums import Link, Role
from chainsleuth.world.plan import P2WPKH, P2WSH
from chainsleuth.world.schedule import DAY, HOUR, Process, Unaffordable
from chainsleuth.world.utxo_script import Coin


def lock_hop_id(rec: BridgeTransfer) -> str:
    return f"{rec.scheme}:lock:{rec.record}"


def release_hop_id(rec: BridgeTransfer) -> str:
    return f"{rec.scheme}:release:{rec.record}"


def _row(rec: BridgeTransfer, **values: Any) -> dict[str, Any]:
    return {
        "record": rec.record,
        "direction": rec.direction,
        "actor": rec.actor,
        "scheme": rec.scheme,
        **values,
    }


# --- UTXO side --------------------------------------------------------------------------------


def attach_btc(h: ChainHandle) -> None:
    plan = h.plan
    h.services["bridge_out"] = {}  # record -> released Coin (for schemes)
    state: dict[str, Any] = {"coins": [], "vault": -1, "wallet": -1}

    def setup() -> Process:
        yield plan.params.start + int(0.06 * plan.params.days) * DAY
        ctx = h.btc
        state["wallet"] = ctx.wallet(plan.services["bridge"], P2WSH)
        state["vault"] = ctx.address(state["wallet"], Role.BRIDGE)
        need = sum(r.release_amount for r in plan.bridge if r.direction == "eth->btc")
        ref = yield from btc_buy(h, 1, state["vault"], int(need * 1.25) + 10**7)
        state["coins"].append(ref.out_to(state["vault"]))

    def release(rec: BridgeTransfer) -> Process:
        yield rec.release_time
        while (
            state["vault"] < 0 or sum(c.value for c in state["coins"]) < rec.release_amount + 50_000
        ):
            yield h.now + HOUR
        ctx = h.btc
        if rec.scheme is None:
            to = ctx.address(rec.actor, Role.RECEIVE)  # the user's own wallet
        else:
            to = ctx.address(h.services["wallets"][rec.scheme], Role.BRIDGE)
        coins = sorted(state["coins"], key=lambda c: c.value)
        picked: list[Coin] = []
        while sum(c.value for c in picked) < rec.release_amount + 50_000:
            picked.append(coins.pop())
        tx = ctx.send(picked, [(to, rec.release_amount)], state["vault"], mult=1.1)
        state["coins"] = coins + [c for c in tx.outs if c.addr == state["vault"]]
        h.rec.bridge.append(
            _row(
                rec,
                side="release",
                chain="btc",
                release_tx=tx.hash,
                release_time=tx.time,
                release_amount=str(rec.release_amount),
                release_asset="BTC",
                release_address_id=to,
            )
        )
        if rec.scheme is not None:
            h.services["bridge_out"][rec.record] = tx.out_to(to)
            h.rec.hop(
                rec.scheme,
                "bridge_release",
                Link.BRIDGE,
                tx,
                [lock_hop_id(rec)],
                frm=[state["vault"]],
                to=[to],
                amount=rec.release_amount,
                asset="BTC",
                hop_id=release_hop_id(rec),
            )

    def lock(rec: BridgeTransfer) -> Process:
        yield rec.lock_time - DAY
        ctx = h.btc
        wallet = ctx.wallet(rec.actor, P2WPKH)
        addr = ctx.address(wallet, Role.RECEIVE)
        ref = yield from btc_buy(
            h, int(plan.users.home_btc[rec.actor]), addr, rec.lock_amount + 20_000
        )
        yield rec.lock_time
        while state["vault"] < 0:
            yield h.now + HOUR
        tx = h.btc.send(
            [ref.out_to(addr)],
            [(state["vault"], rec.lock_amount)],
            ctx.address(wallet, Role.CHANGE),
        )
        state["coins"].append(tx.out_to(state["vault"]))
        h.rec.bridge.append(
            _row(
                rec,
                side="lock",
                chain="btc",
                lock_tx=tx.hash,
                lock_time=tx.time,
                lock_amount=str(rec.lock_amount),
                lock_asset="BTC",
                lock_address_id=addr,
            )
        )

    h.spawn(plan.params.start, setup())
    for rec in plan.bridge:
        if rec.direction == "eth->btc":
            h.spawn(rec.release_time, release(rec))
        else:
            h.spawn(rec.lock_time - DAY, lock(rec))


# --- account side -----------------------------------------------------------------------------


def attach_eth(h: ChainHandle) -> None:
    plan = h.plan

    def setup() -> Process:
        yield plan.params.start + int(0.06 * plan.params.days) * DAY
        eng = h.eng
        while eng.bridge < 0:
            yield h.now + HOUR
        need = sum(r.release_amount for r in plan.bridge if r.direction == "btc->eth")
        need = int(need * 1.25) + UNITS_PER_ETH
        op = eng.bridge_operator
        while True:
            ctx = h.eth
            try:
                payer = max(
                    (int(a) for a in eng.pool_accounts), key=lambda a: ctx.spendable(a, "eth")
                )
                ctx.pay(payer, op, need + 50 * UNITS_PER_ETH)
                ctx.tx(
                    op,
                    eng.weth,
                    value=need,
                    method=M_DEPOSIT,
                    gas=45_038,
                    transfers=(Transfer("weth", eng.null, op, need),),
                )
                ctx.transfer(op, "weth", eng.bridge, need)
                return
            except Unaffordable:
                yield h.now + 6 * HOUR

    def release(rec: BridgeTransfer) -> Process:
        yield rec.release_time
        eng = h.eng
        while True:
            ctx = h.eth
            to = int(eng.wallets.last_addr.a[rec.actor])
            try:
                tx = ctx.tx(
                    eng.bridge_operator,
                    eng.bridge,
                    method=M_RELEASE,
                    gas=96_000,
                    transfers=(Transfer("weth", eng.bridge, to, rec.release_amount),),
                )
                break
            except Unaffordable:
                yield h.now + HOUR
        h.rec.bridge.append(
            _row(
                rec,
                side="release",
                chain="eth",
                release_tx=tx.hash,
                release_time=tx.time,
                release_amount=str(rec.release_amount),
                release_asset="WETH",
                release_address_id=to,
            )
        )

    def lock(rec: BridgeTransfer) -> Process:
        yield rec.lock_time - DAY
        eng = h.eng
        acct = eng.new_account(eng.scripted_wallet(rec.actor), Role.BRIDGE, eng.ctx.chunk.first)
        fee_money = 5 * UNITS_PER_ETH // 1000
        yield from eth_buy(
            h, int(plan.users.home_eth[rec.actor]), acct, "eth", rec.lock_amount + fee_money
        )
        yield rec.lock_time
        while True:
            try:
                tx = h.eth.tx(acct, eng.bridge, value=rec.lock_amount, method=M_LOCK, gas=62_000)
                break
            except Unaffordable:
                yield h.now + HOUR
        h.rec.bridge.append(
            _row(
                rec,
                side="lock",
                chain="eth",
                lock_tx=tx.hash,
                lock_time=tx.time,
                lock_amount=str(rec.lock_amount),
                lock_asset="ETH",
                lock_address_id=acct,
            )
        )

    h.spawn(plan.params.start, setup())
    for rec in plan.bridge:
        if rec.direction == "btc->eth":
            h.spawn(rec.release_time, release(rec))
        elif rec.scheme is None:
            h.spawn(rec.lock_time - DAY, lock(rec))
