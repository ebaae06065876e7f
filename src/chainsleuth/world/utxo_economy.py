"""The ordinary economy of the UTXO chain, one chunk of blocks at a time, vectorised.

1. **Choose coins to spend**: every mature unspent output in the pool is spent in this chunk
   with a probability set by its wallet's kind (and, for people, their activity, scaled so
   that the chunk reaches its transaction target). Each coin is drawn at most once, and only
   coins made before the chunk started are eligible: no double spends, no spends of outputs
   that do not exist yet.
2. **Group them into transactions** by wallet (sorted by wallet, then random): a wallet's
   chosen coins are cut into transactions of one or more inputs. All inputs of a transaction
   belong to one wallet, as the multi-input heuristic assumes.
3. **Decide outputs** by the wallet's kind: people pay other people, merchants or their
   exchange deposit address and take change to a fresh address of their own wallet type;
   merchants cash out to their exchange; pools pay out to miners; deposit wallets are swept
   into the hot wallet; hot wallets pay customers' withdrawals in batches, one chained
   transaction after another (each spends the previous one's change), and top up cold
   storage.
4. **Amounts**: fee = virtual size x the block's fee rate; payments share ``inputs - fee``;
   change is the rest. Values are conserved exactly: ``sum(inputs) = sum(outputs) + fee``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
from numpy.typing import NDArray

from chainsleuth.world.arrays import group_starts, rank_in_groups, weighted_choice
from chainsleuth.world.enums import WalletKind
from chainsleuth.world.utxo_state import DUST, INPUT_VSIZE, OUTPUT_VSIZE, TX_OVERHEAD_VSIZE
from chainsleuth.world.utxo_tables import GROUP_ORDINARY, UtxoTxs

if TYPE_CHECKING:
    from chainsleuth.world.utxo import Chunk, UtxoChain

I64 = NDArray[np.int64]
F64 = NDArray[np.float64]

K = WalletKind
#: chance per chunk that a coin of a service wallet is spent (people: scaled to the target)
SERVICE_RATE = {K.MINER: 0.85, K.EX_DEPOSIT: 0.9, K.EX_HOT: 0.75, K.EX_COLD: 0.04, K.MERCHANT: 0.5}
PEOPLE_RATE = {K.USER: 1.0}
#: chance that the next chosen coin of a wallet starts a new transaction
NEW_TX = {K.USER: 0.45, K.MERCHANT: 0.06, K.MINER: 0.35, K.EX_DEPOSIT: 0.035, K.EX_COLD: 0.6}
# destinations of a transaction
D_P2P, D_MERCHANT, D_DEPOSIT, D_PAYOUT, D_SWEEP, D_COLD, D_HOT, D_SUPPLIER, D_SELF = range(9)
#: a person's wallet with more coins than this consolidates all but its largest few
CONSOLIDATE_ABOVE = 8
KEEP_AFTER_CONSOLIDATION = 2


def _eligible(eng: UtxoChain, chunk: Chunk) -> tuple[NDArray[np.bool_], NDArray[np.int8]]:
    """Which pool coins may be spent now (a fresh array) and each coin's wallet kind."""
    pool = eng.pool
    if chunk.cache is None:  # once per chunk: the pool does not change during it
        kind = eng.wallets.kind.a[pool.wallet]
        chunk.cache = ((pool.mature <= chunk.first) & (pool.value >= 2 * DUST), kind)
    mature, kind = chunk.cache
    return mature & ~chunk.taken, kind


def _in_wallet_order(eng: UtxoChain, chosen: I64) -> I64:
    """``chosen`` sorted by wallet, in random order within each wallet."""
    noise = eng.rng.integers(0, 1 << 31, size=chosen.size, dtype=np.int64)
    key = (eng.pool.wallet[chosen].astype(np.int64) << 31) | noise
    return chosen[np.argsort(key)]


def choose_service_coins(eng: UtxoChain, chunk: Chunk) -> I64:
    """Coins of miners and exchanges to spend this chunk, in wallet order."""
    eligible, kind = _eligible(eng, chunk)
    prob = np.zeros(len(eng.pool), dtype=np.float64)
    for k, rate in SERVICE_RATE.items():
        prob[kind == k] = rate
    prob[~eligible] = 0.0
    return _in_wallet_order(eng, np.flatnonzero(eng.rng.random(len(eng.pool)) < prob))


