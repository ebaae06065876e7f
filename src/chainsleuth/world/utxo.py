"""The UTXO (Bitcoin-like) chain generator: one chunk of blocks at a time.

Per chunk: block times (exponential gaps, ~600 s on average), a fee-rate level, then the
scripted transactions whose time falls in the chunk (crime and services, plain Python, see
``utxo_script``), then the ordinary economy (vectorised, ``utxo_economy``), then one
coinbase per block paying the pool that found it the subsidy plus the block's fees. The
chunk's tables go to the sink; new addresses to the ground truth; Exchange A's deposits and
withdrawals to its records.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Protocol

import numpy as np
import pyarrow as pa
from numpy.typing import NDArray

from chainsleuth.chain.schemas import TIME
from chainsleuth.world import ids
from chainsleuth.world.arrays import Phases
from chainsleuth.world.enums import Role, WalletKind
from chainsleuth.world.plan import NULLDATA, P2SH, P2WPKH, P2WSH, WorldPlan, rng_for
from chainsleuth.world.presets import BTC_BLOCKS_PER_DAY, DAY
from chainsleuth.world.schedule import Scheduler
from chainsleuth.world.utxo_economy import ordinary_txs
from chainsleuth.world.utxo_script import UtxoCtx
from chainsleuth.world.utxo_state import (
    COINBASE_MATURITY,
    SUBSIDY,
    AddressBook,
    Pool,
    Wallets,
)
from chainsleuth.world.utxo_tables import GROUP_COINBASE, UtxoTxs, blocks_table, utxo_tables

I64 = NDArray[np.int64]
K = WalletKind
#: coins below this are left unspent for ever (as most dust is on the real chain)
MIN_SPEND = 3_000


class Sink(Protocol):
    """Where a chain generator puts what it makes (``writer.WorldWriter``)."""

    def chain_tables(
        self, chain: str, first: int, last: int, tables: dict[str, pa.Table]
    ) -> None: ...

    def truth_addresses(self, chain: str, table: pa.Table) -> None: ...

    def exchange_events(self, chain: str, table: pa.Table) -> None: ...

    def progress(self, chain: str, txs: int) -> None: ...


@dataclass
class Chunk:
    index: int
    first: int
    last: int
    times: I64
    feerate: NDArray[np.float64]
    block_cum: NDArray[np.float64]
    taken: NDArray[np.bool_]
    cache: Any = None  # per-chunk pool facts (see utxo_economy._eligible)

    @property
    def blocks(self) -> int:
        return self.last - self.first + 1

    def height_at(self, t: int) -> int:
        """The first block of the chunk at or after time ``t`` (the last one if none)."""
        i = int(np.searchsorted(self.times, t, side="left"))
        return self.first + min(i, self.times.size - 1)


@dataclass
class ChainSummary:
    chain: str
    blocks: int = 0
    txs: int = 0
    outputs: int = 0
    inputs: int = 0
    addresses: int = 0
    scripted: int = 0
    extra: dict[str, Any] = field(default_factory=dict)


EVENTS_SCHEMA = pa.schema(
    [
        ("chain", pa.string()),
        ("direction", pa.string()),
        ("tx_hash", pa.string()),
        ("n", pa.int32()),
        ("height", pa.int64()),
        ("time", TIME),
        ("address", pa.string()),
        ("asset", pa.string()),
        ("amount", pa.decimal128(38, 0)),
        ("customer_actor", pa.int64()),
    ]
)
ADDRESS_TRUTH_SCHEMA = pa.schema(
    [
        ("chain", pa.string()),
        ("address", pa.string()),
        ("actor_id", pa.int64()),
        ("wallet", pa.string()),
        ("role", pa.string()),
        ("customer_actor", pa.int64()),
        ("first_height", pa.int64()),
    ]
)


class UtxoChain:
    chain = "btc"

    def __init__(self, plan: WorldPlan, sink: Sink) -> None:
        self.plan = plan
        self.params = plan.params
        self.sink = sink
        self.rng = rng_for(self.params.seed, "btc")
        salts = self.rng.integers(0, 2**63, size=4)
        self.tx_salt, self.block_salt = int(salts[0]), int(salts[1])
        self.book = AddressBook(int(salts[2]))
        self.wallets = Wallets()
        self.pool = Pool.empty()
        self.key_counter = 0
        self.chunk_first_key = 0
        self.inputs_per_tx = 1.6
        self.summary = ChainSummary("btc")
        self.phases = Phases()
        self.scheduler = Scheduler()
        self._ctx: UtxoCtx | None = None
        self._setup_wallets()
        self.withdrawals_wanted = np.full(len(self.hot_addr), 20.0)
        self.last_time = self.params.start
        self.last_hash: str | None = None

    # --- wallets ----------------------------------------------------------------------

    def _setup_wallets(self) -> None:
        plan, w, rng = self.plan, self.wallets, self.rng
        users = plan.users
        legacy = users.btc_script == 0
        w.add(
            users.n,
            kind=K.USER,
            actor=np.arange(users.n, dtype=np.int32),
            script=users.btc_script,
            exchange=users.home_btc,
            activity=np.where(users.btc_active, users.activity, 0.0),
            fresh=np.where(legacy, 0.03, rng.uniform(0.3, 0.9, users.n)).astype(np.float32),
            change_fresh=np.where(legacy, 0.05, 0.97).astype(np.float32),
        )
        self.users_btc = np.flatnonzero(users.btc_active).astype(np.int64)
        self.users_btc_cum = np.cumsum(users.activity[self.users_btc])
        nm = len(plan.merchants)
        self.merchant_wallets = w.add(
            nm,
            kind=K.MERCHANT,
            actor=np.array(plan.merchants, dtype=np.int32),
            script=np.where(rng.random(nm) < 0.9, P2WPKH, P2SH).astype(np.int8),
            exchange=plan.merchant_home,
            activity=plan.merchant_weight * 3.0,
            fresh=1.0,
        )
        self.merchant_cum = np.cumsum(plan.merchant_weight)
        self.customers_btc: list[tuple[I64, NDArray[np.float64]]] = []
        hot, cold, deposit = [], [], []
        for ex in plan.exchanges:
            dep_w = w.add(1, kind=K.EX_DEPOSIT, actor=ex.actor, script=ex.btc_deposit_script)
            hot_w = w.add(1, kind=K.EX_HOT, actor=ex.actor, script=P2WPKH, exchange=ex.index)
            cold_w = w.add(1, kind=K.EX_COLD, actor=ex.actor, script=P2WSH, exchange=ex.index)
            w.exchange.a[dep_w] = ex.index
            deposit.append(int(dep_w[0]))
            hot.append(int(self.book.new(hot_w, P2WPKH, Role.HOT, -1, 0)[0]))
            cold.append(int(self.book.new(cold_w, P2WSH, Role.COLD, -1, 0)[0]))
            mine = self.users_btc[users.home_btc[self.users_btc] == ex.index]
            self.customers_btc.append((mine, np.cumsum(users.activity[mine])))
        self.deposit_wallet = np.array(deposit, dtype=np.int64)
        self.hot_addr = np.array(hot, dtype=np.int64)
        self.cold_addr = np.array(cold, dtype=np.int64)
        self.hot_wallet = self.book.wallet.a[self.hot_addr].astype(np.int64)
        self.deposit_script = np.array([e.btc_deposit_script for e in plan.exchanges], np.int8)
        pools = plan.btc_pools
        self.pool_wallets = w.add(
            len(pools),
            kind=K.MINER,
            actor=np.array([a for a, _ in pools], dtype=np.int32),
            script=P2WPKH,
            exchange=rng.choice(4, size=len(pools)).astype(np.int8),
        )
        self.pool_addr = self.book.new(self.pool_wallets, P2WPKH, Role.COINBASE, -1, 0)
        self.pool_cum = np.cumsum([s for _, s in pools])

    def price(self, chunk: Chunk) -> float:
        return self.plan.prices.at("BTC", int(chunk.times[0]), self.params.start)

    @property
    def ctx(self) -> UtxoCtx:
        """The script context of the chunk being made."""
        if self._ctx is None:
            raise RuntimeError("no chunk is being generated")
        return self._ctx

    def next_keys(self, n: int) -> I64:
        keys = np.arange(self.key_counter, self.key_counter + n, dtype=np.int64)
        self.key_counter += n
        return keys

    def receive_addresses(self, wallets: I64, height: int) -> I64:
        w = self.wallets
        last = w.last_addr.a[wallets]
        fresh = (self.rng.random(wallets.size) < w.fresh.a[wallets]) | (last < 0)
        out = last.copy()
        idx = np.flatnonzero(fresh)
        if idx.size:
            ws = wallets[idx]
            new = self.book.new(ws.astype(np.int32), w.script.a[ws], Role.RECEIVE, -1, height)
            out[idx] = new
            w.last_addr.a[ws] = new
        return out

    def change_addresses(self, wallets: I64, height: int) -> I64:
        w = self.wallets
        last = w.last_addr.a[wallets]
        fresh = (self.rng.random(wallets.size) < w.change_fresh.a[wallets]) | (last < 0)
        out = last.copy()
        idx = np.flatnonzero(fresh)
        if idx.size:
            ws = wallets[idx]
            new = self.book.new(ws.astype(np.int32), w.script.a[ws], Role.CHANGE, -1, height)
            out[idx] = new
            w.last_addr.a[ws] = new
        return out

    def deposit_addresses(self, wallets: I64, height: int) -> I64:
        """Each customer's (reused) deposit address at its home exchange."""
        w = self.wallets
        need = np.unique(wallets[w.deposit_addr.a[wallets] < 0])
        if need.size:
            ex = w.exchange.a[need].astype(np.int64)
            new = self.book.new(
                self.deposit_wallet[ex].astype(np.int32),
                self.deposit_script[ex],
                Role.DEPOSIT,
                w.actor.a[need],
                height,
            )
            w.deposit_addr.a[need] = new
        return w.deposit_addr.a[wallets]

    # --- the chunk loop ---------------------------------------------------------------

    def run(self) -> ChainSummary:
        p = self.params
        total_blocks = p.btc_blocks
        chunk_blocks = p.chunk_days("btc") * BTC_BLOCKS_PER_DAY
        feelevel = 0.0
        target_left = p.btc_txs
        index = 0
        for first in range(0, total_blocks, chunk_blocks):
            last = min(first + chunk_blocks, total_blocks) - 1
            blocks = last - first + 1
            gaps = self.rng.exponential(1.0, blocks)
            span = blocks * 600.0
            times = self.last_time + np.round(np.cumsum(gaps) * (span / gaps.sum())).astype(
                np.int64
            )
            if first == 0:
                times = times - times[0] + p.start
            feelevel = 0.85 * feelevel + self.rng.normal(0.0, 0.45)
            feerate = np.clip(
                np.exp(np.log(6.0) + feelevel) * self.rng.lognormal(0, 0.2, blocks), 1.0, 600.0
            )
            phase = (times % DAY) / DAY * 2 * np.pi
            weights = 1.0 + 0.35 * np.sin(phase - 2.0)
            chunk = Chunk(
                index,
                first,
                last,
                times,
                feerate,
                np.cumsum(weights),
                np.zeros(len(self.pool), bool),
            )
            chunks_left = -(-(total_blocks - first) // chunk_blocks)
            target = max(0, target_left // chunks_left - blocks)
            made = self._chunk(chunk, target)
            target_left -= made
            self.last_time = int(times[-1])
            index += 1
        self.summary.extra["phases"] = self.phases.seconds
        self.summary.extra["phases_cpu"] = self.phases.cpu
        return self.summary

    def _chunk(self, chunk: Chunk, target: int) -> int:
        parts: list[UtxoTxs] = []
        spent_parts: list[I64] = []
        ph = self.phases
        ph.start()
        self.chunk_first_key = self.key_counter
        ctx = UtxoCtx(self, chunk)
        self._ctx = ctx
        self.scheduler.run(ctx, int(chunk.times[0]), int(chunk.times[-1]))
        scripted, taken = ctx.finish()
        ph.mark("scripted")
        parts.append(scripted)
        spent_parts.append(taken)
        target -= scripted.count
        self.summary.scripted += scripted.count
        ordinary, spent = ordinary_txs(self, chunk, target)
        parts.append(ordinary)
        spent_parts.append(spent)
        parts.append(self._coinbases(chunk, parts))
        txs = UtxoTxs.concat(parts)
        ph.mark("economy")
        self.book.render_pending()
        ph.mark("addresses")
        blocks = blocks_table(self.block_salt, chunk.first, chunk.times, self.last_hash)
        self.last_hash = blocks.column("hash")[-1].as_py()
        tables, _ = utxo_tables(txs, chunk.first, chunk.times, self.book, self.tx_salt)
        tables["blocks"] = blocks
        ph.mark("tables")
        self.sink.chain_tables("btc", chunk.first, chunk.last, tables)
        ph.mark("writer_wait")
        self._exchange_events(txs, chunk)
        self._truth_addresses()
        ph.mark("truth_records")
        self._update_pool(txs, np.concatenate(spent_parts), chunk)
        ph.mark("pool")
        s = self.summary
        s.blocks += chunk.blocks
        s.txs += txs.count
        s.outputs += txs.out_tx.size
        s.inputs += txs.in_tx.size
        s.addresses = len(self.book)
        self.sink.progress("btc", txs.count)
        return txs.count

    def _coinbases(self, chunk: Chunk, parts: list[UtxoTxs]) -> UtxoTxs:
        n = chunk.blocks
        heights = np.arange(chunk.first, chunk.last + 1, dtype=np.int64)
        fees = np.zeros(n, dtype=np.int64)
        for part in parts:
            np.add.at(fees, part.height - chunk.first, part.fee)
        miner = np.minimum(
            np.searchsorted(self.pool_cum, self.rng.random(n) * self.pool_cum[-1]),
            len(self.pool_cum) - 1,
        )
        keys = self.next_keys(n)
        tx = np.arange(n, dtype=np.int64)
        return UtxoTxs(
            key=keys,
            height=heights,
            coinbase=np.ones(n, dtype=bool),
            fee=np.zeros(n, dtype=np.int64),
            vsize=np.full(n, 180, dtype=np.int64),
            version=np.full(n, 2, dtype=np.int64),
            locktime=np.zeros(n, dtype=np.int64),
            group=np.full(n, GROUP_COINBASE, dtype=np.int8),
            sub=np.zeros(n),
            out_tx=np.repeat(tx, 2),
            out_n=np.tile(np.array([0, 1], dtype=np.int64), n),
            out_addr=np.stack([self.pool_addr[miner], np.full(n, -1)], axis=1).ravel(),
            out_value=np.stack([SUBSIDY + fees, np.zeros(n, np.int64)], axis=1).ravel(),
            out_script=np.tile(np.array([P2WPKH, NULLDATA], dtype=np.int8), n),
            in_tx=np.zeros(0, dtype=np.int64),
            in_n=np.zeros(0, dtype=np.int64),
            in_prev_key=np.zeros(0, dtype=np.int64),
            in_prev_n=np.zeros(0, dtype=np.int64),
            in_addr=np.zeros(0, dtype=np.int64),
            in_value=np.zeros(0, dtype=np.int64),
        )

    def _update_pool(self, txs: UtxoTxs, spent: I64, chunk: Chunk) -> None:
        keep = np.ones(len(self.pool), dtype=bool)
        keep[spent] = False
        keep &= self.pool.value >= MIN_SPEND  # dust is never worth spending: it stays on chain
        has_addr = txs.out_addr >= 0
        o_wallet = np.full(txs.out_addr.size, -1, dtype=np.int64)
        o_wallet[has_addr] = self.book.wallet.a[txs.out_addr[has_addr]]
        kind = np.full(o_wallet.size, K.SCRIPTED, dtype=np.int64)
        kind[has_addr] = self.wallets.kind.a[o_wallet[has_addr]]
        # outputs already spent inside the chunk (hot-wallet chains) never reach the pool
        out_id = txs.key[txs.out_tx] * (1 << 20) + txs.out_n
        inside = txs.in_prev_key >= self.chunk_first_key
        spent_here = np.isin(out_id, txs.in_prev_key[inside] * (1 << 20) + txs.in_prev_n[inside])
        new = np.flatnonzero(
            has_addr & (kind != K.SCRIPTED) & (txs.out_value >= MIN_SPEND) & ~spent_here
        )
        tx = txs.out_tx[new]
        mature = txs.height[tx] + np.where(txs.coinbase[tx], COINBASE_MATURITY, 1)
        added = Pool(
            txs.key[tx],
            txs.out_n[new].astype(np.int32),
            txs.out_addr[new],
            txs.out_value[new],
            o_wallet[new].astype(np.int32),
            mature,
        )
        self.pool = self.pool.keep(keep).extend(added)
        # next chunk's withdrawals: as many as this chunk's deposits, per exchange
        dep = has_addr.copy()
        dep[has_addr] = np.isin(o_wallet[has_addr], self.deposit_wallet)
        counts = np.bincount(
            self.wallets.exchange.a[o_wallet[dep]].astype(np.int64), minlength=len(self.hot_addr)
        )
        self.withdrawals_wanted = np.maximum(counts.astype(np.float64), 5.0)

    # --- truth and exchange records -----------------------------------------------------

    def _truth_addresses(self) -> None:
        book = self.book
        start, end = book.flushed, len(book)
        if start == end:
            return
        addr_ids = np.arange(start, end, dtype=np.int64)
        wallet = book.wallet.a[start:end]
        table = address_truth_table(
            "btc",
            book.strings(addr_ids),
            self.wallets.actor.a[wallet],
            self.wallets.kind.a[wallet],
            book.role.a[start:end],
            book.aux.a[start:end],
            book.height.a[start:end],
        )
        self.sink.truth_addresses("btc", table)
        book.flushed = end

    def _exchange_events(self, txs: UtxoTxs, chunk: Chunk) -> None:
        """Exchange A's deposits (outputs to its deposit addresses) and withdrawals."""
        ours = self.plan.ours.index
        book, w = self.book, self.wallets
        has_addr = txs.out_addr >= 0
        o_wallet = np.full(txs.out_addr.size, -1, dtype=np.int64)
        o_wallet[has_addr] = book.wallet.a[txs.out_addr[has_addr]]
        deposit = o_wallet == self.deposit_wallet[ours]
        # withdrawals: outputs of txs spending Exchange A's hot wallet, to others
        hot_tx = np.zeros(txs.count, dtype=bool)
        in_wallet = book.wallet.a[txs.in_addr]
        hot_tx[txs.in_tx[in_wallet == self.hot_wallet[ours]]] = True
        ours_wallets = [self.deposit_wallet[ours], self.hot_wallet[ours]]
        ours_wallets.append(int(book.wallet.a[self.cold_addr[ours]]))
        withdrawal = hot_tx[txs.out_tx] & has_addr & ~np.isin(o_wallet, ours_wallets)
        rows = np.flatnonzero(deposit | withdrawal)
        if rows.size == 0:
            return
        customer = np.where(
            deposit[rows], book.aux.a[txs.out_addr[rows]], w.actor.a[o_wallet[rows]]
        ).astype(np.int64)
        tx = txs.out_tx[rows]
        table = pa.Table.from_arrays(
            [
                pa.repeat(pa.scalar("btc"), rows.size),
                pa.array(["withdrawal", "deposit"]).take(pa.array(deposit[rows].astype(np.int8))),
                ids.hex_strings(ids.hash32(self.tx_salt, txs.key[tx])),
                pa.array(txs.out_n[rows].astype(np.int32)),
                pa.array(txs.height[tx]),
                pa.array(chunk.times[txs.height[tx] - chunk.first], TIME),
                book.strings(txs.out_addr[rows]),
                pa.repeat(pa.scalar("BTC"), rows.size),
                ids.decimal_array(txs.out_value[rows]),
                pa.array(customer),
            ],
            schema=EVENTS_SCHEMA,
        )
        self.sink.exchange_events("btc", table)


def address_truth_table(
    chain: str,
    addresses: pa.Array,
    actor: NDArray[Any],
    wallet_kind: NDArray[Any],
    role: NDArray[Any],
    aux: NDArray[Any],
    height: NDArray[Any],
) -> pa.Table:
    from chainsleuth.world.enums import ROLE_NAMES, WALLET_NAMES

    wallet_names = pa.array([WALLET_NAMES[k] for k in WalletKind])
    role_names = pa.array([ROLE_NAMES[r] for r in Role])
    is_deposit = role == Role.DEPOSIT
    return pa.Table.from_arrays(
        [
            pa.repeat(pa.scalar(chain), len(addresses)),
            addresses,
            pa.array(actor.astype(np.int64)),
            wallet_names.take(pa.array(wallet_kind.astype(np.int64))),
            role_names.take(pa.array(role.astype(np.int64))),
            pa.array(aux.astype(np.int64), mask=~is_deposit),
            pa.array(height.astype(np.int64)),
        ],
        schema=ADDRESS_TRUTH_SCHEMA,
    )
