"""A DeFi hack: a lending protocol drained on the account chain, laundered on the UTXO chain.

Account chain: the team deploys Lendora; depositors (the victims) buy ETH or USDT at their
exchange, wrap ETH into WETH and deposit. The attacker, with gas money from the no-KYC
exchange, deploys an exploit contract and drains the protocol's WETH and USDT in one
transaction, swaps the USDT for WETH at the DEX (so that it cannot be frozen), and locks
the WETH in the bridge in several transfers (chain hopping).

UTXO chain: the bridge releases bitcoin to the attacker's addresses; each release is split
(fan-out) and sent on through CoinJoin, the custodial mixer, mules' accounts at Exchange A
(just under the reporting threshold), the sanctioned exchange and the OTC desk.

All amounts and times that cross chains come from the plan (``plans.plan_schemes``).
"""

from __future__ import annotations

from typing import Any

from chainsleuth.world.account_script import Transfer
from chainsleuth.world.account_state import (
    M_APPROVE,
    M_DEPOSIT,
    M_EXPLOIT,
    M_LEND,
    M_LOCK,
    M_SWAP_TOKENS,
    UNITS_PER_ETH,
)
from chainsleuth.world.crime import ChainHandle
from chainsleuth.world.crime.bridge import lock_hop_id
from chainsleuth.world.crime.cashout import THRESHOLD_USD, btc_target, record_structuring
from chainsleuth.world.crime.funding import eth_buy, eth_gas
from chainsleuth.world.crime.mixers import coinjoin, custodial_mix
from chainsleuth.world.crime.plans import GARANTIA, OURS, QUICKSWAP, BridgeTransfer, SchemePlan, sat
from chainsleuth.world.enums import Link, Role
from chainsleuth.world.plan import P2TR, P2WPKH
from chainsleuth.world.schedule import DAY, HOUR, Process, Unaffordable
from chainsleuth.world.services import refill_dex_weth
from chainsleuth.world.utxo_script import Coin, UtxoTxRef

GAS_MONEY = UNITS_PER_ETH // 20  # 0.05 ETH
#: hops from which a run of mule deposits off one coin is also a peel chain in the truth
#: (a long run of small peels; risk.policy.PeelChainPolicy.min_hops is 5 by default)
PEEL_RUN = 5
#: mule deposits just under the threshold off one coin from which they are also structuring
#: in the truth (several sub-threshold deposits; risk.policy.StructuringPolicy.min_payments
#: is 3 by default)
STRUCTURED_RUN = 3


def attach(h: ChainHandle, scheme: SchemePlan) -> None:
    if h.chain == "eth":
        _attach_eth(h, scheme)
    else:
        _attach_btc(h, scheme)


