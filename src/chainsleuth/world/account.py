"""The account (Ethereum-like) chain generator: one chunk of blocks at a time.

Blocks every 12 s; each block's miner earns a fixed reward of 2 ETH plus all fees of its
block (pre-London rules: no fee burn, so every wei is accounted for on chain). Per chunk:
scripted transactions (service upkeep, crime), then the vectorised ordinary economy
(``account_economy``), then balances move: debits and credits of the chunk, the miners'
rewards, nonces.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pyarrow as pa
from numpy.typing import NDArray

from chainsleuth.chain.schemas import SOURCE, TIME
from chainsleuth.world import ids
from chainsleuth.world.account_economy import ordinary_account_txs
from chainsleuth.world.account_script import AccountCtx
from chainsleuth.world.account_state import (
    BLOCK_REWARD,
    GWEI,
    TOKENS,
    WEI_PER_UNIT,
    Accounts,
)
from chainsleuth.world.account_tables import (
    AccountTxs,
    account_blocks_table,
    account_tables,
)
from chainsleuth.world.arrays import Growable, Phases, weighted_choice
from chainsleuth.world.enums import Role, WalletKind
from chainsleuth.world.plan import WorldPlan, rng_for
from chainsleuth.world.presets import DAY, ETH_BLOCKS_PER_DAY
from chainsleuth.world.schedule import Scheduler
from chainsleuth.world.utxo import EVENTS_SCHEMA, ChainSummary, Sink, address_truth_table
from chainsleuth.world.utxo_state import Wallets

I64 = NDArray[np.int64]
K = WalletKind


@dataclass
class AccountChunk:
    index: int
    first: int
    last: int
    times: I64
    gasprice: I64  # units (10**7 wei) per gas, per block
    block_cum: NDArray[np.float64]
    miners: I64  # fee recipient account per block
    n_accounts: int
    ctx: AccountCtx | None = None

    @property
    def blocks(self) -> int:
        return self.last - self.first + 1

    def height_at(self, t: int) -> int:
        i = int(np.searchsorted(self.times, t, side="left"))
        return self.first + min(i, self.times.size - 1)

    def script_debit(self, asset: str, n: int) -> I64:
        if self.ctx is None:
            return np.zeros(n, dtype=np.int64)
        return self.ctx.script_debit(asset, n)


class AccountChain:
    chain = "eth"

    def __init__(self, plan: WorldPlan, sink: Sink) -> None:
        self.plan = plan
        self.params = plan.params
        self.sink = sink
        self.rng = rng_for(self.params.seed, "eth")
        salts = self.rng.integers(0, 2**63, size=4)
        self.tx_salt, self.block_salt = int(salts[0]), int(salts[1])
        self.accounts = Accounts(int(salts[2]))
        self.wallets = Wallets()
        self.key_counter = 0
        self.summary = ChainSummary("eth")
        self.phases = Phases()
        self.scheduler = Scheduler()
        self.handle: Any = None  # crime.ChainHandle, attached by the generator
        self.deposit_list = Growable(np.int64)
        self.token_rows: list[tuple[int, str]] = []  # (account, token name) deployed
        self._setup()
        self.last_hash: str | None = None

    # --- set-up -------------------------------------------------------------------------

    def _setup(self) -> None:
        plan, w, A = self.plan, self.wallets, self.accounts
        users = plan.users
        w.add(
            users.n,
            kind=K.USER,
            actor=np.arange(users.n, dtype=np.int32),
            script=0,
            exchange=users.home_eth,
            activity=np.where(users.eth_active, users.activity, 0.0),
        )
        active = np.flatnonzero(users.eth_active).astype(np.int64)
        self.user_accounts = A.new(active.astype(np.int32), Role.RECEIVE, -1, 0)
        w.last_addr.a[active] = self.user_accounts
        self.user_activity = users.activity[active]
        self.user_cum = np.cumsum(self.user_activity)
        self.customers_eth: list[tuple[I64, NDArray[np.float64]]] = []
        hot, cold, deposit = [], [], []
        for ex in plan.exchanges:
            dep_w = w.add(1, kind=K.EX_DEPOSIT, actor=ex.actor, script=0, exchange=ex.index)
            hot_w = w.add(1, kind=K.EX_HOT, actor=ex.actor, script=0, exchange=ex.index)
            cold_w = w.add(1, kind=K.EX_COLD, actor=ex.actor, script=0, exchange=ex.index)
            deposit.append(int(dep_w[0]))
            hot.append(int(A.new(hot_w.astype(np.int32), Role.HOT, -1, 0)[0]))
            cold.append(int(A.new(cold_w.astype(np.int32), Role.COLD, -1, 0)[0]))
            mine = active[users.home_eth[active] == ex.index]
            self.customers_eth.append((mine, np.cumsum(users.activity[mine])))
        self.deposit_wallet = np.array(deposit, dtype=np.int64)
        self.hot = np.array(hot, dtype=np.int64)
        self.cold = np.array(cold, dtype=np.int64)
        pools = plan.eth_pools
        pool_w = w.add(
            len(pools),
            kind=K.MINER,
            actor=np.array([a for a, _ in pools], dtype=np.int32),
            script=0,
            exchange=self.rng.choice(4, size=len(pools)).astype(np.int8),
        )
        self.pool_accounts = A.new(pool_w.astype(np.int32), Role.COINBASE, -1, 0)
        self.pool_cum = np.cumsum([s for _, s in pools])
        # the null address (mints and burns) and the contracts, made by the services process
        null_w = self.scripted_wallet(plan.services["usdt"])
        self.null = int(A.new(null_w, Role.CONTRACT, -1, 0, 1)[0])
        A.override[self.null] = bytes(20)
        self.usdt = self.weth = self.dex = self.bridge = -1
        self.bridge_operator = -1
        self.usdt_owner = -1
        self.dex_lp = -1
        self._ctx: AccountCtx | None = None

    def scripted_wallet(self, actor: int) -> int:
        return int(self.wallets.add(1, kind=K.SCRIPTED, actor=actor, script=0)[0])

    def contract_wallet(self, actor: int) -> int:
        return int(self.wallets.add(1, kind=K.CONTRACT, actor=actor, script=0)[0])

    def new_account(self, wallet: int, role: int, height: int, aux: int = -1) -> int:
        return int(self.accounts.new(wallet, role, aux, height, 1)[0])

    @property
    def ctx(self) -> AccountCtx:
        """The script context of the chunk being made."""
        if self._ctx is None:
            raise RuntimeError("no chunk is being generated")
        return self._ctx

    def next_keys(self, n: int) -> I64:
        keys = np.arange(self.key_counter, self.key_counter + n, dtype=np.int64)
        self.key_counter += n
        return keys

    def main_account(self, wallets: I64, height: int) -> I64:
        return self.wallets.last_addr.a[wallets]

    def deposit_accounts(self) -> I64:
        return self.deposit_list.a

    def deposit_exchange(self, accounts: I64) -> I64:
        return np.asarray(self.wallets.exchange.a[self.accounts.wallet.a[accounts]], dtype=np.int64)

    def deposit_account_of(self, senders: I64, height: int) -> I64:
        """The deposit address at its home exchange of each sender's owner (made on first use)."""
        w = self.wallets
        owner = self.accounts.wallet.a[senders].astype(np.int64)
        need = np.unique(owner[w.deposit_addr.a[owner] < 0])
        if need.size:
            ex = w.exchange.a[need].astype(np.int64)
            new = self.accounts.new(
                self.deposit_wallet[ex].astype(np.int32), Role.DEPOSIT, w.actor.a[need], height
            )
            w.deposit_addr.a[need] = new
            self.deposit_list.extend(new)
        return w.deposit_addr.a[owner]

    # --- the chunk loop ----------------------------------------------------------------------

    def run(self) -> ChainSummary:
        p = self.params
        total = p.eth_blocks
        chunk_blocks = p.chunk_days("eth") * ETH_BLOCKS_PER_DAY
        level = 0.0
        target_left = p.eth_txs
        for index, first in enumerate(range(0, total, chunk_blocks)):
            last = min(first + chunk_blocks, total) - 1
            blocks = last - first + 1
            heights = np.arange(first, last + 1, dtype=np.int64)
            times = p.start + 12 * heights
            level = 0.8 * level + self.rng.normal(0.0, 0.35)
            gwei = np.exp(np.log(14.0) + level) * self.rng.lognormal(0.0, 0.12, blocks)
            tip = self.rng.uniform(0.02, 1.5, blocks)
            gasprice = np.maximum(np.round((np.clip(gwei, 2.0, 400.0) + tip) * GWEI), 1).astype(
                np.int64
            )
            phase = (times % DAY) / DAY * 2 * np.pi
            block_cum = np.cumsum(1.0 + 0.35 * np.sin(phase - 2.0))
            miners = self.pool_accounts[weighted_choice(self.rng, self.pool_cum, blocks)]
            chunk = AccountChunk(
                index, first, last, times, gasprice, block_cum, miners, len(self.accounts)
            )
            chunks_left = -(-(total - first) // chunk_blocks)
            made = self._chunk(chunk, max(0, target_left // chunks_left))
            target_left -= made
        self.summary.extra["phases"] = self.phases.seconds
        self.summary.extra["phases_cpu"] = self.phases.cpu
        return self.summary

    def _chunk(self, chunk: AccountChunk, target: int) -> int:
        ph = self.phases
        ph.start()
        ctx = AccountCtx(self, chunk)
        chunk.ctx = ctx
        self._ctx = ctx
        self.scheduler.run(ctx, int(chunk.times[0]), int(chunk.times[-1]))
        scripted = ctx.finish()
        ph.mark("scripted")
        ordinary = ordinary_account_txs(self, chunk, target - scripted.count)
        txs = AccountTxs.concat([scripted, ordinary])
        ph.mark("economy")
        blocks = account_blocks_table(
            self.block_salt, chunk.first, chunk.times, chunk.miners, self.accounts, self.last_hash
        )
        self.last_hash = blocks.column("hash")[-1].as_py()
        ph.mark("blocks")
        tables, _ = account_tables(
            txs, chunk.first, chunk.times, self.accounts, self.tx_salt, self.accounts.nonce.a
        )
        tables["blocks"] = blocks
        tables["tokens"] = self._tokens_table(txs)
        ph.mark("tables")
        self.sink.chain_tables("eth", chunk.first, chunk.last, tables)
        ph.mark("writer_wait")
        self._exchange_events(txs, chunk)
        ph.mark("truth_records")
        self._apply(txs, chunk)
        ph.mark("balances")
        self._truth_addresses()
        ph.mark("truth_records")
        s = self.summary
        s.blocks += chunk.blocks
        s.txs += txs.count
        s.outputs += txs.tr_tx.size  # token transfers
        s.addresses = len(self.accounts)
        s.scripted += scripted.count
        self.sink.progress("eth", txs.count)
        return txs.count

    def _apply(self, txs: AccountTxs, chunk: AccountChunk) -> None:
        """Move the chunk's value: every balance stays >= 0 in any order of its txs."""
        A = self.accounts
        ok = txs.status == 1
        receiver = np.where(txs.to >= 0, txs.to, txs.created)
        eth = A.eth.a
        np.subtract.at(eth, txs.sender, txs.fee + np.where(ok, txs.value, 0))
        np.add.at(eth, receiver[ok], txs.value[ok])
        fees = np.bincount(txs.height - chunk.first, weights=txs.fee, minlength=chunk.blocks)
        np.add.at(eth, chunk.miners, fees.astype(np.int64) + BLOCK_REWARD)
        for token, factor_acct in (("usdt", self.usdt), ("weth", self.weth)):
            mask = txs.tr_token == factor_acct
            bal = A.balance(token).a
            np.subtract.at(bal, txs.tr_from[mask], txs.tr_amount[mask])
            np.add.at(bal, txs.tr_to[mask], txs.tr_amount[mask])
            bal[self.null] = 0  # the null address mints; it holds nothing
        np.add.at(A.nonce.a, txs.sender, 1)
        if eth.min() < 0 or A.usdt.a.min() < 0 or A.weth.a.min() < 0:  # a generator bug
            raise RuntimeError(f"negative balance after eth chunk {chunk.index}")

    def _tokens_table(self, txs: AccountTxs) -> pa.Table:
        created = set(txs.created[txs.created >= 0].tolist())
        rows = [(acct, name) for acct, name in self.token_rows if acct in created]
        schema = SOURCE["account"]["tokens"]
        if not rows:
            return schema.empty_table()
        return pa.Table.from_arrays(
            [
                self.accounts.strings(np.array([a for a, _ in rows], dtype=np.int64)),
                pa.array([TOKENS[n][0] for _, n in rows]),
                pa.array([TOKENS[n][1] for _, n in rows]),
                pa.array([TOKENS[n][2] for _, n in rows], pa.int32()),
            ],
            schema=schema,
        )

    def _truth_addresses(self) -> None:
        A = self.accounts
        start, end = A.flushed, len(A)
        if start == end:
            return
        wallet = A.wallet.a[start:end]
        table = address_truth_table(
            "eth",
            A.strings(np.arange(start, end, dtype=np.int64)),
            self.wallets.actor.a[wallet],
            self.wallets.kind.a[wallet],
            A.role.a[start:end],
            A.aux.a[start:end],
            A.height.a[start:end],
        )
        self.sink.truth_addresses("eth", table)
        A.flushed = end

    def _exchange_events(self, txs: AccountTxs, chunk: AccountChunk) -> None:
        """Exchange A's deposits (ETH or USDT to its deposit addresses) and withdrawals."""
        ours = self.plan.ours.index
        A, w = self.accounts, self.wallets
        dep_wallet, hot = self.deposit_wallet[ours], self.hot[ours]
        ok = txs.status == 1
        ours_accts = {int(hot), int(self.cold[ours])}
        rows: list[tuple[str, I64, I64, I64, I64, str, int]] = []
        to_wallet = np.where(txs.to >= 0, A.wallet.a[np.maximum(txs.to, 0)], -1)
        d = np.flatnonzero(ok & (to_wallet == dep_wallet) & (txs.value > 0))
        rows.append(
            ("deposit", d, txs.to[d], txs.value[d], A.aux.a[txs.to[d]], "ETH", WEI_PER_UNIT)
        )
        wd = np.flatnonzero(
            ok & (txs.sender == hot) & (txs.value > 0) & ~np.isin(txs.to, list(ours_accts))
        )
        wd = wd[A.wallet.a[txs.to[wd]] != dep_wallet]
        rows.append(
            (
                "withdrawal",
                wd,
                txs.to[wd],
                txs.value[wd],
                w.actor.a[A.wallet.a[txs.to[wd]]],
                "ETH",
                WEI_PER_UNIT,
            )
        )
        usdt = txs.tr_token == self.usdt
        tr_to_wallet = A.wallet.a[txs.tr_to]
        d = np.flatnonzero(usdt & (tr_to_wallet == dep_wallet))
        rows.append(
            (
                "deposit",
                txs.tr_tx[d],
                txs.tr_to[d],
                txs.tr_amount[d],
                A.aux.a[txs.tr_to[d]],
                "USDT",
                1,
            )
        )
        wd = np.flatnonzero(usdt & (txs.tr_from == hot) & ~np.isin(txs.tr_to, list(ours_accts)))
        wd = wd[tr_to_wallet[wd] != dep_wallet]
        rows.append(
            (
                "withdrawal",
                txs.tr_tx[wd],
                txs.tr_to[wd],
                txs.tr_amount[wd],
                w.actor.a[tr_to_wallet[wd]],
                "USDT",
                1,
            )
        )
        tables = []
        for direction, tx, addr, amount, customer, asset, factor in rows:
            if tx.size == 0:
                continue
            tables.append(
                pa.Table.from_arrays(
                    [
                        pa.repeat(pa.scalar("eth"), tx.size),
                        pa.repeat(pa.scalar(direction), tx.size),
                        ids.hex_strings(ids.hash32(self.tx_salt, txs.key[tx]), b"0x"),
                        pa.array(np.full(tx.size, -1, dtype=np.int32), mask=np.ones(tx.size, bool)),
                        pa.array(txs.height[tx]),
                        pa.array(chunk.times[txs.height[tx] - chunk.first], TIME),
                        A.strings(addr),
                        pa.repeat(pa.scalar(asset), tx.size),
                        ids.decimal_array(amount, factor),
                        pa.array(customer.astype(np.int64)),
                    ],
                    schema=EVENTS_SCHEMA,
                )
            )
        if tables:
            self.sink.exchange_events("eth", pa.concat_tables(tables))
