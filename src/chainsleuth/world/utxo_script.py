"""Scripted transactions on the UTXO chain (crime, bridge, mixers): one at a time, checked.

Scripts hold their coins themselves (``Coin``: the output's tx key, index, address and
value); coins of scripted wallets never enter the economy's pool. A script may also take
coins of an exchange from the pool (``buy``: a customer's withdrawal), marking them taken
for the rest of the chunk. Fees follow the block's fee rate and the transaction's size;
every transaction conserves value: inputs = outputs + fee.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
from numpy.typing import NDArray

from chainsleuth.world import ids
from chainsleuth.world.enums import Role, WalletKind
from chainsleuth.world.schedule import Unaffordable, scripted_order
from chainsleuth.world.utxo_state import DUST, INPUT_VSIZE, OUTPUT_VSIZE, TX_OVERHEAD_VSIZE
from chainsleuth.world.utxo_tables import GROUP_SCRIPTED, UtxoTxs

if TYPE_CHECKING:
    from chainsleuth.world.utxo import Chunk, UtxoChain

I64 = NDArray[np.int64]


@dataclass(frozen=True)
class Coin:
    key: int  # the creating transaction's key
    n: int
    addr: int
    value: int


@dataclass(frozen=True)
class UtxoTxRef:
    key: int
    hash: str
    height: int
    time: int
    outs: tuple[Coin, ...]
    fee: int
    inputs: tuple[Coin, ...]

    def out_to(self, addr: int) -> Coin:
        return next(c for c in self.outs if c.addr == addr)


class UtxoCtx:
    def __init__(self, eng: UtxoChain, chunk: Chunk) -> None:
        self.eng = eng
        self.chunk = chunk
        self.now = int(chunk.times[0])
        self._txs: list[
            tuple[int, int, int, int, int, int]
        ] = []  # key, height, fee, vsize, ver, lock
        self._ins: list[
            tuple[int, int, int, int, int, int]
        ] = []  # tx, n, prev key, prev n, addr, value
        self._outs: list[tuple[int, int, int, int, int]] = []  # tx, n, addr, value, script
        self._taken: list[int] = []
        self._sources: dict[int, list[int]] = {}

    @property
    def height(self) -> int:
        return self.chunk.height_at(self.now)

    @property
    def time(self) -> int:
        return int(self.chunk.times[self.height - self.chunk.first])

    # --- wallets and addresses -------------------------------------------------------------

    def wallet(self, actor: int, script: int, kind: int = WalletKind.SCRIPTED) -> int:
        return int(self.eng.wallets.add(1, kind=kind, actor=actor, script=script)[0])

    def address(
        self, wallet: int, role: int = Role.RECEIVE, aux: int = -1, script: int | None = None
    ) -> int:
        s = int(self.eng.wallets.script.a[wallet]) if script is None else script
        return int(self.eng.book.new(wallet, s, role, aux, self.chunk.first, 1)[0])

    def feerate(self) -> float:
        return float(self.chunk.feerate[self.height - self.chunk.first])

    def fee(self, inputs: int | list[Coin], outputs: list[int], mult: float = 1.0) -> int:
        """Fee for spending ``inputs`` coins into the addresses ``outputs``."""
        script = self.eng.book.script.a
        if isinstance(inputs, int):
            in_vsize = inputs * int(INPUT_VSIZE[2])
        else:
            in_vsize = int(sum(INPUT_VSIZE[script[c.addr]] for c in inputs))
        out_vsize = int(sum(OUTPUT_VSIZE[script[a]] for a in outputs))
        vsize = TX_OVERHEAD_VSIZE + in_vsize + out_vsize
        return max(vsize, int(round(vsize * self.feerate() * mult)))

    def _capped(self, fee: int, inputs: list[Coin], outputs: list[int], total: int) -> int:
        """Scripts pay the going rate, but never more than 3% of what they move (they wait
        for a cheaper block instead: a lower rate, at least 1 sat/vB)."""
        floor = self.fee(inputs, outputs, 1.0 / max(self.feerate(), 1.0))
        return max(floor, min(fee, total * 3 // 100))

    # --- transactions ------------------------------------------------------------------------

    def send(
        self,
        inputs: list[Coin],
        pays: list[tuple[int, int]],
        change: int | None = None,
        *,
        mult: float = 1.0,
        fee: int | None = None,
    ) -> UtxoTxRef:
        """Spend ``inputs`` to ``pays`` (address, value); the rest, less the fee, to ``change``.

        Without a change address the whole remainder is the fee. Raises Unaffordable (and
        records nothing) when the inputs cannot pay.
        """
        total = sum(c.value for c in inputs)
        outs = [a for a, _ in pays] + ([change] if change is not None else [])
        fee_ = (
            self._capped(self.fee(inputs, outs, mult), inputs, outs, total) if fee is None else fee
        )
        rest = total - sum(v for _, v in pays) - fee_
        if not inputs or rest < 0 or any(v < DUST for _, v in pays):
            raise Unaffordable(f"{total} sat cannot pay {sum(v for _, v in pays)} + fee {fee_}")
        out_list = list(pays)
        if change is not None and rest >= DUST:
            out_list.append((change, rest))
        else:
            fee_ += rest
        return self.record(inputs, out_list, fee_)

    def sweep(self, inputs: list[Coin], to: int, *, mult: float = 1.0) -> UtxoTxRef:
        """Everything in ``inputs``, less the fee, to one address."""
        total = sum(c.value for c in inputs)
        fee = self._capped(self.fee(inputs, [to], mult), inputs, [to], total)
        if total - fee < DUST:
            raise Unaffordable("too little to sweep")
        return self.record(inputs, [(to, total - fee)], fee)

    def split(self, inputs: list[Coin], targets: list[int], *, mult: float = 1.0) -> UtxoTxRef:
        """Everything in ``inputs``, less the fee, split randomly among ``targets``."""
        total = sum(c.value for c in inputs)
        fee = self._capped(self.fee(inputs, targets, mult), inputs, targets, total)
        weights = self.eng.rng.uniform(0.5, 1.5, len(targets))
        shares = np.floor((total - fee) * weights / weights.sum()).astype(np.int64)
        shares[-1] += total - fee - int(shares.sum())
        if shares.min() < DUST:
            raise Unaffordable("too little to split")
        return self.record(inputs, [(a, int(v)) for a, v in zip(targets, shares, strict=True)], fee)

    def record(self, inputs: list[Coin], outs: list[tuple[int, int]], fee: int) -> UtxoTxRef:
        key = int(self.eng.next_keys(1)[0])
        height = self.height
        tx = len(self._txs)
        rng = self.eng.rng
        lock = height - 1 if rng.random() < 0.4 else 0
        vsize = TX_OVERHEAD_VSIZE + sum(
            int(INPUT_VSIZE[self.eng.book.script.a[c.addr]]) for c in inputs
        )
        vsize += sum(int(OUTPUT_VSIZE[self.eng.book.script.a[a]]) for a, _ in outs)
        self._txs.append((key, height, fee, vsize, 2, lock))
        for i, c in enumerate(inputs):
            self._ins.append((tx, i, c.key, c.n, c.addr, c.value))
        coins = []
        for n, (addr, value) in enumerate(outs):
            script = int(self.eng.book.script.a[addr])
            self._outs.append((tx, n, addr, value, script))
            coins.append(Coin(key, n, addr, value))
        tx_hash = bytes(ids.hash32(self.eng.tx_salt, np.array([key]))[0]).hex()
        return UtxoTxRef(key, tx_hash, height, self.time, tuple(coins), fee, tuple(inputs))

    # --- coins of the economy -----------------------------------------------------------------

    def _candidates(self, wallet: int) -> list[int]:
        """Pool indices of a wallet's spendable coins, largest last (popped first)."""
        if wallet not in self._sources:
            pool = self.eng.pool
            idx = np.flatnonzero(
                (pool.wallet == wallet) & (pool.mature <= self.chunk.first) & ~self.chunk.taken
            )
            idx = idx[np.argsort(pool.value[idx], kind="stable")]
            self._sources[wallet] = idx.tolist()
        return self._sources[wallet]

    def take_coins(self, wallets: list[int], amount: int) -> list[Coin]:
        """Coins of the given (economy) wallets worth at least ``amount``, largest first;
        Unaffordable (nothing taken) when they hold less."""
        pool, taken = self.eng.pool, self.chunk.taken
        picks: list[int] = []
        cuts: list[tuple[list[int], int]] = []
        total = 0
        for wallet in wallets:
            cands = self._candidates(wallet)
            j = len(cands) - 1
            while j >= 0 and total < amount:
                i = cands[j]
                j -= 1
                if not taken[i]:
                    picks.append(i)
                    total += int(pool.value[i])
            cuts.append((cands, j + 1))
            if total >= amount:
                break
        if total < amount:
            raise Unaffordable(f"wallets {wallets} hold less than {amount} sat")
        for cands, keep in cuts:
            del cands[keep:]
        taken[picks] = True
        self._taken.extend(picks)
        return [
            Coin(int(pool.key[i]), int(pool.n[i]), int(pool.addr[i]), int(pool.value[i]))
            for i in picks
        ]

    def buy(self, exchange: int, to: int, amount: int) -> UtxoTxRef:
        """A customer's withdrawal of ``amount`` from an exchange's hot (else cold) wallet."""
        eng = self.eng
        hot = int(eng.hot_wallet[exchange])
        cold = int(eng.book.wallet.a[eng.cold_addr[exchange]])
        margin = self.fee(3, [to, int(eng.hot_addr[exchange])]) + DUST
        coins = self.take_coins([hot, cold], amount + margin)
        return self.send(coins, [(to, amount)], int(eng.hot_addr[exchange]), mult=0.8)

    def deposit_address(self, exchange: int, customer_actor: int, script: int | None = None) -> int:
        """A fresh deposit address of ``exchange`` for a customer (scripted customers)."""
        eng = self.eng
        s = int(eng.deposit_script[exchange]) if script is None else script
        return int(
            eng.book.new(
                int(eng.deposit_wallet[exchange]),
                s,
                Role.DEPOSIT,
                customer_actor,
                self.chunk.first,
                1,
            )[0]
        )

    # --- the chunk's result ----------------------------------------------------------------

    def finish(self) -> tuple[UtxoTxs, I64]:
        taken = np.array(self._taken, dtype=np.int64)
        if not self._txs:
            return UtxoTxs.empty(), taken
        t = np.array(self._txs, dtype=np.int64)
        i = np.array(self._ins, dtype=np.int64).reshape(-1, 6)
        o = np.array(self._outs, dtype=np.int64).reshape(-1, 5)
        n = t.shape[0]
        return (
            UtxoTxs(
                key=t[:, 0],
                height=t[:, 1],
                coinbase=np.zeros(n, dtype=bool),
                fee=t[:, 2],
                vsize=t[:, 3],
                version=t[:, 4],
                locktime=t[:, 5],
                group=np.full(n, GROUP_SCRIPTED, dtype=np.int8),
                sub=scripted_order(t[:, 1], self.eng.rng),
                out_tx=o[:, 0],
                out_n=o[:, 1],
                out_addr=o[:, 2],
                out_value=o[:, 3],
                out_script=o[:, 4].astype(np.int8),
                in_tx=i[:, 0],
                in_n=i[:, 1],
                in_prev_key=i[:, 2],
                in_prev_n=i[:, 3],
                in_addr=i[:, 4],
                in_value=i[:, 5],
            ),
            taken,
        )
