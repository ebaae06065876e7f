"""Scripted transactions on the account chain (services, crime): one at a time, checked.

A scripted sender may spend what it had when the chunk began plus what scripted
transactions earlier in the chunk gave it, minus what they took; scripted transactions keep
their execution order inside a block, so every balance stays non-negative in chain order.
The vectorised economy of the same chunk only gets what scripts did not take.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
from numpy.typing import NDArray

from chainsleuth.world import ids
from chainsleuth.world.account_state import (
    M_TRANSFER,
    WEI_PER_UNIT,
    rlp_contract_address,
)
from chainsleuth.world.account_tables import AccountTxs
from chainsleuth.world.schedule import Unaffordable, scripted_order
from chainsleuth.world.utxo_tables import GROUP_SCRIPTED

if TYPE_CHECKING:
    from chainsleuth.world.account import AccountChain, AccountChunk

I64 = NDArray[np.int64]


@dataclass(frozen=True)
class Transfer:
    token: str  # "usdt" | "weth"
    frm: int  # account (the null account mints)
    to: int
    amount: int  # simulation units


@dataclass(frozen=True)
class AccountTxRef:
    key: int
    hash: str
    height: int
    time: int
    sender: int
    to: int
    created: int


class AccountCtx:
    def __init__(self, eng: AccountChain, chunk: AccountChunk) -> None:
        self.eng = eng
        self.chunk = chunk
        self.now = int(chunk.times[0])
        self.debit: dict[str, dict[int, int]] = {
            a: defaultdict(int) for a in ("eth", "usdt", "weth")
        }
        self.credit: dict[str, dict[int, int]] = {
            a: defaultdict(int) for a in ("eth", "usdt", "weth")
        }
        self.sent: dict[int, int] = defaultdict(int)
        self._rows: list[tuple[int, ...]] = []
        self._transfers: list[tuple[int, int, int, int, int, int, int]] = []

    # --- balances ---------------------------------------------------------------------------

    def spendable(self, account: int, asset: str) -> int:
        start = (
            int(self.eng.accounts.balance(asset).a[account])
            if account < self.chunk.n_accounts
            else 0
        )
        return start + self.credit[asset][account] - self.debit[asset][account]

    @property
    def height(self) -> int:
        return self.chunk.height_at(self.now)

    def fee_for(self, gas: int) -> int:
        return gas * int(self.chunk.gasprice[self.height - self.chunk.first])

    # --- transactions -----------------------------------------------------------------------

    def tx(
        self,
        sender: int,
        to: int,
        *,
        value: int = 0,
        method: int = -1,
        gas: int = 21_000,
        transfers: tuple[Transfer, ...] = (),
        create_wallet: int | None = None,
        role: int = 0,
    ) -> AccountTxRef:
        """One transaction; raises Unaffordable (nothing recorded) when it cannot be paid."""
        height = self.height
        fee = gas * int(self.chunk.gasprice[height - self.chunk.first])
        need: dict[tuple[str, int], int] = defaultdict(int)
        need[("eth", sender)] += value + fee
        for t in transfers:
            if t.frm != self.eng.null:
                need[(t.token, t.frm)] += t.amount
        for (asset, acct), amount in need.items():
            if amount > self.spendable(acct, asset):
                raise Unaffordable(f"account {acct} cannot spend {amount} {asset}")
        created = -1
        if create_wallet is not None:
            nonce = int(self.eng.accounts.nonce.a[sender]) + self.sent[sender]
            raw = rlp_contract_address(self.eng.accounts.raw_one(sender), nonce)
            created = int(self.eng.accounts.new(create_wallet, role, -1, self.chunk.first, 1)[0])
            self.eng.accounts.override[created] = raw
        receiver = to if to >= 0 else created
        self.debit["eth"][sender] += value + fee
        self.credit["eth"][receiver] += value
        for seq, t in enumerate(transfers):
            if t.frm != self.eng.null:
                self.debit[t.token][t.frm] += t.amount
            self.credit[t.token][t.to] += t.amount
            factor = 1 if t.token == "usdt" else WEI_PER_UNIT
            token_acct = self.eng.usdt if t.token == "usdt" else self.eng.weth
            self._transfers.append(
                (len(self._rows), seq, token_acct, factor, t.frm, t.to, t.amount)
            )
        key = int(self.eng.next_keys(1)[0])
        self._rows.append((key, height, sender, to, value, fee, gas, method, created))
        self.sent[sender] += 1
        tx_hash = "0x" + bytes(ids.hash32(self.eng.tx_salt, np.array([key]))[0]).hex()
        time = int(self.chunk.times[height - self.chunk.first])
        return AccountTxRef(key, tx_hash, height, time, sender, receiver, created)

    def pay(self, sender: int, to: int, value: int) -> AccountTxRef:
        return self.tx(sender, to, value=value)

    def transfer(
        self, sender: int, token: str, to: int, amount: int, gas: int = 51_509
    ) -> AccountTxRef:
        contract = self.eng.usdt if token == "usdt" else self.eng.weth
        return self.tx(
            sender,
            contract,
            method=M_TRANSFER,
            gas=gas,
            transfers=(Transfer(token, sender, to, amount),),
        )

    def affordable(self, sender: int, asset: str, amount: int, gas: int) -> bool:
        fee = self.fee_for(gas)
        if asset == "eth":
            return self.spendable(sender, "eth") >= amount + fee
        return self.spendable(sender, "eth") >= fee and self.spendable(sender, asset) >= amount

    # --- the chunk's result ------------------------------------------------------------------

    def script_debit(self, asset: str, n: int) -> I64:
        out = np.zeros(n, dtype=np.int64)
        for acct, amount in self.debit[asset].items():
            if acct < n:
                out[acct] += amount
        return out

    def finish(self) -> AccountTxs:
        if not self._rows:
            return AccountTxs.empty()
        rows = np.array(self._rows, dtype=np.int64)
        heights = rows[:, 1]
        tr = np.array(self._transfers, dtype=np.int64).reshape(-1, 7)
        n = rows.shape[0]
        return AccountTxs(
            key=rows[:, 0],
            height=heights,
            group=np.full(n, GROUP_SCRIPTED, dtype=np.int8),
            sub=scripted_order(heights, self.eng.rng),
            sender=rows[:, 2],
            to=rows[:, 3],
            value=rows[:, 4],
            fee=rows[:, 5],
            gas=rows[:, 6],
            status=np.ones(n, dtype=np.int8),
            method=rows[:, 7],
            created=rows[:, 8],
            tr_tx=tr[:, 0],
            tr_seq=tr[:, 1],
            tr_token=tr[:, 2],
            tr_factor=tr[:, 3],
            tr_from=tr[:, 4],
            tr_to=tr[:, 5],
            tr_amount=tr[:, 6],
        )