def _attach_eth(h: ChainHandle, scheme: SchemePlan) -> None:
    info, sid = scheme.info, scheme.id
    state: dict[str, Any] = {"protocol": -1, "deposits": []}
    locks = [r for r in h.plan.bridge if r.scheme == sid]

    def deploy() -> Process:
        yield info["deploy_time"]
        eng = h.eng
        team = eng.new_account(
            eng.scripted_wallet(info["team"]), Role.OPERATOR, eng.ctx.chunk.first
        )
        yield from eth_gas(h, team, 1, UNITS_PER_ETH)
        while True:
            try:
                ref = h.eth.tx(
                    team,
                    -1,
                    gas=4_820_000,
                    create_wallet=eng.contract_wallet(info["protocol"]),
                    role=Role.CONTRACT,
                )
                break
            except Unaffordable:
                yield h.now + HOUR
        state["protocol"] = ref.created

    def deposit(d: dict[str, Any]) -> Process:
        yield d["time"]
        while state["protocol"] < 0:
            yield h.now + HOUR
        eng = h.eng
        acct = eng.new_account(eng.scripted_wallet(d["actor"]), Role.RECEIVE, eng.ctx.chunk.first)
        units = d["units"]
        if d["asset"] == "weth":
            buy = yield from eth_buy(h, d["exchange"], acct, "eth", units + GAS_MONEY)
        else:
            yield from eth_gas(h, acct, d["exchange"], GAS_MONEY)
            buy = yield from eth_buy(h, d["exchange"], acct, "usdt", units)
        start = h.rec.hop(
            sid,
            "victim_purchase",
            Link.START,
            buy,
            [],
            frm=[buy.sender],
            to=[acct],
            amount=units,
            asset="ETH" if d["asset"] == "weth" else "USDT",
        )
        yield h.now + int(h.rng.uniform(1, 20) * HOUR)
        ctx = h.eth
        parent = start
        if d["asset"] == "weth":
            wrap = ctx.tx(
                acct,
                eng.weth,
                value=units,
                method=M_DEPOSIT,
                gas=45_038,
                transfers=(Transfer("weth", eng.null, acct, units),),
            )
            parent = h.rec.hop(
                sid,
                "wrap",
                Link.ACCOUNT,
                wrap,
                [start],
                frm=[acct],
                to=[acct],
                amount=units,
                asset="WETH",
            )
        else:
            ctx.tx(acct, eng.usdt, method=M_APPROVE, gas=46_318)
        yield h.now + 20 * 60
        token = d["asset"]
        tx = h.eth.tx(
            acct,
            state["protocol"],
            method=M_LEND,
            gas=212_000,
            transfers=(Transfer(token, acct, state["protocol"], units),),
        )
        hop = h.rec.hop(
            sid,
            "protocol_deposit",
            Link.ACCOUNT,
            tx,
            [parent],
            frm=[acct],
            to=[state["protocol"]],
            amount=units,
            asset=token.upper(),
        )
        state["deposits"].append(hop)

    def exploit() -> Process:
        yield info["exploit_time"] - DAY
        eng = h.eng
        attacker = eng.new_account(
            eng.scripted_wallet(info["hacker"]), Role.EXPLOIT, eng.ctx.chunk.first
        )
        state["attacker"] = attacker
        funding = yield from eth_buy(h, QUICKSWAP, attacker, "eth", UNITS_PER_ETH)
        h.rec.typology(
            "exploit_funding",
            [funding],
            [attacker],
            scheme=sid,
            note="gas money from a no-KYC exchange a day before the exploit",
        )
        yield info["exploit_time"]
        while len(state["deposits"]) < len(info["deposits"]):
            yield h.now + HOUR
        ctx = h.eth
        contract = ctx.tx(
            attacker,
            -1,
            gas=2_410_000,
            create_wallet=eng.contract_wallet(info["hacker"]),
            role=Role.EXPLOIT,
        ).created
        yield h.now + 5 * 60
        ctx = h.eth
        protocol = state["protocol"]
        tx = ctx.tx(
            attacker,
            contract,
            method=M_EXPLOIT,
            gas=1_870_000,
            transfers=(
                Transfer("weth", protocol, attacker, info["stolen_weth"]),
                Transfer("usdt", protocol, attacker, info["stolen_usdt"]),
            ),
        )
        w = h.rec.hop(
            sid,
            "exploit",
            Link.ACCOUNT,
            tx,
            state["deposits"],
            frm=[protocol],
            to=[attacker],
            amount=info["stolen_weth"],
            asset="WETH",
        )
        u = h.rec.hop(
            sid,
            "exploit",
            Link.ACCOUNT,
            tx,
            state["deposits"],
            frm=[protocol],
            to=[attacker],
            amount=info["stolen_usdt"],
            asset="USDT",
        )
        h.rec.events.append(
            {
                "scheme": sid,
                "kind": "exploit",
                "tx_hash": tx.hash,
                "time": tx.time,
                "actor": info["hacker"],
            }
        )
        yield info["swap_time"]
        ctx = h.eth
        out = info["swap_weth_out"]
        if ctx.spendable(eng.dex, "weth") < out:
            refill_dex_weth(eng, out - ctx.spendable(eng.dex, "weth") + UNITS_PER_ETH)
        swap = ctx.tx(
            attacker,
            eng.dex,
            method=M_SWAP_TOKENS,
            gas=168_000,
            transfers=(
                Transfer("usdt", attacker, eng.dex, info["stolen_usdt"]),
                Transfer("weth", eng.dex, attacker, out),
            ),
        )
        s = h.rec.hop(
            sid,
            "swap",
            Link.SWAP,
            swap,
            [u],
            frm=[attacker],
            to=[attacker],
            amount=out,
            asset="WETH",
        )
        lock_txs = []
        for rec in locks:
            yield rec.lock_time
            tx = h.eth.tx(
                attacker,
                eng.bridge,
                method=M_LOCK,
                gas=88_000,
                transfers=(Transfer("weth", attacker, eng.bridge, rec.lock_amount),),
            )
            h.rec.hop(
                sid,
                "bridge_lock",
                Link.ACCOUNT,
                tx,
                [w, s],
                frm=[attacker],
                to=[eng.bridge],
                amount=rec.lock_amount,
                asset="WETH",
                hop_id=lock_hop_id(rec),
            )
            h.rec.bridge.append(
                {
                    "record": rec.record,
                    "direction": rec.direction,
                    "actor": rec.actor,
                    "scheme": sid,
                    "side": "lock",
                    "chain": "eth",
                    "lock_tx": tx.hash,
                    "lock_time": tx.time,
                    "lock_amount": str(rec.lock_amount),
                    "lock_asset": "WETH",
                    "lock_address_id": attacker,
                }
            )
            lock_txs.append(tx)
        h.rec.typology(
            "chain_hopping",
            lock_txs,
            [attacker, eng.bridge],
            scheme=sid,
            note="stolen funds bridged to the UTXO chain",
        )

    h.spawn(info["deploy_time"], deploy())
    for d in info["deposits"]:
        h.spawn(d["time"], deposit(d))
    h.spawn(info["exploit_time"] - DAY, exploit())


