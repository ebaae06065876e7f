"""A chunk's account-chain transactions as arrays, and their tables in the ``SOURCE`` schemas."""

from __future__ import annotations

from dataclasses import dataclass, fields

import numpy as np
import pyarrow as pa
from numpy.typing import NDArray

from chainsleuth.chain.schemas import SOURCE, TIME
from chainsleuth.world import ids
from chainsleuth.world.account_state import METHODS, WEI_PER_UNIT, Accounts
from chainsleuth.world.arrays import rank_in_groups
from chainsleuth.world.utxo_tables import order_key

I64 = NDArray[np.int64]
SCHEMAS = SOURCE["account"]
_METHOD_TEXT = pa.array(METHODS, type=pa.string())
_INT64_FIELDS = {"group": np.int8, "sub": np.float64, "status": np.int8}


@dataclass
class AccountTxs:
    """Transactions of one chunk before ordering; ``tr_tx`` indexes the txs."""

    key: I64
    height: I64
    group: NDArray[np.int8]
    sub: NDArray[np.float64]
    sender: I64
    to: I64  # -1: contract creation
    value: I64  # ETH units (10**7 wei)
    fee: I64
    gas: I64
    status: NDArray[np.int8]
    method: I64  # index into METHODS, -1 none
    created: I64  # created contract account, -1 none
    tr_tx: I64
    tr_seq: I64  # order of the transfer inside its tx
    tr_token: I64  # token contract account
    tr_factor: I64  # units -> token base units
    tr_from: I64
    tr_to: I64
    tr_amount: I64

    @property
    def count(self) -> int:
        return int(self.key.size)

    @classmethod
    def empty(cls) -> AccountTxs:
        return cls(
            **{f.name: np.zeros(0, dtype=_INT64_FIELDS.get(f.name, np.int64)) for f in fields(cls)}
        )

    @classmethod
    def concat(cls, parts: list[AccountTxs]) -> AccountTxs:
        offsets = np.cumsum([0] + [p.count for p in parts])
        values = {}
        for f in fields(cls):
            arrays = []
            for part, off in zip(parts, offsets[:-1], strict=True):
                arr = getattr(part, f.name)
                arrays.append(arr + off if f.name == "tr_tx" else arr)
            values[f.name] = np.concatenate(arrays).astype(_INT64_FIELDS.get(f.name, np.int64))
        return cls(**values)


def account_blocks_table(
    salt: int, first: int, times: I64, miners: I64, accounts: Accounts, prev_hash: str | None
) -> pa.Table:
    heights = np.arange(first, first + times.size, dtype=np.int64)
    hashes = ids.hex_strings(ids.hash32(salt, heights), b"0x")
    prev = pa.concat_arrays([pa.array([prev_hash], pa.string()), hashes[:-1]])
    pools, index = np.unique(miners, return_inverse=True)
    return pa.Table.from_arrays(
        [
            pa.array(heights),
            hashes,
            prev,
            pa.array(times, TIME),
            accounts.strings(pools).take(pa.array(index)),
        ],
        schema=SCHEMAS["blocks"],
    )


def account_tables(
    txs: AccountTxs,
    first_height: int,
    times: I64,
    accounts: Accounts,
    tx_salt: int,
    nonce_base: I64,
) -> tuple[dict[str, pa.Table], I64]:
    """Txs and token transfers tables; returns them and each tx's nonce (local order)."""
    order = np.argsort(order_key(txs.height - first_height, txs.group, txs.sub))
    row = np.empty(txs.count, dtype=np.int64)
    row[order] = np.arange(txs.count)
    heights = txs.height[order]
    senders = txs.sender[order]
    # nonces: the sender's count so far, in table order
    by_sender = np.argsort(senders, kind="stable")
    rank = np.empty(txs.count, dtype=np.int64)
    rank[by_sender] = rank_in_groups(senders[by_sender])
    nonce = nonce_base[senders] + rank
    hashes = ids.hex_strings(ids.hash32(tx_salt, txs.key[order]), b"0x")
    method = txs.method[order]
    tx_table = pa.Table.from_arrays(
        [
            hashes,
            pa.array(heights),
            pa.array(rank_in_groups(heights).astype(np.int32)),
            pa.array(times[heights - first_height], TIME),
            accounts.strings(senders),
            accounts.strings(txs.to[order]),
            ids.decimal_array(txs.value[order], WEI_PER_UNIT),
            ids.decimal_array(txs.fee[order], WEI_PER_UNIT),
            pa.array(txs.status[order]),
            _METHOD_TEXT.take(pa.array(method, mask=method < 0)),
            accounts.strings(txs.created[order]),
            pa.array(nonce),
            pa.array(txs.gas[order]),
        ],
        schema=SCHEMAS["txs"],
    )
    t_row = row[txs.tr_tx]
    t_order = np.lexsort((txs.tr_seq, t_row))
    t_rows = t_row[t_order]
    t_heights = heights[t_rows]
    amounts = txs.tr_amount[t_order]
    factors = txs.tr_factor[t_order]
    amount = pa.concat_arrays(
        [ids.decimal_array(amounts[factors == f], int(f)) for f in (1, WEI_PER_UNIT)]
    )
    by_factor = np.argsort(factors != 1, kind="stable")
    inverse = np.empty(amounts.size, dtype=np.int64)
    inverse[by_factor] = np.arange(amounts.size)
    transfers = pa.Table.from_arrays(
        [
            hashes.take(pa.array(t_rows)),
            pa.array(rank_in_groups(t_heights).astype(np.int32)),
            accounts.strings(txs.tr_token[t_order]),
            accounts.strings(txs.tr_from[t_order]),
            accounts.strings(txs.tr_to[t_order]),
            amount.take(pa.array(inverse)),
        ],
        schema=SCHEMAS["token_transfers"],
    )
    local_nonce = np.empty(txs.count, dtype=np.int64)
    local_nonce[order] = nonce
    return {"txs": tx_table, "token_transfers": transfers}, local_nonce