def choose_people_coins(eng: UtxoChain, chunk: Chunk, target_txs: int, taken: I64) -> I64:
    """Coins of people and merchants: as many as ``target_txs`` transactions need."""
    eligible, kind = _eligible(eng, chunk)
    eligible[taken] = False
    weight = np.zeros(len(eng.pool), dtype=np.float64)
    activity = eng.wallets.activity.a[eng.pool.wallet]
    for k, rate in PEOPLE_RATE.items():
        mask = kind == k
        weight[mask] = rate * activity[mask]
    weight[~eligible] = 0.0
    want = max(target_txs, 0) * eng.inputs_per_tx
    scale = want / max(weight.sum(), 1e-9)
    for _ in range(3):
        got = np.minimum(1.0, scale * weight).sum()
        if got <= 0:
            break
        scale *= want / got
    prob = np.minimum(1.0, scale * weight)
    return _in_wallet_order(eng, np.flatnonzero(eng.rng.random(len(eng.pool)) < prob))


def ordinary_txs(eng: UtxoChain, chunk: Chunk, target_txs: int) -> tuple[UtxoTxs, I64]:
    """The chunk's ordinary transactions, and the pool indices they spend."""
    service = choose_service_coins(eng, chunk)
    hot = eng.wallets.kind.a[eng.pool.wallet[service]] == K.EX_HOT
    simple, simple_spent = _simple_txs(eng, chunk, service[~hot])
    chained, chained_spent = _hot_chains(eng, chunk, service[hot])
    merged = choose_consolidations(eng, chunk, service)
    consolidated, consolidated_spent = _simple_txs(eng, chunk, merged, consolidate=True)
    people_target = target_txs - simple.count - chained.count - consolidated.count
    people = choose_people_coins(eng, chunk, people_target, np.concatenate([service, merged]))
    personal, personal_spent = _simple_txs(eng, chunk, people)
    if personal.count:
        eng.inputs_per_tx = 0.7 * eng.inputs_per_tx + 0.3 * max(
            1.0, personal.in_tx.size / personal.count
        )
    batch = UtxoTxs.concat([simple, chained, consolidated, personal])
    return batch, np.concatenate([simple_spent, chained_spent, consolidated_spent, personal_spent])


# --- one transaction per group of coins -------------------------------------------------------


def choose_consolidations(eng: UtxoChain, chunk: Chunk, taken: I64) -> I64:
    """People's wallets holding many small coins sweep all but their largest into a new
    address of their own (wallets do this when fees are low): the pool stays bounded."""
    eligible, kind = _eligible(eng, chunk)
    eligible[taken] = False
    eligible &= kind == K.USER
    counts = np.bincount(eng.pool.wallet[eligible], minlength=len(eng.wallets))
    crowded = counts > CONSOLIDATE_ABOVE
    cand = np.flatnonzero(eligible & crowded[eng.pool.wallet])
    if cand.size == 0 or chunk.feerate.mean() > 40:
        return cand[:0]
    order = np.lexsort((-eng.pool.value[cand], eng.pool.wallet[cand]))
    cand = cand[order]
    rank = rank_in_groups(eng.pool.wallet[cand])
    return cand[rank >= KEEP_AFTER_CONSOLIDATION]