def _attach_btc(h: ChainHandle, scheme: SchemePlan) -> None:
    info, sid = scheme.info, scheme.id
    locks = [r for r in h.plan.bridge if r.scheme == sid]
    mules: list[int] = info["mules"]

    def setup() -> Process:
        yield h.plan.params.start
        wallet = h.btc.wallet(info["hacker"], P2TR)
        h.services.setdefault("wallets", {})[sid] = wallet
        for i, rec in enumerate(locks):
            h.spawn(rec.release_time, launder(rec, i))

    def launder(rec: BridgeTransfer, index: int) -> Process:
        yield rec.release_time
        while rec.record not in h.services["bridge_out"]:
            yield h.now + HOUR
        coin: Coin = h.services["bridge_out"][rec.record]
        parent = f"{sid}:release:{rec.record}"
        yield h.later(1, 6)
        ctx = h.btc
        wallet = h.services["wallets"][sid]
        targets = [
            ctx.address(wallet, Role.SPLIT, script=P2WPKH) for _ in range(int(h.rng.integers(4, 8)))
        ]
        tx = ctx.split([coin], targets)
        split = h.rec.hop(
            sid,
            "split",
            Link.SPEND,
            tx,
            [parent],
            frm=[coin.addr],
            to=targets,
            amount=coin.value,
            asset="BTC",
        )
        h.rec.typology(
            "fan_out", [tx], [coin.addr, *targets], scheme=sid, note="bridge release split"
        )
        for j, piece in enumerate(tx.outs):
            route = (index + j) % 4
            h.spawn(h.later(2, 48), onward(piece, split, route, wallet))

    def onward(coin: Coin, parent: str, route: int, wallet: int) -> Process:
        yield h.now
        if route == 0:  # CoinJoin, then the OTC desk
            coins, hop = yield from coinjoin(h, coin, wallet, sid, parent)
            yield h.later(4, 40)
            target, cash = btc_target(h, None, info["hacker"])
            _cash(h, sid, coins, target, cash, hop)
        elif route == 1:  # the custodial mixer, then the sanctioned exchange
            coins, hop = yield from custodial_mix(
                h, [coin], info["hacker"], wallet, 2, sid, [parent]
            )
            for c in coins:
                yield h.later(2, 20)
                target, cash = btc_target(h, GARANTIA, info["hacker"])
                _cash(h, sid, [c], target, cash, hop)
        elif route == 2:  # mules at Exchange A, just under the threshold; the rest to QuickSwap
            run: list[UtxoTxRef] = []  # the mule deposits, each spending the last one's change
            for mule in mules:
                if coin.value < 3 * sat(h.plan, THRESHOLD_USD, h.now):
                    break
                ctx = h.btc
                target, cash = btc_target(h, OURS, mule)
                amount = sat(h.plan, float(h.rng.uniform(0.9, 0.99)) * THRESHOLD_USD, ctx.now)
                nxt = ctx.address(wallet, Role.PEEL, script=P2WPKH)
                tx = ctx.send([coin], [(target, amount)], nxt)
                cash["amount"] = amount
                parent = h.rec.hop(
                    sid,
                    "mule_deposit",
                    Link.SPEND,
                    tx,
                    [parent],
                    frm=[coin.addr],
                    to=[target, nxt],
                    amount=amount,
                    asset="BTC",
                    cash_out=cash,
                )
                h.rec.typology(
                    "money_mule",
                    [tx],
                    [target],
                    scheme=sid,
                    note=f"hack proceeds to mule actor {mule} at Exchange A",
                )
                run.append(tx)
                coin = tx.out_to(nxt)
                yield h.later(1, 10)
            target, cash = btc_target(h, QUICKSWAP, info["hacker"])
            last = _cash(h, sid, [coin], target, cash, parent)
            if len(run) >= STRUCTURED_RUN:
                # deposits of USD 9,000-9,900 each into mules' accounts at one exchange:
                # a deposit split to stay under the reporting threshold
                record_structuring(h, sid, run)
            if len(run) + 1 >= PEEL_RUN:
                # a long run of mule deposits peeled off one coin is a peel chain as well
                peels = [*run, last]
                h.rec.typology(
                    "peel_chain",
                    peels,
                    [c.addr for t in peels for c in (*t.inputs, *t.outs)],
                    scheme=sid,
                    note=f"{len(peels)} hops: mule deposits at Exchange A, then QuickSwap",
                )
        else:  # straight to the OTC desk
            target, cash = btc_target(h, None, info["hacker"])
            _cash(h, sid, [coin], target, cash, parent)

    h.spawn(h.plan.params.start, setup())


def _cash(
    h: ChainHandle, sid: str, coins: list[Coin], target: int, cash: dict[str, Any], parent: str
) -> UtxoTxRef:
    """The cash-out sweep of ``coins`` to ``target``, recorded as the scheme's last hop."""
    tx = h.btc.sweep(coins, target)
    cash["amount"] = tx.outs[0].value
    h.rec.hop(
        sid,
        "cash_out",
        Link.SPEND,
        tx,
        [parent],
        frm=[c.addr for c in coins],
        to=[target],
        amount=tx.outs[0].value,
        asset="BTC",
        cash_out=cash,
    )
    return tx
