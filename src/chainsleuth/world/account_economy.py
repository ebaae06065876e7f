"""The ordinary economy of the account chain, one chunk of blocks at a time, vectorised.

Every kind of transaction (plain ETH payments, USDT ``transfer`` calls, deposits to an
exchange's per-customer deposit address, withdrawals from its hot wallet, sweeps of deposit
addresses into the hot wallet with a gas top-up first for USDT, DEX swaps, WETH wraps, pool
payouts, hot/cold transfers) is drawn as arrays of (sender, receiver, weight). Then every
sender's spending in the chunk is capped by what it had when the chunk began (minus what
scripted transactions of the chunk take): fees first, then each asset's budget is shared
among its transactions. Money received in a chunk is spendable from the next one, so any
order of the chunk's transactions keeps every balance non-negative.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
from numpy.typing import NDArray

from chainsleuth.world.account_state import (
    M_APPROVE,
    M_DEPOSIT,
    M_SWAP_ETH,
    M_SWAP_TOKENS,
    M_TRANSFER,
    UNITS_PER_ETH,
    USDT_PER_DOLLAR,
    WEI_PER_UNIT,
)
from chainsleuth.world.account_tables import AccountTxs
from chainsleuth.world.arrays import weighted_choice
from chainsleuth.world.enums import WalletKind
from chainsleuth.world.utxo_tables import GROUP_ORDINARY

if TYPE_CHECKING:
    from chainsleuth.world.account import AccountChain, AccountChunk

I64 = NDArray[np.int64]
K = WalletKind

(
    P2P_ETH,
    P2P_USDT,
    DEP_ETH,
    DEP_USDT,
    WD_ETH,
    WD_USDT,
    SWAP_E2U,
    SWAP_U2W,
    WRAP,
    PAYOUT,
    SWEEP_ETH,
    SWEEP_USDT,
    TOPUP,
    APPROVE,
    TO_COLD,
    TO_HOT,
    SELL,
) = range(17)
#: share of the chunk's ordinary transactions by kind (sweeps and top-ups follow from state)
SHARES = {
    P2P_ETH: 0.19,
    P2P_USDT: 0.18,
    DEP_ETH: 0.11,
    DEP_USDT: 0.09,
    WD_ETH: 0.11,
    WD_USDT: 0.09,
    SWAP_E2U: 0.035,
    SWAP_U2W: 0.025,
    WRAP: 0.01,
    PAYOUT: 0.03,
}
ETH_KINDS = [P2P_ETH, DEP_ETH, WD_ETH, SWAP_E2U, WRAP, PAYOUT, SELL, SWEEP_ETH, TO_COLD, TO_HOT]
USDT_KINDS = [P2P_USDT, DEP_USDT, WD_USDT, SWAP_U2W, SWEEP_USDT]
GAS = {
    P2P_ETH: 21_000,
    DEP_ETH: 21_000,
    WD_ETH: 21_000,
    PAYOUT: 21_000,
    SWEEP_ETH: 21_000,
    TOPUP: 21_000,
    TO_COLD: 21_000,
    TO_HOT: 21_000,
    SELL: 21_000,
    P2P_USDT: 46_109,
    DEP_USDT: 46_109,
    WD_USDT: 51_509,
    SWEEP_USDT: 41_309,
    SWAP_E2U: 127_000,
    SWAP_U2W: 152_000,
    WRAP: 45_038,
    APPROVE: 46_318,
}
TRANSFER_GAS_MAX = 65_000
#: median dollar amount per kind (lognormal); kinds not listed move what the budget allows
USD_MEDIAN = {
    P2P_ETH: 150.0,
    P2P_USDT: 200.0,
    DEP_ETH: 500.0,
    DEP_USDT: 600.0,
    WD_ETH: 400.0,
    WD_USDT: 500.0,
    SWAP_E2U: 500.0,
    SWAP_U2W: 500.0,
    WRAP: 800.0,
    PAYOUT: 300.0,
}
TOPUP_UNITS = 4 * UNITS_PER_ETH // 1000  # 0.004 ETH of gas money


@dataclass
class Rows:
    kind: I64
    sender: I64
    to: I64  # the receiver of value or tokens (not the contract called)


def _users_with(eng: AccountChain, avail: I64, minimum: int) -> tuple[I64, NDArray[np.float64]]:
    accts = eng.user_accounts
    ok = accts[avail[accts] >= minimum]
    return ok, np.cumsum(eng.user_activity[ok - eng.user_accounts[0]] + 1e-9)


def ordinary_account_txs(eng: AccountChain, chunk: AccountChunk, target: int) -> AccountTxs:
    rng, A = eng.rng, eng.accounts
    n_acc = len(A)
    avail = {
        a: np.maximum(A.balance(a).a[:n_acc] - chunk.script_debit(a, n_acc), 0)
        for a in ("eth", "usdt", "weth")
    }
    price = eng.plan.prices.at("ETH", int(chunk.times[0]), eng.params.start)
    gas_cost = int(np.median(chunk.gasprice)) * TRANSFER_GAS_MAX
    parts: list[Rows] = []

    def add(kind: int, sender: I64, to: I64) -> None:
        parts.append(Rows(np.full(sender.size, kind, dtype=np.int64), sender, to))

    # state-driven: sweeps, USDT sweeps, gas top-ups
    dep = eng.deposit_accounts()
    has_usdt = avail["usdt"][dep] > 0
    enough_gas = avail["eth"][dep] >= 2 * gas_cost
    ex_of_dep = eng.deposit_exchange(dep)
    s = dep[has_usdt & enough_gas]
    add(SWEEP_USDT, s, eng.hot[eng.deposit_exchange(s)])
    s = dep[has_usdt & ~enough_gas]
    add(TOPUP, eng.hot[eng.deposit_exchange(s)], s)
    s = dep[~has_usdt & (avail["eth"][dep] >= 40 * gas_cost)]
    add(SWEEP_ETH, s, eng.hot[eng.deposit_exchange(s)])
    del ex_of_dep
    state_txs = sum(p.sender.size for p in parts)

    counts = rng.multinomial(
        max(target - state_txs, 0), np.array(list(SHARES.values())) / sum(SHARES.values())
    )
    n = dict(zip(SHARES, counts, strict=True))
    min_eth = UNITS_PER_ETH // 200
    holders: dict[tuple[str, int], tuple[I64, NDArray[np.float64]]] = {}
    for kind, asset, minimum in (
        (P2P_ETH, "eth", min_eth),
        (DEP_ETH, "eth", min_eth),
        (SWAP_E2U, "eth", min_eth),
        (WRAP, "eth", min_eth),
        (P2P_USDT, "usdt", 5 * USDT_PER_DOLLAR),
        (DEP_USDT, "usdt", 5 * USDT_PER_DOLLAR),
        (SWAP_U2W, "usdt", 20 * USDT_PER_DOLLAR),
    ):
        if (asset, minimum) not in holders:  # avail does not change in this loop
            holders[asset, minimum] = _users_with(eng, avail[asset], minimum)
        pool, cum = holders[asset, minimum]
        if pool.size == 0 or n[kind] == 0:
            continue
        senders = pool[weighted_choice(rng, cum, int(n[kind]))]
        if asset == "usdt":
            senders = senders[avail["eth"][senders] >= 2 * gas_cost]
        if kind in (P2P_ETH, P2P_USDT):
            to = eng.user_accounts[weighted_choice(rng, eng.user_cum, senders.size)]
            add(kind, senders, to)
        elif kind in (DEP_ETH, DEP_USDT):
            add(kind, senders, eng.deposit_account_of(senders, chunk.first))
        elif kind == SWAP_U2W:
            ready = A.approved.a[senders]
            add(kind, senders[ready], senders[ready])
            add(APPROVE, np.unique(senders[~ready]), np.unique(senders[~ready]))
        else:
            add(kind, senders, senders)
    # exchanges: withdrawals from hot wallets to their customers
    for kind, asset in ((WD_ETH, "eth"), (WD_USDT, "usdt")):
        budget = avail[asset][eng.hot]
        if n[kind] == 0 or budget.sum() <= 0:
            continue
        ex = rng.choice(eng.hot.size, size=int(n[kind]), p=budget / budget.sum())
        for e in np.unique(ex):
            wallets, cum = eng.customers_eth[int(e)]
            if wallets.size == 0:
                continue
            k = int((ex == e).sum())
            to = eng.main_account(wallets[weighted_choice(rng, cum, k)], chunk.first)
            add(kind, np.full(k, eng.hot[e]), to)
    # pools pay their miners (or sell at their exchange)
    pools = eng.pool_accounts[avail["eth"][eng.pool_accounts] > UNITS_PER_ETH]
    if pools.size and n[PAYOUT]:
        senders = rng.choice(pools, size=int(n[PAYOUT]))
        to = eng.user_accounts[weighted_choice(rng, eng.user_cum, senders.size)]
        sell = rng.random(senders.size) < 0.3
        add(PAYOUT, senders[~sell], to[~sell])
        add(SELL, senders[sell], eng.deposit_account_of(senders[sell], chunk.first))
    # cold storage
    for e, hot in enumerate(eng.hot):
        if avail["eth"][hot] > 2_000 * UNITS_PER_ETH and rng.random() < 0.3:
            add(TO_COLD, np.array([hot]), np.array([eng.cold[e]]))
        elif avail["eth"][hot] < 50 * UNITS_PER_ETH and avail["eth"][eng.cold[e]] > UNITS_PER_ETH:
            add(TO_HOT, np.array([eng.cold[e]]), np.array([hot]))
    rows = Rows(*(np.concatenate([getattr(p, f) for p in parts]) for f in ("kind", "sender", "to")))
    return _amounts(eng, chunk, rows, avail, price)


def _amounts(
    eng: AccountChain, chunk: AccountChunk, rows: Rows, avail: dict[str, I64], price: float
) -> AccountTxs:
    rng = eng.rng
    n = rows.kind.size
    gas_table = np.zeros(17, dtype=np.int64)
    for k, g in GAS.items():
        gas_table[k] = g
    gas = gas_table[rows.kind] + rng.integers(-800, 800, n) * (rows.kind != P2P_ETH)
    height = chunk.first + weighted_choice(rng, chunk.block_cum, n)
    fee = gas * chunk.gasprice[height - chunk.first]
    # fees first: a sender that cannot pay all its fees sends nothing this chunk
    senders, inv = np.unique(rows.sender, return_inverse=True)
    fee_sum = np.bincount(inv, weights=fee).astype(np.int64)
    topup = rows.kind == TOPUP
    fixed = np.bincount(inv, weights=np.where(topup, TOPUP_UNITS, 0)).astype(np.int64)
    ok_sender = fee_sum + fixed <= avail["eth"][senders]
    keep = ok_sender[inv]
    share = rng.lognormal(0.0, 0.9, n)
    full = np.isin(rows.kind, [SWEEP_ETH, SWEEP_USDT, TO_COLD, TO_HOT])
    share[full] = 1.0
    frac_s = rng.uniform(0.15, 0.9, senders.size)
    wallet_kind = eng.wallets.kind.a[eng.accounts.wallet.a[senders]]
    frac_s[wallet_kind == K.EX_DEPOSIT] = 1.0
    frac_s[(wallet_kind == K.EX_HOT) | (wallet_kind == K.EX_COLD)] = 0.5
    frac_s[wallet_kind == K.MINER] = 0.8
    eth_rows = np.bincount(inv, weights=np.isin(rows.kind, ETH_KINDS), minlength=senders.size)
    share[rows.kind == TO_COLD] = np.maximum(eth_rows[inv[rows.kind == TO_COLD]], 1.0) * 1.5
    # what people want to move, in dollars; services move what they have
    median = np.zeros(18)
    for k, dollars in USD_MEDIAN.items():
        median[k] = dollars
    usd = median[rows.kind] * rng.lognormal(0.0, 1.25, n)
    desired = np.where(
        np.isin(rows.kind, USDT_KINDS),
        usd * USDT_PER_DOLLAR,
        usd / price * UNITS_PER_ETH,
    )
    desired[median[rows.kind] == 0] = np.inf
    value = np.zeros(n, dtype=np.int64)
    usdt = np.zeros(n, dtype=np.int64)
    for asset, kinds, out in (("eth", ETH_KINDS, value), ("usdt", USDT_KINDS, usdt)):
        mask = np.isin(rows.kind, kinds) & keep
        wsum = np.bincount(inv[mask], weights=share[mask], minlength=senders.size)
        base = avail[asset][senders] - (fee_sum + fixed if asset == "eth" else 0)
        budget = np.maximum(base, 0) * frac_s
        idx = np.flatnonzero(mask)
        cap = np.floor(budget[inv[idx]] * share[idx] / wsum[inv[idx]])
        out[idx] = np.minimum(cap, desired[idx]).astype(np.int64)
    value[topup] = TOPUP_UNITS
    value[rows.kind == SWEEP_ETH] = np.maximum(
        avail["eth"][rows.sender[rows.kind == SWEEP_ETH]] - fee[rows.kind == SWEEP_ETH], 0
    )
    # round people's amounts a little, as people do
    people = np.isin(rows.kind, [P2P_ETH, DEP_ETH, WD_ETH, SWAP_E2U, WRAP])
    value[people] = (value[people] // 10**6) * 10**6  # 0.00001 ETH steps
    usdt_people = np.isin(rows.kind, [P2P_USDT, DEP_USDT, WD_USDT, SWAP_U2W])
    usdt[usdt_people] = (usdt[usdt_people] // 10_000) * 10_000  # cents
    # the DEX pays out of its own reserves, scaled down when they run short
    dex_usdt_out = np.zeros(n, dtype=np.int64)
    e2u = (rows.kind == SWAP_E2U) & keep
    rate = price * USDT_PER_DOLLAR / UNITS_PER_ETH * 0.997
    dex_usdt_out[e2u] = np.floor(value[e2u] * rate).astype(np.int64)
    total = dex_usdt_out.sum()
    if total > avail["usdt"][eng.dex]:
        scale = avail["usdt"][eng.dex] / total * 0.999
        value[e2u] = np.floor(value[e2u] * scale).astype(np.int64)
        dex_usdt_out[e2u] = np.floor(value[e2u] * rate).astype(np.int64)
    dex_weth_out = np.zeros(n, dtype=np.int64)
    u2w = (rows.kind == SWAP_U2W) & keep
    dex_weth_out[u2w] = np.floor(usdt[u2w] / rate).astype(np.int64)
    total = dex_weth_out.sum()
    if total > avail["weth"][eng.dex]:
        scale = avail["weth"][eng.dex] / total * 0.999
        usdt[u2w] = np.floor(usdt[u2w] * scale).astype(np.int64)
        dex_weth_out[u2w] = np.floor(usdt[u2w] / rate).astype(np.int64)
    moves = np.isin(rows.kind, [*ETH_KINDS, *USDT_KINDS])
    empty = moves & (value == 0) & (usdt == 0)
    keep &= ~empty
    keep &= ~((rows.kind == SWAP_E2U) & (dex_usdt_out == 0))
    keep &= ~((rows.kind == SWAP_U2W) & (dex_weth_out == 0))
    return _build(eng, rows, keep, height, value, usdt, dex_usdt_out, dex_weth_out, gas, fee)


def _build(
    eng: AccountChain,
    rows: Rows,
    keep: NDArray[np.bool_],
    height: I64,
    value: I64,
    usdt: I64,
    dex_usdt_out: I64,
    dex_weth_out: I64,
    gas: I64,
    fee: I64,
) -> AccountTxs:
    rng = eng.rng
    idx = np.flatnonzero(keep)
    k = rows.kind[idx]
    n = idx.size
    failed = np.isin(k, [P2P_ETH, P2P_USDT, SWAP_E2U, SWAP_U2W]) & (rng.random(n) < 0.012)
    status = np.where(failed, 0, 1).astype(np.int8)
    to_contract = np.select(
        [
            np.isin(k, USDT_KINDS[:3] + [SWEEP_USDT, APPROVE]),
            np.isin(k, [SWAP_E2U, SWAP_U2W]),
            k == WRAP,
        ],
        [eng.usdt, eng.dex, eng.weth],
        default=-1,
    )
    to = np.where(to_contract >= 0, to_contract, rows.to[idx])
    method = np.select(
        [
            np.isin(k, USDT_KINDS[:3] + [SWEEP_USDT]),
            k == APPROVE,
            k == SWAP_E2U,
            k == SWAP_U2W,
            k == WRAP,
        ],
        [M_TRANSFER, M_APPROVE, M_SWAP_ETH, M_SWAP_TOKENS, M_DEPOSIT],
        default=-1,
    )
    eth_value = np.where(np.isin(k, [*ETH_KINDS, TOPUP]), value[idx], 0)
    # token transfers (none for failed transactions)
    ok = ~failed
    tr_parts: list[tuple[I64, int, I64, I64, I64, I64, int]] = []
    sel = np.flatnonzero(ok & np.isin(k, USDT_KINDS[:3] + [SWEEP_USDT]))
    tr_parts.append(
        (
            sel,
            eng.usdt,
            rows.sender[idx[sel]],
            rows.to[idx[sel]],
            usdt[idx[sel]],
            np.zeros(sel.size, np.int64),
            1,
        )
    )
    sel = np.flatnonzero(ok & (k == SWAP_E2U))
    tr_parts.append(
        (
            sel,
            eng.usdt,
            np.full(sel.size, eng.dex),
            rows.sender[idx[sel]],
            dex_usdt_out[idx[sel]],
            np.zeros(sel.size, np.int64),
            1,
        )
    )
    sel = np.flatnonzero(ok & (k == SWAP_U2W))
    tr_parts.append(
        (
            sel,
            eng.usdt,
            rows.sender[idx[sel]],
            np.full(sel.size, eng.dex),
            usdt[idx[sel]],
            np.zeros(sel.size, np.int64),
            1,
        )
    )
    tr_parts.append(
        (
            sel,
            eng.weth,
            np.full(sel.size, eng.dex),
            rows.sender[idx[sel]],
            dex_weth_out[idx[sel]],
            np.ones(sel.size, np.int64),
            WEI_PER_UNIT,
        )
    )
    sel = np.flatnonzero(ok & (k == WRAP))
    tr_parts.append(
        (
            sel,
            eng.weth,
            np.full(sel.size, eng.null),
            rows.sender[idx[sel]],
            value[idx[sel]],
            np.zeros(sel.size, np.int64),
            WEI_PER_UNIT,
        )
    )
    approve = np.flatnonzero(ok & (k == APPROVE))
    eng.accounts.approved.a[rows.sender[idx[approve]]] = True
    return AccountTxs(
        key=eng.next_keys(n),
        height=height[idx],
        group=np.full(n, GROUP_ORDINARY, dtype=np.int8),
        sub=rng.random(n),
        sender=rows.sender[idx],
        to=to,
        value=eth_value,
        fee=fee[idx],
        gas=gas[idx],
        status=status,
        method=method,
        created=np.full(n, -1, dtype=np.int64),
        tr_tx=np.concatenate([p[0] for p in tr_parts]),
        tr_seq=np.concatenate([p[5] for p in tr_parts]),
        tr_token=np.concatenate([np.full(p[0].size, p[1]) for p in tr_parts]),
        tr_factor=np.concatenate([np.full(p[0].size, p[6]) for p in tr_parts]),
        tr_from=np.concatenate([p[2] for p in tr_parts]),
        tr_to=np.concatenate([p[3] for p in tr_parts]),
        tr_amount=np.concatenate([p[4] for p in tr_parts]),
    )