def _simple_txs(
    eng: UtxoChain, chunk: Chunk, coins: I64, *, consolidate: bool = False
) -> tuple[UtxoTxs, I64]:
    rng, pool, w, book = eng.rng, eng.pool, eng.wallets, eng.book
    if coins.size == 0:
        return UtxoTxs.empty(), coins
    wallet = pool.wallet[coins].astype(np.int64)
    kind = w.kind.a[wallet]
    starts_wallet = np.zeros(coins.size, dtype=bool)
    starts_wallet[group_starts(wallet)] = True
    new_p = np.zeros(coins.size)
    if not consolidate:
        for k, p in NEW_TX.items():
            new_p[kind == k] = p
    new_tx = starts_wallet | (rng.random(coins.size) < new_p)
    tx_of = np.cumsum(new_tx) - 1
    first_in = np.flatnonzero(new_tx)
    ntx = first_in.size
    t_wallet = wallet[first_in]
    t_kind = kind[first_in]
    in_value = pool.value[coins]
    value = np.add.reduceat(in_value, first_in)
    in_script = book.script.a[pool.addr[coins]]
    in_vsize = np.add.reduceat(INPUT_VSIZE[in_script], first_in)

    # destination, number of payments, change
    u = rng.random(ntx)
    dest = np.full(ntx, D_P2P, dtype=np.int64)
    user = t_kind == K.USER
    dest[user & (u >= 0.40)] = D_MERCHANT
    dest[user & (u >= 0.63)] = D_DEPOSIT
    merchant = t_kind == K.MERCHANT
    dest[merchant] = np.where(u[merchant] < 0.8, D_DEPOSIT, D_SUPPLIER)
    miner = t_kind == K.MINER
    dest[miner] = np.where(u[miner] < 0.5, D_PAYOUT, D_DEPOSIT)
    dest[t_kind == K.EX_DEPOSIT] = D_SWEEP
    dest[t_kind == K.EX_COLD] = D_HOT
    if consolidate:
        dest[:] = D_SELF
    m = np.ones(ntx, dtype=np.int64)
    m[(dest == D_P2P) & (rng.random(ntx) < 0.08)] = 2
    payout = dest == D_PAYOUT
    m[payout] = rng.integers(3, 13, size=int(payout.sum()))
    full_p = np.select(
        [dest == D_P2P, dest == D_MERCHANT, dest == D_DEPOSIT, dest == D_SUPPLIER, dest == D_HOT],
        [0.2, 0.1, 0.5, 0.3, 0.5],
        default=0.0,
    )
    full_p[(dest == D_SWEEP) | (dest == D_SELF)] = 1.0
    has_change = rng.random(ntx) >= full_p

    # payment rows: receiver addresses by destination
    pay_tx = np.repeat(np.arange(ntx), m)
    pay_dest = dest[pay_tx]
    pay_addr = np.empty(pay_tx.size, dtype=np.int64)
    sel = np.flatnonzero((pay_dest == D_P2P) | (pay_dest == D_PAYOUT))
    receivers = eng.users_btc[weighted_choice(rng, eng.users_btc_cum, sel.size)]
    pay_addr[sel] = eng.receive_addresses(receivers, chunk.first)
    sel = np.flatnonzero((pay_dest == D_MERCHANT) | (pay_dest == D_SUPPLIER))
    merchants = eng.merchant_wallets[weighted_choice(rng, eng.merchant_cum, sel.size)]
    pay_addr[sel] = eng.receive_addresses(merchants, chunk.first)
    sel = np.flatnonzero(pay_dest == D_DEPOSIT)
    pay_addr[sel] = eng.deposit_addresses(t_wallet[pay_tx[sel]], chunk.first)
    sel = np.flatnonzero(pay_dest == D_SWEEP)
    pay_addr[sel] = eng.hot_addr[w.exchange.a[t_wallet[pay_tx[sel]]]]
    sel = np.flatnonzero(pay_dest == D_HOT)
    pay_addr[sel] = eng.hot_addr[w.exchange.a[t_wallet[pay_tx[sel]]]]
    sel = np.flatnonzero(pay_dest == D_SELF)
    pay_addr[sel] = eng.change_addresses(t_wallet[pay_tx[sel]], chunk.first)
    change_addr = np.full(ntx, -1, dtype=np.int64)
    ch = np.flatnonzero(has_change)
    change_addr[ch] = eng.change_addresses(t_wallet[ch], chunk.first)

    pay_script = book.script.a[pay_addr]
    out_vsize = np.bincount(pay_tx, weights=OUTPUT_VSIZE[pay_script], minlength=ntx).astype(
        np.int64
    )
    out_vsize[ch] += OUTPUT_VSIZE[book.script.a[change_addr[ch]]]
    vsize = TX_OVERHEAD_VSIZE + in_vsize + out_vsize
    height = chunk.first + weighted_choice(rng, chunk.block_cum, ntx)
    rate = chunk.feerate[height - chunk.first] * rng.lognormal(0.0, 0.25, ntx)
    rate[t_kind >= K.EX_DEPOSIT] *= 0.7
    fee = np.maximum(np.round(vsize * rate), vsize).astype(np.int64)

    # amounts: what people want to pay (in dollars), capped by what the coins hold
    spendable = value - fee
    sat_per_usd = 1e8 / eng.price(chunk)
    median = np.select(
        [pay_dest == D_P2P, pay_dest == D_MERCHANT, pay_dest == D_DEPOSIT, pay_dest == D_PAYOUT],
        [120.0, 60.0, 400.0, 300.0],
        default=2_000.0,
    )
    desired = median * rng.lognormal(0.0, 1.2, pay_tx.size) * sat_per_usd
    wanted = np.bincount(pay_tx, weights=desired, minlength=ntx)
    cap = np.where(has_change, 0.97, 1.0) * np.maximum(spendable, 0)
    factor = np.where(has_change, np.minimum(1.0, cap / np.maximum(wanted, 1.0)), 0.0)
    # full spends share everything; cold->hot moves half
    weight = rng.exponential(1.0, pay_tx.size) + 0.05
    wsum = np.bincount(pay_tx, weights=weight, minlength=ntx)
    full_share = np.maximum(spendable, 0)[pay_tx] * weight / wsum[pay_tx]
    cold = dest[pay_tx] == D_HOT
    full_share[cold] *= np.where(has_change[pay_tx[cold]], 0.5, 1.0)
    part = desired * factor[pay_tx]
    use_full = ~has_change[pay_tx] | cold
    pay_value = np.floor(np.where(use_full, full_share, part)).astype(np.int64)
    paid = np.bincount(pay_tx, weights=pay_value, minlength=ntx).astype(np.int64)
    change = np.where(has_change, value - fee - paid, 0)
    # change below dust goes to the miner; transactions that cannot pay dust are not made
    small_change = has_change & (change < DUST)
    fee = np.where(small_change, fee + change, fee)
    fee = np.where(~has_change, value - paid, fee)
    has_change &= ~small_change
    bad_pay = np.bincount(pay_tx, weights=pay_value < DUST, minlength=ntx) > 0
    ok = (spendable > DUST * (m + 1)) & ~bad_pay
    return _assemble(
        eng,
        coins,
        tx_of,
        ok,
        height,
        fee,
        vsize,
        pay_tx,
        pay_addr,
        pay_value,
        has_change,
        change_addr,
        change,
        t_kind,
    )


def _assemble(
    eng: UtxoChain,
    coins: I64,
    tx_of: I64,
    ok: NDArray[np.bool_],
    height: I64,
    fee: I64,
    vsize: I64,
    pay_tx: I64,
    pay_addr: I64,
    pay_value: I64,
    has_change: NDArray[np.bool_],
    change_addr: I64,
    change: I64,
    t_kind: NDArray[np.int8],
) -> tuple[UtxoTxs, I64]:
    """Keep the valid transactions; place change at a random output position."""
    rng, pool, book = eng.rng, eng.pool, eng.book
    keep_tx = np.flatnonzero(ok)
    new_index = np.full(ok.size, -1, dtype=np.int64)
    new_index[keep_tx] = np.arange(keep_tx.size)
    n = keep_tx.size
    keys = eng.next_keys(n)
    # outputs: payments then change, then shuffle change into place
    p_keep = ok[pay_tx]
    o_tx = np.concatenate([new_index[pay_tx[p_keep]], new_index[np.flatnonzero(ok & has_change)]])
    o_addr = np.concatenate([pay_addr[p_keep], change_addr[ok & has_change]])
    o_val = np.concatenate([pay_value[p_keep], change[ok & has_change]])
    o_is_change = np.concatenate(
        [np.zeros(int(p_keep.sum()), bool), np.ones(int((ok & has_change).sum()), bool)]
    )
    order = np.lexsort((o_is_change, o_tx))
    o_tx, o_addr, o_val, o_is_change = o_tx[order], o_addr[order], o_val[order], o_is_change[order]
    rank = rank_in_groups(o_tx)
    count = np.bincount(o_tx, minlength=n)
    # exchanges put change last; people's wallets at a random position
    kind_k = t_kind[keep_tx]
    pos = (rng.random(n) * count).astype(np.int64)
    pos[kind_k >= K.EX_DEPOSIT] = count[kind_k >= K.EX_DEPOSIT] - 1
    change_pos = pos[o_tx]
    out_n = np.where(o_is_change, change_pos, rank + (rank >= change_pos))
    has_c = np.bincount(o_tx, weights=o_is_change, minlength=n) > 0
    out_n = np.where(has_c[o_tx], out_n, rank)
    c_keep = ok[tx_of]
    spent = coins[c_keep]
    i_tx = new_index[tx_of[c_keep]]
    txs = UtxoTxs(
        key=keys,
        height=height[keep_tx],
        coinbase=np.zeros(n, dtype=bool),
        fee=fee[keep_tx],
        vsize=vsize[keep_tx],
        version=np.where(rng.random(n) < 0.9, 2, 1),
        locktime=np.where(rng.random(n) < 0.45, height[keep_tx] - 1, 0),
        group=np.full(n, GROUP_ORDINARY, dtype=np.int8),
        sub=rng.random(n),
        out_tx=o_tx,
        out_n=out_n,
        out_addr=o_addr,
        out_value=o_val,
        out_script=book.script.a[o_addr],
        in_tx=i_tx,
        in_n=rank_in_groups(i_tx),
        in_prev_key=pool.key[spent],
        in_prev_n=pool.n[spent].astype(np.int64),
        in_addr=pool.addr[spent],
        in_value=pool.value[spent],
    )
    return txs, spent


# --- hot wallets: chains of batched withdrawals -----------------------------------------------


def _hot_chains(eng: UtxoChain, chunk: Chunk, coins: I64) -> tuple[UtxoTxs, I64]:
    """Each chosen hot coin starts a chain: tx j spends tx j-1's change (last output)."""
    rng, pool, w, book = eng.rng, eng.pool, eng.wallets, eng.book
    if coins.size == 0:
        return UtxoTxs.empty(), coins
    ex = w.exchange.a[pool.wallet[coins]].astype(np.int64)
    value0 = pool.value[coins]
    n_coins = np.bincount(ex, minlength=len(eng.hot_addr))
    wanted = eng.withdrawals_wanted  # per exchange, from last chunk's deposits
    lam = np.maximum(wanted / np.maximum(n_coins, 1) / 2.2 - 1.0, 0.0)
    to_cold = (rng.random(coins.size) < 0.3) & (value0 > 20 * 10**8)
    length = np.where(to_cold, 1, 1 + rng.poisson(lam[ex]))
    length = np.minimum(length, 400)
    ntx = int(length.sum())
    chain = np.repeat(np.arange(coins.size), length)
    step = rank_in_groups(chain)
    m = np.where(to_cold[chain], 1, np.minimum(1 + rng.geometric(0.45, ntx), 30))
    pay_tx = np.repeat(np.arange(ntx), m)
    tx_ex = ex[chain]
    customers = np.empty(pay_tx.size, dtype=np.int64)
    cold_rows = to_cold[chain[pay_tx]]
    for e in np.unique(tx_ex):
        rows = np.flatnonzero((tx_ex[pay_tx] == e) & ~cold_rows)
        wallets, cum = eng.customers_btc[int(e)]
        customers[rows] = wallets[weighted_choice(rng, cum, rows.size)]
    pay_addr = np.empty(pay_tx.size, dtype=np.int64)
    pay_addr[cold_rows] = eng.cold_addr[tx_ex[pay_tx[cold_rows]]]
    rows = np.flatnonzero(~cold_rows)
    pay_addr[rows] = eng.receive_addresses(customers[rows], chunk.first)
    pay_script = book.script.a[pay_addr]
    change_addr = eng.hot_addr[tx_ex]
    out_vsize = np.bincount(pay_tx, weights=OUTPUT_VSIZE[pay_script], minlength=ntx).astype(
        np.int64
    )
    vsize = TX_OVERHEAD_VSIZE + INPUT_VSIZE[book.script.a[change_addr]] + out_vsize
    vsize += OUTPUT_VSIZE[book.script.a[change_addr]]
    # heights: sorted along each chain
    h = chunk.first + weighted_choice(rng, chunk.block_cum, ntx)
    h = h[np.lexsort((h, chain))]
    rate = chunk.feerate[h - chunk.first] * 0.8
    fee = np.maximum(np.round(vsize * rate), vsize).astype(np.int64)
    # withdrawals: what customers ask for (dollars); a chain pays at most 90% of its coin
    desired = 350.0 * rng.lognormal(0.0, 1.3, pay_tx.size) * (1e8 / eng.price(chunk))
    to_cold_rows = to_cold[chain[pay_tx]]
    desired[to_cold_rows] = (value0 * rng.uniform(0.3, 0.7, coins.size))[
        chain[pay_tx[to_cold_rows]]
    ]
    total = np.bincount(chain[pay_tx], weights=desired, minlength=coins.size)
    scale = np.minimum(1.0, 0.9 * value0 / np.maximum(total, 1.0))
    raw = desired * scale[chain[pay_tx]]
    pay_value = np.where(raw > 10**6, np.floor(raw / 10**4) * 10**4, np.floor(raw)).astype(np.int64)
    paid = np.bincount(pay_tx, weights=pay_value, minlength=ntx).astype(np.int64)
    spent_per_tx = paid + fee
    cum = np.cumsum(spent_per_tx)
    first_tx = group_starts(chain)
    before = np.repeat(cum[first_tx] - spent_per_tx[first_tx], length)
    change = value0[chain] - (cum - before)
    bad = (change < DUST) | (np.bincount(pay_tx, weights=pay_value < DUST, minlength=ntx) > 0)
    chain_bad = np.bincount(chain, weights=bad, minlength=coins.size) > 0
    ok_chain = ~chain_bad
    ok = ok_chain[chain]
    keys_all = eng.next_keys(int(ok.sum()))
    keep_tx = np.flatnonzero(ok)
    n = keep_tx.size
    new_index = np.full(ntx, -1, dtype=np.int64)
    new_index[keep_tx] = np.arange(n)
    p_keep = ok[pay_tx]
    o_tx = np.concatenate([new_index[pay_tx[p_keep]], np.arange(n)])
    o_addr = np.concatenate([pay_addr[p_keep], change_addr[keep_tx]])
    o_val = np.concatenate([pay_value[p_keep], change[keep_tx]])
    o_change = np.concatenate([np.zeros(int(p_keep.sum()), bool), np.ones(n, bool)])
    order = np.lexsort((o_change, o_tx))
    o_tx, o_addr, o_val = o_tx[order], o_addr[order], o_val[order]
    out_n = rank_in_groups(o_tx)
    m_keep = m[keep_tx]
    # inputs: step 0 spends the pool coin, step j the change (output m) of step j-1
    k_step = step[keep_tx]
    k_chain = chain[keep_tx]
    prev_key = np.where(k_step == 0, pool.key[coins[k_chain]], np.roll(keys_all, 1))
    prev_n = np.where(k_step == 0, pool.n[coins[k_chain]], np.roll(m_keep, 1))
    prev_addr = np.where(k_step == 0, pool.addr[coins[k_chain]], change_addr[np.roll(keep_tx, 1)])
    prev_value = np.where(k_step == 0, value0[k_chain], np.roll(change[keep_tx], 1))
    txs = UtxoTxs(
        key=keys_all,
        height=h[keep_tx],
        coinbase=np.zeros(n, dtype=bool),
        fee=fee[keep_tx],
        vsize=vsize[keep_tx],
        version=np.full(n, 2),
        locktime=np.zeros(n, dtype=np.int64),
        group=np.full(n, GROUP_ORDINARY, dtype=np.int8),
        sub=(k_step + rng.random(n)) / 401.0,
        out_tx=o_tx,
        out_n=out_n,
        out_addr=o_addr,
        out_value=o_val,
        out_script=book.script.a[o_addr],
        in_tx=np.arange(n),
        in_n=np.zeros(n, dtype=np.int64),
        in_prev_key=prev_key,
        in_prev_n=prev_n.astype(np.int64),
        in_addr=prev_addr,
        in_value=prev_value,
    )
    return txs, coins[ok_chain]
